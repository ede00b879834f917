"""Benchmark: ``core.forensics.find_causes`` on the misses of a dry run.

Run from the project root::

    .venv/bin/python bench/bench_forensics.py [--misses 100000] [--profiles 1000000]

Data is generated in memory (deterministic seed; our own cipher makes the IDs,
the tests use openssl, Node and CryptoJS): ``--profiles`` addresses, and two
sets of ``--misses`` AES-256-CBC hex IDs of an e-mail data source:

- ``true misses``: addresses no profile has, encrypted correctly (what a dry run
  with no website mistake leaves: the forensics must find nothing, fast);
- ``mistakes``: 40% of profiles' addresses under another IV, 10% in ECB, 10%
  zero-padded, 10% SHA-256 digests, 30% true misses.

Each miss has the outcome our reader gives it (``IdCodec.incoming``, not timed;
the outcome counts are printed). Each set runs with the default cap (20,000
misses tested per outcome) and with no cap (every miss tested), the
profiles handed over as the reconciliation's normalized keys (``keys``:
``ProfileValues(..., normalized=True)``, what a dry run of an AES data source
holds, with its index's lookup standing for ``contains``), then capped with the
column's raw values (``raw``: normalized and put in a set inside).
Times are wall clock for ``find_causes`` alone, the profile side (set, tails,
digests) built inside it when a hypothesis needs it; the column is in memory. The
issue's budget is 20% of the dry run of 1M lines (2.76 s measured here with
``bench_reconcile.py``, see bench/README.md): about 0.55 s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.cipher import (  # noqa: E402
    IdCodec,
    cbc_encrypt_blocks,
    ecb_encrypt,
    encrypt_batch,
    pkcs7_pad,
)
from core.forensics import Miss, ProfileValues, find_causes  # noqa: E402
from core.model import Channel, DataSource, IdType, Transform  # noqa: E402
from core.outcomes import Outcome  # noqa: E402
from core.secrets import Secret  # noqa: E402

KEY = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
WRONG_IV = bytes.fromhex("f0e1d2c3b4a5968778695a4b3c2d1e0f")
_FIRST = ("alice", "bruno", "chloe", "dora", "eve", "farid", "gina", "hugo", "ines", "jules")
_LAST = ("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand")
_DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.fr")


def _emails(count: int, rng: random.Random, prefix: str = "") -> list[str]:
    return [
        f"{prefix}{rng.choice(_FIRST)}.{rng.choice(_LAST)}{i}@{rng.choice(_DOMAINS)}"
        for i in range(count)
    ]


def _codes(values: list[str], how: str) -> list[str]:
    if how == "ok":
        return [c.hex() for c in encrypt_batch(KEY, IV, [v.encode() for v in values])]
    if how == "iv":
        return [c.hex() for c in encrypt_batch(KEY, WRONG_IV, [v.encode() for v in values])]
    if how == "ecb":
        return [ecb_encrypt(KEY, pkcs7_pad(v.encode())).hex() for v in values]
    if how == "zero":
        padded = [v.encode() + b"\0" * (-len(v.encode()) % 16) for v in values]
        return [c.hex() for c in cbc_encrypt_blocks(KEY, IV, padded)]
    return [hashlib.sha256(v.encode()).hexdigest() for v in values]


def _misses(ds: DataSource, ids: list[str], known: set[str]) -> list[Miss]:
    """The misses with the outcome a dry run gives them (not timed)."""
    codec = IdCodec(ds, KEY, IV)
    out = []
    for n, (raw, got) in enumerate(zip(ids, codec.incoming(ids), strict=True), 1):
        if isinstance(got, Outcome):
            out.append(Miss("bench.sync", n, raw, got.value))
        elif got not in known:
            out.append(Miss("bench.sync", n, raw, "not_found"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = random.Random(18)
    profiles = _emails(args.profiles, rng)
    strangers = _emails(args.misses, rng, prefix="x")
    n = args.misses
    ds = DataSource(
        label="Declared - email",
        id_type=IdType.DECLARED,
        reconciliation_key="email",
        transform=Transform.AES,
        channel=Channel.EMAIL,
        aes_key=Secret("env", "K"),
        aes_iv=Secret("env", "V"),
    )
    t0 = time.perf_counter()
    true_misses = _codes(strangers, "ok")
    picks = rng.sample(profiles, n)
    cut = [0, int(n * 0.4), int(n * 0.5), int(n * 0.6), int(n * 0.7)]
    mixed = (
        _codes(picks[cut[0] : cut[1]], "iv")
        + _codes(picks[cut[1] : cut[2]], "ecb")
        + _codes(picks[cut[2] : cut[3]], "zero")
        + _codes(picks[cut[3] : cut[4]], "sha256")
        + true_misses[cut[4] :]
    )
    rng.shuffle(mixed)
    print(
        f"data: {args.profiles:,} profiles, {n:,} misses per set "
        f"(made in {time.perf_counter() - t0:.1f}s); load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    known = set(profiles)  # stands for the dry run's index, built before (not timed)

    def lookup(keys: Sequence[str]) -> list[bool]:
        return [k in known for k in keys]

    for name, ids in (("true misses", true_misses), ("mistakes", mixed)):
        misses = _misses(ds, ids, known)
        spread = Counter(m.outcome for m in misses)
        print(f"{name}: " + ", ".join(f"{o} {c:,}" for o, c in spread.most_common()))
        runs = (
            ("cap 20k, keys", 20_000, True),
            ("no cap, keys", 10**9, True),
            ("cap 20k, raw", 20_000, False),
        )
        for label, limit, keys in runs:
            values = ProfileValues(
                profiles, Channel.EMAIL, normalized=keys, contains=lookup if keys else None
            )
            start = time.perf_counter()
            causes = find_causes(ds, KEY, IV, misses, values, limit_per_outcome=limit)
            took = time.perf_counter() - start
            tested = sum(min(c, limit) for c in spread.values())
            found = ", ".join(f"{c.code} {c.count:,}" for c in causes) or "none"
            print(
                f"{name:12} {label:14} {took:6.3f}s  {tested / took:>10,.0f} misses/s  "
                f"profiles read {values.reads}x  causes: {found}"
            )


if __name__ == "__main__":
    main()
