"""The Import shared audience workflow: its states, its passes, what has been processed.

States follow Campaign's (docs/adobe.md "Workflow states"):

- ``running``: passes run (Campaign's "In progress");
- ``paused``: the pass in progress finishes its current batch, nothing new starts;
- ``stopped``: the pass in progress is cancelled, nothing runs until resumed;
- ``failed``: the last pass met an error that needs the admin (``last_error``);
- ``idle``: never started; running it makes it ``running``.

A *pass* lists the import account, skips files already in the processed-files
ledger, groups the rest into batches, leaves incomplete batches for later,
fetches each complete batch into a temporary folder, reconciles it against the
store's profiles and writes each batch in ONE transaction (audiences, ledger
rows, run counters). Killing the process at any moment leaves the store as it
was before the batch being written; the next pass redoes that batch.

Persistence is behind :class:`WorkflowStore` (``storage.audiences`` implements it).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from core import clock
from core.errors import AudienceError, ExitCode, InputError
from core.formats import (
    Batch,
    Manifest,
    classify_names,
    parse_manifest,
    parse_manifest_name,
    parse_outbound_name,
    verify_part,
)
from core.leftovers import temp_prefix
from core.model import Account, DataSource, Environment
from core.outcomes import match_rate
from core.reconcile import (
    AudienceFile,
    BatchInput,
    Cancelled,
    IndexProgress,
    build_codecs,
    index_words,
    reconcile_batches,
    route,
)

__all__ = [
    "AAM_DAILY_HOUR_UTC",
    "HOOKS_VAR",
    "BatchWrite",
    "ExpectedLatency",
    "PassEvent",
    "PassReport",
    "RunRecord",
    "State",
    "WorkflowRefused",
    "WorkflowStatus",
    "WorkflowStore",
    "check_can_run",
    "expected_latency",
    "is_overdue",
    "iter_sleep",
    "pause",
    "resume",
    "run_pass",
    "stop",
    "test_hook",
]

HOOKS_VAR = "AUDIENCECTL_TEST_HOOKS"
#: AAM exports once a day, about 14:00 UTC (docs/adobe.md "Timing").
AAM_DAILY_HOUR_UTC = 14
MAX_SAMPLES = 100


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


# ------------------------------------------------------------------------- hooks


def test_hook(name: str) -> None:
    """Test-only pause points: inert unless ``AUDIENCECTL_TEST_HOOKS`` is set.

    ``AUDIENCECTL_TEST_HOOKS="write=5,fetch=2"`` makes the named point print
    ``audiencectl-hook: NAME`` on stderr then sleep that many seconds, so a test
    can kill the process at a known moment.
    """
    spec = os.environ.get(HOOKS_VAR)
    if not spec:
        return
    for item in spec.split(","):
        point, _, seconds = item.partition("=")
        if point.strip() == name:
            sys.stderr.write(f"audiencectl-hook: {name}\n")
            sys.stderr.flush()
            time.sleep(float(seconds or "1"))


# -------------------------------------------------------------------------- pass


@dataclass(frozen=True)
class PassEvent:
    """Progress of a pass: ``stage`` (list, wait, fetch, reconcile, progress, write, done),
    a one-line message, and ``done``/``total`` when countable (else 0/0).

    ``progress`` events come often (after each chunk of lines: bytes read / total);
    the others once per step."""

    stage: str
    message: str
    done: int = 0
    total: int = 0


@dataclass
class PassReport:
    """What one pass did. ``status``: ok, nothing_new, failed, cancelled or paused
    (paused: stopped early because the workflow was paused; the batches written stay)."""

    run_id: int | None
    status: str
    batches: int = 0
    files: int = 0
    records: int = 0
    reconciled: int = 0
    duplicates: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    waiting: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def match_rate(self) -> float:
        return round(match_rate(self.reconciled, self.records, self.duplicates), 4)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "batches": self.batches,
            "files": self.files,
            "records": self.records,
            "reconciled": self.reconciled,
            "duplicates": self.duplicates,
            "match_rate": self.match_rate,
            "outcomes": dict(self.outcomes),
            "waiting": [{"batch": b, "reason": r} for b, r in self.waiting],
            "ignored": [{"name": n, "reason": r} for n, r in self.ignored],
            "notes": list(self.notes),
            "error": self.error,
        }


class RemoteFiles(Protocol):
    """What a pass needs of the import account (``core.transport.FileTransport`` fits)."""

    def list(self) -> Sequence[Any]:
        """Files with ``name`` and ``size``."""
        ...

    def fetch(self, name: str) -> AbstractContextManager[BinaryIO]:
        """A stream of the file's bytes."""
        ...


#: Opens the import account; the result is a context manager over ``RemoteFiles``.
OpenAccount = Callable[[Account], AbstractContextManager[Any]]
#: Resolves a secret field of a data source (``aes_key``, ``aes_iv``) to clear text.
Resolve = Callable[[DataSource, str], str]
ProgressFn = Callable[[PassEvent], None]
CancelledFn = Callable[[], bool]


def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, AudienceError) else f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())[:500]


class _Gate:
    """Answers "should the pass stop?" from the caller's callback and the stored state,
    reading the store at most once a second."""

    def __init__(self, store: WorkflowStore, env: str, cancelled: CancelledFn | None) -> None:
        self.store = store
        self.env = env
        self.cancelled = cancelled
        self._checked = 0.0
        self._state = State.RUNNING

    def state(self, force: bool = False) -> State:
        now = time.monotonic()
        if force or now - self._checked >= 1.0:
            self._checked = now
            self._state = self.store.status(self.env).state
        return self._state

    def cancel_now(self) -> bool:
        """Cancel at once: the caller asked, or the workflow was stopped."""
        if self.cancelled is not None and self.cancelled():
            return True
        return self.state() is State.STOPPED

    def stop_between_batches(self) -> State | None:
        """Before starting a batch: the state that forbids it, if any."""
        state = self.state(force=True)
        return state if state in (State.PAUSED, State.STOPPED) else None


class _Cancel(Exception):
    pass


def _read_manifests(
    files: Any, names: Sequence[str], emit: Callable[[PassEvent], None]
) -> dict[str, Manifest]:
    manifests: dict[str, Manifest] = {}
    for name in names:
        if parse_manifest_name(name) is None:
            continue
        with files.fetch(name) as stream:
            data = stream.read(1 << 20)
        try:
            manifests[name] = parse_manifest(data)
        except InputError as exc:
            raise InputError(f"{name}: {exc.message}", exc.hint) from None
        emit(PassEvent("list", f"read manifest {name}"))
    return manifests


def _fetch_batch(
    files: Any,
    batch: Batch,
    manifest: Manifest | None,
    folder: Path,
    gate: _Gate,
    emit: Callable[[PassEvent], None],
) -> list[Path]:
    paths: list[Path] = []
    for index, part in enumerate(batch.parts, start=1):
        target = folder / part.name
        emit(PassEvent("fetch", f"fetching {part.name}", index, len(batch.parts)))
        with files.fetch(part.name) as stream, open(target, "wb") as out:
            while block := stream.read(1 << 18):
                out.write(block)
                if gate.cancel_now():
                    raise _Cancel
        test_hook("fetch")
        if manifest is not None and (entry := manifest.file(part.name)) is not None:
            problems = verify_part(entry, target)
            if problems:
                raise InputError(
                    f"batch {batch.key}: {problems[0]}",
                    "the file differs from its .info manifest; it will be fetched again "
                    "on the next run after `audiencectl import resume`",
                )
        paths.append(target)
    return paths


def _batch_write(batch: Batch, result: Any, sizes: Mapping[str, int]) -> BatchWrite:
    names = list(batch.part_names)
    if batch.manifest_name:
        names.append(batch.manifest_name)
    samples = []
    for sample in list(getattr(result, "samples", []))[:MAX_SAMPLES]:
        samples.append(_sample_json(sample))
    return BatchWrite(
        batch=batch.key,
        mode=batch.mode,
        segments={
            str(seg): (frozenset(res.members), frozenset(res.removed))
            for seg, res in result.segments.items()
        },
        files=[(name, sizes.get(name, 0)) for name in names],
        records=int(result.records),
        reconciled=int(result.reconciled),
        duplicates=int(result.duplicates),
        outcomes={str(k): int(v) for k, v in Counter(result.outcomes).items() if v},
        samples=samples,
    )


def _sample_json(sample: Any) -> dict[str, Any]:
    if hasattr(sample, "to_json"):
        return dict(sample.to_json())
    from dataclasses import asdict, is_dataclass

    if is_dataclass(sample) and not isinstance(sample, type):
        return {
            k: (str(v) if not isinstance(v, int | float) else v) for k, v in asdict(sample).items()
        }
    return {"value": str(sample)}


def _manifests_to_read(names: Sequence[str], processed: set[str]) -> list[str]:
    """Manifests not yet processed, and those of batches that have a new part."""
    keys_with_new_parts = {
        parsed.batch_key
        for name in names
        if name not in processed and (parsed := parse_outbound_name(name)) is not None
    }
    return [
        name
        for name in names
        if (key := parse_manifest_name(name)) is not None
        and (name not in processed or key in keys_with_new_parts)
    ]


def _newest_full(processed: set[str]) -> dict[int, int]:
    """Per destination ID, the timestamp of the newest ``full`` batch already applied."""
    newest: dict[int, int] = {}
    for name in processed:
        parsed = parse_outbound_name(name)
        if parsed is not None and parsed.mode == "full":
            newest[parsed.destination_id] = max(
                newest.get(parsed.destination_id, -1), parsed.timestamp_ms
            )
    return newest


def _superseded(ready: list[Batch], processed: set[str]) -> tuple[list[Batch], list[Batch]]:
    """(batches to apply, batches older than a full batch already applied).

    AAM sometimes delivers late: a late, older batch must not undo the newer
    ``full`` snapshot of the same destination that the store already holds.
    """
    newest = _newest_full(processed)
    keep: list[Batch] = []
    old: list[Batch] = []
    for batch in ready:
        if batch.timestamp_ms < newest.get(batch.destination_id, -1):
            old.append(batch)
        else:
            keep.append(batch)
    return keep, old


def _select_batches(
    batches: Sequence[Batch], processed: set[str]
) -> tuple[list[Batch], list[Batch]]:
    """(complete batches with at least one new part, incomplete batches with new files)."""
    ready: list[Batch] = []
    waiting: list[Batch] = []
    for batch in batches:
        new_parts = [n for n in batch.part_names if n not in processed]
        new_manifest = batch.manifest_name is not None and batch.manifest_name not in processed
        if not new_parts and not (new_manifest and not batch.parts):
            continue
        if batch.complete and batch.parts:
            ready.append(batch)
        elif not batch.complete:
            waiting.append(batch)
    return ready, waiting


def run_pass(
    env: Environment,
    store: WorkflowStore,
    profiles: Any,
    open_account: OpenAccount,
    resolve: Resolve,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    temp_dir: Path | None = None,
) -> PassReport:
    """Runs ONE pass of the import workflow and records it; returns what it did.

    The caller holds the import lock (``storage.lock.ImportLock``) and has checked
    that the workflow may run (:func:`check_can_run`). ``progress`` receives
    :class:`PassEvent` s (from the calling thread); ``cancelled`` is polled
    between blocks and records: when it returns True the batch in progress is
    abandoned (nothing of it written) and the report's status is ``cancelled``.
    A ``stop`` of the workflow during the pass cancels the same way; a ``pause``
    lets the current batch finish and starts no other one.

    Every batch is written in one transaction with its ledger rows, so a pass
    killed at any moment is redone correctly by the next one. On an error
    (connection, bad file, store) the run is recorded ``failed``, the workflow
    becomes ``failed`` with ``last_error`` (one line, no secret) and the error
    is re-raised (``ConnectionFailure``: exit 3; ``InputError``: exit 2).
    """

    def emit(event: PassEvent) -> None:
        if progress is not None:
            progress(event)

    gate = _Gate(store, env.name, cancelled)
    store.close_interrupted_runs(env.name)
    run_id = store.start_run(env.name, clock.now())
    report = PassReport(run_id=run_id, status="running")
    try:
        codecs = build_codecs(env, resolve)
        emit(PassEvent("list", f"listing {env.import_account.endpoint}"))
        with open_account(env.import_account) as files:
            listing = list(files.list())
            sizes = {f.name: int(f.size) for f in listing}
            processed = store.processed_names(env.name)
            manifests = _read_manifests(files, _manifests_to_read(list(sizes), processed), emit)
            batches, ignored = classify_names(list(sizes), manifests)
            report.ignored = [(i.name, i.reason) for i in ignored if i.name not in processed]
            ready, waiting = _select_batches(batches, processed)
            ready, superseded = _superseded(ready, processed)
            for batch in superseded:
                names = [*batch.part_names, *([batch.manifest_name] if batch.manifest_name else [])]
                store.mark_superseded(
                    env.name, run_id, batch.key, [(n, sizes.get(n, 0)) for n in names]
                )
                report.notes.append(
                    f"batch {batch.key} skipped: older than the full batch of destination "
                    f"{batch.destination_id} already applied (a late delivery); recorded as "
                    "processed"
                )
            report.waiting = [(b.key, b.waiting_reason) for b in waiting]
            for key, reason in report.waiting:
                emit(PassEvent("wait", f"batch {key} left for the next run: {reason}"))
            emit(
                PassEvent(
                    "list",
                    f"{len(listing)} file(s), {len(ready)} batch(es) to process, "
                    f"{len(waiting)} waiting",
                    0,
                    len(ready),
                )
            )
            routed = [b for b in ready if route(env, b.destination_id)]
            for batch in ready:
                if batch not in routed:
                    report.notes.append(
                        f"batch {batch.key} skipped: no data source has destination ID "
                        f"{batch.destination_id} (it is fetched again once one has)"
                    )
            by_key = {b.key: b for b in routed}
            with tempfile.TemporaryDirectory(prefix=temp_prefix("import"), dir=temp_dir) as tmp:
                fetched: dict[str, list[Path]] = {}

                def inputs() -> Iterator[Any]:
                    for number, batch in enumerate(routed, start=1):
                        blocked = gate.stop_between_batches()
                        if blocked is State.PAUSED:
                            report.status = "paused"
                            report.notes.append(
                                f"paused before batch {batch.key}: {len(routed) - number + 1} "
                                "batch(es) wait for resume"
                            )
                            return
                        if blocked is State.STOPPED or (cancelled is not None and cancelled()):
                            raise _Cancel
                        folder = Path(tmp) / f"b{number}"
                        folder.mkdir()
                        manifest = manifests.get(batch.manifest_name or "")
                        paths = _fetch_batch(files, batch, manifest, folder, gate, emit)
                        fetched[batch.key] = paths
                        emit(
                            PassEvent("reconcile", f"reconciling {batch.key}", number, len(routed))
                        )
                        test_hook("reconcile")
                        yield BatchInput(
                            key=batch.key,
                            mode=batch.mode,
                            destination_id=batch.destination_id,
                            files=tuple(AudienceFile.from_path(p) for p in paths),
                        )

                def on_progress(step: Any) -> None:
                    emit(
                        PassEvent(
                            "progress",
                            f"{step.file}: {step.lines} lines",
                            int(step.bytes_read),
                            int(step.bytes_total or 0),
                        )
                    )

                def on_index(step: IndexProgress) -> None:
                    emit(PassEvent("progress", index_words(step.datasource, step.rows,
                                                           step.done)))

                results = reconcile_batches(
                    inputs(),
                    env,
                    codecs,
                    profiles,
                    max_samples=MAX_SAMPLES,
                    progress=on_progress,
                    cancelled=gate.cancel_now,
                    indexing=on_index,
                )
                try:
                    for number, result in enumerate(results, start=1):
                        batch = by_key[result.key]
                        write = _batch_write(batch, result, sizes)
                        emit(PassEvent("write", f"writing {batch.key}", number, len(routed)))
                        store.write_batch(env.name, run_id, write, during=_write_hook)
                        _add(report, write)
                        for path in fetched.pop(batch.key, []):
                            path.unlink(missing_ok=True)
                except Cancelled:
                    raise _Cancel from None
        if report.status == "running":
            report.status = "ok" if report.batches else "nothing_new"
        store.finish_run(env.name, run_id, clock.now(), report.status)
        emit(PassEvent("done", _summary(report)))
        return report
    except _Cancel:
        report.status = "cancelled"
        report.error = "cancelled"
        store.finish_run(env.name, run_id, clock.now(), "cancelled", "cancelled")
        emit(PassEvent("done", "cancelled: the batch in progress was not written"))
        return report
    except KeyboardInterrupt:
        store.finish_run(env.name, run_id, clock.now(), "cancelled", "interrupted")
        raise
    except BaseException as exc:
        message = _one_line(exc)
        report.status = "failed"
        report.error = message
        try:
            store.finish_run(env.name, run_id, clock.now(), "failed", message)
            store.set_state(env.name, State.FAILED, message)
        except Exception:
            pass  # the original error matters more
        raise


def _write_hook() -> None:
    test_hook("write")


def _add(report: PassReport, write: BatchWrite) -> None:
    report.batches += 1
    report.files += len(write.files)
    report.records += write.records
    report.reconciled += write.reconciled
    report.duplicates += write.duplicates
    merged = Counter(report.outcomes)
    merged.update(write.outcomes)
    report.outcomes = dict(merged)


def _summary(report: PassReport) -> str:
    if report.status == "nothing_new":
        return "nothing new to import"
    return (
        f"{report.batches} batch(es), {report.files} file(s), {report.records} record(s), "
        f"{report.reconciled} reconciled ({report.match_rate:.1%})"
    )


def iter_sleep(seconds: float, step: float = 1.0) -> Iterator[None]:
    """Yields about every ``step`` seconds until ``seconds`` have passed (interruptible waits)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(step, left))
        yield
