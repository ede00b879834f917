"""The public types of a reconciliation run: its inputs, results and progress."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from core.errors import InputError, OperationCancelled
from core.outcomes import match_rate

CHUNK_LINES = 16_384
SAMPLE_ID_CHARS = 64


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
    """One batch to reconcile: its parts in processing order, and the notes of its
    manifest that do not stop it (e.g. an md5 that is not hexadecimal)."""

    key: str
    mode: str  # "full" | "iter"
    destination_id: int | None
    files: tuple[AudienceFile, ...]
    notes: tuple[str, ...] = ()


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
    notes: list[str] = field(default_factory=list)

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


class BadBatchFile(InputError):
    """A file of one batch cannot be used: its gzip data is damaged or inflates like a
    bomb, or it differs from its manifest (size, md5, line count). Only that batch is
    left out, with this message as its reason; the run goes on with the others."""


class Cancelled(OperationCancelled):
    """The run was cancelled between two chunks (nothing of the batch is returned)."""

    def __init__(self, message: str = "reconciliation cancelled", hint: str = "") -> None:
        super().__init__(message, hint or "nothing of the interrupted batch was kept")
