"""The one clock of audiencectl, so tests and screenshots can freeze time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, UTC, to the second."""
    return _source().astimezone(UTC).replace(microsecond=0)


def freeze(moment: datetime | None) -> None:
    """Makes ``now()`` return ``moment`` (``None`` restores the real clock)."""
    global _source
    if moment is None:
        _source = lambda: datetime.now(UTC)  # noqa: E731
    else:
        fixed = moment.astimezone(UTC)
        _source = lambda: fixed  # noqa: E731


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as stored and printed everywhere."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ago(moment: datetime, reference: datetime | None = None) -> str:
    """A short human age: 'just now', '5 min ago', '3 h ago', '2 d ago'."""
    seconds = int(((reference or now()) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"
