"""Peak memory of ``core.reconcile`` against the audience file's size.

Run from the project root::

    .venv/bin/python bench/bench_memory.py [--sizes 1000000 5000000] [--profiles 1000000]

Each size runs in a fresh child (``bench_reconcile.py --child ours``) on data
built like the main bench (cached under ``bench/data/``): lines beyond the
profiles are distinct unknown emails, so the set of distinct IDs, which
duplicate detection must remember, grows with the file. Prints each child's
peak RSS (``VmHWM``), time and the growth per extra million lines.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_reconcile import data_paths, spawn


def main(argv: list[str] | None = None) -> int:
    """Run one child per size and print peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rows: list[tuple[int, float, float, int]] = []
    for lines in args.sizes:
        profiles_csv, audience = data_paths(lines, args.profiles, args.seed)
        got = spawn("ours", profiles_csv, audience)
        records = got["answer"]["records"]
        rows.append((lines, got["peak_rss_mb"] + got["child_rss_mb"], got["total"], records))
        print(
            f"{lines:>11,} lines x {args.profiles:,} profiles: peak RSS "
            f"{got['peak_rss_mb']:7.1f} MB (+ decoder {got['child_rss_mb']:6.1f} MB), "
            f"{got['total']:6.2f}s "
            f"({lines / got['total']:,.0f} lines/s), reconciled "
            f"{got['answer']['reconciled']:,}, not_found "
            f"{got['answer']['outcomes'].get('not_found', 0):,}",
            flush=True,
        )
    if len(rows) > 1:
        (l0, m0, _, _), (l1, m1, _, _) = rows[0], rows[-1]
        print(
            f"{l1 / l0:.0f}x the lines -> {m1 / m0:.2f}x the peak memory (both processes) "
            f"(+{(m1 - m0) / ((l1 - l0) / 1e6):.0f} MB per extra million lines)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
