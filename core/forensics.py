"""Forensics: which website mistake explains a data source's unreconciled IDs.

``crypto diagnose`` (core/diagnose.py) needs one sample *and* its clear value.
Here there is no clear value, but the profiles are in hand: each hypothesis of
docs/reference.md §7 is tested blind, on the misses of one data source, and a
cause is claimed only when it explains the data, i.e. when the ID, read the way
the mistake implies, gives a profile's normalized value (or its digest):

- ``ciphertext_encoding``: the ID read in the other encoding (hex/base64) decrypts
  to a profile's value (hashed sources: a base64 digest of one).
- ``passphrase_mode``: ``Salted__`` + salt + ciphertext (base64 ``U2FsdGVkX1``);
  key and IV from ``EVP_BytesToKey`` with the key's hex text as passphrase
  (CryptoJS.AES.encrypt(value, "hexkey"), ``openssl enc -pass``). With another
  passphrase the header alone is reported, saying it is not confirmed.
- ``zero_padding``: the plaintext ends in zero bytes instead of PKCS#7.
- ``ecb_mode``: ECB decryption of a multi-block ID gives a profile's value.
- ``wrong_iv``: CBC with another IV garbles only the first block. The rest (6
  bytes or more) is the tail of profiles' values; from those the website's IV
  is recovered (IV xor the garbled block xor the profile's first block) and, if
  one IV serves every ID, all misses are decrypted with it, short values
  included. The IV is compared, never shown: the same for all, another per ID
  (random, not sent), sent in front of the ID, all zero, or part of the key.
- ``key_as_text``: the key's hex text used as key bytes: CryptoJS
  ``Utf8.parse`` (32/48/64 bytes, see core/cryptojs.py) or a string truncated
  to 16/24/32 bytes (PHP, Node); the IV possibly treated the same way.
- ``wrong_key``: only the first 16/24 bytes of the key (a shorter AES).
- ``hashed_not_encrypted``: the ID is the MD5/SHA-1/SHA-256 digest (hex or
  base64) of a profile's value, for an AES or clear data source; for a hashed
  data source, the reverse: IDs shaped like AES ciphertext (whole 16-byte
  blocks, not the digest's length), decrypted with another data source's key
  when one is given, else reported by their shape, saying so.
- ``normalization`` (hashed sources): the digest of the value as stored (not
  trimmed, not lower-cased) or of another spelling of a phone number; for
  channel Other, where Campaign hashes the value as stored, the digest of the
  value trimmed and lower-cased, as ``setCustomerIDs(..., "SHA-256")`` of the
  Experience Cloud ID service does (its count: the ``not_found`` IDs that would
  match under that normalization).
- ``unknown`` (hashed sources): the digest of another algorithm, named in the
  detail (§7 has no code of its own for it; ``crypto diagnose`` says the same).

``hex_case`` is never a cause of a miss: the reader takes hex in any case
(core/cipher.py), so upper-case IDs reconcile; nor is ``normalization`` for AES
or clear data sources, whose decrypted values are normalized before lookup.

Wiring into a run: per routed data source, a ``MissSample`` fed with each
unreconciled line (file, line, the raw ID as read, that data source's own
outcome, ``not_found`` when it decoded the ID); after the batch,
``find_causes(ds, key, iv, sample.misses, ProfileValues.from_profiles(profiles,
ds, contains=...), totals=sample.totals)``. ``contains`` may be the run's index
lookup for AES and clear data sources; the column is then read again only when
a hypothesis needs the values themselves.

Work is bounded: at most ``limit_per_outcome`` misses per outcome are tested,
spread evenly over the file (``MissSample`` does the same while a run streams).
Decryption is batched (core/cipher.py); the profile side is read only for the
hypotheses that need it (tails, digests), once. Details and fixes never hold a
key, an IV or a profile's value.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.cipher import (
    BLOCK,
    HASH_HEX_LENGTHS,
    KEY_SIZES,
    cbc_decrypt_blocks,
    decode_ciphertext,
    ecb_decrypt,
    pkcs7_unpad,
)
from core.cryptojs import evp_bytes_to_key, rijndael_cbc_decrypt
from core.model import Channel, CipherEncoding, DataSource, IdType, Transform
from core.normalize import normalize_batch
from core.profiles import ProfileSource

__all__ = [
    "DEFAULT_LIMIT",
    "MIN_TAIL",
    "Cause",
    "Miss",
    "MissSample",
    "ProfileValues",
    "find_causes",
]

DEFAULT_LIMIT = 20_000
MIN_TAIL = 6  # bytes of a value after its first block needed to name it by its tail
_PROBE = 1024  # misses on which costly variants are tried before running the winners on all
_TAIL_CHOICES = 64  # profiles sharing a tail that are tried to recover the website's IV
_DIGEST_GATE = 100_000  # column size above which digests are first tried on a sample
_VOTERS = 256  # rows (with a tail) the website's IV is recovered from
_SALTED = b"Salted__"
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_DIGEST_ALGOS = {16: Transform.MD5, 20: Transform.SHA1, 32: Transform.SHA256}
_ALGO_NAMES = {Transform.MD5: "MD5", Transform.SHA1: "SHA-1", Transform.SHA256: "SHA-256"}
_SCREEN = "Administration > Application settings > Shared Data Sources"


# ------------------------------------------------------------------ inputs and result


@dataclass(frozen=True)
class Miss:
    """One unreconciled line of a data source: where it is, its ID, its outcome."""

    file: str
    line: int
    raw_id: str
    outcome: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else str(self.line)


@dataclass(frozen=True)
class Cause:
    """A website mistake found in a data source's misses.

    ``outcome`` is the outcome most of its lines fell under (``outcomes`` has
    them all); ``count`` the lines it explains among those tested; ``examples``
    one or two ``file:line``.
    """

    code: str
    outcome: str
    count: int
    detail: str
    fix: str
    examples: tuple[str, ...]
    outcomes: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "outcome": self.outcome,
            "count": self.count,
            "detail": self.detail,
            "fix": self.fix,
            "examples": list(self.examples),
        }


class MissSample:
    """Misses collected while a run streams: every one up to ``cap`` per outcome, then
    an evenly spread subset (every 2nd, 4th, ... line of that outcome)."""

    def __init__(self, cap: int = DEFAULT_LIMIT) -> None:
        self.cap = max(1, cap)
        self._kept: dict[str, list[Miss]] = {}
        self._stride: dict[str, int] = {}
        self.totals: Counter[str] = Counter()

    def add(self, file: str, line: int, raw_id: str, outcome: str) -> None:
        seen = self.totals[outcome]
        self.totals[outcome] = seen + 1
        stride = self._stride.get(outcome, 1)
        if seen % stride:
            return
        kept = self._kept.setdefault(outcome, [])
        kept.append(Miss(file, line, raw_id, outcome))
        if len(kept) > self.cap:
            kept[:] = kept[::2]
            self._stride[outcome] = stride * 2

    @property
    def misses(self) -> list[Miss]:
        return [m for kept in self._kept.values() for m in kept]


class ProfileValues:
    """The data source's reconciliation column, as the hypotheses need it.

    ``values`` gives the column's values as stored (an iterable, or a function
    returning one, called at most once, and only when a hypothesis needs the
    values: tails, digests), or, with ``normalized=True``, the normalized keys
    the reconciliation indexes for an AES or clear data source (no
    normalization redone; the "value as stored" digests are then not tried).
    ``contains`` answers, for normalized values, whether a profile has them; by
    default a set of the normalized values (a caller holding its own index of
    them, as the reconciliation does, passes its lookup and saves the set).

    Digests of a large column are computed only when worth it: for more than
    ``_DIGEST_GATE`` values, a spread sample of that many is hashed first, and
    if none of many ID digests (3 or more expected hits were they all digests
    of profiles) is in it, the full index is not built. This can only lose a
    finding (a few digests among many other misses), never make one up.
    """

    def __init__(
        self,
        values: Iterable[str | None] | Callable[[], Iterable[str | None]],
        channel: Channel,
        *,
        normalized: bool = False,
        contains: Callable[[Sequence[str]], Sequence[bool]] | None = None,
    ) -> None:
        self.channel = channel
        self.normalized = normalized
        self._source = values
        self._contains = contains
        self._raw: list[str] | None = None
        self._normals: list[str] | None = None
        self._set: frozenset[str] | None = None
        self._digests: dict[tuple[Transform, bool], _Digests] = {}
        self._samples: dict[tuple[Transform, bool], tuple[_Digests, int]] = {}
        self._tails: list[str] | None = None
        self._tail_set: frozenset[bytes] | None = None
        self.reads = 0  # how often the values were read (tests, bench)

    @classmethod
    def from_profiles(
        cls,
        profiles: ProfileSource,
        ds: DataSource,
        *,
        contains: Callable[[Sequence[str]], Sequence[bool]] | None = None,
    ) -> ProfileValues:
        """The column of ``ds`` in ``profiles``, read (once) only if a hypothesis needs it.

        For a run that holds its index: ``contains=lambda keys: index.find(keys) >= 0``
        (AES and clear data sources; the keys of a hashed one are digests, not values).
        """

        def column() -> Iterator[str]:
            for _, values in profiles.column_chunks(ds.reconciliation_key):
                yield from values

        return cls(column, ds.channel, contains=contains)

    def raw(self) -> list[str]:
        if self._raw is None:
            source = self._source() if callable(self._source) else self._source
            self._raw = [v for v in source if v]
            self.reads += 1
        return self._raw

    def normals(self) -> list[str]:
        """The normalized values (the profile side's keys before hashing)."""
        if self._normals is None:
            if self.normalized:
                self._normals = self.raw()
            else:
                self._normals = [v for v in normalize_batch(self.raw(), self.channel) if v]
        return self._normals

    def has(self, values: Sequence[str]) -> list[bool]:
        if not values:
            return []
        if self._contains is not None:
            return [bool(x) for x in self._contains(values)]
        if self._set is None:
            self._set = frozenset(self.normals())
        known = self._set
        return [v in known for v in values]

    def variants(self) -> list[str]:
        """Other spellings of the values a careless website hashes: as stored, trimmed only,
        lower-cased only; for phone numbers also without ``+`` or with ``00``. For channel
        Other (Campaign compares the value as stored) the other spellings are the trimmed
        and lower-cased ones: what the Experience Cloud ID service's
        ``setCustomerIDs(..., "SHA-256")`` hashes (docs/adobe.md, [ID-hashing])."""
        if self.normalized:
            return []
        raw = self.raw()
        normal = normalize_batch(raw, self.channel)
        out: set[str] = set()
        for value, norm in zip(raw, normal, strict=True):
            if norm is None:
                continue
            if self.channel is Channel.OTHER:
                for other in (value.strip().lower(), value.strip(), value.lower()):
                    if other and other != value:
                        out.add(other)
                continue
            if value != norm:
                for other in (value, value.strip(), value.lower(), value.strip().lower()):
                    if other != norm:
                        out.add(other)
            if self.channel is Channel.SMS and norm.startswith("+"):
                out.update((norm[1:], "00" + norm[1:]))
        return sorted(out)

    def digest_hits(self, algo: Transform, variants: bool, digests: Sequence[bytes]) -> list[bool]:
        """Whether each digest is ``algo``'s of a normalized value (``variants``: of another
        spelling of one), gated by a sample for a large column (see the class)."""
        key = (algo, variants)
        index = self._digests.get(key)
        if index is None:
            values = self.variants() if variants else self.normals()
            if len(values) > _DIGEST_GATE:
                sample, step = self._samples.get(key) or (None, 0)
                if sample is None:
                    step = len(values) // _DIGEST_GATE
                    sample = _Digests(algo, values[::step])
                    self._samples[key] = (sample, step)
                if not any(sample.find(digests)) and len(digests) / step >= 3:
                    return [False] * len(digests)
            index = _Digests(algo, values)
            self._digests[key] = index
        return index.find(digests)

    def _cut(self) -> tuple[list[str], list[str]] | None:
        """The values and their tails as text, when all are ASCII (bytes = characters)."""
        if self._tails is None:
            normals = self.normals()
            if "".join(normals).isascii():
                self._tails = [v[BLOCK:] for v in normals]
            else:
                self._tails = []
        if not self._tails and self.normals():
            return None
        return self.normals(), self._tails

    def tails(self, wanted: set[bytes]) -> dict[bytes, list[bytes]]:
        """For each wanted tail (a value's bytes after its first 16), the first 16-byte
        blocks of values that end so (at most ``_TAIL_CHOICES`` each)."""
        out: dict[bytes, list[bytes]] = {}
        cut = self._cut()
        if cut is not None:
            want = {t.decode("ascii") for t in wanted if t.isascii()}
            normals, tails = cut
            if not want.intersection(tails):
                return out
            for value, tail in zip(normals, tails, strict=True):
                if tail in want:
                    firsts = out.setdefault(tail.encode("ascii"), [])
                    if len(firsts) < _TAIL_CHOICES:
                        firsts.append(value[:BLOCK].encode("ascii"))
                    else:
                        want.discard(tail)
            return out
        for value in self.normals():
            data = value.encode("utf-8")
            if data[BLOCK:] in wanted:
                firsts = out.setdefault(data[BLOCK:], [])
                if len(firsts) < _TAIL_CHOICES:
                    firsts.append(data[:BLOCK])
        return out

    def known_tails(self, tails: Sequence[bytes]) -> list[bool]:
        """Whether each tail ends some value (after its first 16 bytes)."""
        if not tails:
            return []
        if self._tail_set is None:
            cut = self._cut()
            if cut is not None:
                self._tail_set = frozenset(t.encode("ascii") for t in set(cut[1]) if t)
            else:
                self._tail_set = frozenset(v.encode("utf-8")[BLOCK:] for v in self.normals())
        known = self._tail_set
        return [t in known for t in tails]


class _Digests:
    """Sorted 64-bit prefixes of one algorithm's digests of some values."""

    def __init__(self, algo: Transform, values: Sequence[str]) -> None:
        import hashlib

        fn = {
            Transform.MD5: hashlib.md5,
            Transform.SHA1: hashlib.sha1,
            Transform.SHA256: hashlib.sha256,
        }[algo]
        blob = b"".join([fn(data).digest()[:8] for data in map(str.encode, values)])
        self.prefixes = np.sort(np.frombuffer(blob, dtype=">u8").astype(np.uint64))

    def find(self, digests: Sequence[bytes]) -> list[bool]:
        if not digests or not self.prefixes.size:
            return [False] * len(digests)
        query = np.frombuffer(b"".join(d[:8] for d in digests), dtype=">u8").astype(np.uint64)
        at = np.searchsorted(self.prefixes, query)
        at[at >= self.prefixes.size] = 0
        return (self.prefixes[at] == query).tolist()


# ------------------------------------------------------------------ bookkeeping


class _Claims:
    """The misses being tested and what explains each."""

    def __init__(self, misses: Sequence[Miss]) -> None:
        self.misses = list(misses)
        self.found: dict[int, tuple[str, str]] = {}
        self.settled: set[int] = set()  # decrypted cleanly: the website made no mistake

    def open(self) -> list[int]:
        return [i for i in range(len(self.misses)) if i not in self.found and i not in self.settled]

    def claim(self, index: int, code: str, tag: str) -> None:
        self.found.setdefault(index, (code, tag))


def _even(misses: Sequence[Miss], limit: int) -> tuple[list[Miss], Counter[str]]:
    """At most ``limit`` misses per outcome, evenly spread; and how many there were."""
    groups: dict[str, list[Miss]] = {}
    for miss in misses:
        groups.setdefault(miss.outcome, []).append(miss)
    out: list[Miss] = []
    totals: Counter[str] = Counter()
    for outcome, items in groups.items():
        totals[outcome] = len(items)
        if len(items) > limit:
            step = len(items) / limit
            items = [items[int(k * step)] for k in range(limit)]
        out.extend(items)
    return out, totals


def _b64(text: str) -> bytes | None:
    body = text.replace("-", "+").replace("_", "/")
    if not body or len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _text(plain: bytes | None) -> str | None:
    if plain is None:
        return None
    try:
        text = plain.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text and text.isprintable() else None


# ------------------------------------------------------------------ the engine


class _Engine:
    def __init__(
        self,
        ds: DataSource,
        key: bytes | None,
        iv: bytes | None,
        claims: _Claims,
        profiles: ProfileValues,
        other_keys: Sequence[tuple[str, bytes, bytes]],
        check: Callable[[], None],
    ) -> None:
        self.check = check
        self.ds = ds
        self.key = key
        self.iv = iv
        self.c = claims
        self.p = profiles
        self.other_keys = other_keys
        self.texts = [m.raw_id.strip() for m in claims.misses]
        self.ivs: set[bytes] = set()  # the website IVs recovered (compared, never shown)

    # -- confirming ---------------------------------------------------------------

    def confirm(self, rows: Sequence[tuple[int, bytes | None]], code: str, tag: str) -> int:
        """Claim each row whose plaintext, normalized, is a profile's value."""
        texts: list[str] = []
        where: list[int] = []
        for index, plain in rows:
            if index in self.c.found:
                continue
            text = _text(plain)
            if text is not None:
                texts.append(text)
                where.append(index)
        normal = normalize_batch(texts, self.ds.channel)
        keep = [(i, n) for i, n in zip(where, normal, strict=True) if n is not None]
        known = self.p.has([n for _, n in keep])
        done = 0
        for (index, _), hit in zip(keep, known, strict=True):
            if hit and index not in self.c.found:
                self.c.claim(index, code, tag)
                done += 1
        return done

    def confirm_digests(
        self,
        rows: Sequence[tuple[int, Transform, bytes]],
        variants: bool,
        code: str,
        tag: Callable[[Transform], str],
    ) -> None:
        self.check()
        by_algo: dict[Transform, list[tuple[int, bytes]]] = {}
        for index, algo, digest in rows:
            if index not in self.c.found:
                by_algo.setdefault(algo, []).append((index, digest))
        for algo, items in by_algo.items():
            hits = self.p.digest_hits(algo, variants, [d for _, d in items])
            for (index, _), hit in zip(items, hits, strict=True):
                if hit:
                    self.c.claim(index, code, tag(algo))

    # -- AES data sources ---------------------------------------------------------

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

    def live(self, rows: Sequence[tuple[int, str, bytes]]) -> list[tuple[int, str, bytes]]:
        return [r for r in rows if r[0] not in self.c.found]

    def confirm_tagged(
        self, rows: Sequence[tuple[int, str, bytes | None]], code: str, tag: str = ""
    ) -> None:
        self.check()
        by_tag: dict[str, list[tuple[int, bytes | None]]] = {}
        for i, t, data in rows:
            by_tag.setdefault(t, []).append((i, data))
        for t in sorted(by_tag):  # the configured reading ("") first
            full = "|".join(x for x in (tag, t) if x)
            self.confirm(by_tag[t], code, full)

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
        voters = list(_spread(list(tails), _VOTERS))
        choices = self.p.tails({tails[r] for r in voters}) if voters else {}
        votes: Counter[bytes] = Counter()
        for row in voters:
            firsts = choices.get(tails[row])
            if not firsts:
                continue
            site_first = np.frombuffer(plain[row][:BLOCK], dtype=np.uint8) ^ np.frombuffer(
                iv, dtype=np.uint8
            )
            stack = np.frombuffer(b"".join(set(firsts)), dtype=np.uint8).reshape(-1, BLOCK)
            flat = (stack ^ site_first).tobytes()
            votes.update(flat[k : k + BLOCK] for k in range(0, len(flat), BLOCK))
        # One website IV seen twice (or the only one): decrypt every miss with it.
        candidates = [v for v, n in votes.most_common(3) if n >= 2 or len(votes) == 1]
        named = {c: name for c, name in _named_ivs(key, iv)}
        for site_iv in [*candidates, *(c for c in named if c not in candidates)]:
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
        # The rest of the tails: the IV changes from one ID to the next.
        rest = [row for row in tails if row[0] not in self.c.found]
        for (i, t), hit in zip(rest, self.p.known_tails([tails[r] for r in rest]), strict=True):
            if hit:
                self.c.claim(i, "wrong_iv", "|".join(x for x in ("iv:varies", t) if x))

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

    def digest_ids(self, indexes: Sequence[int]) -> None:
        """hashed_not_encrypted: the ID is a hex or base64 digest of a profile's value."""
        rows: list[tuple[int, Transform, bytes]] = []
        for i in indexes:
            text = self.texts[i]
            if len(text) in (32, 40, 64) and _HEX.fullmatch(text):
                digest = bytes.fromhex(text)
                rows.append((i, _DIGEST_ALGOS[len(digest)], digest))
                continue
            data = _b64(text) if len(text) in (22, 24, 27, 28, 43, 44) else None
            if data is not None and len(data) in _DIGEST_ALGOS:
                rows.append((i, _DIGEST_ALGOS[len(data)], data))
        if not rows:
            return
        self.confirm_digests(rows, False, "hashed_not_encrypted", lambda a: f"hash:{a.value}")
        self.confirm_digests(rows, True, "hashed_not_encrypted", lambda a: f"hash:{a.value}:raw")

    # -- hashed data sources ------------------------------------------------------

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


def _spread(items: Sequence[Any], count: int) -> Iterable[Any]:
    if len(items) <= count:
        return items
    step = len(items) / count
    return (items[int(k * step)] for k in range(count))


# ------------------------------------------------------------------ public entry


def find_causes(
    ds: DataSource,
    key: bytes | None,
    iv: bytes | None,
    misses: Sequence[Miss],
    profiles: ProfileValues,
    *,
    limit_per_outcome: int = DEFAULT_LIMIT,
    totals: Mapping[str, int] | None = None,
    other_keys: Sequence[tuple[str, bytes, bytes]] = (),
    check: Callable[[], None] | None = None,
) -> list[Cause]:
    """The website mistakes that explain ``misses`` of ``ds``, most lines first.

    ``key``/``iv``: the data source's resolved bytes (AES data sources).
    ``misses``: its unreconciled lines (any outcome; visitor data sources give
    nothing). At most ``limit_per_outcome`` per outcome are tested, evenly
    spread; ``totals`` gives the number of misses per outcome when ``misses``
    is already a sample (``MissSample.totals``). ``other_keys``: ``(label, key,
    iv)`` of the environment's AES data sources, tried on IDs that look
    encrypted for a hashed or clear data source. ``check`` is called between
    the steps (each well under a second for 20,000 misses and a million
    profiles) and may raise to cancel. A miss explained by nothing is not
    reported: no cause is a guess.
    """
    if ds.id_type is IdType.VISITOR or not misses:
        return []
    tested, counted = _even(misses, max(1, limit_per_outcome))
    if totals:
        counted = Counter({o: max(n, counted.get(o, 0)) for o, n in totals.items()})
    claims = _Claims(tested)
    engine = _Engine(ds, key, iv, claims, profiles, other_keys, check or (lambda: None))
    if ds.transform is Transform.AES:
        if key is None or iv is None or len(key) not in KEY_SIZES or len(iv) != BLOCK:
            return []
        engine.aes()
    elif ds.transform.is_hash:
        engine.hashed()
    else:
        engine.clear()
    return _causes(ds, claims, engine, counted)


# ------------------------------------------------------------------ words


def _causes(ds: DataSource, claims: _Claims, engine: _Engine, counted: Counter[str]) -> list[Cause]:
    by_code: dict[str, list[int]] = {}
    for index, (code, _) in claims.found.items():
        by_code.setdefault(code, []).append(index)
    tested = Counter(m.outcome for m in claims.misses)
    out: list[Cause] = []
    for code, indexes in by_code.items():
        indexes.sort(key=lambda i: (claims.misses[i].file, claims.misses[i].line))
        outcomes = Counter(claims.misses[i].outcome for i in indexes)
        tags = Counter(claims.found[i][1] for i in indexes)
        main = outcomes.most_common(1)[0][0]
        detail = _detail(code, ds, tags, len(indexes), engine)
        spread = [f"{n:,} {o}" for o, n in sorted(outcomes.items(), key=lambda x: -x[1])]
        if len(outcomes) > 1:
            detail += " Outcomes: " + ", ".join(spread) + "."
        sampled = [o for o in outcomes if counted.get(o, 0) > tested[o]]
        for o in sampled:
            share = outcomes[o] / tested[o]
            detail += (
                f" {o}: tested {tested[o]:,} of {counted[o]:,} lines spread over the files; "
                f"at this rate about {round(share * counted[o]):,} in all."
            )
        out.append(
            Cause(
                code=code,
                outcome=main,
                count=len(indexes),
                detail=detail,
                fix=_fix(code, ds, tags),
                examples=tuple(claims.misses[i].where for i in indexes[:2]),
                outcomes=tuple(sorted(outcomes.items(), key=lambda x: (-x[1], x[0]))),
            )
        )
    out.sort(key=lambda c: (-c.count, c.code))
    return out


def _parts(tags: Counter[str]) -> Counter[str]:
    """Each tag's parts counted (``wrong_iv`` tags ``iv:same:zero|enc:base64`` ...)."""
    parts: Counter[str] = Counter()
    for tag, n in tags.items():
        for part in tag.split("|"):
            if part:
                parts[part] += n
    return parts


_IV_NAMES = {
    "zero": "an all-zero IV (what ECB gives for values under 16 bytes, too)",
    "key_start": "the first 16 bytes of the key as IV",
    "key_end": "the last 16 bytes of the key as IV",
    "iv_text": "the IV's hex text read as UTF-8 (CryptoJS.enc.Utf8.parse)",
    "key_text": "the key's hex text as IV",
}

_ENC_WORDS = {
    "enc:base64": "base64",
    "enc:base64url": "URL-safe base64",
    "enc:hex": "hex",
}


def _encoding_note(parts: Counter[str]) -> str:
    notes = [f"{parts[t]:,} of them written in {w}" for t, w in _ENC_WORDS.items() if parts[t]]
    if not notes:
        return ""
    configured = "hex" if "enc:base64" in parts or "enc:base64url" in parts else "base64"
    return f" ({'; '.join(notes)} while the data source expects {configured}.)"


def _detail(code: str, ds: DataSource, tags: Counter[str], count: int, engine: _Engine) -> str:
    parts = _parts(tags)
    enc = _encoding_note(parts) if code != "ciphertext_encoding" else ""
    n = f"{count:,}"
    if code == "ciphertext_encoding":
        if ds.transform.is_hash:
            return (
                f"{n} IDs are the right digest of a profile's value, written in base64 instead "
                "of hex."
            )
        found = [w for t, w in _ENC_WORDS.items() if parts[t]]
        return (
            f"{n} IDs decrypt to a profile's value once read as {' and '.join(found)}, not as "
            f"{ds.ciphertext_encoding.value}: key, IV and padding are right."
        )
    if code == "passphrase_mode":
        confirmed = parts["pass:md5"] + parts["pass:sha256"]
        text = (
            f"{n} IDs start with Salted__ (base64 U2FsdGVkX1): a passphrase derived key and "
            "IV with a random salt per ID (CryptoJS given the key as a string, or openssl enc "
            "-pass)."
        )
        if confirmed:
            how = "MD5" if parts["pass:md5"] else "SHA-256"
            text += (
                f" {confirmed:,} decrypt to profiles' values with the data source's key text "
                f"as passphrase (EVP_BytesToKey, {how})."
            )
        if parts["pass:shape"]:
            text += (
                f" {parts['pass:shape']:,} do not decrypt with the data source's key text as "
                "passphrase: the website uses another passphrase (not confirmed against "
                "profiles)."
            )
        return text
    if code == "zero_padding":
        return (
            f"{n} IDs decrypt with the data source's key and IV to profiles' values followed "
            "by zero bytes instead of PKCS#7 padding." + enc
        )
    if code == "ecb_mode":
        return (
            f"{n} IDs decrypt to profiles' values in ECB mode (each 16-byte block alone, no "
            "IV) with the data source's key." + enc
        )
    if code == "wrong_iv":
        bits: list[str] = []
        same = sum(v for t, v in parts.items() if t.startswith("iv:same"))
        if same:
            if len(engine.ivs) == 1:
                bits.append(
                    f"{same:,} decrypt to profiles' values with one and the same other "
                    "IV, recovered from the IDs (not shown)"
                )
            else:
                bits.append(
                    f"{same:,} decrypt to profiles' values with one of "
                    f"{len(engine.ivs)} other IVs recovered from the IDs (not shown)"
                )
            names = [w for t, w in _IV_NAMES.items() if parts.get("iv:same:" + t)]
            if names:
                bits.append("the website uses " + " / ".join(names))
        if parts["iv:varies"]:
            bits.append(
                f"{parts['iv:varies']:,} end like profiles' values (everything after "
                "the first 16 bytes matches, padding valid) but with an IV that changes "
                "from one ID to the next: a random IV that is not sent along"
            )
        if parts["iv:prepended"]:
            bits.append(
                f"{parts['iv:prepended']:,} carry their own IV in front (16 extra bytes); "
                "the rest decrypts to profiles' values"
            )
        return (
            f"{n} IDs decrypt with the data source's key but another IV: only the first "
            "16 bytes come out wrong. " + "; ".join(bits) + "." + enc
        )
    if code == "key_as_text":
        full = sum(v for t, v in parts.items() if t.startswith("text:full"))
        cut = count - full
        size = len(engine.key or b"") * 2
        bits = []
        if full:
            bits.append(
                f"{full:,} with the {size} hex characters as a {size}-byte key "
                "(CryptoJS.enc.Utf8.parse; CryptoJS accepts any length)"
            )
        if cut:
            bits.append(
                f"{cut:,} with the hex text cut to an AES key size (a string key in PHP or Node)"
            )
        iv_text = sum(v for t, v in parts.items() if t.endswith(":ivtext"))
        tail = " The IV's hex text is used the same way." if iv_text else ""
        return (
            f"{n} IDs decrypt to profiles' values when the key's hex text is used as the "
            "key bytes: " + "; ".join(bits) + "." + tail + enc
        )
    if code == "wrong_key":
        sizes = sorted({t.split(":")[1][5:] for t in parts if t.startswith("key:first")})
        return (
            f"{n} IDs decrypt to profiles' values with only the first "
            f"{'/'.join(sizes)} bytes of the data source's key (a shorter AES)." + enc
        )
    if code == "hashed_not_encrypted":
        if ds.transform.is_hash:
            by_label = {t[4:]: v for t, v in parts.items() if t.startswith("aes:")}
            shape = by_label.pop("shape", 0)
            bits = []
            for label, v in by_label.items():
                bits.append(
                    f"{v:,} decrypt to profiles' values with the key and IV of data "
                    f"source {label!r}"
                )
            if shape:
                algo = ds.transform
                bits.append(
                    f"{shape:,} have the shape of AES-CBC output (whole 16-byte blocks, "
                    f"not the {HASH_HEX_LENGTHS[algo]} hex digits of {_ALGO_NAMES[algo]})"
                    "; no key was at hand to confirm it"
                )
            return f"{n} IDs look encrypted, not hashed: " + "; ".join(bits) + "."
        algos = sorted({t.split(":")[1] for t in parts if t.startswith("hash:")})
        algo_names = ", ".join(_ALGO_NAMES[Transform(a)] for a in algos)
        raw = sum(v for t, v in parts.items() if t.endswith(":raw"))
        text = f"{n} IDs are the {algo_names} digest of a profile's value, not a ciphertext."
        if ds.transform is Transform.NONE:
            text = (
                f"{n} IDs are the {algo_names} digest of a profile's value, not the value itself."
            )
        if raw and ds.channel is Channel.OTHER:
            text += f" {raw:,} of them hash the value trimmed or lower-cased, not as stored."
        elif raw:
            text += f" {raw:,} of them hash the value as stored, without normalizing it."
        return text
    if code == "normalization" and ds.channel is Channel.OTHER:
        return (
            f"{n} IDs are the {_ALGO_NAMES[ds.transform]} digest of a profile's value trimmed "
            "and lower-cased, as the Experience Cloud ID service's setCustomerIDs(..., "
            '"SHA-256") hashes it, while the data source (channel Other) hashes the value as '
            "stored: they would match under that normalization."
        )
    if code == "normalization":
        return (
            f"{n} IDs are the {_ALGO_NAMES[ds.transform]} digest of a profile's value as "
            "stored or typed (not trimmed, not lower-cased, or another phone spelling) "
            "instead of its normalized form."
        )
    if code == "unknown":
        algos = sorted({t.split(":")[1] for t in parts if t.startswith("algo:")})
        algo_names = ", ".join(_ALGO_NAMES[Transform(a)] for a in algos)
        return (
            f"{n} IDs are the {algo_names} digest of a profile's value, while the data source "
            f"expects {_ALGO_NAMES[ds.transform]}."
        )
    return f"{n} IDs."


def _fix(code: str, ds: DataSource, tags: Counter[str]) -> str:
    parts = _parts(tags)
    if code == "ciphertext_encoding":
        if ds.transform.is_hash:
            return (
                "Write the digest as lower-case hex on the website (CryptoJS: "
                ".toString(CryptoJS.enc.Hex); Node: digest('hex'))."
            )
        if parts["enc:hex"]:
            return (
                "Set the data source's ciphertext encoding to hex (in the console, or send "
                "base64 from the website)."
            )
        return (
            "Send .ciphertext.toString() (lower-case hex) from CryptoJS (Node: "
            "cipher.update(v, 'utf8', 'hex')), or set the data source's ciphertext "
            "encoding to base64."
        )
    if code == "passphrase_mode":
        return (
            "The website passes the key as a string to CryptoJS.AES.encrypt, which derives "
            "another key and a random IV: parse it with CryptoJS.enc.Hex.parse(key), pass "
            "{iv: CryptoJS.enc.Hex.parse(iv), mode: CryptoJS.mode.CBC, padding: "
            "CryptoJS.pad.Pkcs7} and send .ciphertext.toString()."
        )
    if code == "zero_padding":
        return (
            "Use PKCS#7 padding on the website (CryptoJS.pad.Pkcs7, the default; openssl "
            "without -nopad); Campaign only reads PKCS#7."
        )
    if code == "ecb_mode":
        return (
            "Encrypt in CBC mode with the data source's IV on the website "
            "(CryptoJS.mode.CBC with {iv: CryptoJS.enc.Hex.parse(iv)}; aes-...-cbc in "
            "Node/OpenSSL)."
        )
    if code == "wrong_iv":
        return (
            "The website encrypts with another IV than the data source's: copy the IV from "
            f"Campaign's data source ({_SCREEN}) into the website's code as 32 hex "
            "characters, parsed with CryptoJS.enc.Hex.parse(iv) (Buffer.from(iv, 'hex') in "
            "Node); one fixed IV, not a random one, and not sent in front of the ID."
        )
    if code == "key_as_text":
        return (
            "The website uses the key's hex text as the key: parse it with "
            "CryptoJS.enc.Hex.parse(key) (Buffer.from(key, 'hex') in Node, hex2bin in PHP), "
            f"the same key as Campaign's data source ({_SCREEN}); the IV likewise."
        )
    if code == "wrong_key":
        return (
            "Give the website the whole key of Campaign's data source "
            f"({_SCREEN}), hex-decoded, with the matching AES size (aes-256-cbc for 64 hex "
            "characters)."
        )
    if code == "hashed_not_encrypted":
        if ds.transform.is_hash:
            return (
                "Make both sides agree: hash the normalized value on the website "
                f"({_ALGO_NAMES[ds.transform]}, lower-case hex), or set the data source's "
                "transform to aes with the website's key and IV."
            )
        algos = sorted({t.split(":")[1] for t in parts if t.startswith("hash:")})
        if ds.transform is Transform.NONE:
            return (
                f"Set the data source's transform to {algos[0]} (hash algorithm in "
                f"{_SCREEN}), or send the value itself from the website."
            )
        return (
            f"Encrypt the value with AES-CBC on the website, or set the data source's "
            f"transform to {algos[0]} (hash algorithm in {_SCREEN})."
        )
    if code == "normalization" and ds.channel is Channel.OTHER:
        return (
            "Store the reconciliation key trimmed and lower-cased in Campaign (setCustomerIDs' "
            "SHA-256 option always normalizes so), or hash the value as stored on the website "
            "and call setCustomerIDs without the SHA-256 option."
        )
    if code == "normalization":
        words = {
            Channel.EMAIL: "trim and lower-case the address",
            Channel.SMS: "reduce the number to + and digits",
            Channel.OTHER: "send the value exactly as stored",
        }[ds.channel]
        return f"On the website, {words} before hashing it."
    if code == "unknown":
        algos = sorted({t.split(":")[1] for t in parts if t.startswith("algo:")})
        return (
            f"Use the same algorithm on both sides: set the data source's hash algorithm "
            f"to {algos[0]} ({_SCREEN}), or hash with {ds.transform.value} on the website."
        )
    return ""
