"""Streaming reconciliation: one pipeline for ``dry-run`` and ``import run``.

An audience batch (the split parts of one AAM delivery) is streamed chunk by
chunk (``core.formats.read_chunks``); each chunk's IDs go through each routed
data source's ``IdCodec`` in one call, and the lookup keys are looked up in
one index per data source, built once per run from a ``ProfileSource``.

Per non-empty line exactly one outcome (docs/reference.md §4):

1. a malformed line (from the chunk) is ``malformed_line``;
2. an ID already seen in the same batch (all parts) is ``duplicate``;
3. the first data source, in priority order, whose index holds the ID's key
   gives ``reconciled``: every segment of the line gets the line's profiles
   as members, every removed segment gets them in ``removed``;
4. otherwise ``not_found`` when some data source could decode the ID, or else
   the highest-priority data source's own outcome (``bad_padding``, ...).

Duplicate lines add nothing to segments and are dropped where the file is
read, before decoding. Memory grows only with the distinct IDs of the batch
being read (a table of 128-bit fingerprints, ``_Seen``: 16 to 32 bytes per
ID; the chance of any false duplicate is about 1.5e-25 for a batch of ten
million distinct IDs) and the segment member sets. The profile index is a
sorted array of 128-bit fingerprints of the keys (``_Index``), not a dict.

A large batch of files on disk is read, deduplicated and decoded in a child
process while this one builds the profile index and then does the lookups
(``_Worker``); results are the same as in-process, which smaller batches use.
For hex AES e-mails the shape of an address is checked only for the keys not
found (``IdCodec.incoming_keys``): a key equal to a profile's key has it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue as queue_module
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import is_not
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

try:
    import fcntl
except ImportError:  # not on Windows: the pipe keeps its default size
    fcntl = None  # type: ignore[assignment]

from core.cipher import IdCodec, parse_iv, parse_key
from core.errors import AudienceError, InputError, OperationCancelled, ValidationError
from core.formats import (
    Manifest,
    classify_names,
    excerpt,
    parse_manifest,
    parse_manifest_name,
    parse_outbound_name,
    read_chunks,
    verify_part,
)
from core.model import DataSource, Environment, IdType, Transform
from core.outcomes import EXPLANATIONS, FAILURES, Outcome, match_rate
from core.profiles import ProfileSource

__all__ = [
    "CHUNK_LINES",
    "SAMPLE_ID_CHARS",
    "AudienceFile",
    "BatchInput",
    "BatchResult",
    "Cancelled",
    "IndexProgress",
    "Progress",
    "Sample",
    "SegmentResult",
    "Summary",
    "batches_from_paths",
    "build_codecs",
    "index_words",
    "reconcile_batches",
    "route",
    "summarize",
]

CHUNK_LINES = 16_384
SAMPLE_ID_CHARS = 64


# ------------------------------------------------------------------------ data types


@dataclass(frozen=True)
class AudienceFile:
    """One audience data file: its name (routing, samples) and how to open its raw bytes.

    ``.gz`` is decided from the name.
    """

    name: str
    open: Callable[[], AbstractContextManager[BinaryIO]]
    #: The file on disk, when it is one (lets a large batch be decoded in a child process).
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_path(cls, path: Path) -> AudienceFile:
        """A file on disk."""
        path = Path(path)

        def opener() -> AbstractContextManager[BinaryIO]:
            return path.open("rb")

        return cls(path.name, opener, path)


@dataclass(frozen=True)
class BatchInput:
    """One batch to reconcile: its parts in processing order."""

    key: str
    mode: str  # "full" | "iter"
    destination_id: int | None
    files: tuple[AudienceFile, ...]


@dataclass(frozen=True)
class Sample:
    """An unreconciled line: where it is, its (shortened) ID, its outcome and a hint."""

    file: str
    line: int
    id: str
    outcome: str
    hint: str


@dataclass
class SegmentResult:
    """Distinct profile ids that are members of a segment, and that were removed from it."""

    members: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)


@dataclass
class BatchResult:
    """The outcome of one batch. ``records = reconciled + duplicates + sum(outcomes)``."""

    key: str
    mode: str
    destination_id: int | None
    files: list[str]
    records: int
    reconciled: int
    duplicates: int
    outcomes: Counter[str]  # failures only (not reconciled / duplicate)
    segments: dict[str, SegmentResult]
    samples: list[Sample]
    datasources: list[str]

    @property
    def match_rate(self) -> float:
        """``reconciled / (records - duplicates)``; 0.0 without records."""
        return match_rate(self.reconciled, self.records, self.duplicates)


@dataclass(frozen=True)
class Progress:
    """Reported after each chunk: the batch, the file, lines read in it and bytes read."""

    batch: str
    file: str
    lines: int
    bytes_read: int
    bytes_total: int | None


@dataclass(frozen=True)
class IndexProgress:
    """Reported while a data source's profile index is built: rows read so far, and
    ``done`` once the index is complete."""

    datasource: str
    rows: int
    done: bool = False


def index_words(datasource: str, rows: int, done: bool) -> str:
    """How progress on a data source's index reads (console and import pass alike)."""
    if done:
        return f"{datasource}: index ready ({rows:,} rows)"
    return f"{datasource}: indexing, {rows:,} rows read"


class Cancelled(OperationCancelled):
    """The run was cancelled between two chunks (nothing of the batch is returned)."""

    def __init__(self, message: str = "reconciliation cancelled", hint: str = "") -> None:
        super().__init__(message, hint or "nothing of the interrupted batch was kept")


# ------------------------------------------------------------------------ codecs


def build_codecs(
    env: Environment, resolve: Callable[[DataSource, str], str]
) -> dict[str, IdCodec]:
    """One ``IdCodec`` per data source of ``env``, keyed by label.

    ``resolve(ds, "aes_key")`` / ``resolve(ds, "aes_iv")`` return the secret's
    text (only called for AES data sources). A bad key or IV is an
    ``InputError`` naming the data source and the field, never the value.
    """
    codecs: dict[str, IdCodec] = {}
    for ds in env.datasources:
        if ds.id_type is IdType.DECLARED and ds.transform is Transform.AES:
            try:
                key = parse_key(resolve(ds, "aes_key"))
                iv = parse_iv(resolve(ds, "aes_iv"))
                codecs[ds.label] = IdCodec(ds, key, iv)
            except ValidationError as exc:
                raise InputError(f"data source {ds.label!r}: {exc.message}", exc.hint) from None
        else:
            codecs[ds.label] = IdCodec(ds)
    return codecs


def route(
    env: Environment, destination_id: int | None, datasource: str | None = None
) -> list[DataSource]:
    """The data sources a batch goes to, highest priority first.

    With ``datasource`` (a label): only that one, whatever the destination.
    Otherwise those whose ``destination_id`` equals the batch's (none when the
    batch has no destination ID).
    """
    if datasource is not None:
        return [env.datasource(datasource)]
    if destination_id is None:
        return []
    return [ds for ds in env.by_priority() if ds.destination_id == destination_id]


# ------------------------------------------------------------------------ batches from disk


def _expand(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            out.extend(
                sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            )
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder", "check the path")
    return out


def _read_manifest(path: Path) -> Manifest:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path.name}: cannot be read ({exc.strerror})", "check the file"
        ) from None
    try:
        return parse_manifest(data)
    except InputError as exc:
        raise InputError(f"{path.name}: {exc.message}", exc.hint) from None


def batches_from_paths(
    paths: Sequence[Path],
    *,
    force_destination: int | None = None,
    accept_unnamed: bool | None = None,
) -> tuple[list[BatchInput], list[tuple[str, str]]]:
    """Group audience files on disk into batches; also return ``(file, reason)`` skipped.

    A folder means all its files (not hidden, not recursive). Split parts are
    grouped by ``core.formats.classify_names``; when a ``.info`` manifest is
    present every part is checked against it (``verify_part``) and a part that
    fails is an ``InputError`` naming the file and the problem. Incomplete
    batches are skipped with the formats module's waiting reason.

    ``force_destination`` sets every batch's destination ID. ``accept_unnamed``
    (default: whether ``force_destination`` is given) turns each file whose
    name is not an AAM outbound name into a batch of its own (mode ``iter``);
    otherwise such files are skipped with the reason.
    """
    if accept_unnamed is None:
        accept_unnamed = force_destination is not None
    files = _expand(paths)
    by_name: dict[str, Path] = {}
    for path in files:
        if path.name in by_name and by_name[path.name] != path:
            raise InputError(
                f"two files are named {path.name} ({by_name[path.name]} and {path})",
                "give each delivery's files once",
            )
        by_name[path.name] = path
    manifests = {
        name: _read_manifest(path)
        for name, path in by_name.items()
        if parse_manifest_name(name) is not None and parse_outbound_name(name) is None
    }
    batches, ignored = classify_names(list(by_name), manifests)
    out: list[BatchInput] = []
    skipped: list[tuple[str, str]] = []
    for batch in batches:
        if not batch.complete:
            names = batch.part_names or ((batch.manifest_name,) if batch.manifest_name else ())
            skipped.extend((name, batch.waiting_reason) for name in names)
            continue
        if batch.manifest_name is not None:
            manifest = manifests[batch.manifest_name]
            for part in batch.parts:
                entry = manifest.file(part.name)
                if entry is None:
                    continue
                problems = verify_part(entry, by_name[part.name])
                if problems:
                    raise InputError(
                        "; ".join(problems),
                        f"fetch {part.name} again; {batch.manifest_name} describes the batch",
                    )
        out.append(
            BatchInput(
                key=batch.key,
                mode=batch.mode,
                destination_id=force_destination
                if force_destination is not None
                else batch.destination_id,
                files=tuple(AudienceFile.from_path(by_name[p.name]) for p in batch.parts),
            )
        )
    for item in ignored:
        name = Path(item.name).name
        unnamed = parse_outbound_name(name) is None and parse_manifest_name(name) is None
        if accept_unnamed and unnamed:
            single = (AudienceFile.from_path(by_name[name]),)
            out.append(BatchInput(name, "iter", force_destination, single))
        else:
            skipped.append((name, item.reason))
    return out, skipped


# ------------------------------------------------------------------------ the pipeline


class _Index:
    """Lookup key -> profile ids: sorted 128-bit fingerprints of the keys (numpy).

    ``add`` takes the keys chunk by chunk, ``finish`` sorts them once, ``find``
    looks a chunk of keys up with one vectorised search. A key's fingerprint is
    ``_Seen.fingerprints``'s (SipHash with this process's random key); the
    audience keys are hashed here too, so both sides agree. Two different keys
    are taken for one only if both 64-bit values collide (about n² / 2¹²⁹ for n
    keys). Measured here for a
    million keys: a dict lookup of fresh strings in a million-key dict took
    0.70 s, hashing them and a sorted search about 0.25 s; the index takes
    about 120 MB less than the dict.
    """

    __slots__ = (
        "_h1", "_h2", "_parts", "_pids", "_tied", "is_multi", "multi", "pids", "row_of", "size",
    )

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []  # (n, 2) fingerprints per chunk added
        self._pids: list[str] = []
        self._h1 = self._h2 = np.empty(0, dtype=np.uint64)
        self._tied = np.empty(0, dtype=bool)
        self.pids = np.empty(0, dtype=object)  # the profile ids, in the order added
        self.row_of = np.empty(0, dtype=np.int64)  # per distinct key: its (first) pid's row
        self.multi: dict[int, list[str]] = {}  # distinct key -> ids of several profiles
        self.is_multi = np.empty(0, dtype=bool)  # per distinct key: in ``multi``
        self.size = 0

    def add(self, keys: Sequence[str | None], pids: Sequence[str]) -> None:
        """Add each ``(key, pid)``; a ``None`` key is skipped."""
        if None in keys:
            present = list(map(is_not, keys, repeat(None)))
            keys = list(compress(keys, present))
            pids = list(compress(pids, present))
        self._parts.append(_Seen.fingerprints(keys))  # type: ignore[arg-type]
        self._pids.extend(pids)

    def finish(self, check: Callable[[], None] | None = None) -> _Index:
        """Sort the fingerprints; group the keys of several profiles (a pid once per key).

        ``check`` is called between the steps (each well under a second for ten
        million keys), so that a cancel is answered while a large index is sorted.
        """
        step = check or (lambda: None)
        if not self._parts:
            return self
        both = np.concatenate(self._parts)
        h1, h2 = both[:, 0], both[:, 1]
        rows = np.asarray(self._pids, dtype=object)
        self._parts, self._pids = [], []
        step()
        order = np.argsort(h1)  # a key's profiles in any order: they go into sets
        step()
        h1, h2 = h1[order], h2[order]
        step()
        same1 = h1[1:] == h1[:-1]
        if (same1 & (h2[1:] != h2[:-1])).any():  # different keys share a first hash
            resort = np.lexsort((h2, h1))
            order, h1, h2 = order[resort], h1[resort], h2[resort]
            same1 = h1[1:] == h1[:-1]
        first = np.ones(h1.size, dtype=bool)
        first[1:] = ~same1 | (h2[1:] != h2[:-1])
        starts = np.flatnonzero(first)
        self._h1, self._h2 = h1[starts], h2[starts]
        self.pids = rows  # in the order added; ``row_of`` points into it
        self.row_of = order[starts]
        self.size = int(starts.size)
        step()
        sizes = np.diff(starts, append=h1.size)
        shared = sizes > 1
        multi: dict[int, list[str]] = {}
        if shared.any():  # one gather for every key of several rows, then cut
            keys = np.flatnonzero(shared).tolist()
            flat = rows[order[np.repeat(shared, sizes)]].tolist()
            at = 0
            for key, size in zip(keys, sizes[shared].tolist(), strict=True):
                pids = flat[at : at + size]
                at += size
                if len(set(pids)) != size:  # the same profile twice (a visitor map)
                    pids = list(dict.fromkeys(pids))
                if len(pids) > 1:
                    multi[key] = pids
        self.multi = multi
        self.is_multi = np.zeros(self.size, dtype=bool)
        self.is_multi[list(multi)] = True
        # Different keys with the same first hash (about once in 10^7 runs of a
        # million keys): ``find`` looks those few up one by one.
        self._tied = np.zeros(self.size, dtype=bool)
        same = self._h1[1:] == self._h1[:-1]
        self._tied[1:] |= same
        self._tied[:-1] |= same
        return self

    def find(self, keys: Sequence[str]) -> np.ndarray:
        """For each key, its distinct-key number in the index, or -1."""
        n = len(keys)
        found = np.full(n, -1, dtype=np.int64)
        if not n or not self.size:
            return found
        q1 = np.fromiter(map(hash, keys), dtype=np.int64, count=n).view(np.uint64)
        order = np.argsort(q1, kind="stable")
        at = np.empty(n, dtype=np.int64)
        at[order] = np.searchsorted(self._h1, q1[order])
        np.minimum(at, self.size - 1, out=at)
        maybe = np.flatnonzero(self._h1[at] == q1)
        if not maybe.size:
            return found
        # The whole fingerprint only for the candidates (the first half is cached
        # in each string, so it costs nothing to compute again).
        q2 = _Seen.fingerprints([keys[j] for j in maybe.tolist()])[:, 1]
        cand = at[maybe]
        ok = self._h2[cand] == q2
        found[maybe[ok]] = cand[ok]
        tied = ~ok & self._tied[cand]
        for j, h2 in zip(maybe[tied].tolist(), q2[tied].tolist(), strict=True):
            h1 = int(q1[j])  # another key with the same first hash: look around
            k = int(at[j])
            while k < self.size and self._h1[k] == h1:
                if self._h2[k] == h2:
                    found[j] = k
                    break
                k += 1
        return found

    def get(self, key: str) -> str | list[str] | None:
        """The profile id of ``key`` (a list for several), or ``None``."""
        k = int(self.find([key])[0])
        if k < 0:
            return None
        return self.multi.get(k) or str(self.pids[self.row_of[k]])


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
        fp[:, 1] = np.fromiter(
            map(hash, map("\x00".__add__, ids)), dtype=np.int64, count=n
        ).view(np.uint64)
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
                present[maybe] = (
                    equal[maybe] & (low[at[maybe]] == h2[todo[maybe], None])
                ).any(axis=1)
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


class _Codebook(dict[str, int]):
    """Small integer codes for a chunk's distinct segment lists, and their segments."""

    def __init__(self) -> None:
        super().__init__()
        self.segments: list[tuple[str, ...]] = []

    def __missing__(self, text: str) -> int:
        code = self[text] = len(self.segments)
        self.segments.append(tuple(text.split(",")) if text else ())
        return code


@dataclass
class _Found:
    """One data source's answer for a list of lookup keys (positions in that list).

    ``single[j]`` is the profile id when the key belongs to one profile (``hit[j]``),
    ``multi`` maps positions to the ids of several profiles; ``done`` marks both.
    ``failed`` holds the data source's outcome for IDs it could not decode;
    ``decoded`` the positions decoded but not found.
    """

    single: np.ndarray  # object array: a profile id where ``hit``
    hit: np.ndarray
    multi: dict[int, list[str]]
    done: np.ndarray
    failed: dict[int, Outcome]
    decoded: np.ndarray


def _lookup(
    keys: list[str | Outcome], index: _Index, shaped: Callable[[str], bool] | None = None
) -> _Found:
    """Look the keys (or outcomes) from ``IdCodec.incoming_keys`` up in ``index``: one
    vectorised search (``_Index.find``), Python only for keys of several profiles.
    ``shaped``: the codec's e-mail shape check, for keys it left unchecked; only the
    keys not found need it (``invalid_email`` when it fails)."""
    n = len(keys)
    is_outcome = np.fromiter(map(isinstance, keys, repeat(Outcome)), dtype=bool, count=n)
    at = index.find(keys)
    failed: dict[int, Outcome] = {}
    if is_outcome.any():
        at[is_outcome] = -1  # an outcome is never a key, whatever its text
        failed = {j: keys[j] for j in np.flatnonzero(is_outcome).tolist()}  # type: ignore[misc]
    done = at >= 0
    hit = done.copy()
    multi: dict[int, list[str]] = {}
    if index.multi:
        shared = np.flatnonzero(done)
        shared = shared[index.is_multi[at[shared]]]
        if shared.size:
            hit[shared] = False
            pids_of = index.multi
            pairs = zip(shared.tolist(), at[shared].tolist(), strict=True)
            multi = {j: pids_of[k] for j, k in pairs}
    single = np.empty(n, dtype=object)
    single[hit] = index.pids[index.row_of[at[hit]]]
    decoded = np.flatnonzero(~done & ~is_outcome)
    if shaped is not None and decoded.size:
        ok = np.fromiter(map(shaped, [keys[j] for j in decoded.tolist()]), dtype=bool,
                         count=decoded.size)
        if not ok.all():
            invalid = Outcome.INVALID_EMAIL
            failed.update(dict.fromkeys(decoded[~ok].tolist(), invalid))
            decoded = decoded[ok]
    return _Found(single, hit, multi, done, failed, decoded)


@dataclass
class _Prepared:
    """One chunk read, deduplicated and decoded by every routed codec: what the
    lookups need. Arrays and lists are parallel, one item per line holding the
    first occurrence of a new ID in the batch (``lines`` are their line numbers),
    in line order.

    ``pack`` turns the per-line strings into one text each (cheap to send to
    another process); ``ids_list`` and ``keys_of`` give them back as lists.
    """

    file: str
    records: int
    last_line: int
    position: int
    total: int | None
    malformed: list[tuple[int, str]]
    reasons: list[str]
    duplicates: int
    lines: np.ndarray
    ids: Any  # list[str], or one "\n"-joined text once packed
    segs: np.ndarray  # codes in ``names``
    removed: np.ndarray
    names: list[tuple[str, ...]]  # code -> its segments
    no_removed: int  # the code of ""
    keys: list[Any]  # per codec: incoming()'s list, or (text, {position: outcome}) packed

    def pack(self) -> None:
        """Each per-line list as one text (plus the positions of outcomes)."""
        self.ids = "\n".join(self.ids)
        packed: list[Any] = []
        for keys in self.keys:
            count = len(keys)
            out = np.flatnonzero(
                np.fromiter(map(isinstance, keys, repeat(Outcome)), dtype=bool, count=count)
            ).tolist()
            outcomes = {j: keys[j].value for j in out}
            texts = keys
            if out:
                texts = list(keys)
                for j in out:
                    texts[j] = ""
            text = "\n".join(texts)
            # A key holding a newline (an ``other`` channel) cannot be split back: the
            # list goes as it is, outcomes included.
            packed.append((text, outcomes, count) if text.count("\n") == count - 1 else keys)
        self.keys = packed

    def ids_list(self) -> list[str]:
        """The IDs (IDs are never empty: an empty text is no ID)."""
        if isinstance(self.ids, str):
            self.ids = self.ids.split("\n") if self.ids else []
        return self.ids  # type: ignore[no-any-return]

    def keys_of(self, step: int) -> list[str | Outcome]:
        """The lookup keys (or outcomes) of the step's codec."""
        keys = self.keys[step]
        if isinstance(keys, tuple):
            text, outcomes, count = keys
            keys = text.split("\n") if count else []
            for j, value in outcomes.items():
                keys[j] = Outcome(value)
            self.keys[step] = keys
        return keys  # type: ignore[no-any-return]


def _prepare(
    files: Sequence[AudienceFile],
    codecs: Sequence[IdCodec],
    chunk_lines: int,
    before_file: Callable[[], None] | None = None,
) -> Iterator[_Prepared]:
    """Read the batch's files chunk by chunk: drop the IDs already seen in the
    batch (first line wins: exactly within the chunk, by fingerprint in the
    batch's ``_Seen`` table across chunks) and decode the others with every codec."""
    seen = _Seen.for_files(files)
    for audience in files:
        if before_file is not None:
            before_file()
        with audience.open() as handle:
            total = _size_of(handle)
            chunks = read_chunks(
                handle,
                gz=audience.name.lower().endswith(".gz"),
                chunk_lines=chunk_lines,
                name=audience.name,
            )
            for chunk in chunks:
                ids = chunk.ids
                count = len(ids)
                # First line of each ID in the chunk (a dict: C loops).
                first_at = dict(zip(reversed(ids), range(count - 1, -1, -1), strict=True))
                if len(first_at) == count:
                    pending = np.arange(count)
                    fresh = ids
                else:
                    pending = np.sort(
                        np.fromiter(first_at.values(), dtype=np.int64, count=len(first_at))
                    )
                    fresh = [ids[i] for i in pending.tolist()]
                del first_at
                if fresh:
                    new = seen.add(_Seen.fingerprints(fresh))
                    if not new.all():  # seen in an earlier chunk of the batch
                        pending = pending[new]
                        fresh = list(compress(fresh, new.tolist()))
                if pending.size == count:
                    segs, removed = chunk.segments, chunk.removed
                else:
                    at = pending.tolist()
                    segs = [chunk.segments[i] for i in at]
                    removed = [chunk.removed[i] for i in at]
                book = _Codebook()
                code = book.__getitem__
                n = len(fresh)
                seg_codes = np.fromiter(map(code, segs), dtype=np.int64, count=n)
                removed_codes = np.fromiter(map(code, removed), dtype=np.int64, count=n)
                yield _Prepared(
                    file=audience.name,
                    records=chunk.records,
                    last_line=chunk.last_line,
                    position=_position(handle),
                    total=total,
                    malformed=chunk.malformed,
                    reasons=chunk.malformed_reasons,
                    duplicates=count - n,
                    lines=np.asarray(chunk.line_numbers, dtype=np.int64)[pending],
                    ids=fresh,
                    segs=seg_codes,
                    removed=removed_codes,
                    names=book.segments,
                    no_removed=book[""],
                    keys=[codec.incoming_keys(fresh) if n else [] for codec in codecs],
                )


#: A batch of files on disk at least this large is read and decoded in a child
#: process while this one builds the profile index and does the lookups.
PARALLEL_MIN_BYTES = 16 << 20
_QUEUE_CHUNKS = 64
_PIPE_BYTES = 1 << 20  # Linux's default limit for an unprivileged process
_MAX_FRAME = 1 << 31  # a chunk is a few MB; a larger length means a broken stream


def _use_worker(files: Sequence[AudienceFile]) -> bool:
    if (os.cpu_count() or 1) < 2 or any(f.path is None for f in files):
        return False
    try:
        size = sum(os.path.getsize(f.path) for f in files)  # type: ignore[arg-type]
    except OSError:
        return False
    return size >= PARALLEL_MIN_BYTES


def _write_frame(out: BinaryIO, item: Any) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)
    out.flush()


def _worker_main() -> None:
    """The child process (``python -c``): arguments pickled on stdin; ``_prepare`` over
    the files, each chunk packed and written to stdout as a length-prefixed pickle;
    then ``done`` or the error. Writing blocks while the parent is behind."""
    out = sys.stdout.buffer
    try:
        files, codecs, chunk_lines = pickle.load(sys.stdin.buffer)
        audience = [
            AudienceFile(name, AudienceFile.from_path(Path(path)).open, Path(path))
            for name, path in files
        ]
        for prepared in _prepare(audience, codecs, chunk_lines):
            prepared.pack()
            _write_frame(out, ("chunk", prepared))
        _write_frame(out, ("done", None))
    except AudienceError as exc:
        _write_frame(out, ("audience_error", (type(exc), exc.message, exc.hint)))
    except BrokenPipeError:
        pass  # the parent stopped reading (cancelled, or an error of its own)
    except BaseException as exc:
        try:
            _write_frame(out, ("error", exc))
        except Exception:
            _write_frame(out, ("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Frames:
    """Length-prefixed frames (``_write_frame``) from a stream read in pieces of any size."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by ``data``, in order (a partial one waits for more).

        After a length no frame can have (the stream is not frames: something else
        wrote to the child's stdout), ``broken`` is set and nothing more is read.
        """
        pending = self.pending
        pending += data
        done: list[bytes] = []
        start = 0
        with memoryview(pending) as view:
            while not self.broken and len(pending) - start >= 8:
                size = int.from_bytes(view[start : start + 8], "little")
                if size > _MAX_FRAME:
                    self.broken = True
                    break
                if len(pending) - start - 8 < size:
                    break
                done.append(bytes(view[start + 8 : start + 8 + size]))
                start += 8 + size
        del pending[:start]
        return done


class _Worker:
    """A child process running ``_prepare`` for one batch.

    A fresh interpreter (``subprocess``, never a fork, and no re-import of the
    caller's ``__main__``) gets the file paths and codecs on stdin and sends
    packed chunks back on stdout; a reader thread here keeps at most
    ``_QUEUE_CHUNKS`` of them, so the child runs ahead (while the indexes are
    built) but memory stays bounded.
    """

    def __init__(self, files: Sequence[AudienceFile], codecs: list[IdCodec],
                 chunk_lines: int) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from core.reconcile import _worker_main; _worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.frames: queue_module.Queue[bytes | None] = queue_module.Queue(_QUEUE_CHUNKS)
        self.stopping = False
        paths = [(f.name, str(f.path)) for f in files]
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            pickle.dump((paths, codecs, chunk_lines), self.process.stdin)
        except OSError:
            pass  # the child died at once: chunks() reports it
        finally:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def _read(self) -> None:
        """Frames from the child's stdout into the queue.

        Large ``os.read`` calls on a pipe enlarged to ``_PIPE_BYTES``: this thread
        needs the GIL after every read, and the main thread holds it for up to the
        switch interval (5 ms) at a time, so small reads of a full 64 KiB pipe kept
        the child waiting (measured: its 2.1 s of work took 3 s).
        """
        stream = self.process.stdout
        assert stream is not None
        frames = _Frames()
        try:
            fd = stream.fileno()
            with contextlib.suppress(OSError, AttributeError):  # Linux only
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)  # type: ignore[attr-defined,union-attr]
            while True:
                data = os.read(fd, _PIPE_BYTES)
                if not data:
                    break
                for frame in frames.feed(data):
                    if not self.stopping:
                        self.frames.put(frame)
                if frames.broken:
                    break
        except (OSError, ValueError):
            pass
        finally:
            if not self.stopping:
                self.frames.put(None)

    def chunks(self, idle: Callable[[], None]) -> Iterator[_Prepared]:
        """The child's chunks in order; ``idle()`` is called while waiting."""
        while True:
            try:
                frame = self.frames.get(timeout=0.2)
            except queue_module.Empty:
                idle()
                continue
            if frame is None:
                self.process.wait()
                self.errors.seek(0)
                tail = self.errors.read()[-2000:].decode("utf-8", "replace")
                raise RuntimeError(f"the audience decoding process stopped: {tail}")
            kind, payload = pickle.loads(frame)
            if kind == "chunk":
                yield payload
            elif kind == "done":
                return
            elif kind == "audience_error":
                cls, message, hint = payload
                error = cls.__new__(cls)
                AudienceError.__init__(error, message, hint)
                raise error
            else:
                raise payload

    def stop(self) -> None:
        """Kill the child (when still running) and let the reader thread end."""
        self.stopping = True
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        while self.reader.is_alive():
            with contextlib.suppress(queue_module.Empty):
                while True:  # unblock the reader if it waits on a full queue
                    self.frames.get_nowait()
            self.reader.join(timeout=0.05)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.errors.close()


class _Groups:
    """Adds reconciled lines to segments, grouped by their segment lists."""

    def __init__(self, prepared: _Prepared) -> None:
        self.names = prepared.names
        self.segs = prepared.segs
        self.removed = prepared.removed
        self.no_removed = prepared.no_removed

    def name_all(self, segments: dict[str, SegmentResult]) -> None:
        """Every segment a line of the chunk names, even with no profile reconciled.

        A ``full`` batch replaces each segment it carries: a segment whose lines
        all failed to reconcile must still be emptied, so it must be listed.
        """
        names = self.names
        for code in np.unique(self.segs).tolist():
            for seg in names[int(code)]:
                _segment(segments, seg)

    def add(
        self, segments: dict[str, SegmentResult], lines: np.ndarray, found: _Found
    ) -> int:
        """Add the profiles of ``found`` (positions in ``lines``); the number reconciled."""
        hits = np.flatnonzero(found.hit)
        if hits.size:
            at = lines[hits]
            self._update(segments, "members", self.segs[at], hits, found.single)
            removed = self.removed[at]
            some = removed != self.no_removed
            if some.any():
                self._update(segments, "removed", removed[some], hits[some], found.single)
        names = self.names
        for j, pids in found.multi.items():
            line = int(lines[j])
            for seg in names[int(self.segs[line])]:
                _segment(segments, seg).members.update(pids)
            for seg in names[int(self.removed[line])]:
                _segment(segments, seg).removed.update(pids)
        return int(hits.size) + len(found.multi)

    def _update(
        self, segments: dict[str, SegmentResult], which: str, codes: np.ndarray,
        positions: np.ndarray, values: np.ndarray,
    ) -> None:
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        picked = values[positions[order]].tolist()
        cuts = np.flatnonzero(np.diff(codes)) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), len(picked)]
        names = self.names
        for start, end in zip(starts, ends, strict=True):
            part = picked[start:end]
            for seg in names[int(codes[start])]:
                getattr(_segment(segments, seg), which).update(part)


def _segment(segments: dict[str, SegmentResult], seg: str) -> SegmentResult:
    result = segments.get(seg)
    if result is None:
        result = segments[seg] = SegmentResult()
    return result


class _Sampler:
    """Up to ``limit`` samples per outcome; ``take`` spreads them across outcomes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: dict[str, list[Sample]] = {}

    def wants(self, outcome: str) -> bool:
        return self.limit > 0 and len(self.kept.get(outcome, ())) < self.limit

    def add(self, sample: Sample) -> None:
        self.kept.setdefault(sample.outcome, []).append(sample)

    def take(self) -> list[Sample]:
        return _spread(self.kept, self.limit)


def _spread(groups: dict[str, list[Sample]], limit: int) -> list[Sample]:
    """Round-robin over outcomes (contract order) so every outcome present is sampled."""
    order = [o.value for o in FAILURES if o.value in groups] + sorted(
        set(groups) - {o.value for o in FAILURES}
    )
    picked: list[Sample] = []
    depth = 0
    while len(picked) < limit:
        added = False
        for outcome in order:
            items = groups[outcome]
            if depth < len(items):
                picked.append(items[depth])
                added = True
                if len(picked) >= limit:
                    break
        if not added:
            break
        depth += 1
    picked.sort(key=lambda s: (s.file, s.line))
    return picked


def _sample(file: str, line: int, raw: str, outcome: Outcome, detail: str = "") -> Sample:
    fix = EXPLANATIONS[outcome][1]
    hint = f"{detail}; {fix}" if detail else fix
    return Sample(file, line, excerpt(raw, SAMPLE_ID_CHARS), outcome.value, hint)


def _size_of(handle: Any) -> int | None:
    try:
        return os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return None


def _position(handle: Any) -> int:
    try:
        return int(handle.tell())
    except (AttributeError, OSError, ValueError):
        return 0


class _Run:
    """State shared by the batches of one run: codecs, lazily built indexes."""

    def __init__(
        self,
        env: Environment,
        codecs: dict[str, IdCodec],
        profiles: ProfileSource,
        datasource: str | None,
        max_samples: int,
        progress: Callable[[Progress], None] | None,
        cancelled: Callable[[], bool] | None,
        chunk_lines: int,
        indexing: Callable[[IndexProgress], None] | None = None,
    ) -> None:
        self.env = env
        self.codecs = codecs
        self.profiles = profiles
        self.datasource = datasource
        self.max_samples = max_samples
        self.progress = progress
        self.cancelled = cancelled
        self.chunk_lines = chunk_lines
        self.indexing = indexing
        self.indexes: dict[str, _Index] = {}
        self._columns: list[str] | None = None

    def codec(self, ds: DataSource) -> IdCodec:
        codec = self.codecs.get(ds.label)
        if codec is None:
            raise InputError(
                f"no codec for data source {ds.label!r}",
                "build codecs for every routed data source",
            )
        return codec

    def index(self, ds: DataSource) -> _Index:
        """The data source's lookup index, built on first use and kept for the run."""
        built = self.indexes.get(ds.label)
        if built is not None:
            return built
        codec = self.codec(ds)
        index = _Index()
        rows = 0
        if ds.id_type is IdType.VISITOR:
            for vids, pids in self.profiles.visitor_chunks():
                self.check_cancelled()  # a large profile dimension takes seconds
                index.add(codec.profile_keys(vids), pids)
                rows += len(pids)
                self._indexed(ds, rows)
        else:
            if self._columns is None:
                self._columns = self.profiles.columns()
            column = ds.reconciliation_key
            if column not in self._columns:
                found = ", ".join(self._columns) or "none: no profiles"
                raise InputError(
                    f"data source {ds.label!r}: reconciliation key {column!r} is not a profile "
                    f"column (columns: {found})",
                    "load profiles with that column, or fix the data source's reconciliation_key",
                )
            for pids, values in self.profiles.column_chunks(column):
                self.check_cancelled()
                index.add(codec.profile_keys(values), pids)
                rows += len(pids)
                self._indexed(ds, rows)
        self.indexes[ds.label] = index.finish(self.check_cancelled)
        self._indexed(ds, rows, done=True)
        return index

    def _indexed(self, ds: DataSource, rows: int, done: bool = False) -> None:
        if self.indexing is not None:
            self.indexing(IndexProgress(ds.label, rows, done))

    def check_cancelled(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise Cancelled()

    @staticmethod
    def _unreconciled(
        prepared: _Prepared,
        positions: list[int],
        failed: dict[int, Outcome],
        decoded: set[int],
        outcomes: Counter[str],
        sampler: _Sampler,
    ) -> None:
        """Count (and sample, in line order) the lines no data source reconciled."""
        not_found = Outcome.NOT_FOUND
        got = [not_found if j in decoded else failed[j] for j in positions]
        for outcome, number in Counter(got).items():
            outcomes[outcome.value] += number
        wanted = {o for o in set(got) if sampler.wants(o.value)}
        if not wanted:
            return
        ids = prepared.ids_list()
        for j, outcome in zip(positions, got, strict=True):
            if outcome in wanted:
                line = int(prepared.lines[j])
                sampler.add(_sample(prepared.file, line, ids[j], outcome))
                if not sampler.wants(outcome.value):
                    wanted.discard(outcome)
                    if not wanted:
                        break

    def batch(self, batch: BatchInput, sources: list[DataSource]) -> BatchResult:
        codecs = [self.codec(ds) for ds in sources]
        # A large batch on disk is read and decoded in a child process, started before
        # the indexes are built so that both run at once (two cores).
        worker = None
        if _use_worker(batch.files):
            with contextlib.suppress(OSError):  # cannot start one: read in-process
                worker = _Worker(batch.files, codecs, self.chunk_lines)
        try:
            steps = [(codec, self.index(ds)) for ds, codec in zip(sources, codecs, strict=True)]
            if worker is not None:
                self.check_cancelled()
                prepared = worker.chunks(self.check_cancelled)
            else:
                prepared = _prepare(batch.files, codecs, self.chunk_lines, self.check_cancelled)
            return self._consume(batch, sources, steps, prepared)
        finally:
            if worker is not None:
                worker.stop()

    def _consume(
        self,
        batch: BatchInput,
        sources: list[DataSource],
        steps: list[tuple[IdCodec, _Index]],
        chunks: Iterable[_Prepared],
    ) -> BatchResult:
        outcomes: Counter[str] = Counter()
        segments: dict[str, SegmentResult] = {}
        sampler = _Sampler(self.max_samples)
        records = reconciled = duplicates = 0
        malformed_line = Outcome.MALFORMED_LINE
        for prepared in chunks:
            self.check_cancelled()
            records += prepared.records
            if prepared.malformed:
                outcomes[malformed_line.value] += len(prepared.malformed)
                for (line, text), reason in zip(
                    prepared.malformed, prepared.reasons, strict=True
                ):
                    if not sampler.wants(malformed_line.value):
                        break
                    sampler.add(_sample(prepared.file, line, text, malformed_line, reason))
            duplicates += prepared.duplicates
            count = prepared.lines.size
            if count:
                pending = np.arange(count)
                groups = _Groups(prepared)
                groups.name_all(segments)
                failed: dict[int, Outcome] = {}  # position -> first data source's outcome
                decoded: set[int] = set()  # positions some data source could decode
                for step, (codec, index) in enumerate(steps):
                    if not pending.size:
                        break
                    keys = prepared.keys_of(step)
                    if pending.size != count:
                        keys = [keys[j] for j in pending.tolist()]
                    shaped = codec.is_shaped if codec.defers_shape_check else None
                    found = _lookup(keys, index, shaped)
                    reconciled += groups.add(segments, pending, found)
                    for j, outcome in found.failed.items():
                        failed.setdefault(int(pending[j]), outcome)
                    if found.decoded.size:
                        decoded.update(pending[found.decoded].tolist())
                    pending = pending[~found.done]
                if pending.size:
                    self._unreconciled(
                        prepared, pending.tolist(), failed, decoded, outcomes, sampler
                    )
            if self.progress is not None:
                self.progress(
                    Progress(
                        batch.key,
                        prepared.file,
                        prepared.last_line,
                        prepared.position,
                        prepared.total,
                    )
                )
        result = BatchResult(
            key=batch.key,
            mode=batch.mode,
            destination_id=batch.destination_id,
            files=[f.name for f in batch.files],
            records=records,
            reconciled=reconciled,
            duplicates=duplicates,
            outcomes=outcomes,
            segments=segments,
            samples=sampler.take(),
            datasources=[ds.label for ds in sources],
        )
        assert records == reconciled + duplicates + sum(outcomes.values())
        return result


def reconcile_batches(
    batches: Iterable[BatchInput],
    env: Environment,
    codecs: dict[str, IdCodec],
    profiles: ProfileSource,
    *,
    datasource: str | None = None,
    max_samples: int = 100,
    progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    skipped: list[tuple[str, str]] | None = None,
    chunk_lines: int = CHUNK_LINES,
    indexing: Callable[[IndexProgress], None] | None = None,
) -> Iterator[BatchResult]:
    """Reconcile each batch in turn, yielding one ``BatchResult`` per routed batch.

    Promises: files are streamed (chunks of ``chunk_lines`` lines); IDs are
    transformed per chunk, never per record; each data source's index is
    built once, on first use, from ``profiles``; every non-empty line gets
    exactly one outcome (module docstring) so ``records = reconciled +
    duplicates + sum(outcomes)``. A batch routed to no data source (see
    :func:`route`) is not yielded: its files are appended to ``skipped`` (when
    given) with the reason. ``cancelled()`` is checked between chunks and
    raises ``Cancelled``; ``progress`` is called after each chunk, ``indexing``
    after each chunk of profiles read into an index and once it is built. Samples:
    at most ``max_samples`` per batch, spread across outcomes. Errors that
    stop the run (a corrupt gzip, a missing reconciliation column, an unknown
    ``datasource`` label) raise ``InputError``.
    """
    run = _Run(
        env, codecs, profiles, datasource, max_samples, progress, cancelled, chunk_lines,
        indexing,
    )
    if datasource is not None:
        env.datasource(datasource)  # an unknown label fails before anything is read
    for batch in batches:
        sources = route(env, batch.destination_id, datasource)
        if not sources:
            if skipped is not None:
                reason = _no_route_reason(env, batch.destination_id)
                skipped.extend((f.name, reason) for f in batch.files)
            continue
        yield run.batch(batch, sources)


def _no_route_reason(env: Environment, destination_id: int | None) -> str:
    if destination_id is None:
        return "the name carries no destination ID; choose a data source with --datasource"
    known = sorted({ds.destination_id for ds in env.datasources if ds.destination_id is not None})
    shown = ", ".join(str(d) for d in known) or "none"
    return f"no data source has destination ID {destination_id} (configured: {shown})"


# ------------------------------------------------------------------------ summary


@dataclass
class Summary:
    """Totals over batches; ``to_json`` is docs/reference.md §4's ``dry-run --json``."""

    records: int
    reconciled: int
    duplicates: int
    match_rate: float
    outcomes: Counter[str]
    segments: dict[str, SegmentResult]
    unreconciled_samples: list[Sample]
    batches: list[BatchResult]
    skipped: list[tuple[str, str]]
    datasources: list[str]

    def to_json(self) -> dict[str, Any]:
        """The JSON document: section 4's keys plus ``batches``, ``skipped``,
        ``datasources``. Outcomes with zero count are omitted."""
        return {
            "records": self.records,
            "reconciled": self.reconciled,
            "duplicates": self.duplicates,
            "match_rate": self.match_rate,
            "outcomes": _outcomes_json(self.outcomes),
            "segments": _segments_json(self.segments),
            "unreconciled_samples": [_sample_json(s) for s in self.unreconciled_samples],
            "batches": [
                {
                    "key": b.key,
                    "mode": b.mode,
                    "destination_id": b.destination_id,
                    "files": list(b.files),
                    "records": b.records,
                    "reconciled": b.reconciled,
                    "duplicates": b.duplicates,
                    "match_rate": b.match_rate,
                    "outcomes": _outcomes_json(b.outcomes),
                    "segments": _segments_json(b.segments),
                    "datasources": list(b.datasources),
                }
                for b in self.batches
            ],
            "skipped": [{"file": name, "reason": reason} for name, reason in self.skipped],
            "datasources": list(self.datasources),
        }


def _outcome_order(name: str) -> tuple[int, str]:
    values = [o.value for o in Outcome]
    return (values.index(name) if name in values else len(values), name)


def _outcomes_json(outcomes: Counter[str]) -> dict[str, int]:
    return {k: outcomes[k] for k in sorted(outcomes, key=_outcome_order) if outcomes[k]}


def _segment_order(seg: str) -> tuple[int, str]:
    return (int(seg) if seg.isdigit() else 0, seg)


def _segments_json(segments: dict[str, SegmentResult]) -> dict[str, dict[str, int]]:
    return {
        seg: {"members": len(segments[seg].members), "removed": len(segments[seg].removed)}
        for seg in sorted(segments, key=_segment_order)
    }


def _sample_json(sample: Sample) -> dict[str, Any]:
    return {
        "file": sample.file,
        "line": sample.line,
        "id": sample.id,
        "outcome": sample.outcome,
        "hint": sample.hint,
    }


def summarize(
    results: Iterable[BatchResult],
    skipped: Iterable[tuple[str, str]] = (),
    *,
    max_samples: int = 100,
) -> Summary:
    """Totals of ``results``: sums, distinct segment members across batches, at most
    ``max_samples`` samples spread across outcomes, the data sources used."""
    batches = list(results)
    outcomes: Counter[str] = Counter()
    segments: dict[str, SegmentResult] = {}
    groups: dict[str, list[Sample]] = {}
    datasources: list[str] = []
    for b in batches:
        outcomes.update(b.outcomes)
        for seg, part in b.segments.items():
            total = segments.setdefault(seg, SegmentResult())
            total.members |= part.members
            total.removed |= part.removed
        for sample in b.samples:
            groups.setdefault(sample.outcome, []).append(sample)
        datasources.extend(label for label in b.datasources if label not in datasources)
    records = sum(b.records for b in batches)
    reconciled = sum(b.reconciled for b in batches)
    duplicates = sum(b.duplicates for b in batches)
    return Summary(
        records=records,
        reconciled=reconciled,
        duplicates=duplicates,
        match_rate=match_rate(reconciled, records, duplicates),
        outcomes=outcomes,
        segments=segments,
        unreconciled_samples=_spread(groups, max_samples),
        batches=batches,
        skipped=list(skipped),
        datasources=datasources,
    )
