"""AAM file names: outbound (``.sync`` parts, ``.info`` manifests) and inbound
(``ftp_dpm_...``); docs/reference.md §3."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from core.errors import InputError

SyncMode = Literal["full", "iter"]


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
