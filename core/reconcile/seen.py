"""The batch's duplicate table (``_Seen``): the raw IDs already read, as 128-bit
fingerprints, kept by the decoding process."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import numpy as np

from core.reconcile.types import AudienceFile


class _Seen:
    """The raw IDs of a batch already read, as 128-bit fingerprints in a numpy table.

    Buckets of 8 ``(h1, h2)`` ``uint64`` slots (a bucket that is full overflows
    into the next), kept at most 70% full: about 16 to 32 bytes per distinct ID
    instead of about 156 for a set of 64-character strings, so memory stays nearly
    flat in the file's size. Lookups and inserts are vectorised per chunk.

    The fingerprint of an ID is Python's ``hash(s)`` and ``hash("\\x00" + s)``
    (SipHash with the process's random key: independent 64-bit values). Two
    different IDs are taken for the same one only when both collide: for n
    distinct IDs the chance of any false duplicate is about n² / 2¹²⁹, i.e. 1.5e-27
    for a million IDs and 1.5e-25 for ten million. Duplicates inside one chunk are
    found exactly (a dict of the chunk's strings) before the table is asked.
    """

    LOAD = 0.7
    WAYS = 8  # slots per bucket: a bucket is looked at with one vectorised comparison

    def __init__(self, buckets: int = 1 << 14) -> None:
        self.size = 0
        self._allocate(buckets)

    @classmethod
    def for_files(cls, files: Sequence[AudienceFile]) -> _Seen:
        """A table sized for the files (about one ID per 96 bytes, when their size is
        known), so that it seldom grows while reading."""
        size = 0
        for f in files:
            with contextlib.suppress(OSError, TypeError):
                size += os.path.getsize(f.path) if f.path is not None else 0
        buckets = 1 << 14
        while buckets < (1 << 22) and cls.LOAD * cls.WAYS * buckets < size // 96:
            buckets *= 2
        return cls(buckets)

    def _allocate(self, buckets: int) -> None:
        self.high = np.zeros((buckets, self.WAYS), dtype=np.uint64)  # h1 of each slot
        self.low = np.zeros((buckets, self.WAYS), dtype=np.uint64)  # h2 of each slot
        self.fill = np.zeros(buckets, dtype=np.int64)  # slots used, from the front
        self.owner = np.zeros(buckets, dtype=np.int64)  # scratch: who claims a bucket

    @property
    def nbytes(self) -> int:
        return self.high.nbytes + self.low.nbytes + self.fill.nbytes + self.owner.nbytes

    @staticmethod
    def fingerprints(ids: Sequence[str]) -> np.ndarray:
        """``(len(ids), 2)`` uint64 fingerprints; never ``(0, 0)``."""
        n = len(ids)
        fp = np.empty((n, 2), dtype=np.uint64)
        fp[:, 0] = np.fromiter(map(hash, ids), dtype=np.int64, count=n).view(np.uint64)
        fp[:, 1] = np.fromiter(map(hash, map("\x00".__add__, ids)), dtype=np.int64, count=n).view(
            np.uint64
        )
        fp[(fp[:, 0] == 0) & (fp[:, 1] == 0), 1] = 1
        return fp

    def add(self, fp: np.ndarray) -> np.ndarray:
        """Insert distinct fingerprints; True for each one not in the table before.

        Buckets of ``WAYS`` slots fill from the front and a full bucket overflows
        into the next one, so an ID absent from a bucket that is not full is new.
        Each round looks every pending item up in its bucket (one row of ``WAYS``
        values), lets one new item per bucket take the next free slot, and moves
        the items of full buckets on to the next bucket.
        """
        n = len(fp)
        ways = self.WAYS
        if self.size + n > self.LOAD * ways * len(self.fill):
            self._grow(self.size + n)
        high, low, fill, owner = self.high, self.low, self.fill, self.owner
        mask = len(fill) - 1
        h1, h2 = fp[:, 0], fp[:, 1]
        new = np.zeros(n, dtype=bool)
        bucket = self._buckets(h1)
        todo = np.arange(n)
        while todo.size:
            at = bucket[todo]
            equal = high[at] == h1[todo, None]
            present = np.zeros(todo.size, dtype=bool)
            maybe = np.flatnonzero(equal.any(axis=1))
            if maybe.size:
                present[maybe] = (equal[maybe] & (low[at[maybe]] == h2[todo[maybe], None])).any(
                    axis=1
                )
            used = fill[at]
            moving = todo[~present & (used >= ways)]
            claims = np.flatnonzero(~present & (used < ways))
            waiting = claims[:0]
            if claims.size:
                where = at[claims]
                owner[where] = claims
                won = owner[where] == claims  # one claimant per bucket this round
                winners, where = claims[won], where[won]
                items = todo[winners]
                slot = fill[where]
                high[where, slot] = h1[items]
                low[where, slot] = h2[items]
                fill[where] += 1
                new[items] = True
                waiting = todo[claims[~won]]
            bucket[moving] = (bucket[moving] + 1) & mask
            todo = np.concatenate((moving, waiting))
        self.size += int(new.sum())
        return new

    def _buckets(self, h1: np.ndarray) -> np.ndarray:
        mask = np.uint64(len(self.fill) - 1)
        return ((h1 >> np.uint64(7)) & mask).astype(np.int64)

    def _grow(self, needed: int) -> None:
        buckets = len(self.fill)
        while needed > self.LOAD * self.WAYS * buckets:
            buckets *= 2
        used = np.arange(self.WAYS)[None, :] < self.fill[:, None]
        occupied = np.stack((self.high[used], self.low[used]), axis=1)
        self._allocate(buckets)
        self.size = 0
        if not occupied.size:
            return
        # All distinct, the table empty: sorted by bucket, each takes its rank's slot.
        where = self._buckets(occupied[:, 0])
        order = np.argsort(where, kind="stable")
        where = where[order]
        starts = np.flatnonzero(np.diff(where, prepend=-1))
        sizes = np.diff(starts, append=where.size)
        rank = np.arange(where.size) - np.repeat(starts, sizes)
        fits = rank < self.WAYS
        placed = order[fits]
        self.high[where[fits], rank[fits]] = occupied[placed, 0]
        self.low[where[fits], rank[fits]] = occupied[placed, 1]
        heads = where[starts]
        self.fill[heads] = np.minimum(sizes, self.WAYS)
        self.size = int(fits.sum())
        if not fits.all():
            self.add(occupied[order[~fits]])
