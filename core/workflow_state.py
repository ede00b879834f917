"""The import workflow's states and their changes, what the store records of it (runs,
status, batches written: :class:`WorkflowStore`) and its expected timing.

``core.workflow`` runs the passes and re-exports every name here; see its docstring
for what the states mean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from core import clock
from core.errors import AudienceError, ExitCode
from core.outcomes import match_rate

#: AAM exports once a day, about 14:00 UTC (docs/adobe.md "Timing").
AAM_DAILY_HOUR_UTC = 14


class State(StrEnum):
    """The workflow's state (docs/reference.md §1: ``running|paused|stopped|failed|idle``)."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FAILED = "failed"
    IDLE = "idle"


class WorkflowRefused(AudienceError):
    """The workflow's state forbids what was asked (e.g. running a paused workflow).

    Exit code 1: a finding about the workflow, not a usage error.
    """

    exit_code = ExitCode.FINDINGS


@dataclass(frozen=True)
class WorkflowStatus:
    """The persisted state of one environment's import workflow."""

    state: State
    changed_at: datetime
    last_error: str = ""


@dataclass(frozen=True)
class RunRecord:
    """One import run as recorded (``status``: running, ok, failed, nothing_new, cancelled)."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    batches: int
    files: int
    records: int
    reconciled: int
    duplicates: int
    outcomes: dict[str, int]
    samples: list[dict[str, Any]]
    error: str
    #: Website mistakes found in the run's misses (``SourceCause.to_json`` items, per batch).
    causes: list[dict[str, Any]] = field(default_factory=list)

    def dominant_cause(self) -> dict[str, Any] | None:
        """The cause that explains the most lines (the first found among equals), or None."""
        best: dict[str, Any] | None = None
        for cause in self.causes:
            if best is None or int(cause.get("count", 0)) > int(best.get("count", 0)):
                best = cause
        return best

    @property
    def match_rate(self) -> float:
        """``reconciled / (records - duplicates)``, to 4 places; 0.0 when nothing was counted."""
        return round(match_rate(self.reconciled, self.records, self.duplicates), 4)

    def to_json(self) -> dict[str, Any]:
        """The ``last_run`` object of ``import status --json``."""
        return {
            "id": self.id,
            "started_at": clock.iso(self.started_at),
            "finished_at": clock.iso(self.finished_at) if self.finished_at else None,
            "status": self.status,
            "batches": self.batches,
            "files": self.files,
            "records": self.records,
            "reconciled": self.reconciled,
            "duplicates": self.duplicates,
            "match_rate": self.match_rate,
            "outcomes": dict(self.outcomes),
            "error": self.error,
        }


@dataclass(frozen=True)
class BatchWrite:
    """Everything one batch changes in the store, written in one transaction.

    ``segments`` maps a segment ID to ``(members, removed)`` profile-ID sets;
    ``files`` lists ``(name, size)`` of the batch's parts and manifest.
    """

    batch: str
    mode: str
    segments: Mapping[str, tuple[frozenset[str], frozenset[str]]]
    files: Sequence[tuple[str, int]]
    records: int
    reconciled: int
    duplicates: int
    outcomes: Mapping[str, int]
    samples: Sequence[Mapping[str, Any]]
    causes: Sequence[Mapping[str, Any]] = ()


class WorkflowStore(Protocol):
    """Where the workflow persists (``storage.audiences.SqliteWorkflowStore``)."""

    def status(self, env: str) -> WorkflowStatus:
        """The workflow's state (``idle`` when never set)."""
        ...

    def set_state(self, env: str, state: State, last_error: str = "") -> WorkflowStatus:
        """Records a new state and ``last_error`` (one line, no secret)."""
        ...

    def processed_names(self, env: str) -> set[str]:
        """Names of every file in the processed-files ledger."""
        ...

    def close_interrupted_runs(self, env: str) -> int:
        """Marks runs left ``running`` by a dead process as failed; how many."""
        ...

    def start_run(self, env: str, started_at: datetime) -> int:
        """Creates a run record (status ``running``) and returns its ID."""
        ...

    def write_batch(
        self, env: str, run_id: int, write: BatchWrite, during: Callable[[], None] | None = None
    ) -> None:
        """Applies ``write`` atomically: audiences, ledger rows and run counters.

        ``during`` is called inside the transaction, before it commits.
        """
        ...

    def finish_run(
        self, env: str, run_id: int, finished_at: datetime, status: str, error: str = ""
    ) -> None:
        """Closes the run record with its final status and error."""
        ...

    def mark_superseded(
        self, env: str, run_id: int, batch: str, files: Sequence[tuple[str, int]]
    ) -> None:
        """Records ``files`` in the ledger without touching any audience (one transaction)."""
        ...

    def last_run(self, env: str) -> RunRecord | None:
        """The most recent run, or None."""
        ...

    def processed_count(self, env: str) -> int:
        """How many files the ledger holds."""
        ...

    def segment_counts(self, env: str) -> dict[str, int]:
        """Members per segment now in the store, by segment ID."""
        ...


# --------------------------------------------------------------------- transitions


def pause(store: WorkflowStore, env: str) -> tuple[WorkflowStatus, str]:
    """Pauses a running workflow (work in progress finishes its batch, nothing new starts).

    Returns the new status and a one-line message. Pausing a paused workflow is a
    no-op; pausing a stopped, failed or idle one is refused (``WorkflowRefused``).
    """
    current = store.status(env)
    if current.state is State.PAUSED:
        return current, "the import workflow is already paused"
    if current.state is not State.RUNNING:
        raise WorkflowRefused(
            f"cannot pause: the import workflow is {current.state.value}, not running",
            "only a running workflow can be paused; `audiencectl import resume` starts it",
        )
    return store.set_state(env, State.PAUSED), (
        "paused: a pass in progress finishes its current batch, no new pass starts"
    )


def resume(store: WorkflowStore, env: str) -> tuple[WorkflowStatus, str]:
    """Makes the workflow running from any state and clears ``last_error``."""
    current = store.status(env)
    if current.state is State.RUNNING:
        return current, "the import workflow is already running"
    status = store.set_state(env, State.RUNNING, "")
    was = current.state.value
    cleared = " (last error cleared)" if current.last_error else ""
    return status, (
        f"running (was {was}){cleared}; the next pass imports new files "
        "(`audiencectl import run`, or Run now in the console)"
    )


def stop(store: WorkflowStore, env: str) -> tuple[WorkflowStatus, str]:
    """Stops the workflow: a pass in progress is cancelled, nothing runs until resumed."""
    current = store.status(env)
    if current.state is State.STOPPED:
        return current, "the import workflow is already stopped"
    return store.set_state(env, State.STOPPED, current.last_error), (
        "stopped: a pass in progress is cancelled; `audiencectl import resume` restarts it"
    )


def check_can_run(store: WorkflowStore, env: str) -> WorkflowStatus:
    """The status to run under: ``idle`` becomes ``running``; running stays.

    Raises ``WorkflowRefused`` (why, and how to resume) when paused, stopped or failed.
    """
    current = store.status(env)
    if current.state is State.IDLE:
        return store.set_state(env, State.RUNNING, "")
    if current.state is State.RUNNING:
        return current
    resume_hint = "run `audiencectl import resume` first"
    if current.state is State.FAILED:
        raise WorkflowRefused(
            f"the import workflow failed and needs attention: {current.last_error or 'unknown'}",
            f"fix the cause, then {resume_hint}",
        )
    raise WorkflowRefused(
        f"the import workflow is {current.state.value}: nothing runs "
        f"(since {clock.iso(current.changed_at)})",
        resume_hint,
    )


# ------------------------------------------------------------------------ timing


@dataclass(frozen=True)
class ExpectedLatency:
    """How long audiences take to travel, so that slow is not mistaken for broken."""

    aam_schedule: str
    next_aam_delivery: datetime
    end_to_end_hours: tuple[int, int]
    from_analytics_max_hours: int
    import_interval_minutes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "aam_schedule": self.aam_schedule,
            "next_aam_delivery": clock.iso(self.next_aam_delivery),
            "end_to_end_hours": list(self.end_to_end_hours),
            "from_analytics_max_hours": self.from_analytics_max_hours,
            "import_interval_minutes": self.import_interval_minutes,
        }

    def lines(self) -> list[str]:
        low, high = self.end_to_end_hours
        return [
            f"AAM delivers {self.aam_schedule}; next about {clock.iso(self.next_aam_delivery)}",
            f"end to end {low}-{high} h after a segment changes in AAM "
            f"(up to {self.from_analytics_max_hours} h when it comes from Analytics); "
            f"this workflow looks every {self.import_interval_minutes} min",
        ]


def expected_latency(interval_minutes: int, at: datetime | None = None) -> ExpectedLatency:
    """AAM's schedule and the expected end-to-end delays (docs/adobe.md "Timing")."""
    moment = at or clock.now()
    today = moment.replace(hour=AAM_DAILY_HOUR_UTC, minute=0, second=0, microsecond=0)
    delivery = today if today > moment else today + timedelta(days=1)
    return ExpectedLatency(
        aam_schedule="once a day, about 14:00 UTC (sometimes late, then two files for one day)",
        next_aam_delivery=delivery,
        end_to_end_hours=(24, 36),
        from_analytics_max_hours=60,
        import_interval_minutes=interval_minutes,
    )


def is_overdue(
    status: WorkflowStatus,
    last: RunRecord | None,
    interval_minutes: int,
    at: datetime | None = None,
) -> bool:
    """True when the workflow is running but no pass started within twice its interval."""
    if status.state is not State.RUNNING:
        return False
    moment = at or clock.now()
    since = last.started_at if last is not None else status.changed_at
    if last is not None and status.changed_at > since:
        since = status.changed_at
    return moment - since > timedelta(minutes=2 * interval_minutes)
