"""Reading the lines of an outbound file: chunks of parsed records, malformed lines
reported (never raised), gzip handled."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

from core.errors import InputError
from core.gzbound import BoundedGzip
from core.ids import is_segment_list

#: A line longer than this (in bytes, without its newline) is malformed and skipped.
MAX_LINE_BYTES = 1 << 20
_BLOCK_BYTES = 1 << 18
_EXCERPT_CHARS = 80
_BOM = b"\xef\xbb\xbf"

_SEP = re.compile(r"[ \t]+")
_SEGMENTS = re.compile(r"[0-9]+(?:,[0-9]+)*")
# Anything but printable ASCII, TAB and newline (and CR of CRLF) takes the careful path.
_PLAIN_BYTES = bytes([0x09, 0x0A, *range(0x20, 0x7F)])
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_HEADER_IDS = frozenset(
    {
        "id",
        "uuid",
        "aam_uuid",
        "aamuuid",
        "user_id",
        "userid",
        "uid",
        "mid",
        "ecid",
        "visitor_id",
        "visitorid",
        "declared_id",
        "declaredid",
        "dpuuid",
        "device_id",
        "profile_id",
        "ids",
    }
)
_HEADER_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*")


@dataclass
class Chunk:
    """Up to ``chunk_lines`` consecutive physical lines of a file, as parallel lists.

    ``line_numbers[i]``, ``ids[i]``, ``segments[i]`` (the raw comma list) and
    ``removed[i]`` (raw, ``''`` when absent) describe one parsed record.
    ``malformed`` holds ``(line number, excerpt)`` with a parallel
    ``malformed_reasons``. ``blank_lines`` counts skipped blank lines and
    ``header_line`` is the number of a skipped header line. ``first_line`` and
    ``last_line`` bound the physical lines covered, so that
    ``records + blank_lines + (header_line is not None)`` equals
    ``last_line - first_line + 1``.
    """

    first_line: int
    last_line: int = 0
    line_numbers: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    malformed_reasons: list[str] = field(default_factory=list)
    blank_lines: int = 0
    header_line: int | None = None

    @property
    def records(self) -> int:
        """Non-blank, non-header lines: parsed plus malformed."""
        return len(self.ids) + len(self.malformed)


def excerpt(raw: bytes | str, limit: int = _EXCERPT_CHARS) -> str:
    """A printable one-line excerpt of at most ``limit`` characters, control bytes escaped."""
    if isinstance(raw, bytes):
        raw = raw[: limit * 4].decode("utf-8", "backslashreplace")
    out: list[str] = []
    size = 0
    for char in raw[: limit * 2]:
        piece = char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        size += len(piece)
        if size > limit:
            break
        out.append(piece)
    text = "".join(out)
    if size > limit:
        text = text[: limit - 3] + "..."
    return text


def _raw_blocks(source: IO[bytes]) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Yield ``(complete lines joined by \\n or None, head of an overlong line or None)``.

    Memory stays below about ``MAX_LINE_BYTES + _BLOCK_BYTES`` plus one copy:
    the rest of an overlong line is read and dropped without being kept.
    """
    buf = b""
    skipping = False
    first = True
    while block := source.read(_BLOCK_BYTES):
        if first:
            first = False
            block = block.removeprefix(_BOM)
        if skipping:
            newline = block.find(b"\n")
            if newline < 0:
                continue
            block, skipping = block[newline + 1 :], False
        buf = buf + block if buf else block
        newline = buf.rfind(b"\n")
        data: bytes | None = None
        if newline >= 0:
            data, buf = buf[:newline], buf[newline + 1 :]
        overlong: bytes | None = None
        if len(buf) > MAX_LINE_BYTES + 1:  # + 1: the CR of a CRLF does not count
            overlong, buf, skipping = buf[: _EXCERPT_CHARS * 4], b"", True
        if data is not None or overlong is not None:
            yield data, overlong
    if buf:
        yield buf, None


def _plain_text(data: bytes) -> str | None:
    """``data`` as text when it is printable ASCII, TABs and newlines only (CRLF made LF)
    and no line is over ``MAX_LINE_BYTES``; None sends it to the careful path."""
    others = data.translate(None, _PLAIN_BYTES)
    if others:
        if others.count(b"\r") != len(others):
            return None
        data = data.replace(b"\r\n", b"\n").removesuffix(b"\r")
        if b"\r" in data:
            return None
    if len(data) > MAX_LINE_BYTES and max(map(len, data.split(b"\n"))) > MAX_LINE_BYTES:
        return None
    return data.decode("ascii")


def _fields_of(raw: bytes) -> tuple[list[str] | None, str]:
    """Fields of one line read carefully, or ``(None, reason)`` when it cannot be read."""
    raw = raw.removesuffix(b"\r")
    if len(raw) > MAX_LINE_BYTES:
        return None, "line longer than 1 MiB"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    if "\x00" in line:
        return None, "contains NUL bytes"
    stripped = line.strip(" \t")
    if not stripped:
        return [], ""
    if _CONTROL.search(stripped):
        return None, "contains control characters"
    removal_only = _removal_only(stripped)
    if removal_only is not None:
        return removal_only, ""
    return _SEP.split(stripped), ""


def _removal_only(line: str) -> list[str] | None:
    """``ID<TAB><TAB>REMOVED``: an ID removed from segments and added to none.

    Only TAB-separated lines can say it (an empty field between two TABs);
    runs of separators otherwise count as one.
    """
    if "\t\t" not in line:
        return None
    parts = line.split("\t")
    if len(parts) != 3 or parts[1].strip(" "):
        return None
    id_, removed = parts[0].strip(" "), parts[2].strip(" ")
    if not id_ or not removed or " " in id_ or " " in removed:
        return None
    return [id_, "", removed]


def _record_problem(fields: Sequence[str]) -> str:
    """Why these fields are not a record ('' when they are one)."""
    count = len(fields)
    if count == 1:
        return "no segment field"
    if count > 3:
        return f"{count} fields (at most 3: ID, segments, removed segments)"
    if count == 3 and fields[1] == "" and is_segment_list(fields[2]):
        return ""  # removal only
    if not is_segment_list(fields[1]):
        return "segments are not comma-separated numeric IDs"
    if count == 3 and not is_segment_list(fields[2]):
        return "removed segments are not comma-separated numeric IDs"
    return ""


def _is_header(fields: Sequence[str]) -> bool:
    """A header: a known ID column name, then only words (never digits) for the rest."""
    if not 1 <= len(fields) <= 3:
        return False
    if fields[0].lower().replace("-", "_") not in _HEADER_IDS:
        return False
    return all(_HEADER_WORD.fullmatch(f) for f in fields[1:])


def _plain_removal(line: str) -> tuple[str, str, str] | None:
    """``(id, "", removed)`` for a plain ``ID<TAB><TAB>REMOVED`` line, else None."""
    fields = _removal_only(line.strip(" \t"))
    if fields is None or not _SEGMENTS.fullmatch(fields[2]):
        return None
    return fields[0], "", fields[2]


def _plain_record(fields: list[str]) -> tuple[str, str, str] | None:
    """``(id, segments, removed)`` when the fields of a plain line are a record."""
    count = len(fields)
    if count == 2 and _SEGMENTS.fullmatch(fields[1]):
        return fields[0], fields[1], ""
    if count == 3 and _SEGMENTS.fullmatch(fields[1]) and _SEGMENTS.fullmatch(fields[2]):
        return fields[0], fields[1], fields[2]
    return None


class _SegmentCache(dict[str, bool]):
    """Whether a field is a segment list, remembered per distinct text (files repeat a
    handful of segment lists); cleared when it grows past a bound."""

    LIMIT = 4096

    def __missing__(self, text: str) -> bool:
        if len(self) >= self.LIMIT:
            self.clear()
        ok = self[text] = text == "" or _SEGMENTS.fullmatch(text) is not None
        return ok


_SEGMENT_CACHE = _SegmentCache()
_NOT_SEPARATORS = bytes(b for b in range(256) if b not in (0x09, 0x0A, 0x20))


class _LineParser:
    """Turns raw line blocks into Chunks; keeps the line count across blocks."""

    def __init__(self, start_line: int, chunk_lines: int) -> None:
        self.chunk_lines = chunk_lines
        self.next_line = start_line
        self.expect_header = True
        self.chunk = Chunk(first_line=start_line)

    def _full(self) -> bool:
        return self.next_line - self.chunk.first_line >= self.chunk_lines

    def _rotate(self) -> Chunk:
        done = self.chunk
        done.last_line = self.next_line - 1
        self.chunk = Chunk(first_line=self.next_line)
        return done

    def pending(self) -> Chunk | None:
        """The chunk in progress, closed, when it covers any line."""
        if self.next_line == self.chunk.first_line:
            return None
        return self._rotate()

    def feed(self, data: bytes | None, overlong: bytes | None) -> list[Chunk]:
        """Parse complete lines (``data``) and then an overlong line; return full chunks."""
        ready: list[Chunk] = []
        rest = data
        while rest is not None:
            room = self.chunk_lines - (self.next_line - self.chunk.first_line)
            if rest.count(b"\n") < room:
                self._parse(rest)
                rest = None
            else:
                lines = rest.split(b"\n", room)
                self._parse(b"\n".join(lines[:room]))
                rest = lines[room]
            if self._full():
                ready.append(self._rotate())
        if overlong is not None:
            self._add_malformed(self.next_line, excerpt(overlong), "line longer than 1 MiB")
            self.next_line += 1
            if self._full():
                ready.append(self._rotate())
        return ready

    def _add_malformed(self, number: int, text: str, reason: str) -> None:
        self.chunk.malformed.append((number, text))
        self.chunk.malformed_reasons.append(reason)

    def _parse(self, data: bytes | None) -> None:
        """Parse ``data``: one or more lines joined by newlines (b"" is one blank line)."""
        if self.expect_header and data is not None:
            data = self._parse_until_content(data)
        if data is None:
            return
        text = _plain_text(data)
        if text is None:
            for raw in data.split(b"\n"):
                self._parse_careful(raw)
        elif not self._parse_mixed(text):
            self._parse_plain(text.split("\n"))

    def _parse_until_content(self, data: bytes) -> bytes | None:
        """Parse lines one by one up to the first non-blank one (which may be a header);
        return the lines after it, or None when none is left."""
        start = 0
        while True:
            end = data.find(b"\n", start)
            raw = data[start:] if end < 0 else data[start:end]
            fields, _ = _fields_of(raw)
            if fields == []:
                self.chunk.blank_lines += 1
                self.next_line += 1
            else:
                self.expect_header = False
                if fields is not None and _record_problem(fields) and _is_header(fields):
                    self.chunk.header_line = self.next_line
                    self.next_line += 1
                else:
                    self._parse_careful(raw)
            if end < 0:
                return None
            start = end + 1
            if not self.expect_header:
                return data[start:]

    def _parse_mixed(self, text: str) -> bool:
        """The fast path for blocks mixing 2- and 3-field lines (and a few odd ones).

        The line structure comes from numpy over the bytes (newline positions, and the
        separators left after deleting every other byte); all fields come from one
        ``str.split`` and are placed with index arithmetic; segment fields are checked
        through a small cache of distinct segment lists. Lines without exactly one or
        two separators, or with a bad segment field, follow ``_parse_plain``'s per-line
        rules, and records keep their line order. False (nothing done) when a line
        does not split into its separators + 1 fields (a leading, trailing or doubled
        separator), or when most lines are odd.
        """
        data = text.encode("ascii")
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        count = newlines.size + 1
        skeleton = np.frombuffer(data.translate(None, _NOT_SEPARATORS), dtype=np.uint8)
        bounds = np.flatnonzero(skeleton == 10)
        seps = np.diff(bounds, prepend=-1, append=skeleton.size) - 1
        begins = np.concatenate(([0], newlines + 1))
        empty = np.diff(begins, append=len(data) + 1) == 1
        regular = (seps == 1) | (seps == 2)
        where = np.flatnonzero(regular)
        if where.size * 2 < count:
            return False
        tokens = text.split()
        fields = np.where(empty, 0, seps + 1)
        if len(tokens) != int(fields.sum()):
            return False
        starts = np.cumsum(fields) - fields
        tok = np.array(tokens, dtype=object)
        del tokens
        at = starts[where]
        ids, segs = tok[at], tok[at + 1]
        rem = np.full(where.size, "", dtype=object)
        three = np.flatnonzero(seps[where] == 2)
        rem[three] = tok[at[three] + 2]
        valid = _SEGMENT_CACHE.__getitem__
        ok = np.fromiter(map(valid, segs.tolist()), dtype=bool, count=where.size)
        if three.size:
            ok[three] &= np.fromiter(map(valid, rem[three].tolist()), dtype=bool, count=three.size)
        chunk = self.chunk
        first = self.next_line
        if where.size == count and ok.all():
            chunk.line_numbers.extend(range(first, first + count))
            chunk.ids.extend(ids.tolist())
            chunk.segments.extend(segs.tolist())
            chunk.removed.extend(rem.tolist())
            self.next_line += count
            return True
        odd = np.ones(count, dtype=bool)
        good = where[ok]
        odd[good] = False
        numbers: list[int] = []
        extra: list[tuple[str, str, str]] = []
        ends = np.append(newlines, len(data))
        for index in np.flatnonzero(odd).tolist():
            if empty[index]:
                chunk.blank_lines += 1
                continue
            parts = tok[starts[index] : starts[index] + fields[index]].tolist()
            got = _plain_record(parts)
            if got is not None:
                numbers.append(index)
                extra.append(got)
            else:
                line = text[begins[index] : ends[index]]
                self._add_malformed(first + index, excerpt(line), _record_problem(parts))
        if extra:  # records among the odd lines: merge them back in line order
            lines_at = np.concatenate((good, np.array(numbers, dtype=np.int64)))
            order = np.argsort(lines_at, kind="stable")
            lines_at = lines_at[order]
            added = np.empty((3, len(extra)), dtype=object)
            for column, values in enumerate(zip(*extra, strict=True)):
                added[column, :] = values
            ids = np.concatenate((ids[ok], added[0]))[order]
            segs = np.concatenate((segs[ok], added[1]))[order]
            rem = np.concatenate((rem[ok], added[2]))[order]
        else:
            lines_at = good
            ids, segs, rem = ids[ok], segs[ok], rem[ok]
        chunk.line_numbers.extend((lines_at + first).tolist())
        chunk.ids.extend(ids.tolist())
        chunk.segments.extend(segs.tolist())
        chunk.removed.extend(rem.tolist())
        self.next_line += count
        return True

    def _parse_plain(self, lines: list[str]) -> None:
        """The fast path: printable ASCII with TAB separators only."""
        chunk = self.chunk
        number = self.next_line
        numbers, ids = chunk.line_numbers, chunk.ids
        segments, removed = chunk.segments, chunk.removed
        blank = 0
        for line in lines:
            fields = line.split()
            # `ID<TAB><TAB>REMOVED` says "removed from these, added to none": split()
            # would read it as ID + segments, so it is recognised first.
            got = _plain_removal(line) if "\t\t" in line else None
            if got is None:
                got = _plain_record(fields)
            if got is not None:
                numbers.append(number)
                ids.append(got[0])
                segments.append(got[1])
                removed.append(got[2])
            elif not fields:
                blank += 1
            else:
                self._add_malformed(number, excerpt(line), _record_problem(fields))
            number += 1
        chunk.blank_lines += blank
        self.next_line = number

    def _parse_careful(self, raw: bytes) -> None:
        """The careful path: one line at a time, with decoding and control checks."""
        number = self.next_line
        self.next_line += 1
        fields, reason = _fields_of(raw)
        if fields == []:
            self.chunk.blank_lines += 1
            return
        if fields is not None:
            reason = _record_problem(fields)
        if fields is None or reason:
            self._add_malformed(number, excerpt(raw.removesuffix(b"\r")), reason)
            return
        self.chunk.line_numbers.append(number)
        self.chunk.ids.append(fields[0])
        self.chunk.segments.append(fields[1])
        self.chunk.removed.append(fields[2] if len(fields) == 3 else "")


def _gzip_problem(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the gzip data is truncated (incomplete download?)"
    if isinstance(exc, gzip.BadGzipFile):
        return "is not gzip data (or has junk after it)"
    return f"the gzip data is corrupt ({type(exc).__name__})"


def read_chunks(
    stream: BinaryIO,
    *,
    gz: bool,
    chunk_lines: int = 65536,
    start_line: int = 1,
    name: str = "<stream>",
) -> Iterator[Chunk]:
    """Stream an AAM outbound file as :class:`Chunk` s of at most ``chunk_lines`` lines.

    Promises: every physical line (numbered from ``start_line``) lands in exactly
    one chunk as a record, a malformed line, a blank line (only spaces/TABs) or
    the header (the first non-blank line, when its first field is an ID column
    name such as ``UUID`` or ``ID`` and the other fields are words). Separators
    are runs of spaces or TABs; CRLF and a UTF-8 BOM are accepted. Malformed:
    one field, more than 3 fields, segment fields that are not comma-separated
    numeric IDs, bytes that are not UTF-8, NUL or other control characters, and
    lines over 1 MiB (read in bounded blocks and dropped, never held whole).
    Only for ``gz=True``, a truncated or corrupt gzip stream raises
    ``InputError`` naming ``name``; the chunks yielded before it (including one
    with the lines read up to the damage) stay valid, and a last line cut by the
    damage is dropped.
    """
    if chunk_lines < 1:
        raise ValueError("chunk_lines must be at least 1")
    source: IO[bytes] = BoundedGzip(stream, name) if gz else stream  # type: ignore[assignment]
    parser = _LineParser(start_line, chunk_lines)
    try:
        for data, overlong in _raw_blocks(source):
            yield from parser.feed(data, overlong)
    except (EOFError, OSError, zlib.error) as exc:
        if not gz:
            raise
        partial = parser.pending()
        if partial is not None:
            yield partial
        raise InputError(
            f"{name}: {_gzip_problem(exc)}",
            "download the file again; lines before the damage were read",
        ) from None
    last = parser.pending()
    if last is not None:
        yield last


def iter_file_chunks(
    path: Path, *, chunk_lines: int = 65536, start_line: int = 1
) -> Iterator[Chunk]:
    """:func:`read_chunks` over a file on disk; gzip when the name ends in ``.gz``."""
    path = Path(path)
    with path.open("rb") as handle:
        yield from read_chunks(
            handle,
            gz=path.name.lower().endswith(".gz"),
            chunk_lines=chunk_lines,
            start_line=start_line,
            name=path.name,
        )


def count_lines(path: Path, *, gz: bool | None = None) -> int:
    """Physical lines of the (uncompressed) content, as AAM counts ``FileLineCount``.

    A last line without a newline counts; an empty file has 0 lines. ``gz``
    defaults to whether the name ends in ``.gz``. A damaged gzip raises
    ``InputError`` naming the file.
    """
    path = Path(path)
    if gz is None:
        gz = path.name.lower().endswith(".gz")
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        source: IO[bytes] = BoundedGzip(handle, path.name) if gz else handle  # type: ignore[assignment]
        try:
            while block := source.read(_BLOCK_BYTES):
                count += block.count(b"\n")
                last = block[-1:]
        except (EOFError, OSError, zlib.error) as exc:
            if not gz:
                raise
            raise InputError(f"{path.name}: {_gzip_problem(exc)}", "download it again") from None
    return count + (last != b"\n")
