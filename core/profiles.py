"""The profile dimension as reconciliation sees it: a ``ProfileSource``, and CSV files.

Reconciliation (``core.reconcile``) only needs to stream one column at a time
(the data source's reconciliation key) and the visitor-ID map, so a source is
anything implementing :class:`ProfileSource`. Two implementations exist:
:class:`CsvProfiles` here (for ``dry-run`` and ``profiles load``) and
``storage.profiles.StoreProfiles`` (for ``import run``).

CSV rules (docs/reference.md §3): UTF-8, an optional BOM (accepted and
stripped), a header row with unique column names, among them ``id``; ids are
unique and not empty. The visitors CSV has exactly the columns
``profile_id,visitor_id`` (any order); visitor IDs are 38-digit ECIDs and
their ``profile_id`` must be a profile of the profiles CSV. Every problem is an
``InputError`` naming the file and the line. Files are streamed, never held
whole; only the set of profile ids is kept while validating.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

import numpy as np

from core.errors import InputError, OperationCancelled
from core.formats import excerpt
from core.ids import is_ecid
from core.text import printable_name, quoted

__all__ = [
    "CHUNK_ROWS",
    "ID_COLUMN",
    "VISITOR_COLUMNS",
    "CsvProfiles",
    "ProfileSource",
    "ProfilesCheck",
]

ID_COLUMN = "id"
VISITOR_COLUMNS = ("profile_id", "visitor_id")
CHUNK_ROWS = 20_000
_BOM = b"\xef\xbb\xbf"
#: The most columns a profiles CSV may have (Campaign exports a few dozen).
MAX_PROFILE_COLUMNS = 1_000
#: The longest header line read (1,000 names of about 1 KiB each fit).
MAX_HEADER_BYTES = 1 << 20
#: How many names a message lists before "and N more".
LISTED_NAMES = 20
_UTF8_HINT = "save the file as UTF-8 (in Excel: CSV UTF-8)"
_HEADER_HINT = "the first row names the columns, one of them `id`, e.g. id,email,mobile_phone"
_VISITORS_HINT = "the visitors CSV has two columns: profile_id,visitor_id"


@runtime_checkable
class ProfileSource(Protocol):
    """Where reconciliation reads profiles from: one column at a time, in chunks."""

    def columns(self) -> list[str]:
        """Column names, ``id`` included, in the source's order."""
        ...

    def count(self) -> int:
        """Number of profiles."""
        ...

    def column_chunks(self, column: str) -> Iterator[tuple[list[str], list[str]]]:
        """``(profile ids, values of column)`` in chunks; raises ``InputError`` for an
        unknown column."""
        ...

    def visitor_chunks(self) -> Iterator[tuple[list[str], list[str]]]:
        """``(visitor ids, profile ids)`` in chunks (empty when there is no visitor map)."""
        ...


@dataclass(frozen=True)
class ProfilesCheck:
    """What a validation pass found: counts and columns (only when everything is valid)."""

    profiles: int
    visitors: int
    columns: tuple[str, ...]


def _read_error(path: Path, exc: OSError) -> InputError:
    reason = exc.strerror or type(exc).__name__
    return InputError(f"{path}: cannot be read ({reason})", "check the path and permissions")


class _CsvFile:
    """One CSV file read line by line as bytes, so a decoding error names its line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = self.path.name

    def _lines(self, handle: BinaryIO, first_line: int) -> Iterator[str]:
        first = first_line == 1
        lines: Iterator[bytes] = handle
        if first:
            head = handle.readline(MAX_HEADER_BYTES + 1)
            if len(head) > MAX_HEADER_BYTES:
                raise InputError(
                    f"{self.name}: the header line is longer than {MAX_HEADER_BYTES >> 20} MiB",
                    f"a profiles CSV has at most {MAX_PROFILE_COLUMNS:,} columns",
                )
            lines = chain([head], handle)
        for number, raw in enumerate(lines, start=first_line):
            if first:
                raw = raw.removeprefix(_BOM)
                first = False
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{self.name}: line {number} is not UTF-8", _UTF8_HINT) from None

    def rows(
        self, offset: int = 0, first_line: int = 1
    ) -> Generator[tuple[int, list[str]], None, None]:
        """``(line number, fields)`` of every non-blank row, the header first.

        ``offset``/``first_line``: start at that byte (the start of physical line
        ``first_line``) instead of the top of the file.
        """
        try:
            handle = self.path.open("rb")
            handle.seek(offset)
        except OSError as exc:
            raise _read_error(self.path, exc) from None
        with handle:
            reader = csv.reader(self._lines(handle, first_line), strict=True)
            shift = first_line - 1
            start = first_line  # where the record being read began
            try:
                for row in reader:
                    line = start
                    start = reader.line_num + shift + 1
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue  # a blank line
                    yield line, row
            except csv.Error as exc:
                raise self._csv_error(exc, start, reader.line_num + shift) from None
            except OSError as exc:
                raise _read_error(self.path, exc) from None

    def _csv_error(self, exc: csv.Error, start: int, at: int) -> InputError:
        """Names the line where the bad record began: a quote opened there and never
        closed makes the reader fail many lines later (or at the end of the file)."""
        if at > start or "field larger" in str(exc) or "end of data" in str(exc):
            return InputError(
                f"{self.name}: line {start} opens a quote that is not closed "
                f"(the reader got to line {at}: {exc})",
                'close the quote on that line, or double it ("") inside a quoted field',
            )
        return InputError(
            f"{self.name}: line {start} is not valid CSV ({exc})", "check the quotes on that line"
        )

    def header(self, rows: Iterator[tuple[int, list[str]]]) -> list[str]:
        """The header row's names (trimmed); ``InputError`` for an empty file or duplicates."""
        first = next(rows, None)
        if first is None:
            raise InputError(f"{self.name} is empty", _HEADER_HINT)
        if len(first[1]) > MAX_PROFILE_COLUMNS:
            raise InputError(
                f"{self.name}: the header has {len(first[1]):,} columns",
                f"a profiles CSV has at most {MAX_PROFILE_COLUMNS:,} columns",
            )
        names = [name.strip() for name in first[1]]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise InputError(
                    f"{self.name}: column {quoted(name[:80])} appears twice in the header",
                    "column names must be unique",
                )
            seen.add(name)
        return names


_BLOCK_BYTES = 1 << 20


def list_names(names: Sequence[str], *, quoted: bool = False, limit: int = LISTED_NAMES) -> str:
    """``names`` for a message, escaped, the first ``limit`` of them then "and N more"."""
    shown = [printable_name(n[:80]) for n in names[:limit]]
    text = ", ".join(repr(n) if quoted else n for n in shown)
    if len(names) > limit:
        text += f" and {len(names) - limit} more"
    return text


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",")]


def _longest_line(data: bytes) -> int:
    """The longest line of ``data`` in bytes: no field (which the csv module limits
    in characters) can be longer."""
    if len(data) <= csv.field_size_limit():
        return len(data)
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    return int(np.diff(breaks, prepend=-1, append=len(data)).max()) - 1


def _plain_text(data: bytes) -> str | None:
    """``data`` as UTF-8 text when it holds no quote, CR or NUL (so that splitting on
    newlines and commas reads it as the csv module would); ``None`` otherwise."""
    if b'"' in data or b"\r" in data or b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class CsvProfiles:
    """Profiles (and optionally the visitor-ID map) from CSV files; implements
    :class:`ProfileSource`.

    Every reading method validates as it streams and raises ``InputError`` at
    the first problem; call :meth:`validate` to check both files completely
    before using them. ``chunk_rows`` bounds the size of each yielded chunk.
    """

    def __init__(
        self,
        profiles_csv: Path,
        visitors_csv: Path | None = None,
        *,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self.profiles_file = _CsvFile(Path(profiles_csv))
        self.visitors_file = _CsvFile(Path(visitors_csv)) if visitors_csv is not None else None
        self.chunk_rows = chunk_rows
        self._columns: list[str] | None = None
        self._check: ProfilesCheck | None = None

    def __repr__(self) -> str:
        visitors = self.visitors_file.path if self.visitors_file else None
        return f"CsvProfiles({self.profiles_file.path}, visitors={visitors})"

    # -- header -------------------------------------------------------------------

    def columns(self) -> list[str]:
        """The profiles CSV's column names (validated: unique, ``id`` among them)."""
        if self._columns is None:
            rows = self.profiles_file.rows()
            try:
                self._columns = self._checked_header(rows)
            finally:
                rows.close()
        return list(self._columns)

    def _checked_header(self, rows: Iterator[tuple[int, list[str]]]) -> list[str]:
        names = self.profiles_file.header(rows)
        if ID_COLUMN not in names:
            found = list_names(names, quoted=True) or "none"
            raise InputError(
                f"{self.profiles_file.name}: no `id` column (columns found: {found})",
                _HEADER_HINT,
            )
        return names

    # -- rows ---------------------------------------------------------------------

    def rows(self, ids: set[str] | None = None) -> Iterator[tuple[int, list[str]]]:
        """``(line number, values in column order)`` of every profile, validated.

        The id value is trimmed. ``ids``, when given, is filled with every id
        read (and used to detect duplicates), so a caller can check visitors
        against it afterwards.
        """
        seen: set[str] = ids if ids is not None else set()
        rows = self.profiles_file.rows()
        header = self._checked_header(rows)
        self._columns = header
        return self._checked_rows(rows, header, seen)

    def _checked_rows(
        self, rows: Iterator[tuple[int, list[str]]], header: list[str], seen: set[str]
    ) -> Iterator[tuple[int, list[str]]]:
        """The body rows of ``rows`` validated (width, id present and unique)."""
        name = self.profiles_file.name
        width = len(header)
        at = header.index(ID_COLUMN)
        for line, row in rows:
            if len(row) != width:
                raise InputError(
                    f"{name}: line {line} has {len(row)} fields, the header has {width}",
                    "quote values that contain commas; every row needs every column",
                )
            pid = row[at].strip()
            if not pid:
                raise InputError(
                    f"{name}: line {line} has an empty id", "every profile needs an id"
                )
            if pid in seen:
                first = self._first_line_of(pid, at)
                raise InputError(
                    f"{name}: id {excerpt(pid, 40)} appears twice (lines {first} and {line})",
                    "ids must be unique: remove or merge the duplicate profile",
                )
            seen.add(pid)
            row[at] = pid
            yield line, row

    def _first_line_of(self, pid: str, at: int) -> int:
        rows = self.profiles_file.rows()
        next(rows, None)
        for line, row in rows:
            if len(row) > at and row[at].strip() == pid:
                return line
        return 0  # not reached: the id was seen before

    def row_chunks(self, ids: set[str] | None = None) -> Iterator[list[list[str]]]:
        """:meth:`rows` (values only) in lists of at most ``chunk_rows`` rows."""
        chunk: list[list[str]] = []
        for _, row in self.rows(ids):
            chunk.append(row)
            if len(chunk) >= self.chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def column_chunks(self, column: str) -> Iterator[tuple[list[str], list[str]]]:
        """``(profile ids, values of column)`` in chunks, validated as they are read."""
        columns = self.columns()
        if column not in columns:
            found = ", ".join(columns)
            raise InputError(
                f"{self.profiles_file.name} has no column {column!r} (columns: {found})",
                "set the data source's reconciliation_key to one of the profile columns",
            )
        at, col = columns.index(ID_COLUMN), columns.index(column)
        count = 0
        for pids, values in self._fast_column_chunks(columns, at, col):
            count += len(pids)
            yield pids, values
        # Read to the end without an error: the profiles file is valid. Without a
        # visitors file that is all ``validate`` checks, so it need not read it again.
        if self.visitors_file is None and self._check is None:
            self._check = ProfilesCheck(count, 0, tuple(columns))

    def _fast_column_chunks(
        self, columns: list[str], at: int, col: int, seen: set[str] | None = None
    ) -> Iterator[tuple[list[str], list[str]]]:
        """``column_chunks`` for plain CSV: whole blocks of lines split at once.

        A block is taken whole when it is UTF-8 without quotes, CR or NUL, every
        line has exactly the header's number of commas, no field is longer than
        the csv module allows, and its ids are present and new. Anything else
        (quotes, blank lines, errors...) hands the rest of the file, from that
        block's first line, to the row-by-row reader, which gives the same rows
        and the same errors as ever. ``seen`` (filled with every id read) lets a
        caller keep the ids without a second set.
        """
        width = len(columns)
        seen = set() if seen is None else seen
        taken: list[list[str]] = []  # the ids of each block taken whole
        size = self.chunk_rows
        path = self.profiles_file.path
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise _read_error(path, exc) from None
        with handle:
            head = handle.readline()
            offset, line = len(head), 2
            text = _plain_text(head.removeprefix(_BOM).removesuffix(b"\n"))
            if not (width >= 2 and text is not None and _names(text) == columns):
                fast = False  # e.g. blank lines before the header: all row by row
                offset, line = 0, 1
            else:
                fast = True
            rest = b""
            while fast:
                try:
                    block = handle.read(_BLOCK_BYTES)
                except OSError as exc:
                    raise _read_error(path, exc) from None
                data = rest + block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                if not cut:
                    if not block:
                        return
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
                text = _plain_text(data.removesuffix(b"\n"))
                if text is None:
                    break
                # Each line break becomes a token of its own: every line has exactly
                # `width` fields when all breaks sit every `width + 1` tokens.
                breaks = text.count("\n")
                tokens = text.replace("\n", ",\n,").split(",")
                ends = tokens[width :: width + 1]
                if (
                    len(tokens) != (breaks + 1) * (width + 1) - 1
                    or len(ends) != breaks
                    or ends.count("\n") != breaks
                    or _longest_line(data) > csv.field_size_limit()
                ):
                    break
                pids = list(map(str.strip, tokens[at :: width + 1]))
                known = len(seen)
                seen.update(pids)  # all new and distinct: the set grows by len(pids)
                if len(seen) - known != len(pids) or "" in seen:
                    seen.clear()  # back to the ids before this block
                    seen.update(chain.from_iterable(taken))
                    break
                taken.append(pids)
                values = tokens[col :: width + 1]
                for start in range(0, len(pids), size):
                    yield pids[start : start + size], values[start : start + size]
                offset += len(data)
                line += breaks + 1
                if not block:
                    return
        # The row-by-row reader from the first line not taken above.
        if offset:
            rows = self._checked_rows(self.profiles_file.rows(offset, line), columns, seen)
        else:
            rows = self.rows(seen)
        chunk: list[list[str]] = []
        for _, row in rows:
            chunk.append(row)
            if len(chunk) >= size:
                yield [r[at] for r in chunk], [r[col] for r in chunk]
                chunk = []
        if chunk:
            yield [r[at] for r in chunk], [r[col] for r in chunk]

    # -- visitors -----------------------------------------------------------------

    def visitor_rows(self, known: set[str] | None = None) -> Iterator[tuple[int, str, str]]:
        """``(line number, visitor id, profile id)`` of the visitors CSV, validated.

        With ``known`` (the profile ids), the first ``profile_id`` not in it is an
        ``InputError``. Nothing is yielded when there is no visitors CSV.
        """
        source = self.visitors_file
        if source is None:
            return
        rows = source.rows()
        names = source.header(rows)
        if sorted(names) != sorted(VISITOR_COLUMNS):
            found = ", ".join(repr(n) for n in names)
            raise InputError(
                f"{source.name}: the header must be profile_id,visitor_id (found: {found})",
                _VISITORS_HINT,
            )
        p_at, v_at = names.index("profile_id"), names.index("visitor_id")
        for line, row in rows:
            if len(row) != 2:
                raise InputError(
                    f"{source.name}: line {line} has {len(row)} fields, expected 2",
                    _VISITORS_HINT,
                )
            pid, vid = row[p_at].strip(), row[v_at].strip()
            if not is_ecid(vid):
                raise InputError(
                    f"{source.name}: line {line}: visitor_id {excerpt(vid, 48)!r} is not a "
                    "38-digit Experience Cloud ID",
                    "visitor IDs are ECIDs (MID), 38 digits, as the tracking logs store them",
                )
            if known is not None and pid not in known:
                raise InputError(
                    f"{source.name}: line {line}: profile_id {excerpt(pid, 40)!r} is not in "
                    f"{self.profiles_file.name}",
                    "load the visitor map with the profiles it belongs to",
                )
            yield line, vid, pid

    def visitor_chunks(self) -> Iterator[tuple[list[str], list[str]]]:
        """``(visitor ids, profile ids)`` in chunks (none without a visitors CSV)."""
        vids: list[str] = []
        pids: list[str] = []
        for _, vid, pid in self.visitor_rows():
            vids.append(vid)
            pids.append(pid)
            if len(vids) >= self.chunk_rows:
                yield vids, pids
                vids, pids = [], []
        if vids:
            yield vids, pids

    # -- whole-file checks --------------------------------------------------------

    def validate(self, cancelled: Callable[[], bool] | None = None) -> ProfilesCheck:
        """Read both files completely; ``InputError`` at the first problem.

        Cached: the files are read once (a complete ``column_chunks`` pass over a
        profiles file without a visitors file counts as that read). Returns the
        counts and columns.
        ``cancelled`` is polled after every chunk of rows; when it says so the
        read stops with ``OperationCancelled`` and nothing is cached.
        """
        if self._check is None:
            ids: set[str] = set()
            count = visitors = 0
            # The id column through the block reader: the same checks and errors as
            # ``rows`` (width, UTF-8, quotes, field size, ids present and unique),
            # faster for plain files (1M profiles: 0.66 s instead of 1.05 s).
            columns = self.columns()
            at = columns.index(ID_COLUMN)
            for pids, _ in self._fast_column_chunks(columns, at, at, ids):
                count += len(pids)
                if cancelled is not None and cancelled():
                    raise OperationCancelled("reading the profiles was cancelled")
            for visitors, _ in enumerate(self.visitor_rows(ids), start=1):
                if cancelled is not None and not visitors % 8192 and cancelled():
                    raise OperationCancelled("reading the profiles was cancelled")
            self._check = ProfilesCheck(count, visitors, tuple(self.columns()))
        return self._check

    def count(self) -> int:
        """The number of profiles (validates both files on first use)."""
        return self.validate().profiles
