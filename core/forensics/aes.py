"""The hypotheses of an AES data source: the other ciphertext encoding, a passphrase,
zero padding, ECB, a wrong IV (recovered from the IDs), the key's hex text as key,
a shorter key, and digests sent instead of ciphertext."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import islice

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.cipher import (
    BLOCK,
    KEY_SIZES,
    cbc_decrypt_blocks,
    decode_ciphertext,
    ecb_decrypt,
    pkcs7_unpad,
)
from core.cryptojs import evp_bytes_to_key, rijndael_cbc_decrypt
from core.forensics.engine import _HEX, Engine, _b64, _spread, _text
from core.forensics.types import MIN_TAIL
from core.model import CipherEncoding

_PROBE = 1024  # misses on which costly variants are tried before running the winners on all
_VOTERS = 256  # rows (with a tail) the website's IV is recovered from
_ENOUGH_VOTES = 4  # votes for one IV after which the column is not scanned further
_SALTED = b"Salted__"


class AesHypotheses(Engine):
    """The tests run on the misses of an AES data source (``aes`` runs them all)."""

    def views(self, indexes: Sequence[int]) -> list[tuple[int, str, bytes]]:
        """The bytes of each ID: as configured (tag ``""``), and read in the other
        encoding when the text is valid in it (tag ``enc:<encoding>``)."""
        enc = self.ds.ciphertext_encoding
        out: list[tuple[int, str, bytes]] = []
        for i in indexes:
            text = self.texts[i]
            data = decode_ciphertext(text, enc)
            if data:
                out.append((i, "", data))
            if enc is CipherEncoding.HEX:
                if data is None:
                    other = _b64(text)
                    if other:
                        url = "-" in text or "_" in text or (len(text) % 4 and "=" not in text)
                        out.append((i, "enc:base64url" if url else "enc:base64", other))
            elif _HEX.fullmatch(text):
                out.append((i, "enc:hex", bytes.fromhex(text)))
        return out

    def aes(self) -> None:
        key, iv = self.key, self.iv
        assert key is not None and iv is not None
        # not_found: the reader decrypted the ID to a well-formed value, so key, IV, mode
        # and padding are right (a garbled first block passing as an address would be
        # a 1-in-billions chance): no website mistake to look for.
        for i, miss in enumerate(self.c.misses):
            if miss.outcome == "not_found":
                self.c.settled.add(i)
        rows = self.views(self.c.open())
        blocks = [(i, t, d) for i, t, d in rows if len(d) % BLOCK == 0]
        plain = dict(
            zip(
                [(i, t) for i, t, _ in blocks],
                cbc_decrypt_blocks(key, iv, [d for _, _, d in blocks]),
                strict=True,
            )
        )
        # A miss whose configured reading decrypts to text: key, IV and mode are right.
        for (i, tag), raw in plain.items():
            if not tag and _text(pkcs7_unpad(raw)) is not None:
                self.c.settled.add(i)
        # ciphertext_encoding: the other reading decrypts to a profile's value.
        self.confirm_tagged(
            [
                (i, tag, pkcs7_unpad(raw))
                for (i, tag), raw in plain.items()
                if tag and i not in self.c.settled
            ],
            "ciphertext_encoding",
        )
        self.passphrase(rows)
        done = self.c.settled
        live = [(i, t, d) for i, t, d in blocks if i not in self.c.found and i not in done]
        # zero_padding: the plaintext ends in zero bytes (or, at a multiple of 16 bytes,
        # in nothing at all) instead of PKCS#7.
        self.confirm_tagged(
            [(i, t, plain[(i, t)].rstrip(b"\0")) for i, t, _ in live], "zero_padding"
        )
        live = self.live(live)
        # ecb_mode: every block alone (multi-block IDs: one block is CBC with a zero IV).
        multi = [(i, t, d) for i, t, d in live if len(d) > BLOCK]
        if multi:
            ecb = ecb_decrypt(key, b"".join(d for _, _, d in multi))
            rows_ecb: list[tuple[int, str, bytes | None]] = []
            at = 0
            for i, t, d in multi:
                rows_ecb.append((i, t, pkcs7_unpad(ecb[at : at + len(d)])))
                at += len(d)
            self.confirm_tagged(rows_ecb, "ecb_mode")
        live = self.live(live)
        self.wrong_iv(live, plain)
        if any(code == "ecb_mode" for code, _ in self.c.found.values()):
            # One-block IDs under ECB look like CBC with an all-zero IV: ECB it is.
            for i, (code, tag) in list(self.c.found.items()):
                if code == "wrong_iv" and tag.startswith("iv:same:zero"):
                    self.c.found[i] = ("ecb_mode", tag[len("iv:same:zero") :].lstrip("|"))
            self.ivs.discard(bytes(BLOCK))
        live = self.live(live)
        self.key_text(live)
        live = self.live(live)
        self.digest_ids(self.c.open())

    def passphrase(self, rows: Sequence[tuple[int, str, bytes]]) -> None:
        key = self.key
        assert key is not None
        salted = [
            (i, t, d)
            for i, t, d in rows
            if d.startswith(_SALTED)
            and len(d) >= 32
            and len(d) % BLOCK == 0
            and i not in self.c.found
        ]
        if not salted:
            return
        phrases = [key.hex().encode(), key.hex().upper().encode()]
        variants = [
            (phrase, size, digest)
            for digest in ("md5", "sha256")
            for phrase in phrases
            for size in (32, 24, 16)
        ]

        def attempt(
            variant: tuple[bytes, int, str], items: Sequence[tuple[int, str, bytes]]
        ) -> int:
            phrase, size, digest = variant
            out: list[tuple[int, str, bytes | None]] = []
            for i, t, d in items:
                dkey, div = evp_bytes_to_key(phrase, d[8:16], size, digest)
                dec = Cipher(algorithms.AES(dkey), modes.CBC(div)).decryptor()
                out.append((i, t, pkcs7_unpad(dec.update(d[16:]) + dec.finalize())))
            before = len(self.c.found)
            tag = "pass:md5" if digest == "md5" else "pass:sha256"
            self.confirm_tagged(out, "passphrase_mode", tag)
            return len(self.c.found) - before

        probe = list(_spread(salted, 32))
        winners = [v for v in variants if attempt(v, self.live(probe))]
        for variant in winners:
            attempt(variant, self.live(salted))
        for i, t, _ in salted:  # the header alone: another passphrase
            self.c.claim(i, "passphrase_mode", "|".join(x for x in ("pass:shape", t) if x))

    def wrong_iv(
        self, live: Sequence[tuple[int, str, bytes]], plain: Mapping[tuple[int, str], bytes]
    ) -> None:
        key, iv = self.key, self.iv
        assert key is not None and iv is not None
        # The IV sent in front of the ID: blocks 2..n are the whole value.
        self.confirm_tagged(
            [(i, t, pkcs7_unpad(plain[(i, t)][BLOCK:])) for i, t, d in live if len(d) > BLOCK],
            "wrong_iv",
            "iv:prepended",
        )
        live = self.live(live)
        # The tails: valid padding, a garbled first block, 6 bytes or more after it.
        tails: dict[tuple[int, str], bytes] = {}
        for i, t, _ in live:
            raw = plain[(i, t)]
            unpadded = pkcs7_unpad(raw)
            if (
                unpadded is not None
                and len(unpadded) >= BLOCK + MIN_TAIL
                and _text(raw[:BLOCK]) is None
                and _text(unpadded[BLOCK:]) is not None
            ):
                tails[(i, t)] = unpadded[BLOCK:]
        # Each profile ending like a row gives one candidate IV for it; the website's IV,
        # if it is one for all, comes back from every row, a wrong candidate from one.
        named = {c: name for c, name in _named_ivs(key, iv)}
        tried: set[bytes] = set()
        voters = list(_spread(list(tails), _VOTERS))
        known = False  # whether ``tails`` holds only tails that end some profile's value
        for _ in range(3):  # the rows left after each IV found may have another one
            votes = self._votes(voters, tails, plain, iv)
            # One website IV seen twice (or the only one): decrypt every miss with it.
            candidates = [v for v, n in votes.most_common(3) if n >= 2 or len(votes) == 1]
            fresh = [c for c in candidates if c not in tried]
            if not fresh:
                break
            tried.update(fresh)
            self.try_ivs(live, fresh, named)
            # The rows left: only those ending some profile's value can tell more.
            tails = self._known({r: t for r, t in tails.items() if r[0] not in self.c.found})
            known = True
            voters = list(_spread(list(tails), _VOTERS))
        if not known:
            tails = self._known(tails)
        self.try_ivs(live, [c for c in named if c not in tried], named)
        # The rest of the tails (each ends a profile's value): the IV changes from one ID
        # to the next, unless a named IV above explained it.
        for i, t in tails:
            if i not in self.c.found:
                self.c.claim(i, "wrong_iv", "|".join(x for x in ("iv:varies", t) if x))

    def _known(self, tails: Mapping[tuple[int, str], bytes]) -> dict[tuple[int, str], bytes]:
        """The rows whose tail ends some profile's value."""
        rows = list(tails)
        hits = self.p.known_tails([tails[row] for row in rows])
        return {row: tails[row] for row, ok in zip(rows, hits, strict=True) if ok}

    def _votes(
        self,
        voters: Sequence[tuple[int, str]],
        tails: Mapping[tuple[int, str], bytes],
        plain: Mapping[tuple[int, str], bytes],
        iv: bytes,
    ) -> Counter[bytes]:
        """Candidate website IVs and their votes: for each voter row and each profile
        ending like it (at most ``_TAIL_CHOICES`` per tail), the IV that turns that
        profile's first block into the row's. The column is scanned until one IV has
        ``_ENOUGH_VOTES`` (a wrong candidate gets one vote, never more: any IV found
        is then checked on every miss, so stopping early loses no claim)."""
        votes: Counter[bytes] = Counter()
        if not voters:
            return votes
        by_tail: dict[bytes, list[bytes]] = {}
        for row in voters:  # what the website's first block xor our IV gives, per row
            site_first = bytes(a ^ b for a, b in zip(plain[row][:BLOCK], iv, strict=True))
            by_tail.setdefault(tails[row], []).append(site_first)
        for tail, first in self.p.tail_matches(set(by_tail)):
            best = 0
            for site_first in set(by_tail[tail]):
                cand = bytes(a ^ b for a, b in zip(first, site_first, strict=True))
                votes[cand] += 1
                best = max(best, votes[cand])
            if best >= _ENOUGH_VOTES:
                break
        return votes

    def try_ivs(
        self,
        live: Sequence[tuple[int, str, bytes]],
        ivs: Sequence[bytes],
        named: Mapping[bytes, str],
    ) -> None:
        """Decrypt the rows still open with each IV; claim those giving profiles' values."""
        key = self.key
        assert key is not None
        for site_iv in ivs:
            rows = self.live(live)
            if not rows:
                break
            dec = cbc_decrypt_blocks(key, site_iv, [d for _, _, d in rows])
            tag = "iv:same" + (":" + named[site_iv] if site_iv in named else "")
            before = len(self.c.found)
            self.confirm_tagged(
                [(i, t, pkcs7_unpad(p)) for (i, t, _), p in zip(rows, dec, strict=True)],
                "wrong_iv",
                tag,
            )
            if len(self.c.found) > before:
                self.ivs.add(site_iv)

    def key_text(self, live: Sequence[tuple[int, str, bytes]]) -> None:
        key, iv = self.key, self.iv
        assert key is not None and iv is not None
        variants: list[tuple[bytes, bytes, str, str]] = []
        iv_forms = [
            (iv, ""),
            (iv.hex().encode()[:BLOCK], ":ivtext"),
            (iv.hex().upper().encode()[:BLOCK], ":ivtext"),
        ]
        for text in (key.hex().encode(), key.hex().upper().encode()):
            sizes = [len(text)] + [s for s in KEY_SIZES if s < len(text)]
            for size in sizes:
                kind = "text:full" if size == len(text) else f"text:{size}"
                for site_iv, note in iv_forms:
                    variants.append((text[:size], site_iv, "key_as_text", kind + note))
        for size in KEY_SIZES:
            if size < len(key):
                variants.append((key[:size], iv, "wrong_key", f"key:first{size}"))
        seen: set[tuple[bytes, bytes]] = set()
        unique = []
        for v in variants:
            if (v[0], v[1]) not in seen:
                seen.add((v[0], v[1]))
                unique.append(v)

        def attempt(
            variant: tuple[bytes, bytes, str, str], rows: Sequence[tuple[int, str, bytes]]
        ) -> int:
            vkey, viv, code, tag = variant
            if not rows:
                return 0
            dec = rijndael_cbc_decrypt(vkey, viv, [d for _, _, d in rows])
            before = len(self.c.found)
            self.confirm_tagged(
                [(i, t, pkcs7_unpad(p)) for (i, t, _), p in zip(rows, dec, strict=True)],
                code,
                tag,
            )
            return len(self.c.found) - before

        probe = list(islice(_spread(live, _PROBE), _PROBE))
        winners = [v for v in unique if attempt(v, self.live(probe))]
        for variant in winners:
            attempt(variant, self.live(live))


def _named_ivs(key: bytes, iv: bytes) -> list[tuple[bytes, str]]:
    """IVs websites use by mistake, each with a name for the detail."""
    cands = [
        (bytes(BLOCK), "zero"),
        (key[:BLOCK], "key_start"),
        (key[-BLOCK:], "key_end"),
        (iv.hex().encode()[:BLOCK], "iv_text"),
        (iv.hex().upper().encode()[:BLOCK], "iv_text"),
        (key.hex().encode()[:BLOCK], "key_text"),
    ]
    out: list[tuple[bytes, str]] = []
    for cand, name in cands:
        if cand != iv and all(cand != c for c, _ in out):
            out.append((cand, name))
    return out
