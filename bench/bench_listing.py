"""Benchmark: from an import account's listing to the batches a pass takes.

Run from the project root::

    .venv/bin/python bench/bench_listing.py [--sizes 1000 10000 100000] [--old-max 10000]

For each size N, a listing of N outbound names (one file per batch, 1% of them
for a destination no data source has, a tenth already in the processed-files
ledger) is grouped (``core.formats.classify_names``) and selected
(``core.selection.select_batches``), which is what the import pass does between
the listing and the first fetch. The old selection (kept below as ``old_select``:
each ready batch looked up in the list of routed ones) is timed on the same
listing in the same run, up to ``--old-max`` names (it is quadratic: about 100
times slower for 10 times the names). Both must choose the same batches.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.formats import Batch, classify_names, parse_outbound_name  # noqa: E402
from core.model import Channel, DataSource, Environment, IdType  # noqa: E402
from core.reconcile import route  # noqa: E402
from core.selection import select_batches  # noqa: E402

DID, OTHER, DPID = 46390, 777, 14016
FIRST_MS = 1_700_000_000_000


def environment() -> Environment:
    """One declared data source for destination ``DID``."""
    return Environment(
        name="bench",
        datasources=(
            DataSource(
                label="CRM",
                alias="Adobe Campaign",
                dpid=DPID,
                destination_id=DID,
                id_type=IdType.DECLARED,
                reconciliation_key="customer_id",
                channel=Channel.OTHER,
            ),
        ),
    )


def listing(size: int) -> tuple[list[str], set[str]]:
    """``size`` names, one batch each, and the tenth of them already processed."""
    names = [
        f"ftp_{OTHER if n % 100 == 99 else DID}_{DPID}_iter_{FIRST_MS + n:013d}.sync"
        for n in range(size)
    ]
    return names, set(names[::10])


def old_select(
    env: Environment, batches: list[Batch], processed: set[str]
) -> tuple[list[Batch], list[Batch]]:
    """The selection as the import pass did it before (``_select_batches``,
    ``_superseded``, then ``if batch not in routed`` over a list): (routed, unrouted)."""
    ready: list[Batch] = []
    for batch in batches:
        new_parts = [n for n in batch.part_names if n not in processed]
        new_manifest = batch.manifest_name is not None and batch.manifest_name not in processed
        if not new_parts and not (new_manifest and not batch.parts):
            continue
        if batch.complete and batch.parts:
            ready.append(batch)
    newest: dict[int, int] = {}
    for name in processed:
        parsed = parse_outbound_name(name)
        if parsed is not None and parsed.mode == "full":
            newest[parsed.destination_id] = max(
                newest.get(parsed.destination_id, -1), parsed.timestamp_ms
            )
    ready = [b for b in ready if b.timestamp_ms >= newest.get(b.destination_id, -1)]
    routed = [b for b in ready if route(env, b.destination_id)]
    unrouted = [b for b in ready if b not in routed]
    return routed, unrouted


def timed(step: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--old-max", type=int, default=10_000, help="largest size for the old")
    args = parser.parse_args()
    env = environment()
    for size in args.sizes:
        names, processed = listing(size)
        grouped, (batches, _) = timed(lambda names=names: classify_names(names))
        ours, chosen = timed(
            lambda batches=batches, processed=processed: select_batches(env, batches, processed)
        )
        line = (
            f"{size:>7,} names: grouping {grouped:7.3f}s, selection {ours:7.3f}s "
            f"({len(chosen.routed):,} routed, {len(chosen.unrouted):,} unrouted)"
        )
        if size <= args.old_max:
            old, (routed, unrouted) = timed(
                lambda batches=batches, processed=processed: old_select(env, batches, processed)
            )
            same = [b.key for b, _ in chosen.routed] == [b.key for b in routed] and [
                b.key for b in chosen.unrouted
            ] == [b.key for b in unrouted]
            if not same:
                print(f"{size:,} names: the old and new selections differ", file=sys.stderr)
                return 1
            line += f"; old selection {old:8.3f}s (same batches)"
        else:
            line += "; old selection not run (quadratic)"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
