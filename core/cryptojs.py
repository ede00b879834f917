"""What CryptoJS and OpenSSL's passphrase mode do with a key, for the forensics.

Two website mistakes produce ciphertexts no standard AES call reads back:

- ``CryptoJS.enc.Utf8.parse(hexKey)`` turns a 48- or 64-character hex key into a
  48- or 64-byte key. CryptoJS does not refuse it: its AES takes ``Nk`` = key
  bytes / 4 words and ``Nk + 6`` rounds (18 or 22), with the Rijndael key
  schedule extended to that ``Nk`` (checked against crypto-js 4.2.0 in
  tests/test_forensics.py). ``rijndael_cbc_decrypt`` decrypts that, in numpy,
  for any key of 16 bytes or more that is a multiple of 4 bytes; for 16/24/32
  bytes it is plain AES and the ``cryptography`` library does the work.
- ``CryptoJS.AES.encrypt(value, "text")`` and ``openssl enc -pass`` derive key
  and IV from a passphrase and a random salt with ``EVP_BytesToKey``
  (``evp_bytes_to_key``) and write ``Salted__`` + salt + ciphertext.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from core.cipher import BLOCK, KEY_SIZES, cbc_decrypt_blocks

__all__ = ["evp_bytes_to_key", "rijndael_cbc_decrypt"]


def evp_bytes_to_key(
    passphrase: bytes, salt: bytes, size: int, digest: str = "md5"
) -> tuple[bytes, bytes]:
    """OpenSSL's ``EVP_BytesToKey`` with one iteration: ``(key of size bytes, 16-byte IV)``."""
    data = b""
    block = b""
    while len(data) < size + BLOCK:
        block = hashlib.new(digest, block + passphrase + salt, usedforsecurity=False).digest()
        data += block
    return data[:size], data[size : size + BLOCK]


# ------------------------------------------------------------------ Rijndael tables


def _xtime(a: int) -> int:
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _gmul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = _xtime(a)
        b >>= 1
    return out


def _sbox() -> list[int]:
    # Inverses in GF(2^8) from powers of the generator 3: 3^k * 3^(255-k) = 1.
    power = [1] * 256
    for k in range(1, 256):
        power[k] = power[k - 1] ^ _xtime(power[k - 1])  # times 3 = times 2 xor itself
    inverse = [0] * 256
    for k in range(255):
        inverse[power[k]] = power[(255 - k) % 255]
    box = []
    for x in range(256):
        b = inverse[x]
        s = b
        for shift in range(1, 5):
            s ^= ((b << shift) | (b >> (8 - shift))) & 0xFF
        box.append(s ^ 0x63)
    return box


@lru_cache(maxsize=1)
def _tables() -> tuple[list[int], np.ndarray, tuple[np.ndarray, ...]]:
    box = _sbox()
    inv = np.zeros(256, dtype=np.uint8)
    for x, s in enumerate(box):
        inv[s] = x
    muls = tuple(
        np.array([_gmul(x, m) for x in range(256)], dtype=np.uint8) for m in (9, 11, 13, 14)
    )
    return box, inv, muls


def _round_keys(key: bytes) -> np.ndarray:
    """The key schedule as CryptoJS computes it for ``len(key) // 4`` words: (rounds+1, 16)."""
    box = _tables()[0]
    nk = len(key) // 4
    rounds = nk + 6
    words = [int.from_bytes(key[4 * i : 4 * i + 4], "big") for i in range(nk)]
    rcon = 1
    rcons = [0]
    for _ in range(1, 4 * (rounds + 1) // nk + 2):
        rcons.append(rcon)
        rcon = _xtime(rcon)

    def sub(word: int) -> int:
        return int.from_bytes(bytes(box[b] for b in word.to_bytes(4, "big")), "big")

    for i in range(nk, 4 * (rounds + 1)):
        t = words[i - 1]
        if i % nk == 0:
            t = sub(((t << 8) | (t >> 24)) & 0xFFFFFFFF) ^ (rcons[i // nk] << 24)
        elif nk > 6 and i % nk == 4:
            t = sub(t)
        words.append(words[i - nk] ^ t)
    flat = b"".join(w.to_bytes(4, "big") for w in words)
    return np.frombuffer(flat, dtype=np.uint8).reshape(rounds + 1, BLOCK)


# State byte i is row i % 4, column i // 4; InvShiftRows moves row r right by r.
_INV_SHIFT = np.array([(i % 4) + 4 * (((i // 4) - (i % 4)) % 4) for i in range(BLOCK)])


def _decrypt_blocks(key: bytes, blocks: np.ndarray) -> np.ndarray:
    """Rijndael decryption of (n, 16) blocks with CryptoJS's schedule for this key."""
    _, inv, (m9, m11, m13, m14) = _tables()
    keys = _round_keys(key)
    rounds = keys.shape[0] - 1
    state = blocks ^ keys[rounds]
    for r in range(rounds - 1, 0, -1):
        state = inv[state[:, _INV_SHIFT]] ^ keys[r]
        cols = state.reshape(-1, 4, 4)
        a0, a1, a2, a3 = cols[:, :, 0], cols[:, :, 1], cols[:, :, 2], cols[:, :, 3]
        mixed = np.empty_like(cols)
        mixed[:, :, 0] = m14[a0] ^ m11[a1] ^ m13[a2] ^ m9[a3]
        mixed[:, :, 1] = m9[a0] ^ m14[a1] ^ m11[a2] ^ m13[a3]
        mixed[:, :, 2] = m13[a0] ^ m9[a1] ^ m14[a2] ^ m11[a3]
        mixed[:, :, 3] = m11[a0] ^ m13[a1] ^ m9[a2] ^ m14[a3]
        state = mixed.reshape(-1, BLOCK)
    return inv[state[:, _INV_SHIFT]] ^ keys[0]


def rijndael_cbc_decrypt(key: bytes, iv: bytes, records: Sequence[bytes]) -> list[bytes]:
    """CBC decryption without unpadding, as CryptoJS does it with a key of any length.

    ``key``: 16 bytes or more, a multiple of 4. Each record a multiple of 16 bytes.
    """
    if len(key) in KEY_SIZES:
        return cbc_decrypt_blocks(key, iv, records)
    if len(key) < 16 or len(key) % 4 or len(iv) != BLOCK:
        raise ValueError("a CryptoJS key is 16 bytes or more, in whole 4-byte words")
    if any(len(r) % BLOCK for r in records):
        raise ValueError("every record must be a multiple of 16 bytes")
    blob = b"".join(records)
    if not blob:
        return [b""] * len(records)
    ct = np.frombuffer(blob, dtype=np.uint8).reshape(-1, BLOCK)
    plain = _decrypt_blocks(key, ct)
    prev = np.empty_like(ct)
    prev[1:] = ct[:-1]
    lengths = np.array([len(r) // BLOCK for r in records], dtype=np.int64)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    prev[starts[lengths > 0]] = np.frombuffer(iv, dtype=np.uint8)
    flat = (plain ^ prev).tobytes()
    bounds = zip(starts.tolist(), ends.tolist(), strict=True)
    return [flat[s * BLOCK : e * BLOCK] for s, e in bounds]
