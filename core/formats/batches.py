"""Grouping a listing of outbound names into batches (split parts and manifest)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.formats.manifest import Manifest
from core.formats.names import (
    OutboundName,
    SyncMode,
    _basename,
    parse_batch_key,
    parse_manifest_name,
    parse_outbound_name,
)


@dataclass(frozen=True)
class IgnoredName:
    """A file name that is not part of any batch, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Batch:
    """The split parts (and manifest) of one AAM delivery.

    ``complete`` is True when the batch can be processed now; otherwise
    ``waiting_reason`` says what is missing, or (``held``) how its manifest disagrees
    with its parts. ``notes`` lists oddities that do not block processing (e.g. an
    md5 in the manifest that is not hexadecimal).
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
    held: bool = False

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
    if not re.search(r"_(full|iter)_([0-9]{10}|[0-9]{13,})", lower):
        return (
            "the timestamp after the sync mode is not 10 digits (seconds) or 13 digits "
            "(milliseconds), with an optional split number"
        )
    return "does not follow SYNCTYPE_DID_DPID[_ALIAS]_MODE_TIMESTAMP[SPLIT].sync[.gz]"


def _contiguity_reason(parts: Sequence[OutboundName]) -> str:
    splits = [p.split for p in parts]
    if len(parts) == 1 and splits[0] in (None, 1):
        return ""
    if None in splits:
        return "an unsplit file and split parts share one timestamp; waiting for a manifest"
    numbers = sorted(s for s in splits if s is not None)
    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
    if missing:
        shown = ", ".join(str(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
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


def _disagreements(manifest: Manifest, parts: Sequence[OutboundName]) -> list[str]:
    """How a manifest disagrees with itself (``Totals``) or with the parts present."""
    listed = {f.name for f in manifest.files}
    unlisted = [p.name for p in parts if p.name not in listed]
    problems = manifest.totals_problems()
    if unlisted:
        shown = ", ".join(unlisted[:3]) + (" ..." if len(unlisted) > 3 else "")
        problems.append(f"{len(unlisted)} part(s) present but not listed: {shown}")
    return problems


def _make_batch(
    key: str,
    parts: list[OutboundName],
    info: str | None,
    manifests: Mapping[str, Manifest],
    present: set[str],
    unreadable: Mapping[str, str],
) -> Batch:
    parts.sort(key=lambda p: (-1 if p.split is None else p.split, p.name))
    fields = parse_batch_key(key)
    assert fields is not None  # the key was built from a matching name
    notes: tuple[str, ...] = ()
    held = False
    if info is None:
        reason = _contiguity_reason(parts)
    elif info in unreadable:
        held = True
        reason = f"held back: manifest {info} cannot be used: {unreadable[info]}"
    elif info not in manifests:
        reason = f"manifest {info} has not been read yet"
    else:
        manifest = manifests[info]
        notes = tuple(manifest.warnings())
        problems = _disagreements(manifest, parts)
        if problems:
            held = True
            reason = f"held back: manifest {info} disagrees with the files: " + "; ".join(problems)
        else:
            reason = _manifest_reason(manifest, present)
    return Batch(
        key=key,
        sync_type=fields.sync_type,
        destination_id=fields.destination_id,
        master_dpid=fields.master_dpid,
        alias=fields.alias,
        mode=fields.mode,
        timestamp_ms=fields.timestamp_ms,
        parts=tuple(parts),
        manifest_name=info,
        complete=not reason,
        waiting_reason=reason,
        notes=notes,
        held=held,
    )


def _read_as_splits(parsed: list[OutboundName], seconds_keys: set[str]) -> list[OutboundName]:
    """13-digit names read as 10-digit seconds and a 3-digit split where their siblings say
    so (AAM's macros page: ``s3_123456_9999_full_1566906141001.csv``, ``...002``, ...).

    Names sharing everything up to the timestamp's first 10 digits are parts of one
    delivery when their last 3 digits are split numbers (none is 000) and either two
    or more of them start at 001, or a 10-digit name or manifest shares those 10 digits,
    and those 10 digits are a date AAM can send (no leading zero: 2001 or later).
    Otherwise a 13-digit timestamp is milliseconds.
    """
    candidates: dict[str, list[OutboundName]] = {}
    for name in parsed:
        if len(name.timestamp) == 13 and name.split is None:
            candidates.setdefault(name.group_key, []).append(name)
    as_splits: dict[str, OutboundName] = {}
    for group, names in candidates.items():
        tails = [int(n.timestamp[10:]) for n in names]
        if min(tails) < 1 or group[-10] == "0":  # no split 000; AAM's seconds are 2001+
            continue
        if group in seconds_keys or (len(names) >= 2 and min(tails) == 1):
            as_splits.update((n.name, n.as_seconds_split()) for n in names)
    return [as_splits.get(n.name, n) for n in parsed]


def _attach_manifests(
    infos: dict[str, str],
    parts: Mapping[str, list[OutboundName]],
    manifests: Mapping[str, Manifest],
) -> None:
    """A manifest whose name fits no batch with parts goes to the batch its files belong to
    (AAM's transfer-control page names the manifest of a ``full`` batch ``..._iter_...``)."""
    key_of = {p.name: key for key, names in parts.items() for p in names}
    for key, info in list(infos.items()):
        manifest = manifests.get(info)
        if key in parts or manifest is None:
            continue
        keys = {key_of.get(f.name) for f in manifest.files}
        if len(keys) == 1 and (other := keys.pop()) is not None and other not in infos:
            del infos[key]
            infos[other] = info


def classify_names(
    names: Iterable[str],
    manifests: Mapping[str, Manifest] | None = None,
    unreadable: Mapping[str, str] | None = None,
) -> tuple[list[Batch], list[IgnoredName]]:
    """Group a folder listing into batches; also return the names that fit no batch.

    Parts belong together when they share the sync type, destination ID, DPID, alias,
    mode and timestamp (see :func:`_read_as_splits` for 13-digit names that are
    seconds and a split number); ``manifests`` maps a ``.info`` name to its parsed
    content, and a manifest goes to the batch its name, or else its files, belong to.
    Completeness:

    * with a manifest: complete when every file it lists is among ``names``
      (a manifest may arrive before its data: the batch then has no parts yet). A
      manifest that disagrees with the files (its ``Totals`` against its list, or a
      part present that it does not list) holds the batch back (``held``). A
      manifest that is listed but not given in ``manifests`` keeps the batch
      waiting, so that a batch is never processed on a guess; one in ``unreadable``
      (name: why it could not be read) holds it back with that reason;
    * without a manifest: complete when the split numbers run from 1 without a gap.
      We cannot know the last part without a manifest, so a batch whose trailing
      parts have not arrived yet looks complete; a single unsplit file is complete.

    Batches are sorted by timestamp (then key); parts by split number. A second
    file for the same part (e.g. both ``.sync`` and ``.sync.gz``) is ignored.
    """
    manifests = manifests or {}
    unreadable = unreadable or {}
    parsed: list[OutboundName] = []
    infos: dict[str, str] = {}
    ignored: list[IgnoredName] = []
    present: set[str] = set()
    raw_of: dict[str, str] = {}
    for raw in dict.fromkeys(names):
        base = _basename(raw)
        present.add(base)
        raw_of[base] = raw
        outbound = parse_outbound_name(base)
        if outbound is not None:
            parsed.append(outbound)
            continue
        key = parse_manifest_name(base)
        if key is None:
            ignored.append(IgnoredName(raw, _not_outbound_reason(base)))
        elif key in infos:
            ignored.append(IgnoredName(raw, f"a second manifest for batch {key}"))
        else:
            infos[key] = base
    seconds_keys = {p.group_key for p in parsed if len(p.timestamp) == 10} | {
        k for k in infos if len(k.rsplit("_", 1)[-1]) == 10
    }
    parts: dict[str, list[OutboundName]] = {}
    seen: dict[tuple[str, int | None], str] = {}
    for outbound in _read_as_splits(parsed, seconds_keys):
        slot = (outbound.batch_key, outbound.split)
        if slot in seen:
            ignored.append(IgnoredName(raw_of[outbound.name], f"the same part as {seen[slot]}"))
            continue
        seen[slot] = outbound.name
        parts.setdefault(outbound.batch_key, []).append(outbound)
    _attach_manifests(infos, parts, manifests)
    batches = [
        _make_batch(key, parts.get(key, []), infos.get(key), manifests, present, unreadable)
        for key in parts.keys() | infos.keys()
    ]
    batches.sort(key=lambda b: (b.timestamp_ms, b.key))
    return batches, ignored


def group_batches(
    names: Iterable[str], manifests: Mapping[str, Manifest] | None = None
) -> list[Batch]:
    """The batches of :func:`classify_names`, sorted by timestamp (ignored names dropped)."""
    return classify_names(names, manifests)[0]
