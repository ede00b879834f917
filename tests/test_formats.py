"""Unit and golden-file tests of core/formats (AAM file names, manifests, lines, writing)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import pytest

from core.errors import InputError
from core.formats import (
    MAX_LINE_BYTES,
    Chunk,
    Manifest,
    ManifestFile,
    ManifestTotals,
    classify_names,
    count_lines,
    format_inbound_line,
    group_batches,
    inbound_name,
    iter_file_chunks,
    manifest_name,
    parse_manifest,
    parse_manifest_name,
    parse_outbound_name,
    read_chunks,
    verify_part,
    write_inbound,
)

DATA = Path(__file__).parent / "data" / "formats"
FULL_1 = "ftp_46390_14016_full_1486140843000001.sync"
FULL_2 = "ftp_46390_14016_full_1486140843000002.sync.gz"
FULL_INFO = "ftp_46390_14016_full_1486140843000.info"
ECID = "59767559181262060060278870901087098252"


def read_all(data: bytes, *, gz: bool = False, **kwargs: int) -> list[Chunk]:
    return list(read_chunks(io.BytesIO(data), gz=gz, name="test.sync", **kwargs))


def merged(chunks: Sequence[Chunk]) -> Chunk:
    """All chunks in one, for assertions that do not care about chunk boundaries."""
    out = Chunk(first_line=chunks[0].first_line if chunks else 1)
    for chunk in chunks:
        out.line_numbers += chunk.line_numbers
        out.ids += chunk.ids
        out.segments += chunk.segments
        out.removed += chunk.removed
        out.malformed += chunk.malformed
        out.malformed_reasons += chunk.malformed_reasons
        out.blank_lines += chunk.blank_lines
        out.header_line = out.header_line or chunk.header_line
        out.last_line = chunk.last_line
    return out


# ----------------------------------------------------------------------------- golden files

GOLDEN = sorted(p for p in DATA.iterdir() if p.name.endswith((".sync", ".sync.gz")))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_files_parse_as_expected(path: Path) -> None:
    expected = json.loads(path.with_name(path.name + ".expected.json").read_text("utf-8"))
    actual = json.loads(json.dumps({"chunks": [asdict(c) for c in iter_file_chunks(path)]}))
    assert actual == expected


def test_golden_full_batch_is_complete_and_verified() -> None:
    names = [p.name for p in DATA.iterdir()]
    manifest = parse_manifest((DATA / FULL_INFO).read_text("utf-8"))
    batches, ignored = classify_names(names, {FULL_INFO: manifest})
    full = next(b for b in batches if b.key == "ftp_46390_14016_full_1486140843000")
    assert full.complete and full.waiting_reason == ""
    assert full.part_names == (FULL_1, FULL_2)
    assert full.manifest_name == FULL_INFO and full.notes == ()
    assert (full.destination_id, full.master_dpid, full.mode) == (46390, 14016, "full")
    for entry in manifest.files:
        assert verify_part(entry, DATA / entry.name) == []
    assert manifest.totals_problems() == []
    assert {i.name for i in ignored} >= {"malformed-lines.sync", FULL_1 + ".expected.json"}
    assert [b.timestamp_ms for b in batches] == sorted(b.timestamp_ms for b in batches)


def test_golden_split_parts_read_in_order() -> None:
    batch = next(b for b in group_batches(p.name for p in DATA.iterdir()) if len(b.parts) == 2)
    ids = [i for part in batch.parts for c in iter_file_chunks(DATA / part.name) for i in c.ids]
    assert len(ids) == 6 and ids[0] == ECID and ids[-1] == ECID


# ----------------------------------------------------------------------------- names


def test_parse_outbound_name_split_gz() -> None:
    name = parse_outbound_name("ftp_46390_14016_full_1486140843000001.sync.gz")
    assert name is not None
    assert (name.sync_type, name.destination_id, name.master_dpid) == ("ftp", 46390, 14016)
    assert (name.alias, name.mode, name.timestamp_ms) == (None, "full", 1486140843000)
    assert (name.split, name.gz) == (1, True)
    assert name.batch_key == "ftp_46390_14016_full_1486140843000"
    assert manifest_name(name.batch_key) == "ftp_46390_14016_full_1486140843000.info"


def test_parse_outbound_name_unsplit_iter() -> None:
    name = parse_outbound_name("ftp_46390_14016_iter_1486140843000.sync")
    assert name is not None
    assert (name.mode, name.split, name.gz) == ("iter", None, False)


def test_parse_outbound_name_alias_and_path() -> None:
    name = parse_outbound_name("/out/s3_46390_14016_my-alias2_full_1486140843000002.sync.gz")
    assert name is not None
    assert (name.name, name.sync_type, name.alias, name.split) == (
        "s3_46390_14016_my-alias2_full_1486140843000002.sync.gz",
        "s3",
        "my-alias2",
        2,
    )
    assert name.batch_key == "s3_46390_14016_my-alias2_full_1486140843000"


def test_parse_outbound_name_is_liberal_about_case() -> None:
    name = parse_outbound_name("FTP_46390_14016_FULL_1486140843000.SYNC.GZ")
    assert name is not None and name.mode == "full" and name.gz


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ftp_46390_14016_full_148614084300.sync",  # 12-digit timestamp
        "ftp_46390_14016_1486140843000.sync",  # no mode
        "ftp_46390_14016_full_full_1486140843000.sync",  # alias that is a mode
        "ftp_46390_14016_full_1486140843000.csv",
        "ftp_abc_14016_full_1486140843000.sync",
        "ftp_46390_14016_my_alias_full_1486140843000.sync",  # underscore in alias
        "_46390_14016_full_1486140843000.sync",
        "ftp_46390_14016_full_1486140843000.sync.gz.part",
    ],
)
def test_parse_outbound_name_rejects(bad: str) -> None:
    assert parse_outbound_name(bad) is None


def test_parse_manifest_name_forms() -> None:
    key = "ftp_46390_14016_full_1486140843000"
    assert parse_manifest_name(f"{key}.info") == key
    assert parse_manifest_name(f"{key}.sync.info") == key
    assert parse_manifest_name(f"{key}001.info") == key
    assert parse_manifest_name(f"{key}.sync") is None


# ----------------------------------------------------------------------------- manifests


def test_parse_manifest_unquoted_keys_keeps_strings() -> None:
    text = """{
      Files: [
        { FileName: "odd Name: {x, y}, z.sync", FileLineCount: 3, FileByteSize: 120,
          md5: "D41D8CD98F00B204E9800998ECF8427E" },
        { FileName: "b.sync", FileLineCount: "4", FileByteSize: 5, },
      ],
      Totals: { TotalLineCount: 7, TotalByteSize: 125, TotalFileCount: 2 }
    }"""
    manifest = parse_manifest(text)
    assert manifest.files[0] == ManifestFile(
        "odd Name: {x, y}, z.sync", 3, 120, "d41d8cd98f00b204e9800998ecf8427e"
    )
    assert manifest.files[1] == ManifestFile("b.sync", 4, 5, None)
    assert manifest.totals is not None and manifest.totals.file_count == 2
    assert manifest.totals_problems() == []
    assert manifest.file("dir/b.sync") == manifest.files[1]


def test_parse_manifest_real_json_and_bytes() -> None:
    text = '{"Files": [{"FileName": "a.sync", "FileLineCount": 1, "FileByteSize": 2}]}'
    assert parse_manifest(text.encode()) == Manifest((ManifestFile("a.sync", 1, 2, None),))


def test_manifest_totals_that_lie() -> None:
    manifest = parse_manifest(
        '{Files: [{FileName: "x", FileLineCount: 1, FileByteSize: 2}],'
        " Totals: {TotalLineCount: 5, TotalFileCount: 3}}"
    )
    problems = manifest.totals_problems()
    assert len(problems) == 2 and "line count says 5" in problems[0]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "not valid JSON"),
        ("{Files: [", "not valid JSON"),
        ("[1, 2]", "top level"),
        ("{Totals: {}}", "no Files"),
        ("{Files: [1]}", "not an object"),
        ("{Files: [{FileLineCount: 1, FileByteSize: 1}]}", "no FileName"),
        ('{Files: [{FileName: "a", FileByteSize: 1}]}', "FileLineCount is missing"),
        ('{Files: [{FileName: "a", FileLineCount: -1, FileByteSize: 1}]}', "whole number"),
        ("[" * 100000, "not valid JSON"),
        (b"\xff\xfe{", "not UTF-8"),
    ],
)
def test_parse_manifest_errors_are_one_line_input_errors(text: str | bytes, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_manifest(text)
    assert words in info.value.message
    assert "\n" not in str(info.value) and info.value.hint


def test_verify_part_reports_lies(tmp_path: Path) -> None:
    part = tmp_path / "p.sync.gz"
    part.write_bytes(gzip.compress(b"a 1\nb 2\n", mtime=0))
    good = ManifestFile(
        "p.sync.gz", 2, part.stat().st_size, hashlib.md5(part.read_bytes()).hexdigest()
    )
    assert verify_part(good, part) == []
    liar = ManifestFile("p.sync.gz", 3, 999, "0" * 32)
    problems = verify_part(liar, part)
    assert len(problems) == 3
    assert "bytes" in problems[0] and "md5" in problems[1] and "2 lines" in problems[2]
    assert verify_part(good, tmp_path / "absent.sync") == [
        "p.sync.gz: missing (the manifest lists it)"
    ]


def test_verify_part_corrupt_gzip_is_a_problem_not_an_error(tmp_path: Path) -> None:
    part = tmp_path / "p.sync.gz"
    part.write_bytes(gzip.compress(b"a 1\n" * 1000)[:-30])
    problems = verify_part(ManifestFile("p.sync.gz", 1000, part.stat().st_size, None), part)
    assert len(problems) == 1 and "truncated" in problems[0]


def test_count_lines(tmp_path: Path) -> None:
    for content, expected in [(b"", 0), (b"a", 1), (b"a\n", 1), (b"a\n\nb", 3), (b"\n", 1)]:
        path = tmp_path / "f.sync"
        path.write_bytes(content)
        assert count_lines(path) == expected
        gz = tmp_path / "f.sync.gz"
        gz.write_bytes(gzip.compress(content))
        assert count_lines(gz) == expected


# ----------------------------------------------------------------------------- batches

KEY = "ftp_46390_14016_full_1486140843000"


def split_names(*splits: int) -> list[str]:
    return [f"{KEY}{n:03d}.sync.gz" for n in splits]


def test_batch_without_manifest_contiguous_is_complete() -> None:
    [batch] = group_batches(split_names(2, 1, 3))
    assert batch.complete and [p.split for p in batch.parts] == [1, 2, 3]
    assert batch.manifest_name is None


def test_batch_without_manifest_gap_waits() -> None:
    [batch] = group_batches(split_names(1, 3, 5))
    assert not batch.complete and batch.waiting_reason == "waiting for parts 2, 4"


def test_single_unsplit_file_is_complete() -> None:
    [batch] = group_batches([f"{KEY}.sync"])
    assert batch.complete and batch.parts[0].split is None


def test_batch_with_manifest_waits_for_a_part() -> None:
    info = manifest_name(KEY)
    listed = split_names(1, 2)
    manifest = Manifest(tuple(ManifestFile(n, 1, 1, None) for n in listed))
    [batch] = group_batches([listed[0], info], {info: manifest})
    assert not batch.complete
    assert batch.waiting_reason == f"waiting for 1 of 2 file(s): {listed[1]}"
    [batch] = group_batches([*listed, info], {info: manifest})
    assert batch.complete


def test_manifest_before_data() -> None:
    info = manifest_name(KEY)
    manifest = Manifest(tuple(ManifestFile(n, 1, 1, None) for n in split_names(1, 2)))
    [batch] = group_batches([info], {info: manifest})
    assert batch.parts == () and not batch.complete
    assert "none has arrived yet" in batch.waiting_reason
    assert (batch.destination_id, batch.timestamp_ms) == (46390, 1486140843000)


def test_manifest_not_read_keeps_batch_waiting() -> None:
    [batch] = group_batches([*split_names(1, 2), manifest_name(KEY)])
    assert not batch.complete and "not been read" in batch.waiting_reason


def test_part_not_in_manifest_holds_the_batch_back() -> None:
    info = manifest_name(KEY)
    names = split_names(1, 2)
    manifest = Manifest((ManifestFile(names[0], 1, 1, None),))
    [batch] = group_batches([*names, info], {info: manifest})
    assert not batch.complete and batch.held
    assert batch.waiting_reason == (
        f"held back: manifest {info} disagrees with the files: "
        f"1 part(s) present but not listed: {names[1]}"
    )


def test_classify_names_ignores_with_reasons_and_sorts() -> None:
    later = "ftp_46390_14016_iter_1486227243000.sync"
    batches, ignored = classify_names(
        [later, *split_names(1), f"{KEY}001.sync", "notes.txt", "ftp_1_2_full_123.sync"]
    )
    assert [b.key for b in batches] == [KEY, later.removesuffix(".sync")]
    reasons = {i.name: i.reason for i in ignored}
    assert "same part" in reasons[f"{KEY}001.sync"]
    assert "not an AAM outbound file" in reasons["notes.txt"]
    assert "13 digits" in reasons["ftp_1_2_full_123.sync"]


def test_unsplit_and_split_under_one_timestamp_waits() -> None:
    [batch] = group_batches([f"{KEY}.sync", *split_names(1)])
    assert not batch.complete and "unsplit" in batch.waiting_reason


# ----------------------------------------------------------------------------- lines


def test_read_chunks_basic_and_removed() -> None:
    [chunk] = read_all(f"{ECID} 24,26,27 25,28\n{ECID}\t24\n".encode())
    assert chunk.line_numbers == [1, 2]
    assert chunk.segments == ["24,26,27", "24"] and chunk.removed == ["25,28", ""]


def test_read_chunks_header_only_first_nonblank() -> None:
    chunk = merged(read_all(b"\n  \nUUID Segments Removed\nID Segments\nx 1\n"))
    assert chunk.header_line == 3 and chunk.blank_lines == 2
    assert chunk.malformed == [(4, "ID Segments")] and chunk.ids == ["x"]


@pytest.mark.parametrize(
    "line", [b"ID", b"uuid\tsegments", b"AAM-UUID SEGMENTS REMOVED", b"ecid segs\r"]
)
def test_header_variants(line: bytes) -> None:
    chunk = merged(read_all(line + b"\nx 1\n"))
    assert chunk.header_line == 1 and chunk.ids == ["x"] and chunk.malformed == []


@pytest.mark.parametrize("line", [b"ID 24", b"UUID Segments 25", b"name Segments", b"ID S R X"])
def test_not_headers(line: bytes) -> None:
    chunk = merged(read_all(line + b"\n"))
    assert chunk.header_line is None and chunk.records == 1


def test_crlf_and_bom() -> None:
    [chunk] = read_all(b"\xef\xbb\xbfa 1\r\nb 2 3\r\n\r\nc 4\r")
    assert chunk.ids == ["a", "b", "c"] and chunk.removed == ["", "3", ""]
    assert chunk.blank_lines == 1


def test_chunking_keeps_line_numbers_and_start_line() -> None:
    data = b"".join(b"id%d %d\n" % (i, i) for i in range(10)) + b"\n"
    chunks = read_all(data, chunk_lines=3, start_line=101)
    assert [len(c.ids) for c in chunks] == [3, 3, 3, 1]
    assert [(c.first_line, c.last_line) for c in chunks] == [
        (101, 103),
        (104, 106),
        (107, 109),
        (110, 111),  # line 111 is blank
    ]
    assert merged(chunks).line_numbers == list(range(101, 111))


def test_nul_and_non_utf8_are_malformed_per_line() -> None:
    chunk = merged(read_all(b"a 1\nb\x00 1\nc\xff 1\nd 2\n"))
    assert chunk.ids == ["a", "d"]
    assert [n for n, _ in chunk.malformed] == [2, 3]
    assert chunk.malformed_reasons == ["contains NUL bytes", "not UTF-8"]
    assert chunk.malformed[1][1] == "c\\xff 1"


def test_excerpt_is_short_and_escaped() -> None:
    [chunk] = read_all(b"\x01" * 300 + b"\n")
    [(_, text)] = chunk.malformed
    assert len(text) <= 80 and "\x01" not in text and text.startswith("\\x01")


def test_binary_junk_is_malformed_not_an_error() -> None:
    junk = bytes(range(256)) * 64
    chunks = read_all(junk)
    total = sum(c.records + c.blank_lines + (c.header_line is not None) for c in chunks)
    assert total == junk.count(b"\n") + 1
    assert all(not c.ids for c in chunks)


def test_a_5mb_line_is_skipped_with_bounded_memory() -> None:
    data = b"a 1\n" + b"9" * (5 * 1024 * 1024) + b" 1\nb 2\n"
    stream = io.BytesIO(data)
    tracemalloc.start()
    try:
        chunks = list(read_chunks(stream, gz=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    chunk = merged(chunks)
    assert chunk.ids == ["a", "b"] and chunk.line_numbers == [1, 3]
    assert chunk.malformed_reasons == ["line longer than 1 MiB"]
    assert len(chunk.malformed[0][1]) <= 80


def test_a_5mb_line_in_gzip_is_bounded_too() -> None:
    data = gzip.compress(b"a 1\n" + b"x" * (5 * 1024 * 1024) + b"\nb 2")
    tracemalloc.start()
    try:
        chunk = merged(read_all(data, gz=True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert chunk.ids == ["a", "b"] and len(chunk.malformed) == 1


def test_line_at_the_limit_is_accepted() -> None:
    line = b"i " + b"1" * (MAX_LINE_BYTES - 2)
    chunk = merged(read_all(line + b"\r\n" + line + b"1\n"))
    assert chunk.line_numbers == [1] and [n for n, _ in chunk.malformed] == [2]


def test_truncated_gzip_keeps_earlier_chunks_and_names_the_file() -> None:
    lines = b"".join(b"%038d 24\n" % i for i in range(200_000))
    data = gzip.compress(lines)
    stream = read_chunks(io.BytesIO(data[: len(data) // 2]), gz=True, name="f.sync.gz")
    seen: list[Chunk] = []
    with pytest.raises(InputError) as info:
        for chunk in stream:
            seen.append(chunk)
    assert "f.sync.gz" in info.value.message and "truncated" in info.value.message
    parsed = merged(seen)
    assert parsed.records > 0 and not parsed.malformed
    assert parsed.ids == [f"{i:038d}" for i in range(len(parsed.ids))]


def test_corrupt_gzip_is_an_input_error() -> None:
    data = bytearray(gzip.compress(b"a 1\n" * 10000))
    data[40:60] = b"\x00" * 20
    with pytest.raises(InputError, match=r"x\.gz"):
        list(read_chunks(io.BytesIO(bytes(data)), gz=True, name="x.gz"))


def test_not_gzip_at_all() -> None:
    with pytest.raises(InputError, match="not gzip"):
        read_all(b"a 1\n", gz=True)


def test_empty_stream_yields_nothing() -> None:
    assert read_all(b"") == []
    assert read_all(b"", gz=True) == []


# ----------------------------------------------------------------------------- writing


def test_inbound_name() -> None:
    assert inbound_name(14016, 1486140843, None, False) == "ftp_dpm_14016_1486140843.sync"
    assert inbound_name(14016, 1486140843, 2, True) == "ftp_dpm_14016_1486140843.sync.2.gz"
    for dpid, seconds, part in [(0, 1486140843, None), (1, 12345, None), (1, 1486140843, 0)]:
        with pytest.raises(InputError):
            inbound_name(dpid, seconds, part, False)


def test_format_inbound_line() -> None:
    assert format_inbound_line("a@b.com", ["24", "26"]) == "a@b.com\t24,26"
    for bad_id in ["", "a\tb", "a\nb", "a\x00", "a\u2028b"]:
        with pytest.raises(InputError):
            format_inbound_line(bad_id, ["1"])
    for bad_segments in [[], ["x"], ["1,"], [""]]:
        with pytest.raises(InputError):
            format_inbound_line("a", bad_segments)


def test_write_inbound_single_file(tmp_path: Path) -> None:
    [path] = write_inbound([("a", ["1", "2"]), ("é", ["3"])], tmp_path, 14016, 1486140843)
    assert path.name == "ftp_dpm_14016_1486140843.sync"
    assert path.read_bytes() == "a\t1,2\né\t3\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_write_inbound_splits_and_reads_back(tmp_path: Path) -> None:
    rows = [(f"id{i:04d}", ["24", "26"]) for i in range(100)]  # 13 bytes a line
    paths = write_inbound(rows, tmp_path, 14016, 1486140843, gz=True, max_bytes=13 * 30 + 5)
    assert [p.name for p in paths] == [
        f"ftp_dpm_14016_1486140843.sync.{n}.gz" for n in (1, 2, 3, 4)
    ]
    contents = [gzip.decompress(p.read_bytes()) for p in paths]
    assert [c.count(b"\n") for c in contents] == [30, 30, 30, 10]
    assert all(len(c) <= 13 * 30 + 5 for c in contents)
    assert b"".join(contents) == b"".join(b"id%04d\t24,26\n" % i for i in range(100))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_write_inbound_line_limit(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="bytes"):
        write_inbound(
            [("a", ["1"]), ("b", ["1"] * 100)], tmp_path, 1, 1486140843, max_line_bytes=50
        )
    assert list(tmp_path.iterdir()) == []


def test_write_inbound_is_atomic_on_iterator_failure(tmp_path: Path) -> None:
    def rows() -> Iterator[tuple[str, Sequence[str]]]:
        for i in range(50):
            yield f"id{i}", ["1"]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        write_inbound(rows(), tmp_path, 14016, 1486140843, max_bytes=100)
    assert list(tmp_path.iterdir()) == []


def test_write_inbound_refuses_bad_id_midway(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="TAB"):
        write_inbound([("ok", ["1"]), ("bad\tid", ["1"])], tmp_path, 14016, 1486140843)
    assert list(tmp_path.iterdir()) == []


def test_write_inbound_refuses_to_overwrite(tmp_path: Path) -> None:
    existing = tmp_path / "ftp_dpm_14016_1486140843.sync"
    existing.write_text("keep")
    with pytest.raises(InputError, match="already exists"):
        write_inbound([("a", ["1"])], tmp_path, 14016, 1486140843)
    assert existing.read_text() == "keep" and list(tmp_path.iterdir()) == [existing]


def test_write_inbound_no_rows(tmp_path: Path) -> None:
    assert write_inbound([], tmp_path, 14016, 1486140843) == []
    assert list(tmp_path.iterdir()) == []


def test_written_file_reads_back_through_read_chunks(tmp_path: Path) -> None:
    [path] = write_inbound([(ECID, ["24", "26"])], tmp_path, 14016, 1486140843, gz=True)
    [chunk] = iter_file_chunks(path)
    assert chunk.ids == [ECID] and chunk.segments == ["24,26"]


def test_removal_only_lines_need_tabs() -> None:
    data = (
        b"59767559181262060060278870901087098252\t\t25,28\n"  # removal only
        b"59767559181262060060278870901087098253  25\n"  # spaces: one separator, adds 25
        b"59767559181262060060278870901087098254\t\t\n"  # nothing at all: malformed
    )
    (chunk,) = list(read_chunks(io.BytesIO(data), gz=False))
    assert chunk.segments == ["", "25"] and chunk.removed == ["25,28", ""]
    assert [line for line, _ in chunk.malformed] == [3]


@pytest.mark.parametrize("chunk_lines", [1, 2, 1000])
def test_removal_only_line_after_other_lines(chunk_lines: int) -> None:
    """Found by the fuzzer: past the first line the plain fast path split
    ``ID<TAB><TAB>REMOVED`` on whitespace and read REMOVED as added segments."""
    data = b"1\n" + ECID.encode() + b"\t24\n" + ECID[:-1].encode() + b"7\t\t25\n3\t\tx\n"
    chunk = merged(read_all(data, chunk_lines=chunk_lines))
    assert list(zip(chunk.ids, chunk.segments, chunk.removed, strict=True)) == [
        (ECID, "24", ""),
        (ECID[:-1] + "7", "", "25"),
    ]
    assert [line for line, _ in chunk.malformed] == [1, 4]


# ------------------------------------------------ AAM's documented names and manifest
# Each name below is quoted from Audience Manager's own pages (AdobeDocs/audience-manager.en):
# "Outbound Data File Name: Syntax and Examples" (outbound-file-name-contents.md),
# "Outbound Macro Examples" (outbound-macro-examples.md), "Outbound Template Macros"
# (outbound-template-macros.md, whose split example ends in .csv: read here as .sync) and
# "Transfer-Control Files for Log File Transfers" (transfer-control-files.md).

OUTBOUND_PAGE = [
    # Scenario 1 (Amazon S3, PID_ALIAS "XYZCustomer", Google Advertiser IDs)
    ("S3_1234_20914_XYZCustomer_iter_1486140844000.sync.gz", 1486140844000, None),
    ("S3_1234_20914_XYZCustomer_iter_1486140844000001.sync.gz", 1486140844000, 1),
    ("S3_1234_20914_XYZCustomer_iter_1486140844000002.sync.gz", 1486140844000, 2),
    ("S3_1234_20914_XYZCustomer_full_1486140844000.sync.gz", 1486140844000, None),
    ("S3_1234_20914_XYZCustomer_full_1486140844000001.sync.gz", 1486140844000, 1),
    # Scenario 2 (FTP, no alias, Apple IDs)
    ("ftp_1234_20915_iter_1486140843000.sync.gz", 1486140843000, None),
    ("ftp_1234_20915_iter_1486140843000001.sync.gz", 1486140843000, 1),
    ("ftp_1234_20915_full_1486140843000.sync.gz", 1486140843000, None),
    ("ftp_1234_20915_full_1486140843000001.sync.gz", 1486140843000, 1),
    # Scenario 3 (FTP, alias, vendor ID 45454)
    ("ftp_1234_45454_XYZCustomer_iter_1486140843000.sync.gz", 1486140843000, None),
    ("ftp_1234_45454_XYZCustomer_iter_1486140843000001.sync.gz", 1486140843000, 1),
    ("ftp_1234_45454_XYZCustomer_full_1486140843200.sync.gz", 1486140843200, None),
    ("ftp_1234_45454_XYZCustomer_full_1486140843200001.sync.gz", 1486140843200, 1),
]
MACRO_PAGE = [
    ("ftp_215_888_iter_1449756724.sync", "ftp", 215, 888, None, "iter"),
    ("ftp_215_888_20915_iter_1449756724.sync", "ftp", 215, 888, "20915", "iter"),
    ("ftp_215_888_full_1449756724.sync", "ftp", 215, 888, None, "full"),
    ("http_215_888_iter_1449756724.sync", "http", 215, 888, None, "iter"),
    ("s3_215_888_iter_1449756724.sync", "s3", 215, 888, None, "iter"),
]
SPLITS_PAGE = [
    "s3_123456_9999_full_1566906141001.sync",
    "s3_123456_9999_full_1566906141002.sync",
    "s3_123456_9999_full_1566906141003.sync",
]
TRANSFER_CONTROL_INFO = """{
  Files: [
    {
      FileByteSize: 293029329,
      FileLineCount: 36893908,
      FileName: "ftp_12345_67890_full_1500727351632-1.sync.gz",
      FileSequenceNumber: 1,
      md5: "983g634be2ad5263c6a6c4958bf61d9f"
    },
    {
      FileByteSize: 293039238,
      FileLineCount: 36895184,
      FileName: "ftp_12345_67890_full_1500727351632-2.sync.gz",
      FileSequenceNumber: 2,
      md5: "6sn9907c8e78cfd78409622e7b55a984"
    },
    {
      FileByteSize: 293050833,
      FileLineCount: 36896787,
      FileName: "ftp_12345_67890_full_1500727351632-3.sync.gz",
      FileSequenceNumber: 3,
      md5: "7cdfb8e74cd6cec1jy6vel21ccb4a962"
    },
    {
      FileByteSize: 218425764,
      FileLineCount: 27498226,
      FileName: "ftp_12345_67890_full_1500727351632-4.sync.gz",
      FileSequenceNumber: 4,
      md5: "7hs53149f8a2444457g968f04cbbdee5"
    }
  ],
  Totals: {
    FileName: "ftp_12345_67890_full_1500727351632.sync",
    TotalByteSize: 1097545164,
    TotalNumberFiles: 4,
    TotalNumberLines: 138184105
    }
}"""
#: The transfer-control page names the manifest of the batch above with ``iter``.
TRANSFER_CONTROL_INFO_NAME = "ftp_12345_67890_iter_1500727351632.info"


@pytest.mark.parametrize(("name", "ms", "split"), OUTBOUND_PAGE)
def test_outbound_page_example_names(name: str, ms: int, split: int | None) -> None:
    parsed = parse_outbound_name(name)
    assert parsed is not None and parsed.gz
    assert (parsed.timestamp_ms, parsed.split) == (ms, split)
    assert parsed.batch_key == name.split(".")[0][: len(name.split(".")[0]) - (3 if split else 0)]


@pytest.mark.parametrize(("name", "sync", "did", "dpid", "alias", "mode"), MACRO_PAGE)
def test_macro_page_ten_digit_names(
    name: str, sync: str, did: int, dpid: int, alias: str | None, mode: str
) -> None:
    parsed = parse_outbound_name(name)
    assert parsed is not None
    assert (parsed.sync_type, parsed.destination_id, parsed.master_dpid) == (sync, did, dpid)
    assert (parsed.alias, parsed.mode, parsed.split) == (alias, mode, None)
    assert parsed.timestamp_ms == 1449756724 * 1000 and parsed.timestamp == "1449756724"
    [batch] = group_batches([name])
    assert batch.complete and batch.timestamp_ms == 1449756724000


def test_seconds_and_split_digits_make_one_batch() -> None:
    [batch] = group_batches(reversed(SPLITS_PAGE))
    assert batch.complete and batch.key == "s3_123456_9999_full_1566906141"
    assert [p.split for p in batch.parts] == [1, 2, 3]
    assert batch.part_names == tuple(SPLITS_PAGE)
    assert batch.timestamp_ms == 1566906141000 and batch.mode == "full"


def test_seconds_splits_with_a_gap_wait_for_the_missing_part() -> None:
    [batch] = group_batches([SPLITS_PAGE[0], SPLITS_PAGE[2]])
    assert not batch.complete and batch.waiting_reason == "waiting for part 2"


def test_a_lone_thirteen_digit_name_is_milliseconds() -> None:
    [batch] = group_batches([SPLITS_PAGE[0]])
    assert batch.key == "s3_123456_9999_full_1566906141001" and batch.parts[0].split is None


def test_splits_start_at_001() -> None:
    [batch] = group_batches(split_names(2, 3))
    assert not batch.complete and batch.waiting_reason == "waiting for part 1"


def test_outbound_page_scenario_3_duplicate_name_is_one_part() -> None:
    names = [n for n, _, _ in OUTBOUND_PAGE if "45454_XYZCustomer_iter" in n]
    names.append("ftp_1234_45454_XYZCustomer_iter_1486140843000001.sync.gz")  # listed twice
    [batch] = group_batches(names)
    assert len(batch.parts) == 2


def test_dash_split_names_and_the_transfer_control_manifest() -> None:
    manifest = parse_manifest(TRANSFER_CONTROL_INFO)
    parts = [f.name for f in manifest.files]
    for number, name in enumerate(parts, start=1):
        parsed = parse_outbound_name(name)
        assert parsed is not None and parsed.split == number
        assert parsed.batch_key == "ftp_12345_67890_full_1500727351632"
    assert [f.sequence for f in manifest.files] == [1, 2, 3, 4]
    assert manifest.totals == ManifestTotals(
        line_count=138184105,
        byte_size=1097545164,
        file_count=4,
        name="ftp_12345_67890_full_1500727351632.sync",
    )
    assert manifest.totals_problems() == []
    # the page's md5 values are not hexadecimal: a warning per file, never an error
    assert all(f.md5 is None for f in manifest.files)
    assert len(manifest.warnings()) == 4 and "983g634b" in manifest.warnings()[0]
    info = TRANSFER_CONTROL_INFO_NAME
    # the manifest first (it may arrive before the parts): the batch waits
    [early] = group_batches([info], {info: manifest})
    assert not early.complete and "none has arrived yet" in early.waiting_reason
    # every part: one complete full batch with the manifest (named iter on the page)
    [batch] = group_batches([info, *reversed(parts)], {info: manifest})
    assert batch.complete and batch.manifest_name == info and batch.mode == "full"
    assert batch.part_names == tuple(parts)
    assert batch.notes == tuple(manifest.warnings())


def test_manifest_whose_totals_lie_holds_the_batch_back() -> None:
    """Issue 17.12: lists only part 001, Totals claim 7 files and 5 lines, 001 and 002 here."""
    info = manifest_name(KEY)
    names = split_names(1, 2)
    manifest = parse_manifest(
        f'{{Files: [{{FileName: "{names[0]}", FileLineCount: 2, FileByteSize: 10}}],'
        " Totals: {TotalNumberFiles: 7, TotalNumberLines: 5, TotalByteSize: 10}}"
    )
    [batch] = group_batches([*names, info], {info: manifest})
    assert not batch.complete and batch.held
    assert batch.waiting_reason.startswith(f"held back: manifest {info} disagrees")
    assert "total line count says 5 but the files add up to 2" in batch.waiting_reason
    assert "total file count says 7 but the files add up to 1" in batch.waiting_reason
    assert f"present but not listed: {names[1]}" in batch.waiting_reason


def test_inbound_names_of_the_ftp_inbound_page() -> None:
    """``ftp_dpm_478_1366545717.sync.1.gz``, ``.sync.2.gz`` and ``.overwrite``."""
    assert inbound_name(478, 1366545717, 1, True) == "ftp_dpm_478_1366545717.sync.1.gz"
    assert inbound_name(478, 1366545717, 2, True) == "ftp_dpm_478_1366545717.sync.2.gz"
    assert inbound_name(478, 1366545717, None, False, overwrite=True) == (
        "ftp_dpm_478_1366545717.overwrite"
    )
    assert inbound_name(478, 1366545717, 3, True, overwrite=True) == (
        "ftp_dpm_478_1366545717.overwrite.3.gz"
    )


@pytest.mark.parametrize("id_", ["CRM:1", "a%3Ab", "a%3ab"])
def test_an_inbound_line_refuses_a_colon_in_the_id(id_: str) -> None:
    with pytest.raises(InputError, match="':' or '%3A'"):
        format_inbound_line(id_, ["1"])


def test_inbound_limits_are_aams(tmp_path: Path) -> None:
    from core.formats import (
        MAX_INBOUND_BYTES,
        MAX_INBOUND_GZ_INPUT_BYTES,
        MAX_INBOUND_LINE_BYTES,
    )

    assert (MAX_INBOUND_LINE_BYTES, MAX_INBOUND_BYTES) == (102_400, 5 * 10**9)
    assert MAX_INBOUND_GZ_INPUT_BYTES < 10**9  # each compressed part under S3's 1 GB
    line = "x" * (MAX_INBOUND_LINE_BYTES - 2)
    [path] = write_inbound([(line, ["1"])], tmp_path, 1, 1486140843)
    assert path.stat().st_size == MAX_INBOUND_LINE_BYTES + 1
    with pytest.raises(InputError, match="at most 102400"):
        write_inbound([(line + "x", ["1"])], tmp_path, 1, 1486140844)
