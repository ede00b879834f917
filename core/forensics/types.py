"""What forensics reads and returns: the misses of a data source, a sample of them
collected while a run streams, and the causes found (see the package's docstring)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

DEFAULT_LIMIT = 20_000
MIN_TAIL = 6  # bytes of a value after its first block needed to name it by its tail


class Miss(NamedTuple):
    """One unreconciled line of a data source: where it is, its ID, its outcome (a named
    tuple: a run makes many of them)."""

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

    def extend(self, file: str, lines: Sequence[int], raw_ids: Sequence[str], outcome: str) -> None:
        """``add`` for many lines of one outcome at once (the same lines are kept)."""
        count = len(lines)
        if not count:
            return
        seen = self.totals[outcome]
        self.totals[outcome] = seen + count
        kept = self._kept.setdefault(outcome, [])
        at = 0
        while at < count:
            stride = self._stride.get(outcome, 1)
            start = at + (-(seen + at)) % stride
            picks = range(start, count, stride)[: self.cap + 1 - len(kept)]
            kept.extend(Miss(file, lines[j], raw_ids[j], outcome) for j in picks)
            if len(kept) <= self.cap:
                return
            kept[:] = kept[::2]
            self._stride[outcome] = stride * 2
            at = picks[-1] + 1

    @property
    def misses(self) -> list[Miss]:
        return [m for kept in self._kept.values() for m in kept]
