"""Which batches an import pass takes from a listing (docs/reference.md §3).

New files only (the processed-files ledger), complete batches only, never a batch
older than a ``full`` batch of its destination already applied, and only batches
routed to a data source. Each step is one pass over the names or the batches with
sets and dicts (never a search of a list), so a listing of 100k files is selected
in time linear in its length; routing runs once per destination ID.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.formats import Batch, parse_manifest_name, parse_outbound_name
from core.model import DataSource, Environment
from core.reconcile import route

__all__ = ["Selection", "manifests_to_read", "select_batches"]


@dataclass
class Selection:
    """The batches of a listing, by what the pass does with them.

    ``routed``: complete batches with a new part, in processing order, each with the
    data sources it goes to (highest priority first); ``unrouted``: such batches that
    no data source takes (left for later); ``waiting``: incomplete batches with new
    files; ``superseded``: complete batches older than a ``full`` batch of the same
    destination already applied (recorded as processed, never applied).
    """

    routed: list[tuple[Batch, list[DataSource]]] = field(default_factory=list)
    unrouted: list[Batch] = field(default_factory=list)
    waiting: list[Batch] = field(default_factory=list)
    superseded: list[Batch] = field(default_factory=list)


def manifests_to_read(names: Iterable[str], processed: set[str]) -> set[str]:
    """Manifests not yet processed, and those that may be of a batch with a new part
    (compared on the name up to the timestamp's first 10 digits, so that a manifest
    of 13-digit names read as seconds and a split is read too)."""
    names = list(names)
    groups_with_new_parts = {
        parsed.group_key
        for name in names
        if name not in processed and (parsed := parse_outbound_name(name)) is not None
    }
    return {
        name
        for name in names
        if (key := parse_manifest_name(name)) is not None
        and (name not in processed or _group(key) in groups_with_new_parts)
    }


def _group(key: str) -> str:
    """A batch key with only its timestamp's first 10 digits (``OutboundName.group_key``)."""
    prefix, timestamp = key.rsplit("_", 1)
    return f"{prefix}_{timestamp[:10]}"


def _newest_full(processed: set[str]) -> dict[int, int]:
    """Per destination ID, the timestamp of the newest ``full`` batch already applied."""
    newest: dict[int, int] = {}
    for name in processed:
        parsed = parse_outbound_name(name)
        if parsed is not None and parsed.mode == "full":
            newest[parsed.destination_id] = max(
                newest.get(parsed.destination_id, -1), parsed.timestamp_ms
            )
    return newest


def _last_ms(batch: Batch) -> int:
    """The last millisecond a batch's timestamp covers: a batch keyed in seconds covers
    the whole second (its 13-digit parts read alone look like milliseconds of it)."""
    seconds = len(batch.key.rsplit("_", 1)[-1]) == 10
    return batch.timestamp_ms + (999 if seconds else 0)


def _is_new(batch: Batch, processed: set[str]) -> bool:
    """A new part, or a new manifest of a batch whose data has not arrived."""
    if any(name not in processed for name in batch.part_names):
        return True
    return (
        not batch.parts and batch.manifest_name is not None and batch.manifest_name not in processed
    )


def select_batches(env: Environment, batches: Sequence[Batch], processed: set[str]) -> Selection:
    """Sort ``batches`` (from ``core.formats.classify_names``, in timestamp order) by what
    a pass does with them, given the names already ``processed``.

    A late delivery older than a ``full`` batch already applied must not undo that
    newer snapshot: it is ``superseded``. Order is kept within each list.
    """
    newest = _newest_full(processed)
    routes: dict[int, list[DataSource]] = {}
    selection = Selection()
    for batch in batches:
        if not _is_new(batch, processed):
            continue
        if not batch.complete:
            selection.waiting.append(batch)
            continue
        if not batch.parts:
            continue
        if _last_ms(batch) < newest.get(batch.destination_id, -1):
            selection.superseded.append(batch)
            continue
        sources = routes.get(batch.destination_id)
        if sources is None:
            sources = routes[batch.destination_id] = route(env, batch.destination_id)
        if sources:
            selection.routed.append((batch, sources))
        else:
            selection.unrouted.append(batch)
    return selection
