"""``.info`` transfer-control manifests: the one bounded reader, the parser, and the
check of a part against its entry."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import InputError
from core.formats.lines import count_lines
from core.formats.names import _basename

_MANIFEST_HINT = (
    'a .info file looks like {Files: [{FileByteSize: 120, FileLineCount: 3, FileName: "...", '
    'FileSequenceNumber: 1, md5: "..."}], Totals: {FileName: "...", TotalByteSize: 120, '
    "TotalNumberFiles: 1, TotalNumberLines: 3}}; fetch it again from AAM"
)
# A JSON string (left untouched), a bare key before a colon (quoted), or a trailing comma.
_MANIFEST_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|(?<![\w$"])([A-Za-z_$][A-Za-z0-9_$-]*)(?=\s*:)|,(?=\s*[}\]])',
    re.DOTALL,
)
_MD5 = re.compile(r"[0-9a-fA-F]{32}")
#: The most a ``.info`` manifest may hold (AAM's are a few KB): a larger one is refused
#: before it is parsed, by the dry run and the import alike.
MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class ManifestFile:
    """One file listed in a manifest: its name, line count, stored size and md5.

    ``md5`` is ``None`` when the manifest gives none, or one that is not 32 hexadecimal
    digits (then ``md5_warning`` says so: the file is checked without it);
    ``sequence`` is ``FileSequenceNumber`` when given."""

    name: str
    line_count: int
    byte_size: int
    md5: str | None
    sequence: int | None = None
    md5_warning: str = ""


@dataclass(frozen=True)
class ManifestTotals:
    """The ``Totals`` object of a manifest; a value is ``None`` when AAM left it out.

    Read under AAM's names (``TotalNumberLines``, ``TotalByteSize``,
    ``TotalNumberFiles``, ``FileName``: the transfer-control page) and, liberally,
    ``TotalLineCount`` and ``TotalFileCount``."""

    line_count: int | None
    byte_size: int | None
    file_count: int | None
    name: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A parsed ``.info`` manifest."""

    files: tuple[ManifestFile, ...]
    totals: ManifestTotals | None = None

    def file(self, name: str) -> ManifestFile | None:
        """The entry for ``name`` (compared by base name), or ``None``."""
        base = _basename(name)
        return next((f for f in self.files if f.name == base), None)

    def warnings(self) -> list[str]:
        """Oddities that do not stop a batch (an md5 that is not hexadecimal), in plain words."""
        return [f.md5_warning for f in self.files if f.md5_warning]

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
    base = _basename(name.strip())
    md5 = _get(entry, "md5", "FileMD5", "Checksum")
    warning = ""
    if md5 is not None and (not isinstance(md5, str) or not _MD5.fullmatch(md5.strip())):
        warning = (
            f"{base}: the manifest's md5 {_short(md5)} is not 32 hexadecimal digits "
            "(checked by size and line count only)"
        )
        md5 = None
    return ManifestFile(
        name=base,
        line_count=_required_count(_get(entry, "FileLineCount", "LineCount"), "FileLineCount"),
        byte_size=_required_count(_get(entry, "FileByteSize", "ByteSize"), "FileByteSize"),
        md5=md5.strip().lower() if isinstance(md5, str) else None,
        sequence=_count(_get(entry, "FileSequenceNumber"), "FileSequenceNumber", required=False),
        md5_warning=warning,
    )


def _manifest_totals(value: object) -> ManifestTotals | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _manifest_error("Totals is not an object")
    name = _get(value, "FileName")
    lines = _get(value, "TotalNumberLines", "TotalLineCount")
    files = _get(value, "TotalNumberFiles", "TotalFileCount")
    return ManifestTotals(
        line_count=_count(lines, "TotalNumberLines", required=False),
        byte_size=_count(_get(value, "TotalByteSize"), "TotalByteSize", required=False),
        file_count=_count(files, "TotalNumberFiles", required=False),
        name=_basename(name.strip()) if isinstance(name, str) and name.strip() else None,
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
    is missing or not a count; ``md5``, ``FileSequenceNumber`` and ``Totals`` are
    optional. An ``md5`` that is not hexadecimal (AAM's own example has such values)
    is a warning on that file (:meth:`Manifest.warnings`), not an error.
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


def read_manifest(
    name: str, open_file: Callable[[str], AbstractContextManager[BinaryIO]]
) -> Manifest:
    """The manifest ``name``, read through ``open_file(name)`` and parsed: the one reader
    of manifests, local or remote.

    At most ``MAX_MANIFEST_BYTES`` are read; a larger file, or one that does not parse,
    is an ``InputError`` naming the file. Errors of ``open_file`` pass through.
    """
    with open_file(name) as stream:
        data = bytearray()
        while len(data) <= MAX_MANIFEST_BYTES:
            block = stream.read(MAX_MANIFEST_BYTES + 1 - len(data))
            if not block:
                break
            data += block
    if len(data) > MAX_MANIFEST_BYTES:
        raise InputError(
            f"{name}: larger than {MAX_MANIFEST_BYTES >> 20} MiB, too large for a .info manifest",
            "an AAM manifest is a few KB: fetch it again from AAM",
        )
    try:
        return parse_manifest(bytes(data))
    except InputError as exc:
        raise InputError(f"{name}: {exc.message}", exc.hint) from None


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
