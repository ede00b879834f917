"""Benchmark: per-record AES-256-CBC decryption vs the batch engine of core.cipher.

Run from the project root: ``.venv/bin/python bench/bench_cipher.py [N]`` (default
200,000 emails). Prints microseconds per record and the ratio. Each timing is
the best of a few runs.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.cipher import IdCodec, decrypt_batch, encrypt_batch
from core.model import Channel, DataSource, IdType, Transform
from core.secrets import Secret


def per_record_decrypt(key: bytes, iv: bytes, cts: list[bytes]) -> list[bytes | None]:
    """The baseline: a new Cipher, decryptor and unpadder for every record."""
    out: list[bytes | None] = []
    for ct in cts:
        dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        raw = dec.update(ct) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            out.append(unpadder.update(raw) + unpadder.finalize())
        except ValueError:
            out.append(None)
    return out


def per_record_encrypt(key: bytes, iv: bytes, plaintexts: list[bytes]) -> list[bytes]:
    out = []
    for p in plaintexts:
        padder = padding.PKCS7(128).padder()
        data = padder.update(p) + padder.finalize()
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        out.append(enc.update(data) + enc.finalize())
    return out


def best(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rng = random.Random(42)
    key, iv = os.urandom(32), os.urandom(16)
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    domains = ["example.com", "mail.example.org", "corp.example.net"]
    emails = [f"{rng.choice(names)}.{rng.randrange(10**6)}@{rng.choice(domains)}" for _ in range(n)]
    plain = [e.encode() for e in emails]
    cts = encrypt_batch(key, iv, plain)
    mean_len = sum(map(len, plain)) / n
    assert decrypt_batch(key, iv, cts) == plain == per_record_decrypt(key, iv, cts)
    assert per_record_encrypt(key, iv, plain) == cts

    print(f"AES-256-CBC, {n:,} emails of {mean_len:.1f} bytes on average, best of 3")
    base = best(lambda: per_record_decrypt(key, iv, cts))
    batch = best(lambda: decrypt_batch(key, iv, cts))
    print(f"decrypt  per-record (new Cipher each): {base / n * 1e6:6.2f} µs/record")
    print(f"decrypt  batch (one ECB call + numpy): {batch / n * 1e6:6.2f} µs/record")
    print(f"decrypt  speed-up: {base / batch:.1f}x")
    ebase = best(lambda: per_record_encrypt(key, iv, plain))
    ebatch = best(lambda: encrypt_batch(key, iv, plain))
    print(f"encrypt  per-record (new Cipher each): {ebase / n * 1e6:6.2f} µs/record")
    print(f"encrypt  batch (per block position):   {ebatch / n * 1e6:6.2f} µs/record")
    print(f"encrypt  speed-up: {ebase / ebatch:.1f}x")

    ds = DataSource(
        label="bench",
        id_type=IdType.DECLARED,
        reconciliation_key="email",
        transform=Transform.AES,
        aes_key=Secret("env", "K"),
        aes_iv=Secret("env", "I"),
        channel=Channel.EMAIL,
    )
    codec = IdCodec(ds, key, iv)
    hex_ids = [c.hex() for c in cts]
    full = best(lambda: codec.incoming(hex_ids))
    print(
        f"IdCodec.incoming (hex decode + decrypt + UTF-8 + email check): "
        f"{full / n * 1e6:6.2f} µs/record"
    )


if __name__ == "__main__":
    main()
