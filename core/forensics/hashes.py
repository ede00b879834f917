"""The hypotheses of a hashed or clear data source: the other digest encoding, the digest
of another spelling or algorithm, and IDs that are AES ciphertext instead."""

from __future__ import annotations

from collections.abc import Sequence

from core.cipher import BLOCK, HASH_HEX_LENGTHS, KEY_SIZES, cbc_decrypt_blocks, pkcs7_unpad
from core.forensics.engine import _DIGEST_ALGOS, _HEX, Engine, _b64
from core.model import Transform


class HashHypotheses(Engine):
    """The tests run on the misses of a hashed (``hashed``) or clear (``clear``) data
    source."""

    def hashed(self) -> None:
        algo = self.ds.transform
        size = HASH_HEX_LENGTHS[algo] // 2
        same: list[tuple[int, Transform, bytes]] = []
        base: list[tuple[int, Transform, bytes]] = []
        other: list[tuple[int, Transform, bytes]] = []
        blocks: list[tuple[int, str, bytes]] = []
        for i in self.c.open():
            text = self.texts[i]
            data = bytes.fromhex(text) if _HEX.fullmatch(text) else None
            tag = ""
            if data is None:
                data = _b64(text)
                tag = "enc:base64"
            if data is None:
                continue
            if len(data) == size and not tag:
                same.append((i, algo, data))
            elif len(data) == size:
                base.append((i, algo, data))
            elif len(data) in _DIGEST_ALGOS:
                other.append((i, _DIGEST_ALGOS[len(data)], data))
            if len(data) % BLOCK == 0:
                blocks.append((i, tag, data))
        self.encrypted(blocks)
        self.confirm_digests(base, False, "ciphertext_encoding", lambda a: "enc:base64")
        self.confirm_digests(base, True, "ciphertext_encoding", lambda a: "enc:base64|raw")
        self.confirm_digests(same, True, "normalization", lambda a: f"norm:{a.value}")
        self.confirm_digests(other, False, "unknown", lambda a: f"algo:{a.value}")
        self.confirm_digests(other, True, "unknown", lambda a: f"algo:{a.value}:raw")
        # The shape alone, for lengths no digest has: AES-CBC output, not a hash.
        for i, t, data in self.live(blocks):
            if len(data) not in _DIGEST_ALGOS:
                self.c.claim(i, "hashed_not_encrypted", "|".join(x for x in ("aes:shape", t) if x))

    def encrypted(self, rows: Sequence[tuple[int, str, bytes]]) -> None:
        """IDs that decrypt to profiles' values with another data source's key and IV,
        for a data source that does not decrypt."""
        for label, okey, oiv in self.other_keys:
            live = self.live(rows)
            if not live or len(okey) not in KEY_SIZES or len(oiv) != BLOCK:
                continue
            dec = cbc_decrypt_blocks(okey, oiv, [d for _, _, d in live])
            self.confirm_tagged(
                [(i, t, pkcs7_unpad(p)) for (i, t, _), p in zip(live, dec, strict=True)],
                "hashed_not_encrypted",
                "aes:" + label,
            )

    def clear(self) -> None:
        self.digest_ids(self.c.open())
        rows: list[tuple[int, str, bytes]] = []
        for i in self.c.open():
            text = self.texts[i]
            if len(text) >= 32 and len(text) % 32 == 0 and _HEX.fullmatch(text):
                rows.append((i, "", bytes.fromhex(text)))
        self.encrypted(rows)
