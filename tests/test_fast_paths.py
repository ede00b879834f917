"""The vectorised fast paths give exactly the per-record reference paths' results."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cipher import IdCodec, encrypt_batch, parse_iv, parse_key
from core.errors import InputError
from core.model import DataSource, Transform
from core.normalize import _EMAIL, normalize_emails
from core.profiles import CsvProfiles
from core.reconcile import _Index
from core.secrets import Secret

KEY_HEX = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV_HEX = "000102030405060708090a0b0c0d0e0f"
WRONG_KEY = parse_key("2b7e151628aed2a6abf7158809cf4f3c")
KEY, IV = parse_key(KEY_HEX), parse_iv(IV_HEX)


def _codec(channel: str) -> IdCodec:
    ds = DataSource(
        label="aes", id_type="declared", reconciliation_key="email", transform=Transform.AES,
        aes_key=Secret("literal", KEY_HEX), aes_iv=Secret("literal", IV_HEX), channel=channel,
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
    assert codec.incoming(ids) == codec._incoming_aes(ids)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.text(max_size=30), _plaintexts.filter(
    lambda v: isinstance(v, str))), max_size=30))
def test_ascii_email_normalization_equals_regex_per_value(values: list[str]) -> None:
    expected = []
    for value in values:
        text = value.strip().lower()
        expected.append(text if _EMAIL.fullmatch(text) else None)
    assert normalize_emails(values) == expected


def _reference_index(keys: list[str | None], pids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key, pid in zip(keys, pids, strict=True):
        if key is not None:
            out.setdefault(key, set()).add(pid)
    return out


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.lists(st.tuples(
    st.one_of(st.none(), st.sampled_from("abcdef")), st.sampled_from(["P1", "P2", "P3", "P4"])
), max_size=12), max_size=4))
def test_index_add_equals_per_row(chunks: list[list[tuple[str | None, str]]]) -> None:
    index = _Index()
    keys_all: list[str | None] = []
    pids_all: list[str] = []
    for chunk in chunks:
        keys = [k for k, _ in chunk]
        pids = [p for _, p in chunk]
        index.add(keys, pids)
        keys_all += keys
        pids_all += pids
    got = {k: {v} if isinstance(v, str) else set(v) for k, v in index.map.items()}
    assert got == _reference_index(keys_all, pids_all)
    for value in index.map.values():  # a pid is listed once per key
        assert isinstance(value, str) or len(value) == len(set(value)) > 1


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
    rows=st.lists(st.tuples(st.sampled_from(["P1", "P2", "P3", " P4", "", "P5"]), _cells),
                  max_size=12),
    bom=st.booleans(),
    blank=st.booleans(),
    trailing_newline=st.booleans(),
    chunk_rows=st.integers(1, 5),
)
def test_fast_csv_columns_equal_row_by_row(
    tmp_path: Path, rows: list[tuple[str, str]], bom: bool, blank: bool,
    trailing_newline: bool, chunk_rows: int,
) -> None:
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

    assert _outcome(fast) == slow


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
