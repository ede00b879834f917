"""The profile index: built in DuckDB from chunks or straight from a CSV file, it gives
exactly the per-row reference answer, compares keys exactly, and can be cancelled."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.normalize import _EMAIL
from core.profiles import CsvProfiles
from core.reconcile import Cancelled
from core.reconcile.engine import Engine, ProfileIndex
from tests.fast_path_helpers import aes_codec, build_index


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
    index = build_index(engine, parts)
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
    index = build_index(engine, [(keys, pids)])
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
        engine.build(aes_codec("email"), chunks, check, lambda rows: None)  # type: ignore[arg-type]
    assert len(calls) == 2
    engine.execute("CREATE TEMP TABLE big AS SELECT range::VARCHAR AS key FROM range(5000000)")

    def late() -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):  # interrupted at the first check, 50 ms in
        engine.watched("SELECT count(DISTINCT key || 'x') FROM big", late)
    rows: list[int] = []
    size = 200_000
    big = ([f"k{i}" for i in range(size)], [f"P{i}" for i in range(size)])
    done = engine.build(aes_codec("email"), [big], lambda: None, rows.append)  # type: ignore[list-item]
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
    codec = aes_codec("email")
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
        index = build_index(engine, [(["someone@example.com"], ["P1"])])
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
        codec = aes_codec("email")
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
