"""Grouping a listing of outbound names into batches (split parts and manifest)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.formats.manifest import Manifest
from core.formats.names import (
    _MANIFEST,
    OutboundName,
    SyncMode,
    _basename,
    manifest_name,
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
