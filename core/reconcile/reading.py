"""Reading a batch's files chunk by chunk: duplicates dropped, IDs decoded by every
routed codec (``_prepare``), in this process or in the decoding worker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import Any

import numpy as np

from core.cipher import IdCodec
from core.formats import (
    read_chunks,
)
from core.outcomes import Outcome
from core.reconcile.seen import _Seen
from core.reconcile.types import AudienceFile


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
        return self.ids

    def keys_of(self, step: int) -> list[str | Outcome]:
        """The lookup keys (or outcomes) of the step's codec."""
        keys = self.keys[step]
        if isinstance(keys, tuple):
            text, outcomes, count = keys
            keys = text.split("\n") if count else []
            for j, value in outcomes.items():
                keys[j] = Outcome(value)
            self.keys[step] = keys
        return keys


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
