"""Progress and cancellation, as a long use case reports them to its front end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

StepFn = Callable[["Step"], None]
CancelledFn = Callable[[], bool]


@dataclass(frozen=True)
class Step:
    """A progress snapshot: ``done`` of ``total`` units and a one-line description.

    A snapshot carries everything to draw, so a newer one may replace an older
    one that was not shown yet."""

    done: int
    total: int
    text: str
