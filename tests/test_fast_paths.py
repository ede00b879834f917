"""The vectorised fast paths give exactly the per-record reference paths' results."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.cipher import IdCodec, encrypt_batch, parse_iv, parse_key
from core.errors import InputError
from core.formats import read_chunks
from core.formats.lines import _LineParser
from core.model import DataSource, Environment, Transform
from core.normalize import _EMAIL, normalize_emails
from core.outcomes import Outcome
from core.profiles import CsvProfiles
from core.reconcile import (
    AudienceFile,
    BatchInput,
    Cancelled,
    build_codecs,
    reading,
    reconcile_batches,
    summarize,
)
from core.reconcile import worker as decoding
from core.reconcile.engine import Engine, ProfileIndex
from core.reconcile.seen import _Seen
from core.secrets import Secret

KEY_HEX = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV_HEX = "000102030405060708090a0b0c0d0e0f"
WRONG_KEY = parse_key("2b7e151628aed2a6abf7158809cf4f3c")
KEY, IV = parse_key(KEY_HEX), parse_iv(IV_HEX)


def _codec(channel: str) -> IdCodec:
    ds = DataSource(
        label="aes",
        id_type="declared",
        reconciliation_key="email",
        transform=Transform.AES,
        aes_key=Secret("literal", KEY_HEX),
        aes_iv=Secret("literal", IV_HEX),
        channel=channel,
    )
    return IdCodec(ds, KEY, IV)


_plaintexts = st.one_of(
    st.from_regex(r"[a-zA-Z0-9._ ]{0,12}@[a-zA-Z0-9.]{0,12}", fullmatch=True),
    st.text(max_size=40),  # any unicode: newlines, controls, non-ASCII, empty
    st.binary(max_size=40),  # not UTF-8, NUL, newlines
    st.sampled_from(["alice@example.com", " Bob@Example.COM ", "+33 6 12 34 56 78", ""]),
)


@st.composite
def _incoming_ids(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind <= 2:
        plain = draw(_plaintexts)
        data = plain if isinstance(plain, bytes) else plain.encode("utf-8")
        key = WRONG_KEY if kind == 2 else KEY
        text = encrypt_batch(key, IV, [data])[0].hex()
        return text.upper() if draw(st.booleans()) else text
    if kind == 3:  # hex of any length: odd, not whole blocks, empty
        return draw(st.from_regex(r"[0-9a-fA-F]{0,70}", fullmatch=True))
    if kind == 4:  # padded, or with a stray character somewhere
        text = encrypt_batch(KEY, IV, [b"carol@example.com"])[0].hex()
        where = draw(st.integers(0, len(text)))
        stray = draw(st.sampled_from([" ", "\t", "\xa0", "g", "z", "\n", "é"]))
        return text[:where] + stray + text[where:]
    return draw(st.text(max_size=20))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ids=st.lists(_incoming_ids(), max_size=40), channel=st.sampled_from(["email", "sms"]))
def test_vectorised_aes_hex_equals_per_record_path(ids: list[str], channel: str) -> None:
    codec = _codec(channel)
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
        st.one_of(st.text(max_size=30), _plaintexts.filter(lambda v: isinstance(v, str))),
        max_size=30,
    )
)
def test_ascii_email_normalization_equals_regex_per_value(values: list[str]) -> None:
    expected = []
    for value in values:
        text = value.strip().lower()
        expected.append(text if _EMAIL.fullmatch(text) else None)
    assert normalize_emails(values) == expected


def _build(engine: Engine, chunks: list[tuple[list[str | None], list[str]]]) -> ProfileIndex:
    return engine.build(_codec("email"), chunks, lambda: None, lambda rows: None)


def _reference_index(keys: list[str | None], pids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key, pid in zip(keys, pids, strict=True):
        if key is not None:
            out.setdefault(key, set()).add(pid)
    return out


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(
        st.lists(
            st.tuples(
                st.one_of(st.none(), st.sampled_from("abcdef")),
                st.sampled_from(["P1", "P2", "P3", "P4"]),
            ),
            max_size=12,
        ),
        max_size=4,
    )
)
def test_index_add_equals_per_row(chunks: list[list[tuple[str | None, str]]]) -> None:
    engine = Engine()
    keys_all: list[str | None] = []
    pids_all: list[str] = []
    parts: list[tuple[list[str | None], list[str]]] = []
    for chunk in chunks:
        keys = [k for k, _ in chunk]
        pids = [p for _, p in chunk]
        parts.append((keys, pids))
        keys_all += keys
        pids_all += pids
    index = _build(engine, parts)
    expected = _reference_index(keys_all, pids_all)
    got = {}
    for key in "abcdefg":
        value = index.get(key)
        if value is not None:
            got[key] = {value} if isinstance(value, str) else set(value)
            if not isinstance(value, str):  # a pid is listed once per key
                assert len(value) == len(set(value)) > 1
    assert got == expected
    assert index.size == len(expected)
    assert index.contains(list("abcdefg")) == [k in expected for k in "abcdefg"]
    engine.close()


def test_index_keys_are_compared_exactly() -> None:
    """Keys differing only by case, spaces, a newline or a non-ASCII letter are
    different keys; keys and ids holding newlines go in and are found."""
    engine = Engine()
    keys: list[str | None] = ["a", "A", " a", "a\nb", "é", "e", None, "x"]
    pids = ["P1", "P2", "P3", "P4", "P5", "P6", "P0", "P7\nx"]
    index = _build(engine, [(keys, pids)])
    assert [index.get(k) for k in ["a", "A", " a", "a\nb", "é", "e", "b", "x", "a "]] == [
        "P1",
        "P2",
        "P3",
        "P4",
        "P5",
        "P6",
        None,
        "P7\nx",
        None,
    ]
    assert index.find(["e", "z", "a\nb"]).tolist()[1] == -1
    engine.close()


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


# --------------------------------------------------------------------------- the child process


def test_worker_process_gives_the_in_process_answer(tmp_path: Path) -> None:
    from tests.test_reconcile import build_dataset, run

    dataset = build_dataset(tmp_path)
    local = summarize(run(dataset, chunk_lines=3)[0].values()).to_json()
    with patch.object(decoding, "PARALLEL_MIN_BYTES", 0):
        spawned: list[object] = []
        original = decoding._Worker.__init__

        def counting(self: object, *args: object) -> None:
            spawned.append(self)
            original(self, *args)  # type: ignore[arg-type]

        with patch.object(decoding._Worker, "__init__", counting):
            remote = summarize(run(dataset, chunk_lines=3)[0].values()).to_json()
    assert spawned
    assert remote == local


def test_worker_process_errors_and_cancel(tmp_path: Path) -> None:
    from tests.test_reconcile import build_dataset, resolve

    dataset = build_dataset(tmp_path)
    bad = dataset.inbox / f"ftp_500_14016_full_{1793541600000 + 9000}.sync.gz"
    good = gzip.compress(b"\n".join(b"%032x\t24" % i for i in range(5000)) + b"\n")
    bad.write_bytes(good[: len(good) // 2])
    batch = BatchInput("bad", "full", 500, (AudienceFile.from_path(bad),))
    codecs = build_codecs(dataset.env, resolve)
    profiles = CsvProfiles(dataset.profiles_csv, dataset.visitors_csv)

    def outcome() -> object:
        try:
            list(reconcile_batches([batch], dataset.env, codecs, profiles, chunk_lines=100))
        except InputError as exc:
            return type(exc), exc.message, exc.hint
        return None

    local = outcome()
    with patch.object(decoding, "PARALLEL_MIN_BYTES", 0):
        assert outcome() == local
        assert local is not None and "gzip" in str(local[1])
        workers: list[decoding._Worker] = []
        original = decoding._Worker.__init__

        def keep(self: decoding._Worker, *args: object) -> None:
            workers.append(self)
            original(self, *args)  # type: ignore[arg-type]

        plain = dataset.inbox / f"ftp_500_14016_full_{1793541600000 + 9500}.sync"
        plain.write_bytes(gzip.decompress(good))
        whole = BatchInput("plain", "full", 500, (AudienceFile.from_path(plain),))
        calls = iter([False, False, True])
        with patch.object(decoding._Worker, "__init__", keep), pytest.raises(Cancelled):
            list(
                reconcile_batches(
                    [whole],
                    dataset.env,
                    codecs,
                    profiles,
                    chunk_lines=100,
                    cancelled=lambda: next(calls, True),
                )
            )
        assert workers and workers[0].process.poll() is not None  # stopped


def _checked_up_front() -> Any:
    """Patch codecs so that every key is checked in ``incoming`` (no deferred check)."""
    return patch.object(IdCodec, "defers_shape_check", property(lambda self: False))


def test_deferred_shape_check_gives_the_same_answer(tmp_path: Path) -> None:
    from tests.test_reconcile import build_dataset, run

    dataset = build_dataset(tmp_path)
    deferred = summarize(run(dataset, chunk_lines=3)[0].values()).to_json()
    with _checked_up_front():
        checked = summarize(run(dataset, chunk_lines=3)[0].values()).to_json()
    assert deferred == checked
    assert deferred["outcomes"]["invalid_email"] > 0


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ids=st.lists(_incoming_ids(), min_size=1, max_size=30),
    profiles=st.lists(_plaintexts.filter(lambda v: isinstance(v, str)), max_size=12),
)
def test_deferred_shape_check_equals_checking_every_key(
    tmp_path: Path, ids: list[str], profiles: list[str]
) -> None:
    """Keys equal to a profile's key are never shapeless, so checking only the keys
    not found gives every line the outcome that checking all of them gives."""
    csv_path = tmp_path / "profiles.csv"
    rows = [
        f"P{i},{value}"
        for i, value in enumerate(profiles)
        if "," not in value and '"' not in value and "\n" not in value and "\r" not in value
    ]
    csv_path.write_text("id,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ds = DataSource(
        label="aes",
        id_type="declared",
        reconciliation_key="email",
        transform=Transform.AES,
        aes_key=Secret("literal", KEY_HEX),
        aes_iv=Secret("literal", IV_HEX),
        channel="email",
        destination_id=500,
    )
    env = Environment(name="t", datasources=(ds,))
    audience = tmp_path / "ftp_500_14016_full_1793541600000.sync"
    lines = [
        i
        for i in ids
        if i and not any(c in i for c in "\t \n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029")
    ]

    def answer() -> dict[str, Any]:
        audience.write_text("".join(f"{i}\t24\n" for i in lines), encoding="utf-8")
        batch = BatchInput("b", "full", 500, (AudienceFile.from_path(audience),))
        codecs = build_codecs(env, lambda d, f: getattr(d, f).ref)
        results = reconcile_batches([batch], env, codecs, CsvProfiles(csv_path), chunk_lines=7)
        return summarize(results).to_json()

    deferred = answer()
    with _checked_up_front():
        assert answer() == deferred


def test_frames_cut_at_every_position_come_out_whole() -> None:
    frames = [b"", b"a", b"bc", b"0123456789"]
    stream = b"".join(len(f).to_bytes(8, "little") + f for f in frames)
    for cut in range(len(stream) + 1):
        for second in range(cut, len(stream) + 1):
            feeder = decoding._Frames()
            got = [
                frame
                for piece in (stream[:cut], stream[cut:second], stream[second:])
                for frame in feeder.feed(piece)
            ]
            assert got == frames, (cut, second)
            assert not feeder.pending
    feeder = decoding._Frames()
    assert [f for byte in stream for f in feeder.feed(bytes([byte]))] == frames


def test_worker_reader_reassembles_frames_of_any_size() -> None:
    """Frames larger than the pipe, and frames cut anywhere by the writer, come out
    whole and in order; the end of the stream is signalled with ``None``."""
    import os
    import random
    import threading

    rng = random.Random(5)
    frames = [
        bytes([i % 251]) * size
        for i, size in enumerate([0, 1, 7, 8, 4096, (1 << 20) + 3, 3 << 20, 65_537])
    ]
    stream = b"".join(len(f).to_bytes(8, "little") + f for f in frames)
    read_end, write_end = os.pipe()

    def write() -> None:
        at = 0
        while at < len(stream):
            step = rng.choice([1, 5, 8, 4000, 70_000, 2 << 20])
            os.write(write_end, stream[at : at + step])
            at += step
        os.close(write_end)

    writer = threading.Thread(target=write)
    writer.start()
    worker = decoding._Worker.__new__(decoding._Worker)
    worker.process = type("P", (), {"stdout": os.fdopen(read_end, "rb")})()  # type: ignore[assignment]
    worker.frames = decoding.queue_module.Queue()
    worker.stopping = False
    worker._read()
    writer.join()
    got = []
    while (frame := worker.frames.get_nowait()) is not None:
        got.append(frame)
    assert got == frames


def test_pack_keeps_outcomes_when_a_key_holds_a_newline() -> None:
    chunk = reading._Prepared(
        file="f",
        records=3,
        last_line=3,
        position=0,
        total=None,
        malformed=[],
        reasons=[],
        duplicates=0,
        lines=np.arange(3),
        ids=["a", "b", "c"],
        segs=np.zeros(3, dtype=np.int64),
        removed=np.zeros(3, dtype=np.int64),
        names=[("24",)],
        no_removed=0,
        keys=[["x\ny", Outcome.BAD_PADDING, "plain"], ["k", Outcome.NOT_UTF8, ""]],
    )
    chunk.pack()
    assert chunk.keys_of(0) == ["x\ny", Outcome.BAD_PADDING, "plain"]
    assert chunk.keys_of(1) == ["k", Outcome.NOT_UTF8, ""]


def test_worker_and_in_process_agree_on_keys_with_newlines(tmp_path: Path) -> None:
    """An ``other`` channel decrypts to any text, newlines included: the child's
    packing must keep the other lines' outcomes (``not_utf8``, ``bad_padding``)."""
    csv_path = tmp_path / "profiles.csv"
    csv_path.write_text("id,alias\nP1,plain\nP2,z\n", encoding="utf-8")
    plains = [b"plain", b"x\ny", b"\xff", b" plain "]
    ids = [c.hex() for c in encrypt_batch(KEY, IV, plains)] + ["00" * 16, "zz"]
    audience = tmp_path / "ftp_500_14016_iter_1793541600000.sync"
    audience.write_text("".join(f"{i}\t24\n" for i in ids), encoding="utf-8")
    ds = DataSource(
        label="other",
        id_type="declared",
        reconciliation_key="alias",
        transform=Transform.AES,
        aes_key=Secret("literal", KEY_HEX),
        aes_iv=Secret("literal", IV_HEX),
        channel="other",
        destination_id=500,
    )
    env = Environment(name="t", datasources=(ds,))

    def answer() -> dict[str, Any]:
        batch = BatchInput("b", "iter", 500, (AudienceFile.from_path(audience),))
        codecs = build_codecs(env, lambda d, f: getattr(d, f).ref)
        results = reconcile_batches([batch], env, codecs, CsvProfiles(csv_path), chunk_lines=4)
        return summarize(results).to_json()

    local = answer()
    with patch.object(decoding, "PARALLEL_MIN_BYTES", 0):
        assert answer() == local
    assert local["outcomes"]["not_utf8"] == 1 and local["outcomes"]["bad_padding"] == 1


def test_frames_stop_at_an_impossible_length() -> None:
    feeder = decoding._Frames()
    frame = (2).to_bytes(8, "little") + b"ok"
    assert feeder.feed(frame + b"Traceback (most recent call last)\n" + frame) == [b"ok"]
    assert feeder.broken
    assert feeder.feed(frame) == []


def test_worker_reader_ends_at_a_cut_frame_or_garbage() -> None:
    import os

    for stream in (
        (3).to_bytes(8, "little") + b"abc" + (10).to_bytes(8, "little") + b"cut",
        (3).to_bytes(8, "little") + b"abc" + b"garbage printed by something",
    ):
        read_end, write_end = os.pipe()
        os.write(write_end, stream)
        os.close(write_end)
        worker = decoding._Worker.__new__(decoding._Worker)
        worker.process = type("P", (), {"stdout": os.fdopen(read_end, "rb")})()  # type: ignore[assignment]
        worker.frames = decoding.queue_module.Queue()
        worker.stopping = False
        worker._read()
        worker.process.stdout.close()  # type: ignore[attr-defined]
        assert worker.frames.get_nowait() == b"abc"
        assert worker.frames.get_nowait() is None


def test_a_whole_column_pass_counts_as_validation(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,email\nP1,a@x.example\nP2,b@x.example\nP3,\n", encoding="utf-8")
    source = CsvProfiles(path, chunk_rows=1)
    first = next(iter(source.column_chunks("email")))  # a pass left early: not whole
    assert first == (["P1"], ["a@x.example"])
    assert source._check is None
    assert sum(len(p) for p, _ in source.column_chunks("email")) == 3
    path.unlink()  # validate no longer needs the file
    assert source.validate().profiles == 3
    visitors = tmp_path / "v.csv"
    visitors.write_text("profile_id,visitor_id\n", encoding="utf-8")
    path.write_text("id,email\nP1,a@x.example\n", encoding="utf-8")
    linked = CsvProfiles(path, visitors)
    list(linked.column_chunks("email"))
    assert linked._check is None  # the visitors still need the check against every id


def test_index_build_can_be_cancelled() -> None:
    """A cancel is answered between the chunks of profiles and while DuckDB builds the
    index (the query is interrupted), and the engine stays usable."""
    engine = Engine()
    chunks = [([f"k{i}" for i in range(1000)], [f"P{i}" for i in range(1000)])] * 3
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        engine.build(_codec("email"), chunks, check, lambda rows: None)  # type: ignore[arg-type]
    assert len(calls) == 2
    engine.execute("CREATE TEMP TABLE big AS SELECT range::VARCHAR AS key FROM range(5000000)")

    def late() -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):  # interrupted at the first check, 50 ms in
        engine.watched("SELECT count(DISTINCT key || 'x') FROM big", late)
    rows: list[int] = []
    size = 200_000
    big = ([f"k{i}" for i in range(size)], [f"P{i}" for i in range(size)])
    done = engine.build(_codec("email"), [big], lambda: None, rows.append)  # type: ignore[list-item]
    assert rows == [size] and done.get("k7") == "P7" and done.size == size
    engine.close()


# --------------------------------------------------------------------------- profiles in DuckDB


def _as_dict(index: ProfileIndex) -> dict[str, set[str]]:
    rows = index.engine.execute(f"SELECT key, kid FROM {index.table}").fetchall()
    return {
        key: set(index.multi[kid]) if kid in index.multi else {index.single[kid]}
        for key, kid in rows
    }


_odd_text = st.text(
    alphabet=st.sampled_from(
        list('aAbZé@. _-\t\x0b\x0c\x1c\x1f\x85\xa0\u2003\u0130\u212a\u00dfxX9\u1680\x7f\x01,"\n')
    ),
    max_size=10,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.from_regex(r"P[0-9]{1,3}", fullmatch=True), _odd_text),
            st.one_of(
                st.from_regex(
                    r" ?[a-zA-Z0-9._]{1,6}@[a-zA-Z0-9]{1,5}\.[a-z]{2,3} ?", fullmatch=True
                ),
                _odd_text,
            ),
        ),
        max_size=30,
    ),
    blank=st.booleans(),
    bom=st.booleans(),
)
def test_profiles_csv_in_duckdb_equals_the_reader(
    tmp_path: Path, rows: list[tuple[str, str]], blank: bool, bom: bool
) -> None:
    """The CSV read and normalized by DuckDB gives exactly the index of the rows read by
    the Python reader and normalized by ``IdCodec.profile_keys`` (non-ASCII text, odd
    whitespace, invalid addresses, empty values), and declines every file the reader
    rejects or reads otherwise (quotes, blank lines, duplicate or empty ids)."""
    body = "".join(f"{pid},{email},x\n" for pid, email in rows)
    if blank and rows:
        body += "\n"
    path = tmp_path / "p.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + f"id,email,other\n{body}".encode())
    codec = _codec("email")
    engine = Engine()
    try:
        expected: dict[str, set[str]] | None = None
        try:
            source = CsvProfiles(path)
            generic = engine.build(
                codec,
                ((codec.profile_keys(v), p) for p, v in source.column_chunks("email")),
                lambda: None,
                lambda rows: None,
            )
            expected = _as_dict(generic)
        except InputError:
            pass
        fresh = CsvProfiles(path)
        fast = engine.build_from_csv(codec, fresh, "email", lambda: None, lambda rows: None)
        if fast is not None:
            assert expected is not None and _as_dict(fast) == expected
            assert fresh.validate().profiles == len(rows)
        plain = not any(set(',\n"') & set(pid + email) for pid, email in rows)
        if expected is not None and plain and not blank and rows:
            ids = [pid.strip() for pid, _ in rows]
            if all(ids) and len(set(ids)) == len(ids):
                assert fast is not None  # a plain valid file is read by DuckDB
    finally:
        engine.close()


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(
        st.one_of(
            st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12),
            st.from_regex(r"[a-z0-9.@\x00-\x20\x7f]{0,12}", fullmatch=True),
            st.text(max_size=12).map(lambda t: t.strip().lower()),
        ),
        max_size=30,
    )
)
def test_shape_check_in_duckdb_equals_python(keys: list[str]) -> None:
    """The e-mail shape of keys not found, checked in DuckDB (``ProfileIndex.kids``),
    is ``is_email_key``'s for every ASCII key and for every key that has the shape
    (the codec checked all the others before: they are outcomes, never keys)."""
    keys = [k for k in keys if k.isascii() or _EMAIL.fullmatch(k)]
    engine = Engine()
    try:
        index = _build(engine, [(["someone@example.com"], ["P1"])])
        kids, shaped = index.kids(keys, len(keys), shape=True)
        assert shaped is not None
        assert kids.tolist() == [0 if k == "someone@example.com" else -1 for k in keys]
        expected = [k == "someone@example.com" or bool(_EMAIL.fullmatch(k)) for k in keys]
        assert shaped.tolist() == expected
        text = "\n".join(keys)
        if keys and text.count("\n") == len(keys) - 1:
            assert index.kids(text, len(keys), shape=True)[1].tolist() == expected  # type: ignore[union-attr]
    finally:
        engine.close()


def test_profiles_csv_named_like_a_pattern_is_left_to_the_python_reader(tmp_path: Path) -> None:
    """DuckDB takes ``*``, ``?`` and ``[`` in a name for a pattern of names: such a file
    is not given to ``read_csv`` (the run then reads it chunk by chunk)."""
    folder = tmp_path / "a[1]"
    folder.mkdir()
    path = folder / "p*.csv"
    path.write_text("id,email\nP1,a@x.example\n", encoding="utf-8")
    (folder / "pX.csv").write_text("id,email\nP9,b@x.example\n", encoding="utf-8")
    engine = Engine()
    try:
        codec = _codec("email")
        fast = engine.build_from_csv(
            codec, CsvProfiles(path), "email", lambda: None, lambda r: None
        )
        assert fast is None
        plain = tmp_path / "p.csv"
        plain.write_text("id,email\nP1,a@x.example\n", encoding="utf-8")
        index = engine.build_from_csv(
            codec, CsvProfiles(plain), "email", lambda: None, lambda r: None
        )
        assert index is not None and index.get("a@x.example") == "P1"
    finally:
        engine.close()
