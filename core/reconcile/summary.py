"""Totals over batches and the ``dry-run --json`` document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.outcomes import Outcome, match_rate
from core.reconcile.samples import _spread
from core.reconcile.types import BatchResult, Sample, SegmentResult


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

    def skipped_words(self) -> str:
        """``"7 of 9 file(s) skipped"`` (files of reconciled batches and skipped files
        counted once each), ``""`` when nothing was skipped."""
        skipped = {name for name, _ in self.skipped}
        if not skipped:
            return ""
        read = {name for b in self.batches for name in b.files} - skipped
        return f"{len(skipped)} of {len(read) + len(skipped)} file(s) skipped"

    def mostly_skipped(self) -> bool:
        """More files were skipped than reconciled: the run says little about the audience."""
        skipped = {name for name, _ in self.skipped}
        read = {name for b in self.batches for name in b.files} - skipped
        return len(skipped) > len(read)

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
                    "notes": list(b.notes),
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
