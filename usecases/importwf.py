"""The Import shared audience workflow: one pass, the loop of passes, the status, the
state changes (pause, resume, stop) and what the console's workflow panel shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core import clock
from core.errors import AudienceError
from core.leftovers import clean_local_leftovers
from core.model import AccountType, Environment
from core.transport import LocalTransport
from core.workflow import (
    AAM_DAILY_HOUR_UTC,
    LEFT_OUT_STATUSES,
    Backlog,
    CancelledFn,
    ExpectedLatency,
    PassEvent,
    PassReport,
    ProgressFn,
    RunRecord,
    State,
    check_can_run,
    expected_latency,
    folder_backlog,
    is_overdue,
    iter_sleep,
    pause,
    resume,
    run_pass,
    stop,
)
from storage.audiences import SqliteWorkflowStore
from storage.lock import ImportLock
from storage.profiles import StoreProfiles
from usecases.access import account_opener, secret_resolver
from usecases.progress import Step, StepFn
from usecases.services import Services

#: ProgressBar units per batch of an import pass (a batch's bytes are scaled to this).
_PER_BATCH = 1000


def _pass(
    services: Services, env: Environment, progress: ProgressFn | None, cancelled: CancelledFn | None
) -> PassReport:
    workflow = SqliteWorkflowStore(services.store)
    check_can_run(workflow, env.name)
    return run_pass(
        env,
        workflow,
        StoreProfiles(services.store, env.name),
        account_opener(services, env),
        secret_resolver(services, env),
        progress=progress,
        cancelled=cancelled,
        hooks=services.hooks,
    )


def run_import_pass(
    services: Services,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> PassReport:
    """One pass of the import workflow, as `import run --once` does it.

    Takes the store's import lock (``ImportLocked``, exit 2, when another run holds
    it), refuses a paused, stopped or failed workflow (``WorkflowRefused``, exit 1),
    makes an idle one running, then runs :func:`core.workflow.run_pass`. Safe to
    call from a thread worker (the store connection allows it; do not share it
    with concurrent writers).
    """
    env = services.env()
    with ImportLock(services.db_path):
        clean_local_leftovers()  # what a killed run left in the temporary folder
        return _pass(services, env, progress, cancelled)


def run_import_loop(
    services: Services,
    *,
    once: bool,
    progress: ProgressFn | None = None,
    on_report: Callable[[PassReport], None],
    on_wait: Callable[[int], None] | None = None,
) -> State | None:
    """Passes of the import workflow under one import lock: one (``once``), or one every
    interval until the workflow is no longer running.

    ``on_report`` gets each pass's report, ``on_wait`` the minutes until the next pass.
    Returns None after a single pass, else the state that ended the loop (paused or
    stopped elsewhere). Refusals and errors as :func:`run_import_pass`.
    """
    env = services.env()
    workflow = SqliteWorkflowStore(services.store)
    with ImportLock(services.db_path):
        clean_local_leftovers()  # what a killed run left in the temporary folder
        while True:
            on_report(_pass(services, env, progress, None))
            if once:
                return None
            interval = env.workflow.interval_minutes
            if on_wait is not None:
                on_wait(interval)
            last_check = 0.0
            for _ in iter_sleep(interval * 60):
                if time.monotonic() - last_check < 2:
                    continue
                last_check = time.monotonic()
                current = workflow.status(env.name).state
                if current is not State.RUNNING:
                    return current
            current = workflow.status(env.name).state
            if current is not State.RUNNING:
                return current


class PassTracker:
    """Turns a pass's :class:`PassEvent` s into overall :class:`Step` snapshots:
    batches done (each worth its bytes read) over the batches to process."""

    def __init__(self) -> None:
        self.batches = 0
        self.index = 0
        self.fraction = 0.0
        self.text = "starting"

    def step(self, event: PassEvent) -> Step:
        """The snapshot after ``event``."""
        if event.stage == "list" and event.total:
            self.batches = event.total
        elif event.stage in ("reconcile", "write") and event.total:
            self.batches = max(self.batches, event.total)
            self.index = max(0, event.done - 1)
            self.fraction = 1.0 if event.stage == "write" else 0.0
        elif event.stage == "progress" and event.total:
            self.fraction = min(1.0, event.done / event.total)
        total = max(1, self.batches) * _PER_BATCH
        done = int((self.index + self.fraction) * _PER_BATCH)
        if event.stage == "done":
            done = total
        self.text = event.message
        return Step(min(done, total), total, event.message)


def run_pass_now(
    services: Services,
    *,
    progress: StepFn | None = None,
    cancelled: CancelledFn | None = None,
) -> PassReport:
    """One pass of the import workflow (``import run --once``), with overall progress.

    Refusals and errors are those of :func:`run_import_pass`.
    """
    tracker = PassTracker()

    def on_event(event: PassEvent) -> None:
        if progress is not None:
            progress(tracker.step(event))

    return run_import_pass(services, progress=on_event, cancelled=cancelled)


# ------------------------------------------------------------------------ status


def waiting_files(env: Environment, processed: set[str]) -> Backlog | None:
    """What a local import folder holds that is not imported yet (``folder_backlog``: the
    import pass's own rules); None for a remote account (status never connects) or a
    folder that cannot be listed."""
    account = env.import_account
    if account.type is not AccountType.LOCAL or not account.path:
        return None
    try:
        with LocalTransport(Path(account.path)) as files:
            return folder_backlog(files, processed)
    except AudienceError:
        return None


@dataclass(frozen=True)
class ImportStatus:
    """The import workflow of one environment: state, last run, ledger, audiences, timing."""

    env: str
    state: State
    changed_at: datetime
    last_error: str
    last_run: RunRecord | None
    processed_files: int
    #: Files of a local import folder not imported yet (None: not known without connecting).
    waiting_files: int | None
    #: Batches of that folder left for a later run, with why: ``(key, reason)``.
    waiting: list[tuple[str, str]]
    #: Files of that folder never imported, with why: ``(name, reason)``.
    skipped: list[tuple[str, str]]
    #: Segment ID -> members in the store.
    segments: dict[str, int]
    interval_minutes: int
    overdue: bool
    expected_latency: ExpectedLatency
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        """The ``import status --json`` object (docs/reference.md §1)."""
        return {
            "env": self.env,
            "state": self.state.value,
            "changed_at": clock.iso(self.changed_at),
            "last_error": self.last_error,
            "last_run": self.last_run.to_json() if self.last_run else None,
            "processed_files": self.processed_files,
            "waiting_files": self.waiting_files,
            "waiting": [{"batch": key, "reason": reason} for key, reason in self.waiting],
            "skipped": [{"file": name, "reason": reason} for name, reason in self.skipped],
            "segments": {seg: {"members": n} for seg, n in self.segments.items()},
            "interval_minutes": self.interval_minutes,
            "overdue": self.overdue,
            "expected_latency": self.expected_latency.to_json(),
            "notes": list(self.notes),
        }


def import_status(services: Services) -> ImportStatus:
    """The workflow's state, last run, ledger, audiences and expected timing."""
    env = services.env()
    workflow = SqliteWorkflowStore(services.store)
    status = workflow.status(env.name)
    last = workflow.last_run(env.name)
    interval = env.workflow.interval_minutes
    overdue = is_overdue(status, last, interval)
    notes: list[str] = []
    if overdue:
        since = clock.iso(last.started_at) if last else "never"
        notes.append(
            f"no run within 2 x {interval} min while running (last run: {since}): "
            "is `audiencectl import run` (or its scheduler) still going?"
        )
    backlog = waiting_files(env, workflow.processed_names(env.name))
    waiting = backlog.waiting_files if backlog is not None else None
    if backlog is not None and backlog.skipped:
        shown = "; ".join(f"{name} ({reason})" for name, reason in backlog.skipped[:5])
        more = f"; and {len(backlog.skipped) - 5} more" if len(backlog.skipped) > 5 else ""
        notes.append(f"{len(backlog.skipped)} file(s) skipped, never imported: {shown}{more}")
    if backlog is not None:
        notes.extend(f"batch {key} waits: {reason}" for key, reason in backlog.waiting)
    if last is not None and last.error and last.status in LEFT_OUT_STATUSES:
        notes.append(last.error)  # the batches it left for the next run, with the reason
    if status.state in (State.PAUSED, State.STOPPED):
        held = f", {waiting} file(s) waiting" if waiting else ""
        notes.append(
            f"the workflow is {status.state.value}{held}: audiences are not imported "
            "(`audiencectl import resume`)"
        )
    return ImportStatus(
        env=env.name,
        state=status.state,
        changed_at=status.changed_at,
        last_error=status.last_error,
        last_run=last,
        processed_files=workflow.processed_count(env.name),
        waiting_files=waiting,
        waiting=list(backlog.waiting) if backlog is not None else [],
        skipped=list(backlog.skipped) if backlog is not None else [],
        segments=dict(workflow.segment_counts(env.name)),
        interval_minutes=interval,
        overdue=overdue,
        expected_latency=expected_latency(interval),
        notes=notes,
    )


#: The workflow's state changes, by name.
TRANSITIONS: dict[str, Callable[[SqliteWorkflowStore, str], tuple[Any, str]]] = {
    "pause": pause,
    "resume": resume,
    "stop": stop,
}


def change_state(services: Services, action: str, env_name: str | None = None) -> str:
    """``pause``, ``resume`` or ``stop`` the workflow of ``env_name`` (default: the
    services' environment); returns the sentence saying what happened."""
    name = env_name if env_name is not None else services.env().name
    _, message = TRANSITIONS[action](SqliteWorkflowStore(services.store), name)
    return message


# ------------------------------------------------------------------------ workflow view


@dataclass(frozen=True)
class WorkflowView:
    """What the workflow panel shows, read from the store in one go."""

    state: str
    changed_at: str
    last_error: str
    processed_files: int
    runs: list[RunRecord]
    segments: dict[str, int]
    latency: list[str]
    notes: list[str]
    interval_minutes: int = 60


def workflow_view(services: Services, runs: int = 8) -> WorkflowView:
    """The import workflow's state, last ``runs`` runs, audiences and expected timing
    (the data of ``audiencectl import status``)."""
    status = import_status(services)
    records = SqliteWorkflowStore(services.store).runs(status.env, runs)
    return WorkflowView(
        state=status.state.value,
        changed_at=clock.iso(status.changed_at),
        last_error=status.last_error or "",
        processed_files=status.processed_files,
        runs=records,
        segments=dict(status.segments),
        latency=latency_lines(status.expected_latency),
        notes=list(status.notes),
        interval_minutes=status.interval_minutes,
    )


def latency_lines(latency: ExpectedLatency) -> list[str]:
    """The expected timing in two short lines, so slow is not read as broken."""
    low, high = latency.end_to_end_hours
    nxt = latency.next_aam_delivery.strftime("%m-%d %H:%M")
    return [
        f"AAM sends daily about {AAM_DAILY_HOUR_UTC}:00 UTC, sometimes late (next: {nxt} UTC)",
        f"expect {low}-{high} h end to end ({latency.from_analytics_max_hours} h from "
        "Analytics): slow is not broken",
    ]
