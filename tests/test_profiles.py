"""Profiles from CSV (core.profiles) and in the store (storage.profiles)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from core.errors import InputError
from core.model import Environment
from core.profiles import CsvProfiles, ProfileSource
from storage.db import Store
from storage.profiles import (
    StoreProfiles,
    column_sample,
    empty_count,
    load_profiles,
    profile_stats,
)
from storage.repo import EnvironmentRepo

ECID1 = "08382830887934830189014177072406221371"
ECID2 = "08382830887934830189014177072406221372"
ECID3 = "08382830887934830189014177072406221373"

GOOD = "id,email,mobile_phone\nP1,a@x.example,+33 6 12\nP2, B@X.example ,\nP3,,+44 20\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_of(profiles: Path, visitors: Path | None = None) -> str:
    with pytest.raises(InputError) as info:
        CsvProfiles(profiles, visitors).validate()
    message = info.value.message
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- CSV: valid


def test_valid_csv_streams_columns_and_visitors(tmp_path: Path) -> None:
    profiles = write(tmp_path, "p.csv", GOOD)
    visitors = write(tmp_path, "v.csv", f"visitor_id,profile_id\n{ECID1},P1\n{ECID2},P2\n")
    source = CsvProfiles(profiles, visitors, chunk_rows=2)
    assert isinstance(source, ProfileSource)
    check = source.validate()
    assert (check.profiles, check.visitors) == (3, 2)
    assert source.columns() == ["id", "email", "mobile_phone"]
    assert source.count() == 3
    chunks = list(source.column_chunks("email"))
    assert chunks == [(["P1", "P2"], ["a@x.example", " B@X.example "]), (["P3"], [""])]
    assert list(source.visitor_chunks()) == [([ECID1, ECID2], ["P1", "P2"])]


def test_bom_quotes_crlf_and_blank_lines_are_accepted(tmp_path: Path) -> None:
    text = (
        'id,email,note\r\nP1,a@x.example,"hello, world"\r\n\r\n'
        '" P2 ",b@x.example,"two\r\nlines"\r\n'
    )
    profiles = write(tmp_path, "p.csv", b"\xef\xbb\xbf" + text.encode())
    source = CsvProfiles(profiles)
    assert source.columns() == ["id", "email", "note"]  # BOM stripped from "id"
    assert list(source.column_chunks("note")) == [(["P1", "P2"], ["hello, world", "two\r\nlines"])]


def test_without_visitors_there_are_no_visitor_chunks(tmp_path: Path) -> None:
    source = CsvProfiles(write(tmp_path, "p.csv", GOOD))
    assert list(source.visitor_chunks()) == []
    assert source.validate().visitors == 0


# --------------------------------------------------------------------------- CSV: errors


def test_missing_file(tmp_path: Path) -> None:
    message = error_of(tmp_path / "absent.csv")
    assert "absent.csv" in message and "cannot be read" in message


def test_directory_is_unreadable(tmp_path: Path) -> None:
    assert "cannot be read" in error_of(tmp_path)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", b"id,email\nP1,a@x.example\nP2,caf\xe9@x.example\n")
    assert error_of(path) == "p.csv: line 3 is not UTF-8"


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    assert error_of(write(tmp_path, "p.csv", content)) == "p.csv is empty"


def test_missing_id_column_lists_the_columns(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "p.csv", "ID_,email\nP1,a@x.example\n"))
    assert "no `id` column" in message and "'ID_', 'email'" in message


def test_duplicate_column_names(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "p.csv", "id,email,email\nP1,a,b\n"))
    assert "'email' appears twice" in message


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    text = "id,email\nP1,a\nP2,b\nP3,c\nP2,d\n"
    message = error_of(write(tmp_path, "p.csv", text))
    assert "id P2 appears twice (lines 3 and 5)" in message


def test_empty_id(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "p.csv", "id,email\nP1,a\n  ,b\n"))
    assert message == "p.csv: line 3 has an empty id"


def test_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "p.csv", "id,email\nP1,a\nP2,b,extra\n"))
    assert "line 3 has 3 fields, the header has 2" in message


def test_broken_quotes_name_the_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "p.csv", 'id,email\nP1,a\nP2,"b"c\n'))
    assert "line 3 is not valid CSV" in message


def test_visitors_header_must_be_exact(tmp_path: Path) -> None:
    profiles = write(tmp_path, "p.csv", GOOD)
    visitors = write(tmp_path, "v.csv", f"profile,visitor_id\nP1,{ECID1}\n")
    message = error_of(profiles, visitors)
    assert "v.csv: the header must be profile_id,visitor_id" in message


def test_visitor_id_must_be_an_ecid(tmp_path: Path) -> None:
    profiles = write(tmp_path, "p.csv", GOOD)
    visitors = write(tmp_path, "v.csv", f"profile_id,visitor_id\nP1,{ECID1}\nP2,12345\n")
    message = error_of(profiles, visitors)
    assert "line 3" in message and "'12345'" in message and "38-digit" in message


def test_visitor_profile_must_exist_first_unknown_reported(tmp_path: Path) -> None:
    profiles = write(tmp_path, "p.csv", GOOD)
    text = f"profile_id,visitor_id\nP1,{ECID1}\nP9,{ECID2}\nP8,{ECID3}\n"
    message = error_of(profiles, write(tmp_path, "v.csv", text))
    assert "line 3: profile_id 'P9' is not in p.csv" in message


def test_unknown_column_for_chunks(tmp_path: Path) -> None:
    source = CsvProfiles(write(tmp_path, "p.csv", GOOD))
    with pytest.raises(InputError, match="no column 'phone'"):
        list(source.column_chunks("phone"))


# --------------------------------------------------------------------------- the store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store.db")
    EnvironmentRepo(store).save(Environment(name="prod"))
    EnvironmentRepo(store).save(Environment(name="other"))
    return store


def snapshot(store: Store) -> tuple[list[tuple[str, ...]], ...]:
    conn = store.conn
    return (
        conn.execute("SELECT * FROM profiles ORDER BY env, id").fetchall(),
        conn.execute("SELECT * FROM profile_columns ORDER BY env, position").fetchall(),
        conn.execute("SELECT * FROM visitors ORDER BY env, visitor_id").fetchall(),
    )


def test_load_replaces_one_environment_only(tmp_path: Path, store: Store) -> None:
    first = write(tmp_path, "a.csv", "id,email,extra\nOLD1,o@x.example,1\nOLD2,p@x.example,2\n")
    load_profiles(store, "other", CsvProfiles(first))
    load_profiles(store, "prod", CsvProfiles(first))
    pairs = f"P1,{ECID1}\nP1,{ECID1}\nP2,{ECID2}\n"
    visitors = write(tmp_path, "v.csv", "profile_id,visitor_id\n" + pairs)
    summary = load_profiles(store, "prod", CsvProfiles(write(tmp_path, "p.csv", GOOD), visitors))
    assert (summary.profiles, summary.visitors) == (3, 2)  # the repeated pair is stored once
    assert summary.columns == ("id", "email", "mobile_phone")
    stats = profile_stats(store, "prod")
    assert (stats.count, stats.visitors, stats.columns) == (3, 2, summary.columns)
    assert profile_stats(store, "other").count == 2
    row = store.conn.execute("SELECT data FROM profiles WHERE env='prod' AND id='P2'").fetchone()
    assert json.loads(row[0]) == ["P2", " B@X.example ", ""]


@pytest.mark.parametrize(
    "bad_last_line",
    ["P2,dup@x.example,1", "P9,too,many,fields", ",empty@x.example,1"],
)
def test_failure_at_the_last_line_leaves_the_old_profiles(
    tmp_path: Path, store: Store, bad_last_line: str
) -> None:
    old = write(tmp_path, "old.csv", GOOD)
    old_visitors = write(tmp_path, "ov.csv", f"profile_id,visitor_id\nP1,{ECID1}\n")
    load_profiles(store, "prod", CsvProfiles(old, old_visitors))
    before = snapshot(store)
    rows = "\n".join(f"N{n},n{n}@x.example,{n}" for n in range(1, 1000))
    new = write(tmp_path, "new.csv", f"id,email,tier\n{rows}\nP2,x@x.example,1\n{bad_last_line}\n")
    with pytest.raises(InputError):
        load_profiles(store, "prod", CsvProfiles(new, chunk_rows=100))
    assert snapshot(store) == before


def test_bad_visitor_file_rolls_back_the_profiles_too(tmp_path: Path, store: Store) -> None:
    load_profiles(store, "prod", CsvProfiles(write(tmp_path, "old.csv", GOOD)))
    before = snapshot(store)
    new = write(tmp_path, "new.csv", "id,email\nZ1,z@x.example\n")
    visitors = write(tmp_path, "v.csv", f"profile_id,visitor_id\nZ1,{ECID1}\nP1,{ECID2}\n")
    with pytest.raises(InputError, match=r"profile_id 'P1' is not in new\.csv"):
        load_profiles(store, "prod", CsvProfiles(new, visitors))
    assert snapshot(store) == before


def pairs(chunks: Iterable[tuple[list[str], list[str]]]) -> list[tuple[str, str]]:
    return [pair for left, right in chunks for pair in zip(left, right, strict=True)]


def test_store_profiles_is_a_profile_source(tmp_path: Path, store: Store) -> None:
    rows = "\n".join(f"P{n:03d},u{n}@x.example" for n in range(25))
    visitors = "\n".join(f"P{n:03d},{ECID1[:-2]}{n:02d}" for n in range(0, 25, 2))
    csv_source = CsvProfiles(
        write(tmp_path, "p.csv", f"id,email\n{rows}\n"),
        write(tmp_path, "v.csv", f"profile_id,visitor_id\n{visitors}\n"),
    )
    load_profiles(store, "prod", csv_source)
    source = StoreProfiles(store, "prod", chunk_rows=4)
    assert isinstance(source, ProfileSource)
    assert source.columns() == ["id", "email"] and source.count() == 25
    chunks = list(source.column_chunks("email"))
    assert max(len(ids) for ids, _ in chunks) == 4
    assert pairs(chunks) == sorted(pairs(csv_source.column_chunks("email")))
    vflat = sorted(pairs(source.visitor_chunks()))
    assert len(vflat) == 13 and vflat[0] == (f"{ECID1[:-2]}00", "P000")
    with pytest.raises(InputError, match="no column 'phone'"):
        list(source.column_chunks("phone"))


def test_column_sample_and_empty_count(tmp_path: Path, store: Store) -> None:
    load_profiles(store, "prod", CsvProfiles(write(tmp_path, "p.csv", GOOD)))
    assert column_sample(store, "prod", "email", 10) == ["a@x.example", " B@X.example "]
    assert column_sample(store, "prod", "email", 1) == ["a@x.example"]
    assert empty_count(store, "prod", "email") == 1
    assert empty_count(store, "prod", "mobile_phone") == 1
    assert empty_count(store, "prod", "id") == 0
    with pytest.raises(InputError):
        empty_count(store, "prod", "nope")
    assert profile_stats(store, "nobody").count == 0


def test_load_into_unknown_environment_fails_cleanly(tmp_path: Path, store: Store) -> None:
    with pytest.raises(InputError, match="no environment named 'ghost'"):
        load_profiles(store, "ghost", CsvProfiles(write(tmp_path, "p.csv", GOOD)))
    assert profile_stats(store, "ghost").count == 0


# --------------------------------------------------------------------------- CLI


def test_cli_profiles_load_and_show(tmp_path: Path, run_cli, sample_toml: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("config", "import", str(sample_toml)).code == 0
    profiles = write(tmp_path, "p.csv", GOOD)
    visitors = write(tmp_path, "v.csv", f"profile_id,visitor_id\nP1,{ECID1}\n")
    result = run_cli("profiles", "load", str(profiles), "--visitors", str(visitors), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "environment": "production",
        "profiles": 3,
        "visitors": 1,
        "columns": ["id", "email", "mobile_phone"],
    }
    human = run_cli("profiles", "load", str(profiles))
    assert human.code == 0 and "loaded 3 profile(s)" in human.out
    shown = run_cli("profiles", "show", "--json")
    assert json.loads(shown.out)["profiles"] == 3 and json.loads(shown.out)["visitors"] == 0


def test_cli_bad_csv_exits_2_and_changes_nothing(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_cli, sample_toml: Path
) -> None:
    assert run_cli("config", "import", str(sample_toml)).code == 0
    assert run_cli("profiles", "load", str(write(tmp_path, "p.csv", GOOD))).code == 0
    bad = write(tmp_path, "bad.csv", "id,email\nQ1,a\nQ1,b\n")
    result = run_cli("profiles", "load", str(bad))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Q1 appears twice" in result.err
    assert "Traceback" not in result.err
    assert json.loads(run_cli("profiles", "show", "--json").out)["profiles"] == 3


def test_reading_profiles_can_be_cancelled(tmp_path: Path) -> None:
    from core.errors import OperationCancelled

    path = tmp_path / "many.csv"
    path.write_text("id,email\n" + "".join(f"P{n},u{n}@example.com\n" for n in range(30_000)))
    polls: list[int] = []

    def cancelled() -> bool:
        polls.append(1)
        return len(polls) >= 2

    source = CsvProfiles(path)
    with pytest.raises(OperationCancelled):
        source.validate(cancelled)
    assert len(polls) == 2  # polled while reading, stopped at the second poll
    assert source.validate().profiles == 30_000  # nothing half-cached
