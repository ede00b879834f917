"""Samples of unreconciled lines, spread across outcomes."""

from __future__ import annotations

from core.formats import (
    excerpt,
)
from core.outcomes import EXPLANATIONS, FAILURES, Outcome
from core.reconcile.types import SAMPLE_ID_CHARS, Sample


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
