"""AAM file formats: outbound names, ``.info`` manifests, line parsing, inbound writing.

One module reads what Audience Manager sends to Campaign (outbound ``.sync``
files, their split parts and ``.info`` transfer-control manifests) and writes
what Campaign sends to Audience Manager (inbound ``ftp_dpm_...`` files).
See docs/reference.md §3 and docs/adobe.md "File formats".

Per-line problems in an incoming file are never exceptions: they are reported
as malformed lines in a :class:`Chunk`. Only a file that cannot be read at all
(corrupt or truncated gzip, a manifest that does not parse, an ID that cannot be
written) raises :class:`~core.errors.InputError`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, Literal

import numpy as np

from core.errors import InputError
from core.gzbound import BoundedGzip
from core.ids import is_segment_list

__all__ = [
    "MAX_LINE_BYTES",
    "Batch",
    "Chunk",
    "IgnoredName",
    "Manifest",
    "ManifestFile",
    "ManifestTotals",
    "OutboundName",
    "classify_names",
    "count_lines",
    "excerpt",
    "format_inbound_line",
    "group_batches",
    "inbound_name",
    "iter_file_chunks",
    "manifest_name",
    "parse_manifest",
    "parse_manifest_name",
    "parse_outbound_name",
    "read_chunks",
    "verify_part",
    "write_inbound",
]

SyncMode = Literal["full", "iter"]

# --------------------------------------------------------------------------------------
# Outbound file names
# --------------------------------------------------------------------------------------

_BATCH_PREFIX = (
    r"(?P<sync>[A-Za-z][A-Za-z0-9]*)"
    r"_(?P<did>[0-9]+)"
    r"_(?P<dpid>[0-9]+)"
    r"(?:_(?P<alias>[A-Za-z0-9-]+))?"
    r"_(?P<mode>full|iter)"
    r"_(?P<ts>[0-9]{13})"
)
_OUTBOUND = re.compile(_BATCH_PREFIX + r"(?P<split>[0-9]*)\.sync(?P<gz>\.gz)?", re.IGNORECASE)
_MANIFEST = re.compile(_BATCH_PREFIX + r"[0-9]*(?:\.sync)?\.info", re.IGNORECASE)
_MODES = ("full", "iter")


@dataclass(frozen=True)
class OutboundName:
    """A parsed AAM outbound file name (one data file, or one part of a split batch)."""

    name: str
    sync_type: str
    destination_id: int
    master_dpid: int
    alias: str | None
    mode: SyncMode
    timestamp_ms: int
    split: int | None
    gz: bool
    batch_key: str


def _basename(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name


def _batch_key(match: re.Match[str]) -> str:
    alias = match["alias"]
    alias_part = f"_{alias}" if alias else ""
    mode = match["mode"].lower()
    return f"{match['sync']}_{match['did']}_{match['dpid']}{alias_part}_{mode}_{match['ts']}"


def _alias_is_mode(match: re.Match[str]) -> bool:
    alias = match["alias"]
    return alias is not None and alias.lower() in _MODES


def parse_outbound_name(name: str) -> OutboundName | None:
    """Parse an AAM outbound data file name; ``None`` when it is not one.

    Accepted: ``SYNCTYPE_DID_DPID[_ALIAS]_MODE_TIMESTAMP[SPLIT].sync[.gz]`` where
    SYNCTYPE is a word starting with a letter (``ftp``, ``s3``, ``http``...), DID
    and DPID are digits, ALIAS is letters, digits and hyphens (never ``full`` or
    ``iter``), MODE is ``full`` or ``iter``, TIMESTAMP is exactly 13 digits
    (milliseconds) and SPLIT is any digits after them (none: a single file).
    Directories before the name are ignored; mode and extensions are matched
    case-insensitively (``mode`` is returned lower-case). ``batch_key`` is the
    name up to and including the timestamp: split parts of one delivery share it.
    """
    base = _basename(name)
    match = _OUTBOUND.fullmatch(base)
    if match is None or _alias_is_mode(match):
        return None
    split = match["split"]
    mode: SyncMode = "full" if match["mode"].lower() == "full" else "iter"
    return OutboundName(
        name=base,
        sync_type=match["sync"],
        destination_id=int(match["did"]),
        master_dpid=int(match["dpid"]),
        alias=match["alias"],
        mode=mode,
        timestamp_ms=int(match["ts"]),
        split=int(split) if split else None,
        gz=match["gz"] is not None,
        batch_key=_batch_key(match),
    )


def manifest_name(batch_key: str) -> str:
    """The name of the ``.info`` manifest AAM sends for the batch ``batch_key``."""
    return f"{batch_key}.info"


def parse_manifest_name(name: str) -> str | None:
    """The batch key a ``.info`` manifest name belongs to; ``None`` when it is not one.

    Accepted: ``<batch key>.info`` (the documented form), and, liberally,
    ``<batch key><split digits>.info`` and ``<batch key>[...].sync.info``.
    """
    match = _MANIFEST.fullmatch(_basename(name))
    if match is None or _alias_is_mode(match):
        return None
    return _batch_key(match)


# --------------------------------------------------------------------------------------
# .info manifests
# --------------------------------------------------------------------------------------

_MANIFEST_HINT = (
    'a .info file looks like {Files: [{FileName: "...", FileLineCount: 3, '
    'FileByteSize: 120, md5: "..."}], Totals: {...}}; fetch it again from AAM'
)
# A JSON string (left untouched), a bare key before a colon (quoted), or a trailing comma.
_MANIFEST_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|(?<![\w$"])([A-Za-z_$][A-Za-z0-9_$-]*)(?=\s*:)|,(?=\s*[}\]])',
    re.DOTALL,
)
_MD5 = re.compile(r"[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class ManifestFile:
    """One file listed in a manifest: its name, line count, stored size and md5."""

    name: str
    line_count: int
    byte_size: int
    md5: str | None


@dataclass(frozen=True)
class ManifestTotals:
    """The ``Totals`` object of a manifest; a value is ``None`` when AAM left it out."""

    line_count: int | None
    byte_size: int | None
    file_count: int | None


@dataclass(frozen=True)
class Manifest:
    """A parsed ``.info`` manifest."""

    files: tuple[ManifestFile, ...]
    totals: ManifestTotals | None = None

    def file(self, name: str) -> ManifestFile | None:
        """The entry for ``name`` (compared by base name), or ``None``."""
        base = _basename(name)
        return next((f for f in self.files if f.name == base), None)

    def totals_problems(self) -> list[str]:
        """Disagreements between ``Totals`` and the sum of the files, in plain words."""
        if self.totals is None:
            return []
        sums = (
            ("line count", self.totals.line_count, sum(f.line_count for f in self.files)),
            ("byte size", self.totals.byte_size, sum(f.byte_size for f in self.files)),
            ("file count", self.totals.file_count, len(self.files)),
        )
        return [
            f"total {label} says {stated} but the files add up to {actual}"
            for label, stated, actual in sums
            if stated is not None and stated != actual
        ]


def _quote_bare_keys(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match[1] is not None:
            return f'"{match[1]}"'
        if match[0] == ",":
            return ""
        return match[0]

    return _MANIFEST_TOKEN.sub(replace, text)


def _manifest_error(message: str) -> InputError:
    return InputError(f"manifest: {message}", _MANIFEST_HINT)


def _get(obj: Mapping[str, object], *keys: str) -> object:
    lowered = {k.lower(): v for k, v in obj.items()}
    for key in keys:
        if key.lower() in lowered:
            return lowered[key.lower()]
    return None


def _count(value: object, what: str, *, required: bool) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _manifest_error(f"{what} must be a whole number >= 0, not {_short(value)}")
    return value


def _required_count(value: object, what: str) -> int:
    if value is None:
        raise _manifest_error(f"{what} is missing")
    count = _count(value, what, required=True)
    assert count is not None
    return count


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _manifest_file(entry: object, index: int) -> ManifestFile:
    if not isinstance(entry, dict):
        raise _manifest_error(f"Files[{index}] is not an object")
    name = _get(entry, "FileName", "Name")
    if not isinstance(name, str) or not name.strip():
        raise _manifest_error(f"Files[{index}] has no FileName")
    md5 = _get(entry, "md5", "FileMD5", "Checksum")
    if md5 is not None and (not isinstance(md5, str) or not _MD5.fullmatch(md5.strip())):
        raise _manifest_error(f"Files[{index}] md5 is not 32 hexadecimal digits")
    return ManifestFile(
        name=_basename(name.strip()),
        line_count=_required_count(_get(entry, "FileLineCount", "LineCount"), "FileLineCount"),
        byte_size=_required_count(_get(entry, "FileByteSize", "ByteSize"), "FileByteSize"),
        md5=md5.strip().lower() if isinstance(md5, str) else None,
    )


def _manifest_totals(value: object) -> ManifestTotals | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _manifest_error("Totals is not an object")
    return ManifestTotals(
        line_count=_count(_get(value, "TotalLineCount"), "TotalLineCount", required=False),
        byte_size=_count(_get(value, "TotalByteSize"), "TotalByteSize", required=False),
        file_count=_count(_get(value, "TotalFileCount"), "TotalFileCount", required=False),
    )


def _load_manifest_json(text: str) -> object:
    try:
        return json.loads(_quote_bare_keys(text))
    except json.JSONDecodeError as exc:
        raise _manifest_error(
            f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError):
        raise _manifest_error("not valid JSON (nested too deep or a number too long)") from None


def parse_manifest(text: str | bytes) -> Manifest:
    """Parse an AAM ``.info`` transfer-control file.

    Accepts real JSON and AAM's JSON-like form with unquoted keys (and trailing
    commas); key names are matched case-insensitively. Strings are never altered.
    Raises ``InputError`` (one line, with a hint) when the text does not parse or
    a required value (``Files``, ``FileName``, ``FileLineCount``, ``FileByteSize``)
    is missing or not a count; ``md5`` and ``Totals`` are optional.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _manifest_error("not UTF-8 text") from None
    data = _load_manifest_json(text.lstrip("\ufeff"))
    if not isinstance(data, dict):
        raise _manifest_error("the top level is not an object")
    files = _get(data, "Files")
    if not isinstance(files, list):
        raise _manifest_error("no Files list")
    return Manifest(
        files=tuple(_manifest_file(entry, i) for i, entry in enumerate(files)),
        totals=_manifest_totals(_get(data, "Totals")),
    )


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify_part(manifest_file: ManifestFile, path: Path) -> list[str]:
    """Check a downloaded part against its manifest entry; the problems in plain words.

    Size and md5 are of the bytes as stored (for ``.gz`` the compressed bytes);
    the line count is of the uncompressed content (see :func:`count_lines`).
    An empty list means the part matches.
    """
    path = Path(path)
    if not path.is_file():
        return [f"{manifest_file.name}: missing (the manifest lists it)"]
    problems: list[str] = []
    size = path.stat().st_size
    if size != manifest_file.byte_size:
        problems.append(
            f"{manifest_file.name}: {size} bytes, the manifest says {manifest_file.byte_size}"
            " (incomplete or changed download)"
        )
    if manifest_file.md5 is not None and _md5_of(path) != manifest_file.md5:
        problems.append(f"{manifest_file.name}: md5 differs from the manifest (corrupt download)")
    try:
        lines = count_lines(path)
    except InputError as exc:
        problems.append(f"{manifest_file.name}: {exc.message}")
    else:
        if lines != manifest_file.line_count:
            problems.append(
                f"{manifest_file.name}: {lines} lines, the manifest says {manifest_file.line_count}"
            )
    return problems


# --------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoredName:
    """A file name that is not part of any batch, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Batch:
    """The split parts (and manifest) of one AAM delivery.

    ``complete`` is True when the batch can be processed now; otherwise
    ``waiting_reason`` says what is missing. ``notes`` lists oddities that do not
    block processing (e.g. a part the manifest does not list).
    """

    key: str
    sync_type: str
    destination_id: int
    master_dpid: int
    alias: str | None
    mode: SyncMode
    timestamp_ms: int
    parts: tuple[OutboundName, ...]
    manifest_name: str | None
    complete: bool
    waiting_reason: str
    notes: tuple[str, ...] = ()

    @property
    def part_names(self) -> tuple[str, ...]:
        """The data file names in processing order."""
        return tuple(p.name for p in self.parts)


def _not_outbound_reason(base: str) -> str:
    lower = base.lower()
    if not (lower.endswith((".sync", ".sync.gz", ".info"))):
        return "not an AAM outbound file (.sync, .sync.gz or .info)"
    if not re.search(r"_(full|iter)_", lower):
        return "no sync mode: the name needs _full_ or _iter_ before the timestamp"
    if not re.search(r"_(full|iter)_[0-9]{13}", lower):
        return "the timestamp after the sync mode is not 13 digits (milliseconds)"
    return "does not follow SYNCTYPE_DID_DPID[_ALIAS]_MODE_TIMESTAMP[SPLIT].sync[.gz]"


def _contiguity_reason(parts: Sequence[OutboundName]) -> str:
    splits = [p.split for p in parts]
    if len(parts) == 1:
        return ""
    if None in splits:
        return "an unsplit file and split parts share one timestamp; waiting for a manifest"
    numbers = sorted(s for s in splits if s is not None)
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        shown = ", ".join(str(m) for m in missing[:5])
        return f"waiting for part {shown}" if len(missing) == 1 else f"waiting for parts {shown}"
    return ""


def _manifest_reason(manifest: Manifest, present: set[str]) -> str:
    missing = [f.name for f in manifest.files if f.name not in present]
    if not manifest.files:
        return "the manifest lists no files"
    if not missing:
        return ""
    if len(missing) == len(manifest.files):
        return f"the manifest lists {len(missing)} file(s); none has arrived yet"
    shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
    return f"waiting for {len(missing)} of {len(manifest.files)} file(s): {shown}"


def _make_batch(
    key: str,
    parts: list[OutboundName],
    info: str | None,
    manifests: Mapping[str, Manifest],
    present: set[str],
) -> Batch:
    parts.sort(key=lambda p: (-1 if p.split is None else p.split, p.name))
    match = _MANIFEST.fullmatch(manifest_name(key))
    assert match is not None  # the key was built from a matching name
    notes: tuple[str, ...] = ()
    if info is None:
        reason = _contiguity_reason(parts)
    elif info not in manifests:
        reason = f"manifest {info} has not been read yet"
    else:
        manifest = manifests[info]
        reason = _manifest_reason(manifest, present)
        listed = {f.name for f in manifest.files}
        notes = tuple(
            f"{p.name} is not listed in the manifest" for p in parts if p.name not in listed
        )
    return Batch(
        key=key,
        sync_type=match["sync"],
        destination_id=int(match["did"]),
        master_dpid=int(match["dpid"]),
        alias=match["alias"],
        mode="full" if match["mode"].lower() == "full" else "iter",
        timestamp_ms=int(match["ts"]),
        parts=tuple(parts),
        manifest_name=info,
        complete=not reason,
        waiting_reason=reason,
        notes=notes,
    )


def classify_names(
    names: Iterable[str], manifests: Mapping[str, Manifest] | None = None
) -> tuple[list[Batch], list[IgnoredName]]:
    """Group a folder listing into batches; also return the names that fit no batch.

    ``manifests`` maps a ``.info`` name to its parsed content. Completeness:

    * with a manifest: complete when every file it lists is among ``names``
      (a manifest may arrive before its data: the batch then has no parts yet).
      A manifest that is listed but not given in ``manifests`` keeps the batch
      waiting, so that a batch is never processed on a guess;
    * without a manifest: complete when the split numbers are contiguous from the
      smallest one present. We cannot know the last part without a manifest, so
      a batch whose trailing parts have not arrived yet looks complete; a single
      unsplit file is complete.

    Batches are sorted by timestamp (then key); parts by split number. A second
    file for the same part (e.g. both ``.sync`` and ``.sync.gz``) is ignored.
    """
    manifests = manifests or {}
    parts: dict[str, list[OutboundName]] = {}
    infos: dict[str, str] = {}
    ignored: list[IgnoredName] = []
    seen: dict[tuple[str, int | None], str] = {}
    present: set[str] = set()
    for raw in dict.fromkeys(names):
        base = _basename(raw)
        present.add(base)
        parsed = parse_outbound_name(base)
        if parsed is None:
            key = parse_manifest_name(base)
            if key is None:
                ignored.append(IgnoredName(raw, _not_outbound_reason(base)))
            elif key in infos:
                ignored.append(IgnoredName(raw, f"a second manifest for batch {key}"))
            else:
                infos[key] = base
            continue
        slot = (parsed.batch_key, parsed.split)
        if slot in seen:
            ignored.append(IgnoredName(raw, f"the same part as {seen[slot]}"))
            continue
        seen[slot] = base
        parts.setdefault(parsed.batch_key, []).append(parsed)
    batches = [
        _make_batch(key, parts.get(key, []), infos.get(key), manifests, present)
        for key in parts.keys() | infos.keys()
    ]
    batches.sort(key=lambda b: (b.timestamp_ms, b.key))
    return batches, ignored


def group_batches(
    names: Iterable[str], manifests: Mapping[str, Manifest] | None = None
) -> list[Batch]:
    """The batches of :func:`classify_names`, sorted by timestamp (ignored names dropped)."""
    return classify_names(names, manifests)[0]


# --------------------------------------------------------------------------------------
# Reading lines
# --------------------------------------------------------------------------------------

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


def _is_segment_column(column: list[str]) -> bool:
    """True when every item of a plain-ASCII column is a segment list (one C-level pass)."""
    joined = ",".join(column)
    return (
        bool(joined)
        and ",," not in joined
        and joined[0] != ","
        and joined[-1] != ","
        and joined.replace(",", "").isdigit()
    )


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


# --------------------------------------------------------------------------------------
# Writing inbound files
# --------------------------------------------------------------------------------------

_WRITE_BUFFER = 1 << 20
_BAD_ID_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def inbound_name(dpid: int, unix_seconds: int, part: int | None, gz: bool) -> str:
    """``ftp_dpm_<DPID>_<10-digit seconds>.sync[.N][.gz]``, the AAM inbound file name.

    Raises ``InputError`` for a DPID that is not positive, seconds that are not
    10 digits (years 2001-2286), or a part number below 1.
    """
    if isinstance(dpid, bool) or not isinstance(dpid, int) or dpid <= 0:
        raise InputError(f"DPID {dpid!r} is not a positive number", "e.g. 14016")
    if isinstance(unix_seconds, bool) or not 10**9 <= unix_seconds < 10**10:
        raise InputError(
            f"timestamp {unix_seconds!r} is not 10-digit Unix seconds",
            "use int(time.time())",
        )
    if part is not None and part < 1:
        raise InputError(f"part number {part} must be 1 or more", "parts are numbered .1, .2 ...")
    suffix = "" if part is None else f".{part}"
    return f"ftp_dpm_{dpid}_{unix_seconds:010d}.sync{suffix}{'.gz' if gz else ''}"


def format_inbound_line(id_: str, segments: Sequence[str]) -> str:
    """``ID<TAB>seg1,seg2`` (no newline) for an AAM inbound file.

    Raises ``InputError`` for an empty ID, an ID with TAB, newline or other
    control characters, no segments, or a segment that is not a numeric ID.
    """
    if not id_ or not id_.strip():
        raise InputError("an empty ID cannot be exported", "drop profiles without an ID")
    if _BAD_ID_CHARS.search(id_):
        raise InputError(
            f"ID {excerpt(id_, 40)} contains a TAB, newline or control character",
            "AAM inbound lines are ID<TAB>segments: clean the ID first",
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
        self.out: IO[bytes] = (
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
    parts: list[_PartWriter], out_dir: Path, dpid: int, seconds: int, gz: bool
) -> list[Path]:
    single = len(parts) == 1
    finals = [
        out_dir / inbound_name(dpid, seconds, None if single else i, gz)
        for i, _ in enumerate(parts, start=1)
    ]
    taken = [p.name for p in finals if p.exists()]
    if taken:
        raise InputError(f"{taken[0]} already exists in {out_dir}", "use another timestamp")
    done: list[Path] = []
    try:
        for part, final in zip(parts, finals, strict=True):
            os.replace(part.path, final)
            done.append(final)
    except BaseException:
        for path in done:
            path.unlink(missing_ok=True)
        raise
    return finals


def write_inbound(
    rows: Iterable[tuple[str, Sequence[str]]],
    out_dir: Path,
    dpid: int,
    unix_seconds: int,
    *,
    gz: bool = False,
    max_bytes: int = 5 * 10**9,
    max_line_bytes: int = 102400,
) -> list[Path]:
    """Write ``rows`` (ID, segment IDs) as AAM inbound files; return the final paths.

    Lines are ``ID<TAB>seg1,seg2`` in UTF-8. A new part starts when the next line
    would take the uncompressed size past ``max_bytes``; one part keeps the
    unsplit name, several are named ``.1``, ``.2``... Each part is written
    under a temporary name in ``out_dir`` and renamed only when every row was
    written, so on any error (a bad ID, a line over ``max_line_bytes`` bytes
    without its newline, a failing ``rows`` iterator, an existing final name)
    no file is left under a final name. No rows: no file, ``[]``.
    """
    out_dir = Path(out_dir)
    inbound_name(dpid, unix_seconds, None, gz)  # validate before writing anything
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
        return _publish(parts, out_dir, dpid, unix_seconds, gz) if parts else []
    except BaseException:
        for part in parts:
            part.discard()
        raise
