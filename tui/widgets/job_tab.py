"""The base of an Audiences tab that runs one job at a time in a thread worker.

A tab owns its job: it starts the worker (each with its own store connection,
``usecases.services.worker_services``), shows progress from :class:`JobStep`
messages that coalesce, sets the cancel flag the job checks between chunks of
lines, and puts its widgets back in order when the job ends. Worker errors go
to the App's one handler (``Worker.StateChanged`` does not bubble).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual import on
from textual.containers import VerticalScroll
from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from core.errors import AudienceError
from core.model import Environment
from tui.console import ConsoleApp, console_of
from tui.widgets.run_progress import RunProgress
from usecases.progress import CancelledFn, Step, StepFn
from usecases.services import Services

NO_ENV = "No environment yet: start one with the provisioning request (F3), then come back."


class JobStep(Message, bubble=False):
    """A progress snapshot of a tab's running job; a newer one of the same job replaces it."""

    def __init__(self, run_id: int, step: Step) -> None:
        super().__init__()
        self.run_id = run_id
        self.step = step

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JobStep) and message.run_id == self.run_id


@dataclass
class Job:
    """A job in progress: its id, cancel flag, worker, and what it does (``action``)."""

    run_id: int
    cancel: threading.Event = field(default_factory=threading.Event)
    worker: Worker[Any] | None = None
    action: str = ""


class JobTab(VerticalScroll):
    """A tab's scrolling page that runs at most one job (``KIND``) at a time."""

    #: The job's name in messages ("a dryrun job is running").
    KIND: ClassVar[str] = ""

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.job: Job | None = None
        self._next_id = 0

    # --- what a tab provides --------------------------------------------------

    @property
    def progress(self) -> RunProgress:
        """The tab's progress line."""
        raise NotImplementedError

    def set_busy(self, busy: bool) -> None:
        """Enables the tab's buttons for a job running (``busy``) or not."""
        raise NotImplementedError

    def finished(self, job: Job, result: Any) -> None:
        """Shows a job's result (None: it was cancelled)."""
        raise NotImplementedError

    # --- the console ------------------------------------------------------------

    @property
    def console(self) -> ConsoleApp:
        return console_of(self.app)

    @property
    def env(self) -> Environment | None:
        return self.console.current_env()

    @property
    def services(self) -> Services:
        return self.console.services

    # --- the job ----------------------------------------------------------------

    def start_job(self, words: str, action: str = "") -> Job | None:
        """A new job (its progress started), or None when one is running already."""
        if self.job is not None:
            self.notify(f"a {self.KIND} job is running: Escape cancels it", severity="warning")
            return None
        self._next_id += 1
        job = Job(self._next_id, action=action)
        self.job = job
        self.progress.start(words)
        self._busy(True)
        return job

    def cancel_job(self) -> None:
        """Asks the running job to stop (it checks between chunks)."""
        job = self.job
        if job is None or job.cancel.is_set():
            return
        job.cancel.set()
        self.progress.cancelling()

    def _busy(self, busy: bool) -> None:
        self.set_busy(busy)
        self.screen.refresh_bindings()

    def poster(self, job: Job) -> StepFn:
        """Posts the job's progress from the worker thread."""

        def post(step: Step) -> None:
            self.post_message(JobStep(job.run_id, step))

        return post

    @staticmethod
    def cancelled_fn(job: Job) -> CancelledFn:
        """The job's ``cancelled()`` (call in the worker thread)."""
        worker = get_current_worker()

        def cancelled() -> bool:
            return job.cancel.is_set() or worker.is_cancelled

        return cancelled

    @on(JobStep)
    def job_step(self, event: JobStep) -> None:
        job = self.job
        if job is None or job.run_id != event.run_id or job.cancel.is_set():
            return
        step = event.step
        self.progress.step(step.done, step.total, step.text)

    @on(Worker.StateChanged)
    def job_changed(self, event: Worker.StateChanged) -> None:
        """The job's worker ended: show its result, or put the widgets back in order.

        Errors themselves are notified by the App (one place for worker errors)."""
        if event.state is WorkerState.ERROR:
            self.console.report_worker_failure(event.worker)
        job = self.job
        if job is None or job.worker is not event.worker:
            return
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        self.job = None
        self._busy(False)
        if event.state is WorkerState.SUCCESS:
            self.finished(job, event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            text = error.message if isinstance(error, AudienceError) else str(error)
            self.progress.failed(f"failed: {' '.join(text.split())}")
            self.after_failure()
        else:
            self.progress.stopped("cancelled")

    def after_failure(self) -> None:
        """What a tab does after its job failed (nothing by default)."""


Callback = Callable[[], None]
