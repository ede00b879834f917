"""Hostile profiles CSVs: a header of too many columns, an unclosed quote."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputError
from core.profiles import MAX_HEADER_BYTES, MAX_PROFILE_COLUMNS, CsvProfiles, list_names


def test_a_header_of_too_many_columns_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    names = ["id"] + [f"c{i}" for i in range(MAX_PROFILE_COLUMNS)]
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n", "utf-8")
    with pytest.raises(InputError) as caught:
        CsvProfiles(path).validate()
    message = str(caught.value)
    assert f"{MAX_PROFILE_COLUMNS + 1:,} columns" in message
    assert f"at most {MAX_PROFILE_COLUMNS:,}" in message
    assert len(message) < 300


def test_a_huge_header_line_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:
        fh.write(b"id")
        fh.write(b",c" * (MAX_HEADER_BYTES // 2 + 10))
        fh.write(b"\n1\n")
    with pytest.raises(InputError, match="header line is longer than 1 MiB"):
        CsvProfiles(path).columns()


def test_a_header_at_the_column_limit_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    names = ["id"] + [f"c{i}" for i in range(MAX_PROFILE_COLUMNS - 1)]
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n", "utf-8")
    assert CsvProfiles(path).validate().profiles == 1


def test_a_list_of_columns_is_cut_with_a_count() -> None:
    assert list_names(["a", "b"]) == "a, b"
    long = list_names([f"c{i}" for i in range(5000)])
    assert long.endswith("and 4980 more") and len(long) < 400
    assert list_names(["x\x1b[2J"]) == "x\\x1b[2J"


def test_an_unclosed_quote_names_the_line_where_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    rows = ["id,email", '1,"alice@example.com'] + [
        f"{n},user{n}@example.com,some more text to fill the line" for n in range(2, 6000)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        CsvProfiles(path).validate()
    assert "line 2 " in str(caught.value) and "quote" in str(caught.value)


def test_an_unclosed_quote_at_the_end_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('id,email\n1,a@example.com\n2,"b@example.com\n3,c@example.com\n', "utf-8")
    with pytest.raises(InputError) as caught:
        CsvProfiles(path).validate()
    assert "line 3 " in str(caught.value) and "quote" in str(caught.value)
