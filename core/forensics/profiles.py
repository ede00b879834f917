"""The profile side: a data source's reconciliation column, read once and only for the
hypotheses that need it, and the indexes built from it (digests, tails)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from core.cipher import BLOCK
from core.model import Channel, DataSource, Transform
from core.normalize import normalize_batch
from core.profiles import ProfileSource

_TAIL_CHOICES = 64  # profiles sharing a tail that are tried to recover the website's IV
_DIGEST_GATE = 100_000  # column size above which digests are first tried on a sample
_GATE_HITS = 256  # hits the sample would give were all the IDs digests of profiles


class ProfileValues:
    """The data source's reconciliation column, as the hypotheses need it.

    ``values`` gives the column's values as stored (an iterable, or a function
    returning one, called at most once, and only when a hypothesis needs the
    values: tails, digests), or, with ``normalized=True``, the normalized keys
    the reconciliation indexes for an AES or clear data source (no
    normalization redone). The "value as stored" digests then need ``stored``
    (a function giving the column as stored, called at most once), and are
    tried only once digests of normalized values were found among the IDs:
    a website that hashes its values but never normalizes them is still
    found on every profile stored normalized, and reading the column again is
    not worth it for a run whose misses hold no digest of a profile.
    ``contains`` answers, for normalized values, whether a profile has them; by
    default a set of the normalized values (a caller holding its own index of
    them, as the reconciliation does, passes its lookup and saves the set).

    Digests of a large column are computed only when worth it: for more than
    ``_DIGEST_GATE`` values, a spread sample of that many (fewer for many IDs:
    ``_GATE_HITS`` expected hits were they all digests of profiles) is hashed
    first, and if none of many ID digests (3 or more expected hits) is in it,
    the full index is not built. This can only lose a finding (a few digests
    among many other misses, under 1.2% of the digest-shaped IDs), never make
    one up.
    """

    def __init__(
        self,
        values: Iterable[str | None] | Callable[[], Iterable[str | None]],
        channel: Channel,
        *,
        normalized: bool = False,
        contains: Callable[[Sequence[str]], Sequence[bool]] | None = None,
        stored: Callable[[], Iterable[str | None]] | None = None,
    ) -> None:
        self.channel = channel
        self.normalized = normalized
        self._source = values
        self._stored = stored
        self._plain_hits = False  # digests of normalized values found among the IDs
        self._contains = contains
        self._raw: list[str] | None = None
        self._normals: list[str] | None = None
        self._set: frozenset[str] | None = None
        self._digests: dict[tuple[Transform, bool], _Digests] = {}
        self._samples: dict[tuple[Transform, bool], tuple[_Digests, int]] = {}
        self._is_ascii: bool | None = None
        self._variants: list[str] | None = None
        self._stored_raw: list[str] | None = None
        self._lengths: np.ndarray | None = None  # each normalized value's length
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

    def _variant_raw(self) -> list[str] | None:
        """The values as stored that the spellings come from, or None when they are not
        tried (normalized values without ``stored``, or no plain digest found yet)."""
        if not self.normalized:
            return self.raw()
        if self._stored is None or not self._plain_hits:
            return None
        if self._stored_raw is None:
            self._stored_raw = [v for v in self._stored() if v]
            self.reads += 1
        return self._stored_raw

    def _variants_of(self, raw: Sequence[str]) -> list[str]:
        normal = normalize_batch(list(raw), self.channel)
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

    def variants(self) -> list[str]:
        """Other spellings of the values a careless website hashes: as stored, trimmed only,
        lower-cased only; for phone numbers also without ``+`` or with ``00``. For channel
        Other (Campaign compares the value as stored) the other spellings are the trimmed
        and lower-cased ones: what the Experience Cloud ID service's
        ``setCustomerIDs(..., "SHA-256")`` hashes (docs/adobe.md, [ID-hashing])."""
        if self._variants is None:
            raw = self._variant_raw()
            if raw is None:
                return []
            self._variants = self._variants_of(raw)
        return self._variants

    def _gate(self, variants: bool, step: int) -> list[str]:
        """A spread sample of what ``digest_hits`` would hash (every ``step``-th value),
        without normalizing or spelling the whole column."""
        if variants:
            raw = self._variant_raw() or []
            return self._variants_of(raw[::step])
        if self.normalized or self._normals is not None:
            return self.normals()[::step]
        return [v for v in normalize_batch(self.raw()[::step], self.channel) if v]

    def digest_hits(self, algo: Transform, variants: bool, digests: Sequence[bytes]) -> list[bool]:
        """Whether each digest is ``algo``'s of a normalized value (``variants``: of another
        spelling of one), gated by a sample for a large column (see the class)."""
        if variants and self._variant_raw() is None:
            return [False] * len(digests)
        key = (algo, variants)
        index = self._digests.get(key)
        if index is None:
            size = len(self._variant_raw() or []) if variants else len(self.raw())
            if size > _DIGEST_GATE:
                sample, step = self._samples.get(key) or (None, 0)
                if sample is None:
                    # Many IDs need a smaller sample for the same expected hits.
                    step = max(size // _DIGEST_GATE, len(digests) // _GATE_HITS)
                    sample = _Digests(algo, self._gate(variants, step))
                    self._samples[key] = (sample, step)
                if not any(sample.find(digests)) and len(digests) / step >= 3:
                    return [False] * len(digests)
            index = _Digests(algo, self.variants() if variants else self.normals())
            self._digests[key] = index
        found = index.find(digests)
        if not variants and any(found):
            self._plain_hits = True
        return found

    def _of_lengths(self, sizes: set[int]) -> list[int]:
        """The positions of the values of these lengths (characters), in column order."""
        if self._lengths is None:
            normals = self.normals()
            self._lengths = np.fromiter(map(len, normals), dtype=np.int64, count=len(normals))
        wanted = np.fromiter(sizes, dtype=np.int64, count=len(sizes))
        return np.flatnonzero(np.isin(self._lengths, wanted)).tolist()

    def _ascii(self) -> bool:
        """Whether every value is ASCII (then bytes = characters: tails cut as text)."""
        if self._is_ascii is None:
            self._is_ascii = "".join(self.normals()).isascii()
        return self._is_ascii

    def tail_matches(
        self, wanted: set[bytes], limit: int = _TAIL_CHOICES
    ) -> Iterator[tuple[bytes, bytes]]:
        """For values ending in a wanted tail (their bytes after the first 16):
        ``(tail, first 16 bytes)``, in column order (a caller may stop early), at most
        ``limit`` distinct first blocks per tail. Only values of a wanted tail's length
        are cut."""
        seen: dict[bytes, set[bytes]] = {}
        if self._ascii():
            want = {t.decode("ascii") for t in wanted if t.isascii()}
            normals = self.normals()
            for at in self._of_lengths({BLOCK + len(t) for t in want}):
                value = normals[at]
                tail = value[BLOCK:]
                if tail in want:
                    end, first = tail.encode("ascii"), value[:BLOCK].encode("ascii")
                    firsts = seen.setdefault(end, set())
                    if first not in firsts:
                        firsts.add(first)
                        yield end, first
                        if len(firsts) >= limit:
                            want.discard(tail)  # enough profiles end so
                            if not want:
                                return
            return
        for value in self.normals():
            data = value.encode("utf-8")
            end = data[BLOCK:]
            if end in wanted:
                firsts = seen.setdefault(end, set())
                if len(firsts) < limit and data[:BLOCK] not in firsts:
                    firsts.add(data[:BLOCK])
                    yield end, data[:BLOCK]

    def known_tails(self, tails: Sequence[bytes]) -> list[bool]:
        """Whether each tail ends some value (after its first 16 bytes)."""
        if not tails:
            return []
        known = {tail for tail, _ in self.tail_matches(set(tails), limit=1)}
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
