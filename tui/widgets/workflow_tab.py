"""The Audiences screen's Workflow tab: the import workflow's state, and its passes.

Runs one pass now (a thread worker that takes the store's import lock), pauses,
resumes or stops the workflow. What the panel shows is read by the screen, which
refreshes it when this tab says the workflow changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Button, Static

from core.errors import AudienceError
from core.workflow import PassReport
from tui.modals.confirm import ConfirmModal
from tui.widgets.job_tab import NO_ENV, Job, JobTab
from tui.widgets.run_progress import RunProgress
from tui.widgets.workflow_panel import WorkflowPanel
from usecases.importwf import change_state, run_pass_now
from usecases.services import worker_services

STOP_BODY = (
    "Stop cancels; it cannot resume from the same point. A pass in progress is abandoned "
    "(the batch being read is not written) and nothing runs until Resume; the next pass "
    "starts again from the files not processed yet."
)


class WorkflowTab(JobTab):
    """The workflow panel and its pass job."""

    KIND = "pass"

    def __init__(self, changed: Callable[[], None], *, id: str = "wf-scroll") -> None:
        super().__init__(id=id)
        #: Called when the workflow changed (a pass ended, a state changed): re-read it.
        self.changed = changed

    def compose(self) -> ComposeResult:
        yield Static(NO_ENV, classes="no-env", markup=False)
        yield WorkflowPanel(id="wf-panel")

    @property
    def progress(self) -> RunProgress:
        return self.query_one(WorkflowPanel).progress

    def set_busy(self, busy: bool) -> None:
        self.query_one(WorkflowPanel).set_running(busy)

    # --- one pass -----------------------------------------------------------------

    @on(Button.Pressed, "#wf-run")
    def start_pass(self) -> None:
        """Runs one pass of the import workflow in a thread worker."""
        if self.env is None:
            self.notify(NO_ENV, severity="warning")
            return
        job = self.start_job("listing the import account…")
        if job is None:
            return
        job.worker = self.pass_worker(job)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audiences-pass")
    def pass_worker(self, job: Job) -> PassReport:
        """One pass in this thread (the store's import lock is taken inside)."""
        cancelled = self.cancelled_fn(job)
        with worker_services(self.services) as services:
            return run_pass_now(services, progress=self.poster(job), cancelled=cancelled)

    @on(Button.Pressed, "#wf-cancel")
    def cancel_pressed(self) -> None:
        self.cancel_job()

    def finished(self, job: Job, result: Any) -> None:
        report: PassReport = result
        words = f"run {report.run_id}: {report.status}"
        if report.batches:
            words += (
                f", {report.files} file(s), {report.records:,} records, "
                f"{report.reconciled:,} reconciled ({report.match_rate:.1%})"
            )
        incomplete = len(report.waiting) - len(report.held)
        if incomplete:
            words += f"; {incomplete} batch(es) wait for their parts"
        if report.held:  # the reasons are in the last run, under the status
            words += f"; {len(report.held)} batch(es) with a bad file left for the next run"
        if report.status == "cancelled":
            self.progress.stopped("cancelled: the batch in progress was not written")
        else:
            self.progress.finish(words)
        self.changed()

    def after_failure(self) -> None:
        self.changed()

    # --- state changes ------------------------------------------------------------

    def _transition(self, action: str) -> None:
        env = self.env
        if env is None:
            self.notify(NO_ENV, severity="warning")
            return
        try:
            message = change_state(self.services, action, env.name)
        except AudienceError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.notify(message)
        self.changed()

    @on(Button.Pressed, "#wf-pause")
    def pause_workflow(self) -> None:
        """Pause: a pass in progress finishes its batch; no new one starts."""
        self._transition("pause")

    @on(Button.Pressed, "#wf-resume")
    def resume_workflow(self) -> None:
        """Resume from paused, stopped, failed or idle (clears the last error)."""
        self._transition("resume")

    @on(Button.Pressed, "#wf-stop")
    def stop_workflow(self) -> None:
        """Asks, then stops: a pass in progress is cancelled."""
        if self.env is None:
            self.notify(NO_ENV, severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            self.cancel_job()
            self._transition("stop")

        self.app.push_screen(
            ConfirmModal("Stop the import workflow?", STOP_BODY, yes="Stop", no="Keep it"),
            answered,
        )
