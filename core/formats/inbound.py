"""Writing inbound files for Audience Manager: whole or not at all."""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from core.errors import InputError
from core.formats.lines import excerpt
from core.formats.names import inbound_name
from core.ids import is_segment_list

_WRITE_BUFFER = 1 << 20
_BAD_ID_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_COLON = re.compile(r":|%3a", re.IGNORECASE)

#: AAM drops a line longer than this many bytes (the S3 inbound file-name page).
MAX_INBOUND_LINE_BYTES = 102_400
#: The largest uncompressed inbound file AAM accepts (the FTP inbound file-name page).
MAX_INBOUND_BYTES = 5 * 10**9
#: Where a compressed export starts a new part, counted in uncompressed bytes: gzip
#: never grows data by more than a fraction of a percent, so each part stays under the
#: 1 GB compressed limit (the inbound compression page; FTP allows 3 GB).
MAX_INBOUND_GZ_INPUT_BYTES = 900 * 10**6
# AAM keeps the first 200 lines of an ID and drops the rest (inbound file contents page).
# No constant enforces that here: an export writes each ID once (core/export.py counts
# an ID met again in ``duplicate_ids``), so the rule holds by construction.


def has_colon(id_: str) -> bool:
    """The ID holds ``:`` or ``%3A``, which AAM forbids in a DPUUID (inbound file contents)."""
    return _COLON.search(id_) is not None


def has_control(id_: str) -> bool:
    """The ID holds a TAB, newline or other control character, which would break the
    ``ID<TAB>segments`` line."""
    return _BAD_ID_CHARS.search(id_) is not None


def format_inbound_line(id_: str, segments: Sequence[str]) -> str:
    """``ID<TAB>seg1,seg2`` (no newline) for an AAM inbound file.

    Raises ``InputError`` for an empty ID, an ID with TAB, newline or other
    control characters, an ID with ``:`` or ``%3A`` (forbidden in DPUUIDs), no
    segments, or a segment that is not a numeric ID.
    """
    if not id_ or not id_.strip():
        raise InputError("an empty ID cannot be exported", "drop profiles without an ID")
    if _BAD_ID_CHARS.search(id_):
        raise InputError(
            f"ID {excerpt(id_, 40)} contains a TAB, newline or control character",
            "AAM inbound lines are ID<TAB>segments: clean the ID first",
        )
    if has_colon(id_):
        raise InputError(
            f"ID {excerpt(id_, 40)} contains ':' or '%3A', which AAM does not accept in an ID",
            "AAM's inbound file rules forbid a colon in declared IDs: change the ID",
        )
    joined = ",".join(str(s).strip() for s in segments)
    if not is_segment_list(joined):
        raise InputError(
            f"segments of ID {excerpt(id_, 40)} are not numeric IDs: {excerpt(joined, 40)}",
            "segment and trait IDs are digits only, at least one per line",
        )
    return f"{id_}\t{joined}"


class _PartWriter:
    """One inbound part under a temporary name in the output folder."""

    def __init__(self, out_dir: Path, gz: bool, index: int) -> None:
        fd, name = tempfile.mkstemp(dir=out_dir, prefix=f".inbound-{index}-", suffix=".tmp")
        self.path = Path(name)
        self.raw = os.fdopen(fd, "wb")
        self.out: gzip.GzipFile | BinaryIO = (
            gzip.GzipFile(filename="", fileobj=self.raw, mode="wb", mtime=0) if gz else self.raw
        )
        self.size = 0
        self.lines = 0
        self.buffer = bytearray()

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        self.lines += 1
        if len(self.buffer) >= _WRITE_BUFFER:
            self.out.write(self.buffer)
            self.buffer.clear()

    def close(self) -> None:
        self.out.write(self.buffer)
        self.buffer.clear()
        if self.out is not self.raw:
            self.out.close()
        self.raw.flush()
        os.fsync(self.raw.fileno())
        self.raw.close()

    def discard(self) -> None:
        try:
            if self.out is not self.raw:
                self.out.close()
        except (OSError, ValueError):
            pass
        self.raw.close()
        self.path.unlink(missing_ok=True)


def _encode_line(id_: str, segments: Sequence[str], max_line_bytes: int, max_bytes: int) -> bytes:
    data = format_inbound_line(id_, segments).encode("utf-8") + b"\n"
    if len(data) - 1 > max_line_bytes:
        raise InputError(
            f"the line for ID {excerpt(id_, 40)} is {len(data) - 1} bytes "
            f"(AAM accepts at most {max_line_bytes})",
            "send fewer segments for this ID",
        )
    if len(data) > max_bytes:
        raise InputError(
            f"one line is larger than the {max_bytes}-byte file limit", "raise max_bytes"
        )
    return data


def _publish(
    parts: list[_PartWriter],
    out_dir: Path,
    dpid: int,
    seconds: int,
    gz: bool,
    overwrite: bool,
    next_free: bool,
) -> list[Path]:
    """Gives the finished parts their final names, each created exclusively (a hard
    link, so a name is never replaced and appears only with its whole content).

    When a name is taken: ``InputError``, or with ``next_free`` the next second is
    tried (up to an hour), all parts of the file together, so two writers in the
    same second (two exports, two processes) never collide.
    """
    single = len(parts) == 1
    for shift in range(_MAX_SHIFT if next_free else 1):
        finals = [
            out_dir
            / inbound_name(dpid, seconds + shift, None if single else i, gz, overwrite=overwrite)
            for i, _ in enumerate(parts, start=1)
        ]
        done: list[Path] = []
        try:
            for part, final in zip(parts, finals, strict=True):
                _create_exclusively(part.path, final)
                done.append(final)
        except FileExistsError as taken:
            for path in done:
                path.unlink(missing_ok=True)
            if not next_free:
                name = Path(str(taken.filename or finals[len(done)])).name
                raise InputError(
                    f"{name} already exists in {out_dir}", "use another timestamp"
                ) from None
            continue
        except BaseException:
            for path in done:
                path.unlink(missing_ok=True)
            raise
        for part in parts:
            part.path.unlink(missing_ok=True)
        return finals
    raise InputError(
        f"no free ftp_dpm_{dpid}_ file name in the next hour in {out_dir}",
        "move processed files out of the folder",
    )


_MAX_SHIFT = 3600


def _create_exclusively(source: Path, final: Path) -> None:
    """Makes ``source`` appear as ``final``; ``FileExistsError`` if ``final`` exists.

    A hard link is atomic and exclusive. Where the file system has no hard links,
    the name is reserved with ``O_EXCL`` and the content moved over it.
    """
    try:
        os.link(source, final)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network or FAT file systems)
        os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        os.replace(source, final)


def write_inbound(
    rows: Iterable[tuple[str, Sequence[str]]],
    out_dir: Path,
    dpid: int,
    unix_seconds: int,
    *,
    gz: bool = False,
    overwrite: bool = False,
    max_bytes: int | None = None,
    max_line_bytes: int = MAX_INBOUND_LINE_BYTES,
    next_free: bool = False,
) -> list[Path]:
    """Write ``rows`` (ID, segment IDs) as AAM inbound files; return the final paths.

    Lines are ``ID<TAB>seg1,seg2`` in UTF-8. A new part starts when the next line
    would take the uncompressed size past ``max_bytes`` (default: AAM's 5 GB for a
    plain file; 900 MB of input for ``gz``, so that each compressed part stays under
    1 GB); one part keeps the unsplit name, several are named ``.1``, ``.2``...
    ``overwrite`` names them ``.overwrite`` instead of ``.sync``. Each part is written
    under a temporary name in ``out_dir`` and renamed only when every row was
    written, so on any error (a bad ID, a line over ``max_line_bytes`` bytes
    without its newline, a failing ``rows`` iterator, an existing final name)
    no file is left under a final name. No rows: no file, ``[]``. A final name that
    exists is refused (``InputError``), or with ``next_free`` the file moves to the
    next free second (the names returned tell which).
    """
    out_dir = Path(out_dir)
    inbound_name(dpid, unix_seconds, None, gz)  # validate before writing anything
    if max_bytes is None:
        max_bytes = MAX_INBOUND_GZ_INPUT_BYTES if gz else MAX_INBOUND_BYTES
    parts: list[_PartWriter] = []
    try:
        for id_, segments in rows:
            data = _encode_line(id_, segments, max_line_bytes, max_bytes)
            if not parts or parts[-1].size + len(data) > max_bytes:
                if parts:
                    parts[-1].close()
                parts.append(_PartWriter(out_dir, gz, len(parts) + 1))
            parts[-1].write(data)
        if parts:
            parts[-1].close()
        return (
            _publish(parts, out_dir, dpid, unix_seconds, gz, overwrite, next_free) if parts else []
        )
    except BaseException:
        for part in parts:
            part.discard()
        raise
