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

import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core import clock
from core.errors import AudienceError
from core.formats import Batch, Manifest
from core.leftovers import temp_prefix
from core.model import Account, DataSource, Environment
from core.outcomes import match_rate
from core.reconcile import (
    BadBatchFile,
    BatchPlan,
    Cancelled,
    IndexProgress,
    MissCollector,
    Progress,
    Reconciler,
    batch_input,
    build_codecs,
    check_part,
    index_words,
    plan_batches,
)
from core.selection import Selection, manifests_to_read, select_batches
from core.workflow_state import (
    AAM_DAILY_HOUR_UTC,
    BatchWrite,
    ExpectedLatency,
    RunRecord,
    State,
    WorkflowRefused,
    WorkflowStatus,
    WorkflowStore,
    check_can_run,
    expected_latency,
    is_overdue,
    pause,
    resume,
    stop,
)

__all__ = [
    "AAM_DAILY_HOUR_UTC",
    "LEFT_OUT_STATUSES",
    "Backlog",
    "BatchWrite",
    "ExpectedLatency",
    "Hook",
    "PassEvent",
    "PassReport",
    "RunRecord",
    "State",
    "WorkflowRefused",
    "WorkflowStatus",
    "WorkflowStore",
    "check_can_run",
    "expected_latency",
    "folder_backlog",
    "is_overdue",
    "iter_sleep",
    "pause",
    "resume",
    "run_pass",
    "stop",
]

MAX_SAMPLES = 100


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
    #: The complete batches left for the next run because a file of theirs could not
    #: be used (also in ``waiting``): ``(batch, reason)``.
    held: list[tuple[str, str]] = field(default_factory=list)

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


#: Opens the import account: a context manager over an object with ``list()`` (files with
#: ``name`` and ``size``) and ``fetch(name)`` (a stream of its bytes), as
#: ``core.transport.FileTransport``.
OpenAccount = Callable[[Account], AbstractContextManager[Any]]
#: Resolves a secret field of a data source (``aes_key``, ``aes_iv``) to clear text.
Resolve = Callable[[DataSource, str], str]
ProgressFn = Callable[[PassEvent], None]
CancelledFn = Callable[[], bool]
#: Called at named points of a pass or an export (``fetch``, ``reconcile``, ``write``,
#: ``upload``): tests pass one that pauses there; production passes none.
Hook = Callable[[str], None]


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

    def caller_cancelled(self) -> bool:
        """The caller asked to cancel."""
        return self.cancelled is not None and self.cancelled()

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


def _fetch_batch(
    files: Any,
    batch: Batch,
    manifest: Manifest | None,
    folder: Path,
    gate: _Gate,
    emit: ProgressFn,
    hook: Hook,
) -> dict[str, Path]:
    """The batch's parts copied into ``folder`` (by name), each checked against the
    manifest once fetched (``check_part``); ``_Cancel`` when the pass must stop."""
    paths: dict[str, Path] = {}
    for index, name in enumerate(batch.part_names, start=1):
        target = folder / name
        emit(PassEvent("fetch", f"fetching {name}", index, len(batch.parts)))
        with files.fetch(name) as stream, open(target, "wb") as out:
            while block := stream.read(1 << 18):
                out.write(block)
                if gate.cancel_now():
                    raise _Cancel
        hook("fetch")
        check_part(batch, manifest, name, target)
        paths[name] = target
    return paths


@dataclass
class _Listing:
    """What a pass found on the import account: sizes by name, the batches grouped
    (manifests read), and what it will do with each batch."""

    sizes: dict[str, int]
    plan: BatchPlan
    selection: Selection
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _list(files: Any, processed: set[str], env: Environment, emit: ProgressFn) -> _Listing:
    """List the account, read the manifests that matter, select and route the batches."""
    listing = list(files.list())
    sizes = {f.name: int(f.size) for f in listing}
    names = list(sizes)
    wanted = manifests_to_read(names, processed)
    plan = plan_batches(
        names,
        files.fetch,
        read=wanted.__contains__,
        on_manifest=lambda name: emit(PassEvent("list", f"read manifest {name}")),
    )
    skipped = list(getattr(files, "list_skipped", []))
    return _Listing(sizes, plan, select_batches(env, plan.batches, processed), skipped)


@dataclass(frozen=True)
class Backlog:
    """What an import account holds that is not imported yet, as a pass would see it:
    files of batches not yet processed, incomplete or held batches with their reason,
    and files a pass skips, with theirs."""

    waiting_files: int
    waiting: list[tuple[str, str]]
    skipped: list[tuple[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "waiting_files": self.waiting_files,
            "waiting": [{"batch": b, "reason": r} for b, r in self.waiting],
            "skipped": [{"file": n, "reason": r} for n, r in self.skipped],
        }


def folder_backlog(files: Any, processed: set[str]) -> Backlog:
    """The backlog of an opened account (``list()``, ``fetch(name)``, ``list_skipped``)
    given the names already ``processed``: the same listing rule, batch builder and
    manifests as an import pass (``import status`` uses it)."""
    names = [f.name for f in files.list()]
    wanted = manifests_to_read(names, processed)
    plan = plan_batches(names, files.fetch, read=wanted.__contains__)
    in_batches = {n for b in plan.batches for n in (*b.part_names, b.manifest_name) if n}
    waiting = [
        (b.key, b.waiting_reason)
        for b in plan.batches
        if not b.complete and any(n not in processed for n in (*b.part_names, b.manifest_name) if n)
    ]
    skipped = list(getattr(files, "list_skipped", [])) + [
        (i.name, i.reason) for i in plan.ignored if i.name not in processed
    ]
    return Backlog(len(in_batches - processed), waiting, skipped)


def _record_skips(
    store: WorkflowStore,
    env: str,
    run_id: int,
    found: _Listing,
    processed: set[str],
    report: PassReport,
    emit: ProgressFn,
) -> None:
    """Superseded batches into the ledger; waiting, ignored and unrouted ones, the files
    the listing left out (symbolic links, names an account may not hold) and the notes
    of the batches to import (e.g. an md5 in the manifest that is not hexadecimal) into
    the report (and its events)."""
    selection = found.selection
    report.ignored = list(found.skipped) + [
        (i.name, i.reason) for i in found.plan.ignored if i.name not in processed
    ]
    for name, reason in report.ignored:
        emit(PassEvent("wait", f"{name} skipped: {reason}"))
    for batch, _sources in selection.routed:
        report.notes.extend(f"batch {batch.key}: {note}" for note in batch.notes)
    for batch in selection.superseded:
        names = [*batch.part_names, *([batch.manifest_name] if batch.manifest_name else [])]
        store.mark_superseded(env, run_id, batch.key, [(n, found.sizes.get(n, 0)) for n in names])
        report.notes.append(
            f"batch {batch.key} skipped: older than the full batch of destination "
            f"{batch.destination_id} already applied (a late delivery); recorded as processed"
        )
    report.waiting = [(b.key, b.waiting_reason) for b in selection.waiting]
    for key, reason in report.waiting:
        emit(PassEvent("wait", f"batch {key} left for the next run: {reason}"))
    ready = len(selection.routed) + len(selection.unrouted)
    emit(
        PassEvent(
            "list",
            f"{len(found.sizes)} file(s), {ready} batch(es) to process, "
            f"{len(selection.waiting)} waiting",
            0,
            ready,
        )
    )
    for batch in selection.unrouted:
        report.notes.append(
            f"batch {batch.key} skipped: no data source has destination ID "
            f"{batch.destination_id} (it is fetched again once one has)"
        )


def _reconciler(
    env: Environment, resolve: Resolve, profiles: Any, gate: _Gate, emit: ProgressFn
) -> Reconciler:
    """The run's reconciler: codecs built once, progress as ``PassEvent`` s."""

    def on_progress(step: Progress) -> None:
        message = f"{step.file}: {step.lines} lines"
        emit(PassEvent("progress", message, int(step.bytes_read), int(step.bytes_total or 0)))

    def on_index(step: IndexProgress) -> None:
        emit(PassEvent("progress", index_words(step.datasource, step.rows, step.done)))

    return Reconciler(
        build_codecs(env, resolve),
        profiles,
        max_samples=MAX_SAMPLES,
        progress=on_progress,
        cancelled=gate.cancel_now,
        indexing=on_index,
        forensics=MissCollector(),
    )


def _import_batches(
    env: Environment,
    store: WorkflowStore,
    run_id: int,
    files: Any,
    found: _Listing,
    reconciler: Reconciler,
    gate: _Gate,
    report: PassReport,
    emit: ProgressFn,
    hook: Hook,
    temp_dir: Path | None,
) -> None:
    """Each routed batch in turn: fetch it, reconcile it, write it (one transaction).

    Stops before a batch when the workflow is paused (``report.status = "paused"``);
    raises ``_Cancel`` when it is stopped or the caller cancels.
    """
    routed = found.selection.routed
    with tempfile.TemporaryDirectory(prefix=temp_prefix("import"), dir=temp_dir) as tmp:
        for number, (batch, sources) in enumerate(routed, start=1):
            blocked = gate.stop_between_batches()
            if blocked is State.PAUSED:
                report.status = "paused"
                report.notes.append(
                    f"paused before batch {batch.key}: {len(routed) - number + 1} "
                    "batch(es) wait for resume"
                )
                return
            if blocked is State.STOPPED or gate.caller_cancelled():
                raise _Cancel
            folder = Path(tmp) / f"b{number}"
            folder.mkdir()
            try:
                paths = _fetch_batch(
                    files, batch, found.plan.manifest_of(batch), folder, gate, emit, hook
                )
                emit(PassEvent("reconcile", f"reconciling {batch.key}", number, len(routed)))
                hook("reconcile")
                result = reconciler.batch(batch_input(batch, paths), sources)
                causes = [c.to_json() for c in reconciler.causes()]
            except Cancelled:
                raise _Cancel from None
            except BadBatchFile as exc:
                # A part that differs from its manifest (often still being uploaded) or
                # a damaged gzip: only this batch waits, unrecorded, for the next run.
                reason = exc.message.removeprefix(f"batch {batch.key}: ")
                report.waiting.append((batch.key, reason))
                report.held.append((batch.key, reason))
                emit(PassEvent("wait", f"batch {batch.key} left for the next run: {reason}"))
                shutil.rmtree(folder, ignore_errors=True)
                continue
            write = replace(_batch_write(batch, result, found.sizes), causes=causes)
            emit(PassEvent("write", f"writing {batch.key}", number, len(routed)))
            store.write_batch(env.name, run_id, write, during=lambda: hook("write"))
            _add(report, write)
            for path in paths.values():
                path.unlink(missing_ok=True)


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
    hooks: Hook | None = None,
) -> PassReport:
    """Runs ONE pass of the import workflow and records it; returns what it did.

    The caller holds the import lock (``storage.lock.ImportLock``) and has checked
    that the workflow may run (:func:`check_can_run`). ``progress`` receives
    :class:`PassEvent` s (from the calling thread); ``cancelled`` is polled
    between blocks and records: when it returns True the batch in progress is
    abandoned (nothing of it written) and the report's status is ``cancelled``.
    A ``stop`` of the workflow during the pass cancels the same way; a ``pause``
    lets the current batch finish and starts no other one. ``hooks(point)`` is
    called at named points (``fetch`` after each part, ``reconcile`` before a
    batch is reconciled, ``write`` inside its transaction), for tests that stop
    the process there.

    Steps: list the account and select the batches (:func:`_list`), record what
    is skipped, then fetch, reconcile and write each batch (:func:`_import_batches`).
    Every batch is written in one transaction with its ledger rows, so a pass
    killed at any moment is redone correctly by the next one. A batch with a file
    that cannot be used (a part that differs from its manifest, a damaged gzip:
    ``BadBatchFile``) is not written nor recorded as processed: it is in the
    report's ``waiting`` with the reason (and the run's ``error``, see
    :func:`held_words`), the pass goes on and the next one tries it again. On an
    error (connection, store, configuration) the run is recorded ``failed``, the workflow
    becomes ``failed`` with ``last_error`` (one line, no secret) and the error
    is re-raised (``ConnectionFailure``: exit 3; ``InputError``: exit 2).
    """

    def emit(event: PassEvent) -> None:
        if progress is not None:
            progress(event)

    hook: Hook = hooks or _no_hook
    gate = _Gate(store, env.name, cancelled)
    store.close_interrupted_runs(env.name)
    run_id = store.start_run(env.name, clock.now())
    report = PassReport(run_id=run_id, status="running")
    reconciler: Reconciler | None = None
    try:
        reconciler = _reconciler(env, resolve, profiles, gate, emit)
        emit(PassEvent("list", f"listing {env.import_account.endpoint}"))
        with open_account(env.import_account) as files:
            processed = store.processed_names(env.name)
            found = _list(files, processed, env, emit)
            _record_skips(store, env.name, run_id, found, processed, report, emit)
            _import_batches(
                env, store, run_id, files, found, reconciler, gate, report, emit, hook, temp_dir
            )
        if report.status == "running":
            report.status = "ok" if report.batches else "nothing_new"
        store.finish_run(env.name, run_id, clock.now(), report.status, held_words(report.held))
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
    finally:
        if reconciler is not None:
            reconciler.close()  # its profile indexes (an in-memory database)


#: Run statuses whose ``error`` is not a failure but :func:`held_words`: the batches the
#: run left for the next one because a file of theirs could not be used.
LEFT_OUT_STATUSES = frozenset({"ok", "nothing_new", "paused"})


def held_words(held: Sequence[tuple[str, str]]) -> str:
    """What a pass that did not fail records as its run's ``error``: the batches it left
    for the next run because a file of theirs could not be used, with the reason."""
    return "; ".join(f"batch {key} left for the next run: {reason}" for key, reason in held)


def _no_hook(point: str) -> None:
    """No test hook: every point passes at once."""


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
