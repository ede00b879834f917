"""The bookkeeping every hypothesis shares: which misses are open, which are explained
and by what, and how a claim is confirmed against the profile side."""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from core.forensics.profiles import ProfileValues
from core.forensics.types import Miss
from core.model import DataSource, Transform
from core.normalize import normalize_batch

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_DIGEST_ALGOS = {16: Transform.MD5, 20: Transform.SHA1, 32: Transform.SHA256}


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


class Engine:
    """The misses being tested, the data source's key and IV, the profile side, and the
    ways to confirm a claim, among them ``digest_ids`` (an ID that is a profile's digest:
    AES and clear data sources alike); the hypotheses (core/forensics/aes.py, hashes.py)
    build on it."""

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


def _spread(items: Sequence[Any], count: int) -> Iterable[Any]:
    if len(items) <= count:
        return items
    step = len(items) / count
    return (items[int(k * step)] for k in range(count))
