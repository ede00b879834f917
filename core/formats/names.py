"""AAM file names: outbound (``.sync`` parts, ``.info`` manifests) and inbound
(``ftp_dpm_...``); docs/reference.md §3."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
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
    r"_(?P<digits>[0-9]{10,20})"
    r"(?:-(?P<dash>[0-9]{1,6}))?"
)
_OUTBOUND = re.compile(_BATCH_PREFIX + r"\.sync(?P<gz>\.gz)?", re.IGNORECASE)
_MANIFEST = re.compile(_BATCH_PREFIX + r"(?:\.sync)?\.info", re.IGNORECASE)
_MODES = ("full", "iter")


@dataclass(frozen=True)
class OutboundName:
    """A parsed AAM outbound file name (one data file, or one part of a split batch).

    ``timestamp`` is the timestamp as written (10 digits: seconds, 13: milliseconds);
    ``timestamp_ms`` is it in milliseconds. ``batch_key`` is the name's prefix up to
    and including ``timestamp``: split parts of one delivery share it. ``group_key``
    is the prefix with only the timestamp's first 10 digits (whole seconds): the
    names that may be parts of one delivery (see ``core.formats.batches``).
    """

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
    timestamp: str = ""
    group_key: str = ""

    def as_seconds_split(self) -> OutboundName:
        """This 13-digit name read as 10-digit seconds and a 3-digit split number
        (``..._1566906141001.csv`` on AAM's macros page), not as milliseconds."""
        seconds = self.timestamp[:10]
        return replace(
            self,
            timestamp=seconds,
            timestamp_ms=int(seconds) * 1000,
            split=int(self.timestamp[10:]),
            batch_key=self.group_key,
        )


def _basename(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name


def _prefix(match: re.Match[str]) -> str:
    alias = match["alias"]
    alias_part = f"_{alias}" if alias else ""
    mode = match["mode"].lower()
    return f"{match['sync']}_{match['did']}_{match['dpid']}{alias_part}_{mode}_"


def _alias_is_mode(match: re.Match[str]) -> bool:
    alias = match["alias"]
    return alias is not None and alias.lower() in _MODES


def _timestamp_and_split(digits: str, dash: str | None) -> tuple[str, int | None] | None:
    """The timestamp as written and the split number of the digits after the sync mode.

    ``-N`` after the digits is the split (transfer-control page); then the digits are
    the timestamp (10 or 13). Otherwise 10 digits are seconds, 13 milliseconds (read
    again as seconds and a split when its siblings say so), 14-15 seconds and a split
    of 4-5 digits, 16 and more milliseconds and a split of 3 or more digits. 11-12
    digits are none of AAM's forms (a split has at least 3 digits).
    """
    if dash is not None:
        return (digits, int(dash)) if len(digits) in (10, 13) else None
    if len(digits) == 10 or len(digits) == 13:
        return digits, None
    if len(digits) in (14, 15):
        return digits[:10], int(digits[10:])
    if len(digits) >= 16:
        return digits[:13], int(digits[13:])
    return None


def _timestamp_ms(timestamp: str) -> int:
    return int(timestamp) * 1000 if len(timestamp) == 10 else int(timestamp)


def parse_outbound_name(name: str) -> OutboundName | None:
    """Parse an AAM outbound data file name; ``None`` when it is not one.

    Accepted: ``SYNCTYPE_DID_DPID[_ALIAS]_MODE_TIMESTAMP[SPLIT][-N].sync[.gz]`` where
    SYNCTYPE is a word starting with a letter (``ftp``, ``S3``, ``s3``, ``http``...),
    DID and DPID are digits, ALIAS is letters, digits and hyphens (never ``full`` or
    ``iter``), MODE is ``full`` or ``iter``, TIMESTAMP is 10 digits (seconds) or 13
    (milliseconds), SPLIT is 3 or more digits after it and ``-N`` a split number
    after it (see :func:`_timestamp_and_split`). Directories before the name are
    ignored; mode and extensions are matched case-insensitively (``mode`` is
    returned lower-case). A 13-digit name is read as milliseconds here; the batch
    builder reads it as seconds and a split when its siblings are such parts.
    """
    base = _basename(name)
    match = _OUTBOUND.fullmatch(base)
    if match is None or _alias_is_mode(match):
        return None
    parsed = _timestamp_and_split(match["digits"], match["dash"])
    if parsed is None:
        return None
    timestamp, split = parsed
    mode: SyncMode = "full" if match["mode"].lower() == "full" else "iter"
    prefix = _prefix(match)
    return OutboundName(
        name=base,
        sync_type=match["sync"],
        destination_id=int(match["did"]),
        master_dpid=int(match["dpid"]),
        alias=match["alias"],
        mode=mode,
        timestamp_ms=_timestamp_ms(timestamp),
        split=split,
        gz=match["gz"] is not None,
        batch_key=prefix + timestamp,
        timestamp=timestamp,
        group_key=prefix + timestamp[:10],
    )


@dataclass(frozen=True)
class BatchKey:
    """What a batch key says: the fields shared by a delivery's parts."""

    key: str
    sync_type: str
    destination_id: int
    master_dpid: int
    alias: str | None
    mode: SyncMode
    timestamp_ms: int


def parse_batch_key(key: str) -> BatchKey | None:
    """The fields of a batch key (a name up to its timestamp); ``None`` when not one."""
    match = _MANIFEST.fullmatch(f"{key}.info")
    if match is None or match["dash"] is not None or len(match["digits"]) not in (10, 13):
        return None
    return BatchKey(
        key=key,
        sync_type=match["sync"],
        destination_id=int(match["did"]),
        master_dpid=int(match["dpid"]),
        alias=match["alias"],
        mode="full" if match["mode"].lower() == "full" else "iter",
        timestamp_ms=_timestamp_ms(match["digits"]),
    )


def manifest_name(batch_key: str) -> str:
    """The name of the ``.info`` manifest AAM sends for the batch ``batch_key``."""
    return f"{batch_key}.info"


def parse_manifest_name(name: str) -> str | None:
    """The batch key a ``.info`` manifest name belongs to; ``None`` when it is not one.

    Accepted: ``<batch key>.info`` (the documented form: the root of the batch, its
    timestamp of 10 or 13 digits), and, liberally, ``<batch key><split digits>.info``,
    ``<batch key>-N.info`` and ``<batch key>[...].sync.info``.
    """
    match = _MANIFEST.fullmatch(_basename(name))
    if match is None or _alias_is_mode(match):
        return None
    digits = match["digits"]
    if match["dash"] is None and len(digits) not in (10, 13):
        parsed = _timestamp_and_split(digits, None)
        if parsed is None:
            return None
        digits = parsed[0]
    elif len(digits) not in (10, 13):
        return None
    return _prefix(match) + digits


def inbound_name(
    dpid: int, unix_seconds: int, part: int | None, gz: bool, *, overwrite: bool = False
) -> str:
    """``ftp_dpm_<DPID>_<10-digit seconds>.sync[.N][.gz]``, the AAM inbound file name;
    ``.overwrite`` instead of ``.sync`` when ``overwrite`` (each ID's traits of the data
    source are replaced, not added to: AAM's inbound FTP and S3 file-name pages).

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
    kind = "overwrite" if overwrite else "sync"
    return f"ftp_dpm_{dpid}_{unix_seconds:010d}.{kind}{suffix}{'.gz' if gz else ''}"
