"""The vectorised fast paths give exactly the per-record reference paths' results."""

from __future__ import annotations

import io
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.formats import read_chunks
from core.formats.lines import _LineParser
from core.normalize import _EMAIL, normalize_emails
from core.profiles import CsvProfiles
from core.reconcile.seen import _Seen
from tests.fast_path_helpers import aes_codec, incoming_ids, plaintexts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ids=st.lists(incoming_ids(), max_size=40), channel=st.sampled_from(["email", "sms"]))
def test_vectorised_aes_hex_equals_per_record_path(ids: list[str], channel: str) -> None:
    codec = aes_codec(channel)
    fast, slow = codec.incoming(ids), codec._incoming_aes(ids)
    # Outcome is a StrEnum: compare the types too, or "bad_padding" would equal it.
    assert [(type(v), v) for v in fast] == [(type(v), v) for v in slow]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.from_regex(r"[ -~]{0,20}", fullmatch=True),
            st.from_regex(r" {0,2}[a-zA-Z0-9._]{0,8}@[a-zA-Z0-9.]{0,10} {0,2}", fullmatch=True),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_email_lines_equal_normalize_email(values: list[str]) -> None:
    from core.normalize import normalize_email, normalize_email_lines

    marker = object()
    got = normalize_email_lines("\n".join(values), marker)
    assert got == [marker if normalize_email(v) is None else normalize_email(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.text(max_size=30), plaintexts.filter(lambda v: isinstance(v, str))),
        max_size=30,
    )
)
def test_ascii_email_normalization_equals_regex_per_value(values: list[str]) -> None:
    expected = []
    for value in values:
        text = value.strip().lower()
        expected.append(text if _EMAIL.fullmatch(text) else None)
    assert normalize_emails(values) == expected


def _slow_columns(source: CsvProfiles, column: str) -> list[tuple[str, str]]:
    columns = source.columns()
    at, col = columns.index("id"), columns.index(column)
    return [(row[at], row[col]) for _, row in source.rows()]


def _outcome(fn: object) -> object:
    try:
        return fn()  # type: ignore[operator]
    except InputError as exc:
        return ("error", exc.message)


_cells = st.one_of(
    st.sampled_from(["x", " y ", "", "a b", "é", "P1", "P2"]),
    st.text(alphabet='ab ,"\r\n\x00é', max_size=4),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["P1", "P2", "P3", " P4", "", "P5"]), _cells), max_size=12
    ),
    bom=st.booleans(),
    blank=st.booleans(),
    trailing_newline=st.booleans(),
    chunk_rows=st.integers(1, 5),
    block_bytes=st.sampled_from([1 << 20, 8, 24, 64]),
)
def test_fast_csv_columns_equal_row_by_row(
    tmp_path: Path,
    rows: list[tuple[str, str]],
    bom: bool,
    blank: bool,
    trailing_newline: bool,
    chunk_rows: int,
    block_bytes: int,
) -> None:
    """Small blocks too: a duplicate id or an empty one in a later block, after
    blocks taken whole, must give the row-by-row reader's answer and error."""
    lines = ["id,email"] + [f"{pid},{cell}" for pid, cell in rows]
    if blank and len(lines) > 2:
        lines.insert(2, "")
    text = "\n".join(lines) + ("\n" if trailing_newline else "")
    path = tmp_path / "p.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    source = CsvProfiles(path, chunk_rows=chunk_rows)
    slow = _outcome(lambda: _slow_columns(source, "email"))

    def fast() -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for pids, values in source.column_chunks("email"):
            assert 1 <= len(pids) == len(values) <= chunk_rows
            out += zip(pids, values, strict=True)
        return out

    with patch("core.profiles._BLOCK_BYTES", block_bytes):
        assert _outcome(fast) == slow


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["P1", "P2", "P3", " P4", "", "P5"]), _cells), max_size=10
    ),
    visitors=st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2", "P9", " P3"]),
            st.sampled_from(["1" * 38, "2" * 38, "12", ""]),
        ),
        max_size=4,
    ),
    block_bytes=st.sampled_from([1 << 20, 8, 40]),
)
def test_validate_equals_the_row_by_row_check(
    tmp_path: Path,
    rows: list[tuple[str, str]],
    visitors: list[tuple[str, str]],
    block_bytes: int,
) -> None:
    """``validate`` reads the ids through the block reader: same counts, same errors."""
    path = tmp_path / "p.csv"
    path.write_text("id,email\n" + "".join(f"{p},{c}\n" for p, c in rows), encoding="utf-8")
    vpath = tmp_path / "v.csv"
    vpath.write_text(
        "profile_id,visitor_id\n" + "".join(f"{p},{v}\n" for p, v in visitors), encoding="utf-8"
    )

    def slow() -> object:
        source = CsvProfiles(path, vpath)
        ids: set[str] = set()
        count = sum(1 for _ in source.rows(ids))
        linked = sum(1 for _ in source.visitor_rows(ids))
        return count, linked

    def fast() -> object:
        check = CsvProfiles(path, vpath).validate()
        return check.profiles, check.visitors

    with patch("core.profiles._BLOCK_BYTES", block_bytes):
        assert _outcome(fast) == _outcome(slow)


_HEADERS = st.sampled_from(
    [b"id,email", b"email,id", b" id , email ", b"id,email,extra", b"id", b"email", b"id,id"]
)
_RAW_CELLS = st.one_of(
    st.sampled_from(
        [b"P1", b"P2", b" P3", b"", b"x" * 30, b"\xff", b"\xc3\xa9", b'"q,1"', b"a\rb", b"\x00"]
    ),
    st.binary(max_size=6),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=_HEADERS,
    rows=st.lists(
        st.one_of(
            st.tuples(st.sampled_from([b"P1", b"P2", b"P3", b"P4", b"P5", b"P6"]), _RAW_CELLS).map(
                list
            ),
            st.lists(_RAW_CELLS, min_size=1, max_size=4),
        ),
        max_size=10,
    ),
    bom=st.booleans(),
    newline=st.sampled_from([b"\n", b"\n", b"\r\n"]),
    block_bytes=st.sampled_from([1 << 20, 8, 40]),
)
@example(
    header=b"id,email", rows=[[b"P1", b"x" * 30]], bom=False, newline=b"\n", block_bytes=1 << 20
)
@example(
    header=b"id,email",
    rows=[[b"P1", b"a"], [b"P2", b"x" * 30]],
    bom=True,
    newline=b"\n",
    block_bytes=8,
)
def test_validate_equals_the_row_by_row_check_on_any_bytes(
    tmp_path: Path,
    header: bytes,
    rows: list[list[bytes]],
    bom: bool,
    newline: bytes,
    block_bytes: int,
) -> None:
    """Headers in any order, BOM, CRLF, bytes that are not UTF-8, quotes, NUL, blank
    lines and fields over the csv module's limit (lowered to 20 here): ``validate``
    gives the old row-by-row answer or error."""
    import csv

    path = tmp_path / "p.csv"
    body = newline.join([header, *(b",".join(cells) for cells in rows)]) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body)

    def slow() -> object:
        source = CsvProfiles(path)
        return sum(1 for _ in source.rows()), tuple(source.columns())

    def fast() -> object:
        check = CsvProfiles(path).validate()
        return check.profiles, check.columns

    limit = csv.field_size_limit(20)
    try:
        with patch("core.profiles._BLOCK_BYTES", block_bytes):
            assert _outcome(fast) == _outcome(slow)
    finally:
        csv.field_size_limit(limit)


def test_fast_csv_large_file_switches_to_row_by_row_at_a_quote(tmp_path: Path) -> None:
    """Blocks before the first quoted field are taken whole, the rest row by row."""
    rows = [f"P{i},user{i}@example.com" for i in range(60_000)]
    rows[45_000] = 'P45000,"quoted, with comma"'
    path = tmp_path / "big.csv"
    path.write_text("id,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    source = CsvProfiles(path)
    chunks = source.column_chunks("email")
    fast = [pair for pids, values in chunks for pair in zip(pids, values, strict=True)]
    assert fast == _slow_columns(source, "email")
    assert fast[45_000] == ("P45000", "quoted, with comma")


def test_fast_csv_duplicate_id_error_names_both_lines(tmp_path: Path) -> None:
    rows = [f"P{i},user{i}@example.com" for i in range(50_000)] + ["P7,again@example.com"]
    path = tmp_path / "dup.csv"
    path.write_text("id,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"appears twice \(lines 9 and 50002\)"):
        list(CsvProfiles(path).column_chunks("email"))


# --------------------------------------------------------------------------- audience lines

_ID_TOKENS = st.sampled_from(["a1", "FF00", "0123abcd", "ID", "uuid", "x" * 5, "24"])
_SEGMENT_TOKENS = st.sampled_from(["24", "24,25", "1,2,3", "7", "24,", ",5", "x", "2,,3", ""])
_SEPARATORS = st.sampled_from(["\t", " ", "\t\t", " \t", "  "])


@st.composite
def _audience_line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind <= 5:  # ID, segments, maybe removed segments: the common shapes
        parts = [draw(_ID_TOKENS), draw(_SEGMENT_TOKENS)]
        if draw(st.booleans()):
            parts.append(draw(_SEGMENT_TOKENS))
        seps = [draw(st.sampled_from(["\t", "\t", " ", "\t\t", " \t"])) for _ in parts[1:]]
        line = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=True))
        lead = draw(st.sampled_from(["", "", "", " ", "\t"]))
        trail = draw(st.sampled_from(["", "", "", " ", "\t", "\r"]))
        return lead + line + trail
    if kind == 6:
        return draw(st.sampled_from(["", " ", "\t", "only-an-id", "a 1 2 3", "a\t1\t2\t3\t4"]))
    if kind == 7:
        return draw(st.text(alphabet="ab1, \t,", max_size=12))
    if kind == 8:
        return draw(st.text(max_size=8))  # control characters, non-ASCII: the careful path
    return "UUID\tsegments"


def _chunks_as_tuples(data: bytes, chunk_lines: int) -> list[tuple[object, ...]]:
    out = []
    for c in read_chunks(io.BytesIO(data), gz=False, chunk_lines=chunk_lines):
        out.append(
            (
                c.first_line,
                c.last_line,
                c.line_numbers,
                c.ids,
                c.segments,
                c.removed,
                c.malformed,
                c.malformed_reasons,
                c.blank_lines,
                c.header_line,
            )
        )
    return out


@settings(max_examples=400, deadline=None)
@given(
    lines=st.lists(_audience_line(), max_size=60),
    chunk_lines=st.integers(1, 70),
    final_newline=st.booleans(),
)
def test_mixed_line_fast_path_equals_per_line_path(
    lines: list[str], chunk_lines: int, final_newline: bool
) -> None:
    data = ("\n".join(lines) + ("\n" if final_newline else "")).encode("utf-8")
    fast = _chunks_as_tuples(data, chunk_lines)
    with patch.object(_LineParser, "_parse_mixed", lambda self, text: False):
        slow = _chunks_as_tuples(data, chunk_lines)
    assert fast == slow


def test_mixed_line_fast_path_takes_blocks_with_odd_lines() -> None:
    lines = [f"{i:032x}\t24,25" + ("\t40" if i % 7 == 0 else "") for i in range(2000)]
    lines[10] = "malformed"
    lines[20] = "a 24"  # a space, not a TAB: still a record, in its place
    lines[30] = ""
    data = ("\n".join(lines) + "\n").encode()
    calls: list[int] = []
    original = _LineParser._parse_plain

    def spy(self: _LineParser, plain: list[str]) -> None:
        calls.append(len(plain))
        original(self, plain)

    with patch.object(_LineParser, "_parse_plain", spy):
        fast = _chunks_as_tuples(data, 100_000)
    assert not calls  # the block went through _parse_mixed
    with patch.object(_LineParser, "_parse_mixed", lambda self, text: False):
        assert fast == _chunks_as_tuples(data, 100_000)
    (chunk,) = read_chunks(io.BytesIO(data), gz=False)
    # line 11 is malformed, so line 21 ("a") is record 19, right after line 20
    assert chunk.ids[18:20] == [f"{19:032x}", "a"] and chunk.line_numbers[18:20] == [20, 21]
    assert chunk.malformed == [(11, "malformed")] and chunk.blank_lines == 1
    assert chunk.removed[0] == "40" and chunk.removed[1] == ""


# --------------------------------------------------------------------------- duplicates


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(
        st.lists(st.text(alphabet="abc", min_size=1, max_size=4), max_size=40), max_size=12
    ),
    buckets=st.sampled_from([1, 2, 4, 1 << 10]),
)
def test_seen_table_equals_a_set(chunks: list[list[str]], buckets: int) -> None:
    seen = _Seen(buckets)
    reference: set[str] = set()
    for chunk in chunks:
        distinct = list(dict.fromkeys(chunk))
        got = seen.add(_Seen.fingerprints(distinct)).tolist()
        assert got == [d not in reference for d in distinct]
        reference.update(distinct)
    assert seen.size == len(reference)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), max_size=300),
    split=st.integers(1, 50),
)
def test_seen_table_with_crowded_buckets(rows: list[tuple[int, int]], split: int) -> None:
    """Fingerprints chosen to land in a handful of buckets: overflow and growth."""
    fps = list(dict.fromkeys((np.uint64(b << 7), np.uint64(v + 1)) for b, v in rows))
    seen = _Seen(2)
    reference: set[tuple[int, int]] = set()
    for start in range(0, len(fps), split):
        part = fps[start : start + split]
        got = seen.add(np.array(part, dtype=np.uint64).reshape(-1, 2)).tolist()
        assert got == [(int(a), int(b)) not in reference for a, b in part]
        reference.update((int(a), int(b)) for a, b in part)


def test_seen_table_memory_per_id() -> None:
    seen = _Seen()
    ids = [f"{i:064x}" for i in range(200_000)]
    for start in range(0, len(ids), 16_384):
        assert seen.add(_Seen.fingerprints(ids[start : start + 16_384])).all()
    assert seen.nbytes / len(ids) <= 48
    assert not seen.add(_Seen.fingerprints(ids[:1000])).any()
