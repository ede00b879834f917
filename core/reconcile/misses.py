"""Forensics wiring: each data source's unreconciled lines collected while a run streams,
and the website mistakes behind them (``core.forensics``) once the run is done.

Only lines that no data source reconciled are looked at, so the fast path (a line
found in an index) pays nothing. Per data source a bounded ``MissSample`` keeps the
raw ID as read, the file and line, and *that data source's own* outcome (a
multi-source batch reports only the first one's per line; forensics needs each).

The misses of an AES data source that decrypted to a well-formed value are not
kept: its key, IV and mode are right (``core.forensics`` settles them on their
outcome alone), so the website made no mistake there to find.

The profile side: the column the run indexes chunk by chunk is kept as it goes
into the index (``keep``: one text per chunk, about 30 bytes a profile): an AES
or clear data source's normalized values, a hashed one's values as stored
(normalized by the search only when a hypothesis needs them). An index that
DuckDB built from a plain CSV by itself is asked for its keys instead, and only
when a hypothesis needs the values. The index answers membership, so the search
reads the profiles again only for the digests of values as stored (see
``core.forensics.ProfileValues``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.cipher import IdCodec
from core.forensics import Cause, MissSample, ProfileValues, find_causes
from core.model import DataSource, IdType, Transform
from core.outcomes import Outcome
from core.profiles import ProfileSource
from core.reconcile.reading import _Prepared

__all__ = ["MissCollector", "SourceCause"]

#: The misses kept per data source and outcome (evenly spread beyond): enough to name
#: a cause and estimate its lines, and the search stays well within the run's budget.
RUN_CAP = 10_000

#: ``contains(keys)`` for a data source's normalized values, or None (hashed sources).
Contains = Callable[[Sequence[str]], Sequence[bool]]


@dataclass(frozen=True)
class SourceCause:
    """A cause found in one data source's misses."""

    datasource: str
    cause: Cause

    def to_json(self) -> dict[str, Any]:
        """docs/reference.md §4's ``causes`` item, with the data source's label."""
        return {"datasource": self.datasource, **self.cause.to_json()}


class MissCollector:
    """Per data source, a bounded sample of the run's unreconciled lines
    (``cap`` per outcome, evenly spread; see ``core.forensics.MissSample``)."""

    def __init__(self, cap: int = RUN_CAP) -> None:
        self.cap = cap
        self.samples: dict[str, MissSample] = {}
        #: Per data source, its column as indexed (``keep``).
        self.kept: dict[str, list[str | list[str]]] = {}

    def mark(self) -> dict[str, MissSample]:
        """A copy of the misses collected so far (bounded: ``cap`` per outcome), for
        :meth:`rollback` when the batch about to be read fails part way."""
        return copy.deepcopy(self.samples)

    def rollback(self, mark: dict[str, MissSample]) -> None:
        """Forget the misses collected since ``mark`` (a batch that counts for nothing)."""
        self.samples = mark

    def keep(self, ds: DataSource, keys: Sequence[str | None], stored: Sequence[str]) -> None:
        """Keep a chunk of the column as the run indexes it: an AES or clear data
        source's lookup keys (its normalized values), a hashed one's values as stored
        (its keys are digests); one newline-joined text per chunk."""
        if ds.id_type is IdType.VISITOR:
            return
        values = [k for k in (stored if ds.transform.is_hash else keys) if k]
        text = "\n".join(values)
        chunks = self.kept.setdefault(ds.label, [])
        # A value holding a newline (an ``other`` channel) cannot be split back.
        chunks.append(text if text.count("\n") == len(values) - 1 else values)

    def collect(
        self,
        prepared: _Prepared,
        positions: np.ndarray,
        sources: Sequence[tuple[DataSource, Mapping[int, Outcome], np.ndarray | None]],
    ) -> None:
        """Add the chunk's lines at ``positions`` (no data source reconciled them): for
        each ``(data source, its outcomes by position, the e-mail shape of its keys not
        found or None)``, that data source's outcome."""
        where = np.asarray(positions, dtype=np.int64)
        line_list: list[int] | None = None
        ids: _Ids | None = None
        for ds, outs, shaped in sources:
            if ds.id_type is IdType.VISITOR:
                continue  # an ECID has no website mistake to find
            failed = np.isin(where, np.fromiter(outs, dtype=np.int64, count=len(outs)))
            bad = where[failed].tolist()
            if ds.transform is Transform.AES:
                # Decrypted to a value: nothing wrong on the website's side (see above).
                if not bad:
                    continue
                rows_all = where[failed]
                outcomes = [outs[j].value for j in bad]
            else:
                rows_all = where
                outcomes = [Outcome.NOT_FOUND.value] * where.size
                for k in np.flatnonzero(failed).tolist():
                    outcomes[k] = outs[int(where[k])].value
                if shaped is not None:
                    for k in np.flatnonzero(~failed & ~shaped[where]).tolist():
                        outcomes[k] = Outcome.INVALID_EMAIL.value
            sample = self.samples.get(ds.label)
            if sample is None:
                sample = self.samples[ds.label] = MissSample(self.cap)
            if line_list is None:
                line_list = prepared.lines.tolist()
                ids = _Ids(prepared)
            assert ids is not None
            names = np.asarray(outcomes)
            for outcome in dict.fromkeys(outcomes):  # in order of first line
                rows = rows_all[names == outcome].tolist()
                # Only the lines the sample keeps are looked up (``_At``).
                sample.extend(prepared.file, _At(line_list, rows), _At(ids, rows), outcome)

    def causes(
        self,
        codecs: dict[str, IdCodec],
        profiles: ProfileSource,
        contains: Callable[[str], Contains | None],
        keys: Callable[[str], Callable[[], list[str]] | None],
        check: Callable[[], None] | None = None,
    ) -> list[SourceCause]:
        """The causes found in each data source's misses (most lines first within a data
        source), then forget the misses. ``contains(label)``: a membership test on the
        data source's normalized values (the run's index), or None; ``keys(label)``: a
        way to read those values from the index, for a column this collector did not
        keep."""
        others = [
            (label, *pair) for label, codec in codecs.items() if (pair := codec.key_iv) is not None
        ]
        out: list[SourceCause] = []
        for label, sample in self.samples.items():
            codec = codecs[label]
            ds = codec.ds
            if not sample.totals:
                continue
            pair = codec.key_iv
            key, iv = pair if pair is not None else (None, None)
            test = None if ds.transform.is_hash else contains(label)
            kept = self.kept.get(label)
            indexed = keys(label) if test is not None else None
            if kept is None and indexed is not None:  # the index holds them (DuckDB)
                values = ProfileValues(
                    indexed,
                    ds.channel,
                    normalized=True,
                    contains=test,
                    stored=_column(profiles, ds),
                )
            elif kept is None:  # not indexed by this run: read when needed
                values = ProfileValues.from_profiles(profiles, ds, contains=test)
            elif ds.transform.is_hash:  # as stored, normalized if a hypothesis needs it
                values = ProfileValues(_values_of(kept), ds.channel)
            else:
                values = ProfileValues(
                    _values_of(kept),
                    ds.channel,
                    normalized=True,
                    contains=test,
                    stored=_column(profiles, ds),
                )
            found = find_causes(
                ds,
                key,
                iv,
                sample.misses,
                values,
                limit_per_outcome=self.cap,
                totals=sample.totals,
                other_keys=[o for o in others if o[0] != label],
                check=check,
            )
            out.extend(SourceCause(label, cause) for cause in found)
        self.samples.clear()
        return out


class _Ids(Sequence[str]):
    """A chunk's raw IDs, split from the decoder's text only when one is asked for."""

    def __init__(self, prepared: _Prepared) -> None:
        self.prepared = prepared
        self.items: list[str] | None = None

    def __len__(self) -> int:
        return int(self.prepared.lines.size)

    def __getitem__(self, k: Any) -> Any:
        if self.items is None:
            self.items = self.prepared.ids_list()
        return self.items[k]


class _At(Sequence[Any]):
    """``items[rows[k]]`` for each ``k``: a group's lines or IDs, read only when kept."""

    def __init__(self, items: Sequence[Any], rows: list[int]) -> None:
        self.items = items
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self.items[r] for r in self.rows[k]]
        return self.items[self.rows[k]]


def _values_of(kept: list[str | list[str]]) -> Callable[[], list[str]]:
    def values() -> list[str]:
        out: list[str] = []
        for chunk in kept:
            if isinstance(chunk, str):
                if chunk:
                    out.extend(chunk.split("\n"))
            else:
                out.extend(chunk)
        return out

    return values


def _column(profiles: ProfileSource, ds: DataSource) -> Callable[[], Iterable[str]]:
    def column() -> Iterator[str]:
        for _, values in profiles.column_chunks(ds.reconciliation_key):
            yield from values

    return column
