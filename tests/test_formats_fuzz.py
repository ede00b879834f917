"""Property tests of core/formats: readers never crash and account for every line."""

from __future__ import annotations

import contextlib
import gzip
import io
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.formats import Chunk, parse_manifest, parse_outbound_name, read_chunks
from core.ids import is_segment_list

# FORMATS_FUZZ_EXAMPLES=5000 for a longer hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("FORMATS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Lines built from the pieces that matter, plus arbitrary bytes.
PIECES = st.sampled_from(
    [
        b"1",
        b"24",
        b",",
        b" ",
        b"\t",
        b"\r",
        b"\x00",
        b"\xff",
        b"\xc3\xa9",
        b"ID",
        b"UUID",
        b"Segments",
        b"a",
        b"\x1b",
        b"\xe2\x80\xa8",
        b"\xd9\xa3",
        b"\xef\xbb\xbf",
    ]
)
LINE = st.one_of(st.lists(PIECES, max_size=12).map(b"".join), st.binary(max_size=40))
DOCUMENT = st.lists(LINE, max_size=40).map(b"\n".join)


def physical_lines(data: bytes) -> int:
    """Lines as the reader numbers them: a final newline does not open a new line."""
    if not data:
        return 0
    return data.count(b"\n") + (not data.endswith(b"\n"))


def check_accounting(chunks: list[Chunk], start_line: int) -> int:
    """Every line is exactly one of record, malformed, blank or header; return the total."""
    expected_first = start_line
    total = 0
    for chunk in chunks:
        assert chunk.first_line == expected_first
        covered = chunk.last_line - chunk.first_line + 1
        assert covered == chunk.records + chunk.blank_lines + (chunk.header_line is not None)
        assert len(chunk.ids) == len(chunk.segments) == len(chunk.removed)
        assert len(chunk.line_numbers) == len(chunk.ids)
        assert len(chunk.malformed) == len(chunk.malformed_reasons)
        numbers = chunk.line_numbers + [n for n, _ in chunk.malformed]
        assert len(set(numbers)) == len(numbers)
        assert all(chunk.first_line <= n <= chunk.last_line for n in numbers)
        for segments, removed in zip(chunk.segments, chunk.removed, strict=True):
            assert is_segment_list(segments)
            assert removed == "" or is_segment_list(removed)
        for _, excerpt in chunk.malformed:
            assert len(excerpt) <= 80 and excerpt.isprintable()
        expected_first = chunk.last_line + 1
        total += covered
    return total


@FUZZ
@given(DOCUMENT, st.integers(1, 7), st.integers(1, 1000))
def test_read_chunks_accounts_for_every_line(data: bytes, chunk_lines: int, start: int) -> None:
    chunks = list(
        read_chunks(io.BytesIO(data), gz=False, chunk_lines=chunk_lines, start_line=start)
    )
    assert check_accounting(chunks, start) == physical_lines(data.removeprefix(b"\xef\xbb\xbf"))


@FUZZ
@given(DOCUMENT)
def test_chunk_size_does_not_change_the_result(data: bytes) -> None:
    def flat(chunk_lines: int) -> tuple[list[object], ...]:
        chunks = list(read_chunks(io.BytesIO(data), gz=False, chunk_lines=chunk_lines))
        return (
            [n for c in chunks for n in c.line_numbers],
            [i for c in chunks for i in c.ids],
            [m for c in chunks for m in c.malformed],
        )

    assert flat(1) == flat(65536)


@FUZZ
@given(DOCUMENT, st.integers(0, 400))
def test_damaged_gzip_raises_only_input_error(data: bytes, cut: int) -> None:
    packed = gzip.compress(data)
    damaged = packed[: max(0, len(packed) - cut)]
    chunks: list[Chunk] = []
    try:
        chunks.extend(read_chunks(io.BytesIO(damaged), gz=True, chunk_lines=3, name="f.gz"))
    except InputError as exc:
        assert "f.gz" in exc.message
    check_accounting(chunks, 1)


@FUZZ
@given(st.binary(max_size=300))
def test_junk_as_gzip_raises_only_input_error(data: bytes) -> None:
    try:
        chunks = list(read_chunks(io.BytesIO(data), gz=True, chunk_lines=5))
    except InputError:
        return
    check_accounting(chunks, 1)


@FUZZ
@given(st.binary(max_size=300))
def test_flipped_gzip_bytes_raise_only_input_error(data: bytes) -> None:
    packed = bytearray(gzip.compress(b"a 1\n" * 50 + data))
    packed[len(packed) // 2] ^= 0x55
    with contextlib.suppress(InputError):
        list(read_chunks(io.BytesIO(bytes(packed)), gz=True))


NAME_PIECES = st.sampled_from(
    [
        "ftp",
        "s3",
        "_",
        "46390",
        "14016",
        "full",
        "iter",
        "1486140843000",
        "001",
        ".sync",
        ".gz",
        ".info",
        "-",
        "alias",
        "x",
        "0",
        "/",
        "\\",
        "é",
    ]
)


@FUZZ
@given(st.one_of(st.lists(NAME_PIECES, max_size=12).map("".join), st.text(max_size=60)))
def test_parse_outbound_name_never_raises(name: str) -> None:
    parsed = parse_outbound_name(name)
    if parsed is not None:
        assert parsed.mode in ("full", "iter")
        assert 10**12 <= parsed.timestamp_ms < 10**13
        assert parsed.name.startswith(parsed.batch_key)


MANIFEST_PIECES = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        '"',
        "\\",
        "Files",
        "FileName",
        "FileLineCount",
        "FileByteSize",
        "md5",
        "Totals",
        "1",
        "-1",
        "null",
        "true",
        " ",
        "\n",
        '"a.sync"',
        "1e999",
        "9" * 5000,
        "'",
    ]
)


@FUZZ
@given(st.one_of(st.lists(MANIFEST_PIECES, max_size=30).map("".join), st.text(max_size=80)))
def test_parse_manifest_raises_only_input_error(text: str) -> None:
    try:
        manifest = parse_manifest(text)
    except InputError as exc:
        assert "\n" not in exc.message
        return
    for entry in manifest.files:
        assert entry.line_count >= 0 and entry.byte_size >= 0
    manifest.totals_problems()


@FUZZ
@given(st.binary(max_size=120))
def test_parse_manifest_bytes_raise_only_input_error(data: bytes) -> None:
    with contextlib.suppress(InputError):
        parse_manifest(data)


# C0 controls but TAB, DEL, C1 controls and the Unicode line/paragraph separators.
CONTROLS = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]} - {"\t"}
HEADER_IDS = {"id", "uuid", "aam_uuid", "ecid", "mid", "user_id", "visitor_id", "declared_id"}


def reference(data: bytes) -> tuple[list[tuple[int, str, str, str]], list[int]]:
    """A slow, line-by-line reading of docs/reference.md §3, to compare the fast paths against."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    if data.endswith(b"\n") or not data:
        lines.pop()
    records: list[tuple[int, str, str, str]] = []
    malformed: list[int] = []
    first_content = True
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            malformed.append(number)
            first_content = False
            continue
        if not text.strip(" \t"):
            if text:  # only spaces and TABs, else it would be ''
                assert set(text) <= {" ", "\t"}
            continue
        fields = [f for f in text.replace("\t", " ").split(" ") if f]
        stripped = text.strip(" \t")
        parts = [p.strip(" ") for p in stripped.split("\t")]
        if (
            "\t\t" in stripped
            and len(parts) == 3
            and not parts[1]
            and parts[0]
            and parts[2]
            and " " not in parts[0] + parts[2]
        ):
            fields = [parts[0], "", parts[2]]  # ID<TAB><TAB>REMOVED: removal only
        was_first, first_content = first_content, False
        if any(c in CONTROLS for c in text):
            malformed.append(number)
        elif len(fields) == 3 and fields[1] == "" and is_segment_list(fields[2]):
            records.append((number, fields[0], "", fields[2]))
        elif len(fields) in (2, 3) and all(is_segment_list(f) for f in fields[1:]):
            records.append((number, fields[0], fields[1], fields[2] if len(fields) == 3 else ""))
        elif (
            was_first
            and fields[0].lower() in HEADER_IDS
            and all(f.isascii() and f.replace("_", "").isalpha() for f in fields[1:])
        ):
            continue
        else:
            malformed.append(number)
    return records, malformed


# Printable pieces only, so that the fast paths are taken often.
PLAIN_PIECES = st.sampled_from(
    [b"1", b"24", b"7", b",", b" ", b"\t", b"  ", b"ID", b"uuid", b"Segments", b"x", b"\r"]
)
PLAIN_LINE = st.lists(PLAIN_PIECES, max_size=8).map(b"".join)
MIXED_DOCUMENT = st.lists(st.one_of(PLAIN_LINE, PLAIN_LINE, LINE), max_size=40).map(b"\n".join)


@FUZZ
@given(MIXED_DOCUMENT, st.integers(1, 9))
def test_read_chunks_agrees_with_a_line_by_line_reading(data: bytes, chunk_lines: int) -> None:
    chunks = list(read_chunks(io.BytesIO(data), gz=False, chunk_lines=chunk_lines))
    records = [
        (n, i, s, r)
        for c in chunks
        for n, i, s, r in zip(c.line_numbers, c.ids, c.segments, c.removed, strict=True)
    ]
    malformed = [n for c in chunks for n, _ in c.malformed]
    assert (records, malformed) == reference(data)
