"""Forensics wiring: each data source's unreconciled lines collected while a run streams,
and the website mistakes behind them (``core.forensics``) once the run is done.

Only lines that no data source reconciled are looked at, so the fast path (a line
found in an index) pays nothing. Per data source a bounded ``MissSample`` keeps the
raw ID as read, the file and line, and *that data source's own* outcome (a
multi-source batch reports only the first one's per line; forensics needs each).

The misses of an AES data source that decrypted to a well-formed value are not
kept: its key, IV and mode are right (``core.forensics`` settles them on their
outcome alone), so the website made no mistake there to find.

The profile side: the column the run indexes is kept as it goes into the index
(``keep``: one text per chunk, about 30 bytes a profile): an AES or clear data
source's normalized values, whose membership the index answers, so the search
reads the profiles again only for the digests of values as stored (see
``core.forensics.ProfileValues``); a hashed data source's values as stored
(normalized by the search only when a hypothesis needs them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from typing import Any

import numpy as np

from core.cipher import IdCodec
from core.forensics import Cause, MissSample, ProfileValues, find_causes
from core.model import DataSource, IdType, Transform
from core.outcomes import Outcome
from core.profiles import ProfileSource

__all__ = ["MissCollector", "SourceCause"]

_VALUE = attrgetter("_value_")  # an Outcome's text, without the enum property
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
        file: str,
        lines: Sequence[int] | np.ndarray,
        ids: Sequence[str],
        positions: Sequence[int],
        sources: Sequence[tuple[DataSource, IdCodec, Sequence[Any]]],
    ) -> None:
        """Add the lines at ``positions`` (no data source reconciled them): for each
        ``(data source, codec, its incoming keys of the chunk)``, that source's outcome."""
        where = np.asarray(positions, dtype=np.int64)
        for ds, codec, keys in sources:
            if ds.id_type is IdType.VISITOR:
                continue  # an ECID has no website mistake to find
            picked = list(map(keys.__getitem__, positions))
            failed = np.fromiter(
                map(isinstance, picked, repeat(Outcome)), dtype=bool, count=len(picked)
            )
            bad = np.flatnonzero(failed)
            if ds.transform is Transform.AES:
                # Decrypted to a value: nothing wrong on the website's side (see above).
                if not bad.size:
                    continue
                at = bad
                outcomes = list(map(_VALUE, map(picked.__getitem__, bad.tolist())))
            else:
                at = np.arange(len(picked))
                outcomes = [Outcome.NOT_FOUND.value] * len(picked)
                for k in bad.tolist():
                    outcomes[k] = picked[k].value
                if codec.defers_shape_check:
                    shaped = codec.is_shaped
                    for k in np.flatnonzero(~failed).tolist():
                        if not shaped(picked[k]):
                            outcomes[k] = Outcome.INVALID_EMAIL.value
            sample = self.samples.get(ds.label)
            if sample is None:
                sample = self.samples[ds.label] = MissSample(self.cap)
            names = np.asarray(outcomes)
            line_list: list[int] | None = None
            for outcome in dict.fromkeys(outcomes):  # in order of first line
                rows = where[at[names == outcome]].tolist()
                if line_list is None:
                    line_list = np.asarray(lines).tolist()
                # Only the lines the sample keeps are looked up (``_At``).
                sample.extend(file, _At(line_list, rows), _At(ids, rows), outcome)

    def causes(
        self,
        codecs: dict[str, IdCodec],
        profiles: ProfileSource,
        contains: Callable[[str], Contains | None],
        check: Callable[[], None] | None = None,
    ) -> list[SourceCause]:
        """The causes found in each data source's misses (most lines first within a data
        source), then forget the misses. ``contains(label)``: a membership test on the
        data source's normalized values (the run's index), or None."""
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
            if kept is None:  # not indexed by this collector: read when needed
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
