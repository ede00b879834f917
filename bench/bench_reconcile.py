"""Benchmark: a dry run of AES-256-CBC hex emails, ``core.reconcile`` vs the record-at-a-time
baseline (``bench/baseline.py``), in separate child processes, alternately.

Run from the project root::

    .venv/bin/python bench/bench_reconcile.py [--lines 1000000] [--profiles 1000000] [--rounds 3]

The data (a profiles CSV and one audience file, deterministic seed) is built on
first use and cached under ``bench/data/`` (git-ignored). Each round runs the
baseline, then ours, each in a fresh child (``subprocess``, one process tree),
so neither inherits the other's memory or warm caches. Every child's answer
(records, reconciled, duplicates, every outcome count, each segment's member
and removed sets, compared by digest) must be the same, or the bench fails.

Times are wall-clock inside the child, after imports: ``total`` includes
reading and indexing the profiles; ``audience`` is the audience file alone.
Peak memory is the child's ``VmHWM`` (peak resident set), plus, for ours, the
peak of the audience decoding process it starts for a large file (``ru_maxrss``
of its children).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "bench" / "data"
KEY_HEX = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV_HEX = "000102030405060708090a0b0c0d0e0f"
WRONG_KEY_HEX = "2b7e151628aed2a6abf7158809cf4f3c2b7e151628aed2a6abf7158809cf4f3c"
DESTINATION = 500
SEGMENTS = ("24", "24,25", "25", "31", "24,31,40", "25,40", "31,40", "24,25,31")

_FIRST = ("alice", "bruno", "chloe", "dora", "eve", "farid", "gina", "hugo", "ines", "jules")
_LAST = ("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand")
_DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.fr")


# ----------------------------------------------------------------------------- data


def _email(i: int, rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{i}@{rng.choice(_DOMAINS)}"


def _variant(email: str, rng: random.Random) -> str:
    """The same address as a website or a CRM might write it: padded, mixed case."""
    roll = rng.random()
    if roll < 0.5:
        return email.upper()
    if roll < 0.8:
        return email.capitalize()
    return f"  {email.title()} "


def data_paths(lines: int, profiles: int, seed: int) -> tuple[Path, Path]:
    """The cached profiles CSV and audience file for these sizes (built when missing)."""
    tag = f"p{profiles}_s{seed}"
    profiles_csv = DATA / f"profiles_{tag}.csv"
    audience = DATA / f"ftp_{DESTINATION}_14016_full_1793541600000_l{lines}_{tag}.sync"
    if not (profiles_csv.exists() and audience.exists()):
        build_data(profiles_csv, audience, lines, profiles, seed)
    return profiles_csv, audience


def build_data(profiles_csv: Path, audience: Path, lines: int, profiles: int, seed: int) -> None:
    """Write the profiles CSV and the audience file (deterministic for a seed).

    Profiles: ``id,email,first_name,country``; about 5% of emails mixed case or
    padded, 3% empty, 0.5% not an email, 1% shared by two profiles (a household).
    Audience lines: about 80% encrypted emails of profiles (10% written in
    another case or padded), 10% encrypted unknown emails (``not_found``),
    2% repeated IDs (``duplicate``), 1.5% bad hex or length (``bad_encoding``),
    1% under a wrong key (mostly ``bad_padding``), 0.5% encrypted non-emails
    (``invalid_email``), 0.3% non-UTF-8 plaintexts (``not_utf8``), 0.2%
    malformed lines. Lines beyond the profiles are unknown emails, so distinct
    IDs grow with the file.
    """
    from core.cipher import encrypt_batch, parse_iv, parse_key

    DATA.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    key, iv, wrong = parse_key(KEY_HEX), parse_iv(IV_HEX), parse_key(WRONG_KEY_HEX)
    emails: list[str] = []
    rows: list[str] = ["id,email,first_name,country"]
    for i in range(profiles):
        roll = rng.random()
        email = _email(i, rng)
        if roll < 0.03:
            stored = ""
        elif roll < 0.035:
            stored = f"not an email {i}"
        elif roll < 0.045 and emails:
            stored = email = rng.choice(emails)  # a household sharing one address
        elif roll < 0.095:
            stored = _variant(email, rng)
        else:
            stored = email
        if stored and roll >= 0.035:
            emails.append(email)
        rows.append(f"P{i:08d},{stored},{rng.choice(_FIRST).title()},FR")
    tmp = profiles_csv.with_suffix(".tmp")
    tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
    tmp.replace(profiles_csv)
    del rows

    distinct = list(dict.fromkeys(emails))
    rng.shuffle(distinct)
    plain: list[bytes] = []  # encrypted with the right key, in order
    kinds: list[str] = []
    wanted_matches = min(int(lines * 0.8), len(distinct))
    for n in range(lines):
        roll = rng.random()
        if roll < 0.02 and plain:
            kinds.append("dup")
            continue
        if roll < 0.035:
            kinds.append("badhex")
            continue
        if roll < 0.045:
            kinds.append("wrongkey")
            continue
        if roll < 0.05:
            kinds.append("plain")
            plain.append(f"customer {n}".encode())
            continue
        if roll < 0.053:
            kinds.append("plain")
            plain.append(bytes([0xFF, 0xFE, n % 251, 0x80]) + b"x" * (n % 20))
            continue
        if roll < 0.055:
            kinds.append("malformed")
            continue
        kinds.append("plain")
        if wanted_matches and roll < 0.955:
            email = distinct.pop()  # each profile's address once; repeats are "dup" lines
            wanted_matches -= 1
            plain.append((_variant(email, rng) if rng.random() < 0.1 else email).encode())
        else:
            plain.append(f"unknown.{n}@{rng.choice(_DOMAINS)}".encode())
    cts = iter(c.hex() for c in encrypt_batch(key, iv, plain))
    del plain
    out: list[str] = []
    ids: list[str] = []
    for n, kind in enumerate(kinds):
        segs = rng.choice(SEGMENTS)
        tail = "\t40" if rng.random() < 0.05 else ""
        if kind == "plain":
            ident = next(cts)
        elif kind == "dup":
            ident = rng.choice(ids) if ids else next(cts)
        elif kind == "badhex":
            ident = ("zz" if n % 3 == 0 else "0" if n % 3 == 1 else "00" * 8) + f"{n:032x}"
        elif kind == "wrongkey":
            ident = encrypt_batch(wrong, iv, [f"someone{n}@example.com".encode()])[0].hex()
        else:
            out.append(f"{n:032x}" if n % 2 else f"{n:032x}\t24,x")
            continue
        ids.append(ident)
        out.append(f"{ident}\t{segs}{tail}")
    tmp = audience.with_suffix(".tmp")
    with tmp.open("w", encoding="ascii") as handle:
        for start in range(0, len(out), 100_000):
            handle.write("\n".join(out[start : start + 100_000]) + "\n")
    tmp.replace(audience)


# ----------------------------------------------------------------------------- children


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _digest(pids: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(pids)).encode()).hexdigest()[:16]


def _answer(
    records: int,
    reconciled: int,
    duplicates: int,
    outcomes: dict[str, int],
    segments: dict[str, tuple[set[str], set[str]]],
) -> dict[str, Any]:
    return {
        "records": records,
        "reconciled": reconciled,
        "duplicates": duplicates,
        "outcomes": {k: v for k, v in sorted(outcomes.items()) if v},
        "segments": {
            seg: {
                "members": len(m),
                "removed": len(r),
                "members_sha": _digest(m),
                "removed_sha": _digest(r),
            }
            for seg, (m, r) in sorted(segments.items())
        },
    }


def run_baseline(profiles_csv: Path, audience: Path) -> dict[str, Any]:
    """The record-at-a-time reference, timed."""
    from bench import baseline
    from core.cipher import parse_iv, parse_key

    start = time.perf_counter()
    index = baseline.load_index(profiles_csv)
    loaded = time.perf_counter()
    got = baseline.reconcile(audience, index, parse_key(KEY_HEX), parse_iv(IV_HEX))
    end = time.perf_counter()
    segments = {s: (v["members"], v["removed"]) for s, v in got["segments"].items()}
    answer = _answer(
        got["records"], got["reconciled"], got["duplicates"], got["outcomes"], segments
    )
    return {
        "answer": answer,
        "total": end - start,
        "profiles": loaded - start,
        "audience": end - loaded,
    }


def run_ours(profiles_csv: Path, audience: Path) -> dict[str, Any]:
    """``core.reconcile`` through its public API with ``CsvProfiles``, timed.

    The index is built lazily when the batch starts; the run reports it ready
    (``indexing`` with ``done``) right after: that moment marks the end of
    profile loading.
    """
    from core.model import DataSource, Environment, Transform
    from core.profiles import CsvProfiles
    from core.reconcile import (
        AudienceFile,
        BatchInput,
        IndexProgress,
        build_codecs,
        reconcile_batches,
        summarize,
    )
    from core.secrets import Secret

    ds = DataSource(
        label="Email AES",
        alias="A",
        dpid=14016,
        destination_id=DESTINATION,
        priority=10,
        id_type="declared",
        reconciliation_key="email",
        transform=Transform.AES,
        aes_key=Secret("literal", KEY_HEX),
        aes_iv=Secret("literal", IV_HEX),
        channel="email",
    )
    env = Environment(name="bench", datasources=(ds,))
    marks: list[float] = []

    def indexing(step: IndexProgress) -> None:
        if step.done:
            marks.append(time.perf_counter())

    start = time.perf_counter()
    codecs = build_codecs(env, lambda d, f: getattr(d, f).ref)
    batch = BatchInput("bench", "full", DESTINATION, (AudienceFile.from_path(audience),))
    results = reconcile_batches([batch], env, codecs, CsvProfiles(profiles_csv), indexing=indexing)
    summary = summarize(results)
    end = time.perf_counter()
    segments = {s: (r.members, r.removed) for s, r in summary.segments.items()}
    answer = _answer(
        summary.records, summary.reconciled, summary.duplicates, dict(summary.outcomes), segments
    )
    return {
        "answer": answer,
        "total": end - start,
        "profiles": marks[0] - start,
        "audience": end - marks[0],
    }


def _children_peak_rss_mb() -> float:
    """Peak RSS of the largest finished child (ours: the audience decoding process)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def child(which: str, profiles_csv: Path, audience: Path) -> None:
    """Run one implementation and print its JSON result (answer, times, peak RSS of
    this process and of its own child process, if it started one)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF)
    result = (run_baseline if which == "baseline" else run_ours)(profiles_csv, audience)
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    # CPU seconds of the run, this process's threads and its decoding process together:
    # less sensitive than wall time to other jobs on the machine.
    result["cpu"] = (
        own.ru_utime
        + own.ru_stime
        - before.ru_utime
        - before.ru_stime
        + kids.ru_utime
        + kids.ru_stime
    )
    result["peak_rss_mb"] = _peak_rss_mb()
    result["child_rss_mb"] = _children_peak_rss_mb()
    print(json.dumps(result))


def spawn(which: str, profiles_csv: Path, audience: Path, root: Path = ROOT) -> dict[str, Any]:
    """One child process (``ours`` of the checkout at ``root``); its parsed JSON result."""
    proc = subprocess.run(
        [
            sys.executable,
            str(root / "bench" / "bench_reconcile.py"),
            "--child",
            which,
            "--profiles-csv",
            str(profiles_csv),
            "--audience",
            str(audience),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{which} child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- parent


def main(argv: list[str] | None = None) -> int:
    """Parse options, build the data, run the rounds and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("baseline", "ours"), help="run one side only")
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout of the project (e.g. the previous version): its `ours` runs "
        "too, as `before`, in the same rounds",
    )
    parser.add_argument("--child", choices=("baseline", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--profiles-csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--audience", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.profiles_csv, args.audience)
        return 0

    start = time.perf_counter()
    profiles_csv, audience = data_paths(args.lines, args.profiles, args.seed)
    print(
        f"data: {profiles_csv.name} ({profiles_csv.stat().st_size / 1e6:.0f} MB), "
        f"{audience.name} ({audience.stat().st_size / 1e6:.0f} MB) "
        f"[{time.perf_counter() - start:.1f}s to build or find]"
    )
    print(
        f"{os.cpu_count()} CPUs; {args.rounds} rounds, baseline and ours alternately, "
        "each in a fresh child process"
    )
    sides = [args.only] if args.only else ["baseline", "ours"]
    if args.before is not None:
        sides.insert(-1 if "ours" in sides else len(sides), "before")
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for round_no in range(1, args.rounds + 1):
        for side in sides:
            if side == "before":
                got = spawn("ours", profiles_csv, audience, args.before.resolve())
            else:
                got = spawn(side, profiles_csv, audience)
            results[side].append(got)
            print(
                f"round {round_no} {side:8s}: total {got['total']:7.3f}s  "
                f"(profiles {got['profiles']:6.3f}s, audience {got['audience']:6.3f}s)  "
                f"cpu {got.get('cpu', 0.0):6.2f}s  "
                f"peak RSS {got['peak_rss_mb']:7.1f} MB"
                + (f" + decoder {got['child_rss_mb']:6.1f} MB" if got["child_rss_mb"] else ""),
                flush=True,
            )
    answers = [r["answer"] for side in sides for r in results[side]]
    if any(a != answers[0] for a in answers[1:]):
        for side in sides:
            print(side, json.dumps(results[side][0]["answer"], indent=1))
        print("FAIL: the answers differ")
        return 1
    a = answers[0]
    print(
        f"same answer in every child: records {a['records']:,}, reconciled "
        f"{a['reconciled']:,}, duplicates {a['duplicates']:,}, outcomes {a['outcomes']}, "
        f"{len(a['segments'])} segments (member sets compared by digest)"
    )
    best: dict[str, dict[str, float]] = {}
    for side in sides:
        runs = results[side]
        best[side] = {
            k: min(r.get(k, 0.0) for r in runs) for k in ("total", "profiles", "audience", "cpu")
        }
        best[side]["rss"] = max(r["peak_rss_mb"] for r in runs)
        best[side]["child"] = max(r["child_rss_mb"] for r in runs)
        b = best[side]
        print(
            f"best {side:8s}: total {b['total']:7.3f}s = {args.lines / b['total']:>11,.0f} "
            f"lines/s end to end; cpu {b['cpu']:6.2f}s; audience alone {b['audience']:6.3f}s = "
            f"{args.lines / b['audience']:>11,.0f} lines/s; profiles {b['profiles']:6.3f}s; "
            f"peak RSS {b['rss']:.0f} MB"
            + (f" (+ {b['child']:.0f} MB in the decoding process)" if b["child"] else "")
        )
    base = best.get("baseline")
    for side in ("before", "ours"):
        if base is None or side not in best:
            continue
        ratios = [base[k] / best[side][k] for k in ("total", "audience", "profiles", "cpu")]
        print(
            f"ratio (baseline / {side}, best times): end to end {{:.1f}}x, audience part "
            "{:.1f}x, profile part {:.1f}x, cpu {:.1f}x".format(*ratios)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
