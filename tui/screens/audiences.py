"""Audiences (F6): dry runs, the Import shared audience workflow, exports to AAM.

Three tabs. **Dry run** reconciles audience files offline against the profiles
(the store's, or a CSV) and shows the match report: totals, outcomes as a bar
chart, segments, unreconciled samples; nothing is written to the store.
**Workflow** shows the import workflow's state, expected latency, runs and
audiences, and runs, pauses, resumes or stops it. **Export** previews and
writes (or uploads) the AAM inbound file of a segment.

Each job runs in a thread worker with its own store connection (``tui.runs``);
progress arrives as :class:`JobStep` messages that coalesce, Escape sets a
flag the job checks between chunks of lines. Worker errors are notified by the
App (its one ``Worker.StateChanged`` handler, to which this screen hands the
event, as the message does not bubble); this screen only puts its widgets
back in order when a job ends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TabPane,
)
from textual.worker import Worker, WorkerState, get_current_worker

from core import clock
from core.errors import AudienceError, OperationCancelled
from core.export import ExportReport
from core.files import write_atomic
from core.model import Environment
from core.reconcile import Summary
from core.report import render_markdown
from core.workflow import PassReport, pause, resume, stop
from storage.audiences import SqliteWorkflowStore
from storage.profiles import ProfileStats, profile_stats
from tui.modals.confirm import ConfirmModal
from tui.modals.prompt import PromptModal
from tui.palette import PaletteCommand
from tui.screens.base import ConsoleScreen
from tui.widgets.export_panel import ExportPanel
from tui.widgets.nav_bar import NavBar
from tui.widgets.outcome_chart import OutcomeChart
from tui.widgets.run_progress import RunProgress
from tui.widgets.screen_header import ScreenIntro
from tui.widgets.workflow_panel import WorkflowPanel
from usecases.dryrun import DryRunRequest, DryRunResult, run_dry_run
from usecases.export import ExportPreview, ExportRequest, export_request, preview_export
from usecases.importwf import WorkflowView, run_pass_now, workflow_view
from usecases.paths import default_audience_path, display_path, full_path, resolve_path
from usecases.progress import Step
from usecases.services import Services, worker_services

NO_ENV = "No environment yet: start one with the provisioning request (F3), then come back."
#: The dry run's data source select: route each file by the destination ID in its name.
ROUTE = "*route*"
#: Which tab each job belongs to.
JOB_TABS = {"dryrun": "dryrun", "pass": "workflow", "export": "export"}
#: Jobs that check a cancel flag (Escape, or the tab's Cancel button).
CANCELLABLE = ("dryrun", "pass", "export")
STOP_BODY = (
    "Stop cancels; it cannot resume from the same point. A pass in progress is abandoned "
    "(the batch being read is not written) and nothing runs until Resume; the next pass "
    "starts again from the files not processed yet."
)
REFRESH_SECONDS = 10.0


class JobStep(Message):
    """A progress snapshot of a running job; a newer one of the same job replaces it."""

    def __init__(self, kind: str, run_id: int, step: Step) -> None:
        super().__init__()
        self.kind = kind
        self.run_id = run_id
        self.step = step

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, JobStep)
            and message.kind == self.kind
            and message.run_id == self.run_id
        )


@dataclass
class _Job:
    """A job in progress: its kind (dryrun, pass, export), id, cancel flag and worker."""

    kind: str
    run_id: int
    cancel: threading.Event = field(default_factory=threading.Event)
    worker: Worker[Any] | None = None
    action: str = ""


def _cell(text: str, limit: int | None = None) -> Text:
    shown = text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
    return Text(shown, no_wrap=True, overflow="ellipsis")


def totals_text(result: DryRunResult) -> str:
    """The report's first lines: counts, match rate, what was read against what."""
    s = result.summary
    unreconciled = s.records - s.reconciled - s.duplicates
    counted = s.records - s.duplicates
    return (
        f"match rate {s.match_rate * 100:.1f} % ({s.reconciled:,} of {counted:,} distinct "
        f"records reconciled)\n"
        f"{s.records:,} records · {s.reconciled:,} reconciled · {s.duplicates:,} duplicates · "
        f"{unreconciled:,} not reconciled"
    )


def source_text(result: DryRunResult) -> str:
    """What was read against what, and what was skipped."""
    s = result.summary
    lines = [
        f"{len(s.batches)} of {result.batch_count} batch(es) reconciled, profiles from "
        f"{result.profiles_label}; nothing was stored"
    ]
    if s.datasources:
        lines.append("data sources: " + ", ".join(s.datasources))
    lines.extend(f"skipped {name}: {reason}" for name, reason in s.skipped)
    return "\n".join(lines)


def segments_text(summary: Summary) -> str:
    """Per segment: distinct member profiles and removals."""
    segments = summary.to_json()["segments"]
    if not segments:
        return "no segment: no line was reconciled"
    width = max(len(seg) for seg in segments)
    return "\n".join(
        f"  {seg:<{width}}  members {v['members']:>7,}   removed {v['removed']:>7,}"
        for seg, v in segments.items()
    )


class AudiencesScreen(ConsoleScreen):
    """Dry runs, the import workflow and exports, each in its tab."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("f8", "run", "Run", id="audiences.run"),
        Binding("escape", "cancel", "Cancel", id="audiences.cancel"),
        Binding("ctrl+s", "save_report", "Save report", id="audiences.save_report"),
        # the Workflow tab's actions (hidden on the other tabs by check_action)
        Binding("p", "pause", "Pause", id="audiences.pause"),
        Binding("r", "resume", "Resume", id="audiences.resume"),
        Binding("s", "stop", "Stop", id="audiences.stop"),
        # the Export tab's actions; F8 previews there
        Binding("f9", "export('write')", "Export to folder", id="audiences.export_write"),
        Binding("f10", "export('upload')", "Upload", id="audiences.export_upload"),
        Binding("ctrl+t", "next_tab", "Next tab", id="audiences.next_tab"),
        # the tab's page scrolls even while a text field has the focus
        Binding("pagedown", "page(1)", "Page down", show=False, id="audiences.page_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="audiences.page_up"),
    ]

    #: Each tab's scrolling container.
    SCROLLS = {"dryrun": "#dr-scroll", "workflow": "#wf-scroll", "export": "#ex-scroll"}

    TABS = ("dryrun", "workflow", "export")

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, _Job] = {}
        self._next_id = 0
        self.result: DryRunResult | None = None
        # The counts (profiles, members per segment, the ledger) are read in a thread
        # on a connection of their own, kept so that Store.memo spares a rescan until
        # the store changes; the lock keeps two refreshes from sharing it at once.
        self._counts_lock = threading.Lock()
        self._counts: Services | None = None
        self._closed = False  # unmounted: the thread holding the lock closes _counts

    # --- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield NavBar()
        with TabbedContent(initial="dryrun", id="audiences-tabs"):
            with TabPane("Dry run", id="dryrun"), VerticalScroll(id="dr-scroll"):
                yield from self._compose_dry_run()
            with TabPane("Workflow", id="workflow"), VerticalScroll(id="wf-scroll"):
                yield Static(NO_ENV, classes="no-env", markup=False)
                yield WorkflowPanel(id="wf-panel")
            with TabPane("Export", id="export"), VerticalScroll(id="ex-scroll"):
                yield ScreenIntro("A segment's members as the AAM inbound file, ID<TAB>segment")
                yield Static(NO_ENV, classes="no-env", markup=False)
                yield ExportPanel(id="ex-panel")
        yield Footer(compact=True)

    def _compose_dry_run(self) -> ComposeResult:
        yield ScreenIntro("Reconcile AAM files offline: what Campaign would import, line by line")
        yield Static(NO_ENV, classes="no-env", markup=False)
        with Horizontal(classes="row"):
            yield Label("Audience files", classes="row-label")
            yield Input(placeholder="a file or a folder of AAM files", id="dr-files", compact=True)
        with Horizontal(classes="row"):
            yield Label("Profiles CSV", classes="row-label")
            yield Input(
                placeholder="the store's profiles", id="dr-profiles", compact=True
            )
            yield Label("Visitors", classes="row-label-short")
            yield Input(placeholder="visitors.csv (optional)", id="dr-visitors", compact=True)
        with Horizontal(classes="row"):
            yield Label("Data source", classes="row-label")
            yield Select[str](
                [("by destination ID in the name", ROUTE)],
                id="dr-datasource",
                allow_blank=False,
                compact=True,
            )
            yield Button("Run (F8)", id="dr-run", variant="primary", compact=True)
            yield Button("Cancel (Esc)", id="dr-cancel", compact=True, disabled=True)
            yield Button("Save report", id="dr-save", compact=True, disabled=True)
        yield RunProgress("F8 runs the dry run; the store is only read", id="dr-progress")
        with Vertical(id="dr-report"):
            yield Static("", id="dr-totals", markup=False)
            yield Label("Outcomes (one per non-empty line)", classes="table-title")
            yield OutcomeChart(id="dr-chart")
            yield Label("Segments (distinct profiles)", classes="table-title")
            yield Static("", id="dr-segments", markup=False)
            yield Label("Unreconciled samples", classes="table-title")
            yield DataTable(id="dr-samples", cursor_type="row", zebra_stripes=False)
            yield Static("", id="dr-sample-detail", markup=False)
            yield Static("", id="dr-skipped", markup=False)

    def on_mount(self) -> None:
        samples = self.query_one("#dr-samples", DataTable)
        samples.add_column("File", key="file", width=24)
        samples.add_column("Line", key="line", width=5)
        samples.add_column("ID", key="id", width=18)
        samples.add_column("Outcome", key="outcome", width=18)
        samples.add_column("Hint", key="hint")
        self.query_one("#dr-report").display = False
        self.load()
        self.set_interval(REFRESH_SECONDS, self._tick)

    def on_screen_resume(self) -> None:
        self.load()

    # --- environment and data -----------------------------------------------

    @property
    def env(self) -> Environment | None:
        return self.console.current_env()

    @property
    def services(self) -> Any:
        return self.console.services

    @property
    def active_tab(self) -> str:
        return str(self.query_one(TabbedContent).active)

    def load(self) -> None:
        """Re-reads what the three tabs show from the store."""
        env = self.env
        for notice in self.query(".no-env"):
            notice.display = env is None
        for part in ("#wf-panel", "#ex-panel"):
            self.query_one(part).display = env is not None
        if env is None:
            return
        files = self.query_one("#dr-files", Input)
        if not files.value:
            default = default_audience_path(env)
            if default is not None:
                files.value = display_path(default)
        select = self.query_one("#dr-datasource", Select)
        chosen = select.value
        labels = [ds.label for ds in env.by_priority()]
        select.set_options([("by destination ID in the name", ROUTE), *[(x, x) for x in labels]])
        select.value = chosen if chosen in labels else ROUTE
        self.refresh_workflow()

    def refresh_workflow(self) -> None:
        """Re-reads the workflow's state, runs and audiences (and the export choices) and
        the profile count, in a thread: on a store of millions of rows counting takes a
        while, and the screen must not freeze meanwhile."""
        env = self.env
        if env is not None:
            self._read_counts(env.name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audiences-counts")
    def _read_counts(self, env_name: str) -> None:
        worker = get_current_worker()
        try:
            with self._counts_lock:
                if self._closed:
                    self._close_counts()
                    return
                if worker.is_cancelled:  # a newer refresh is queued behind this one
                    return
                services = self._counts_services(env_name)
                stats = profile_stats(services.store, env_name)
                view = workflow_view(services)
                if self._closed:
                    self._close_counts()
                    return
        except AudienceError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_counts, env_name, stats, view)

    def _counts_services(self, env_name: str) -> Services:
        """The counting thread's own connection (for the current environment)."""
        if self._counts is None or self._counts.env_name != env_name:
            if self._counts is not None:
                self._counts.close()
            self._counts = Services(db_path=self.services.db_path, env_name=env_name)
        return self._counts

    def _show_counts(self, env_name: str, stats: ProfileStats, view: WorkflowView) -> None:
        env = self.env
        if not self.is_mounted or env is None or env.name != env_name:
            return  # the screen went away, or another environment is shown now
        self.query_one(
            "#dr-profiles", Input
        ).placeholder = f"the store's {stats.count:,} profiles"
        self.query_one(WorkflowPanel).show(view)
        self.query_one(ExportPanel).set_choices(
            view.segments, [ds.label for ds in env.by_priority()]
        )
        self.refresh_bindings()

    def _close_counts(self) -> None:
        if self._counts is not None:
            self._counts.close()
            self._counts = None

    def on_unmount(self) -> None:
        # Never wait on the UI thread for a count in progress: whoever holds the lock
        # (or takes it next) closes the connection once it sees _closed.
        self._closed = True
        if self._counts_lock.acquire(blocking=False):
            try:
                self._close_counts()
            finally:
                self._counts_lock.release()

    def _tick(self) -> None:
        if self.is_current and self.active_tab == "workflow":
            self.refresh_workflow()

    def show_workflow(self) -> None:
        """Opens the Workflow tab (the data sources screen's "Show import workflow").

        Works before the screen is mounted too (a first visit through that link).
        """
        if self.is_mounted:
            self.query_one(TabbedContent).active = "workflow"
        else:
            self.call_after_refresh(self.show_workflow)

    @on(TabbedContent.TabActivated)
    def tab_changed(self, event: TabbedContent.TabActivated) -> None:
        focused = self.focused
        if focused is not None and any(
            isinstance(node, TabPane) and node is not event.pane for node in focused.ancestors
        ):
            self.set_focus(None)  # keys must not go to a widget of a hidden tab
        if event.pane.id in ("workflow", "export"):
            self.refresh_workflow()
        self.refresh_bindings()

    # --- bindings -----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tab = self.active_tab
        if action == "cancel":
            return any(kind in CANCELLABLE for kind in self._jobs)
        if action == "save_report":
            return tab == "dryrun" and self.result is not None
        if action in ("pause", "resume", "stop"):
            return tab == "workflow" and self.env is not None
        if action == "export":
            if tab != "export" or self.env is None:
                return False
            return True if "export" not in self._jobs else None
        if action == "run":
            kind = {"dryrun": "dryrun", "workflow": "pass", "export": "export"}[tab]
            return True if kind not in self._jobs else None
        return True

    def action_run(self) -> None:
        tab = self.active_tab
        if tab == "dryrun":
            self.start_dry_run()
        elif tab == "workflow":
            self.start_pass()
        else:
            self.start_export("preview")

    def action_export(self, action: str) -> None:
        self.start_export(action)

    def action_page(self, step: int) -> None:
        scroll = self.query_one(self.SCROLLS[self.active_tab], VerticalScroll)
        if step > 0:
            scroll.scroll_page_down()
        else:
            scroll.scroll_page_up()

    def action_next_tab(self) -> None:
        """Dry run -> Workflow -> Export -> Dry run (the tab bar needs no focus)."""
        tabs = self.query_one(TabbedContent)
        at = self.TABS.index(str(tabs.active)) if tabs.active in self.TABS else -1
        tabs.active = self.TABS[(at + 1) % len(self.TABS)]

    def action_cancel(self) -> None:
        """Cancels the active tab's job (or else the only one running)."""
        kind = {v: k for k, v in JOB_TABS.items()}[self.active_tab]
        running = [job for job in self._jobs.values() if job.kind in CANCELLABLE]
        job = self._jobs.get(kind) if kind in CANCELLABLE else None
        if job is None and len(running) == 1:
            job = running[0]
        if job is not None:
            self._cancel(job)

    def _cancel(self, job: _Job) -> None:
        if job.cancel.is_set():
            return
        job.cancel.set()
        self._progress(job.kind).cancelling()

    # --- jobs ---------------------------------------------------------------

    def _progress(self, kind: str) -> RunProgress:
        if kind == "dryrun":
            return self.query_one("#dr-progress", RunProgress)
        if kind == "pass":
            return self.query_one(WorkflowPanel).progress
        return self.query_one(ExportPanel).progress

    def _start(self, kind: str, words: str, action: str = "") -> _Job | None:
        if kind in self._jobs:
            self.notify(f"a {kind} job is running: Escape cancels it", severity="warning")
            return None
        self._next_id += 1
        job = _Job(kind, self._next_id, action=action)
        self._jobs[kind] = job
        self._progress(kind).start(words)
        self._set_busy(kind, True)
        return job

    def _set_busy(self, kind: str, busy: bool) -> None:
        if kind == "dryrun":
            self.query_one("#dr-run", Button).disabled = busy
            self.query_one("#dr-cancel", Button).disabled = not busy
            self.query_one("#dr-save", Button).disabled = busy or self.result is None
        elif kind == "pass":
            self.query_one(WorkflowPanel).set_running(busy)
        else:
            self.query_one(ExportPanel).set_busy(busy)
        self.refresh_bindings()

    def _poster(self, job: _Job) -> Any:
        def post(step: Step) -> None:
            self.post_message(JobStep(job.kind, job.run_id, step))

        return post

    @staticmethod
    def _cancelled_fn(job: _Job) -> Any:
        worker = get_current_worker()

        def cancelled() -> bool:
            return job.cancel.is_set() or worker.is_cancelled

        return cancelled

    @on(JobStep)
    def job_step(self, event: JobStep) -> None:
        job = self._jobs.get(event.kind)
        if job is None or job.run_id != event.run_id or job.cancel.is_set():
            return
        step = event.step
        self._progress(event.kind).step(step.done, step.total, step.text)

    @on(Worker.StateChanged)
    def job_changed(self, event: Worker.StateChanged) -> None:
        """A job's worker ended: show its result, or put the widgets back in order.

        Errors themselves are notified by the App (one place for worker errors)."""
        job = next((j for j in self._jobs.values() if j.worker is event.worker), None)
        if job is None or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            return
        del self._jobs[job.kind]
        self._set_busy(job.kind, False)
        progress = self._progress(job.kind)
        if event.state is WorkerState.SUCCESS:
            self._finished(job, event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            text = error.message if isinstance(error, AudienceError) else str(error)
            progress.failed(f"failed: {' '.join(text.split())}")
            if job.kind == "pass":
                self.refresh_workflow()
        else:
            progress.stopped("cancelled")

    def _finished(self, job: _Job, result: Any) -> None:
        progress = self._progress(job.kind)
        if job.kind == "dryrun":
            if result is None:
                progress.stopped("cancelled: no report (nothing was stored)")
            else:
                self.show_report(result)
                summary = result.summary
                progress.finish(
                    f"dry run done at {clock.now().strftime('%H:%M')} UTC: "
                    f"{summary.records:,} records"
                )
        elif job.kind == "pass":
            self._pass_done(result)
        elif isinstance(result, ExportPreview):
            self.query_one(ExportPanel).show_preview(result)
            progress.finish(f"preview of {result.file_name}: nothing was written")
        elif isinstance(result, ExportReport):
            self.query_one(ExportPanel).show_result(result)
            where = "uploaded" if result.uploaded else "written"
            progress.finish(f"{', '.join(result.files)} {where}")
        else:
            progress.stopped("export cancelled: nothing was written")

    # --- dry run ------------------------------------------------------------

    def dry_run_request(self) -> DryRunRequest | str:
        """The dry run the form asks for, or why it cannot run."""
        files = self.query_one("#dr-files", Input).value.strip()
        if not files:
            return "enter an audience file or a folder"
        profiles = self.query_one("#dr-profiles", Input).value.strip()
        visitors = self.query_one("#dr-visitors", Input).value.strip()
        if visitors and not profiles:
            return "a visitors CSV goes with a profiles CSV (or leave both empty: the store)"
        source = self.query_one("#dr-datasource", Select).value
        return DryRunRequest(
            audience_paths=(resolve_path(files),),
            profiles_csv=resolve_path(profiles) if profiles else None,
            visitors_csv=resolve_path(visitors) if visitors else None,
            datasource=source if isinstance(source, str) and source != ROUTE else None,
        )

    @on(Button.Pressed, "#dr-run")
    def start_dry_run(self) -> None:
        """Starts a dry run of the form's files in a thread worker."""
        if self.env is None:
            self.notify(NO_ENV, severity="warning")
            return
        request = self.dry_run_request()
        if isinstance(request, str):
            self.notify(request, severity="warning")
            return
        job = self._start("dryrun", "reading the profiles and the audience files…")
        if job is None:
            return
        job.worker = self.dry_run_worker(job, request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audiences-dryrun")
    def dry_run_worker(self, job: _Job, request: DryRunRequest) -> DryRunResult | None:
        """Reconciles in this thread; None when cancelled."""
        cancelled = self._cancelled_fn(job)
        with worker_services(self.services) as services:
            try:
                return run_dry_run(
                    services, request, progress=self._poster(job), cancelled=cancelled
                )
            except OperationCancelled:  # while reading profiles or reconciling
                return None

    @on(Button.Pressed, "#dr-cancel")
    def cancel_dry_run(self) -> None:
        job = self._jobs.get("dryrun")
        if job is not None:
            self._cancel(job)

    def show_report(self, result: DryRunResult) -> None:
        """Draws a finished dry run's report."""
        self.result = result
        summary = result.summary
        self.query_one("#dr-report").display = True
        self.query_one("#dr-totals", Static).update(totals_text(result))
        counts = {"reconciled": summary.reconciled, "duplicate": summary.duplicates}
        counts.update(summary.outcomes)
        self.query_one(OutcomeChart).show(counts, summary.records)
        self.query_one("#dr-segments", Static).update(segments_text(summary))
        table = self.query_one("#dr-samples", DataTable)
        table.clear()
        for number, sample in enumerate(summary.unreconciled_samples):
            table.add_row(
                _cell(sample.file),
                str(sample.line),
                _cell(sample.id),
                _cell(sample.outcome),
                _cell(sample.hint),
                key=str(number),
            )
        table.display = bool(summary.unreconciled_samples)
        shown = len(summary.unreconciled_samples)
        self.query_one("#dr-sample-detail", Static).update(
            f"{shown} sample(s), spread across outcomes; a highlighted row shows its hint here"
            if shown
            else "every line was reconciled or a duplicate"
        )
        self.query_one("#dr-skipped", Static).update(source_text(result))
        self.query_one("#dr-save", Button).disabled = False
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#dr-samples")
    def sample_detail(self, event: DataTable.RowHighlighted) -> None:
        if self.result is None or event.row_key.value is None:
            return
        samples = self.result.summary.unreconciled_samples
        index = int(event.row_key.value)
        if 0 <= index < len(samples):
            s = samples[index]
            self.query_one("#dr-sample-detail", Static).update(
                f"{s.file}:{s.line}  {s.outcome}  {s.id}\n→ {s.hint}"
            )

    @on(Button.Pressed, "#dr-save")
    def action_save_report(self) -> None:
        """Asks for a path and writes the Markdown match report there."""
        result = self.result
        if result is None:
            self.notify("run a dry run first (F8)", severity="warning")
            return

        def chosen(text: str | None) -> None:
            if not text:
                return
            path = resolve_path(text)
            if path.is_dir():
                path = path / "match-report.md"
            try:
                write_atomic(
                    path,
                    render_markdown(result.summary, result.env_name, clock.now()),
                    what="report",
                )
            except AudienceError as exc:
                self.notify(str(exc), title="Report not saved", severity="error", timeout=10)
                return
            # the full path: a relative one would leave the reader guessing where it went
            self.notify(f"match report written to {full_path(path)}")

        default = full_path("match-report.md")
        self.app.push_screen(PromptModal("Save the match report (Markdown) to", default), chosen)

    # --- workflow -----------------------------------------------------------

    @on(Button.Pressed, "#wf-run")
    def start_pass(self) -> None:
        """Runs one pass of the import workflow in a thread worker."""
        if self.env is None:
            self.notify(NO_ENV, severity="warning")
            return
        job = self._start("pass", "listing the import account…")
        if job is None:
            return
        job.worker = self.pass_worker(job)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audiences-pass")
    def pass_worker(self, job: _Job) -> PassReport:
        """One pass in this thread (the store's import lock is taken inside)."""
        cancelled = self._cancelled_fn(job)
        with worker_services(self.services) as services:
            return run_pass_now(services, progress=self._poster(job), cancelled=cancelled)

    def _pass_done(self, report: PassReport) -> None:
        progress = self._progress("pass")
        words = f"run {report.run_id}: {report.status}"
        if report.batches:
            words += (
                f", {report.files} file(s), {report.records:,} records, "
                f"{report.reconciled:,} reconciled ({report.match_rate:.1%})"
            )
        if report.waiting:
            words += f"; {len(report.waiting)} batch(es) wait for their parts"
        if report.status == "cancelled":
            progress.stopped("cancelled: the batch in progress was not written")
        else:
            progress.finish(words)
        self.refresh_workflow()

    @on(Button.Pressed, "#wf-cancel")
    def cancel_pass(self) -> None:
        job = self._jobs.get("pass")
        if job is not None:
            self._cancel(job)

    def _transition(self, action: Any) -> None:
        env = self.env
        if env is None:
            self.notify(NO_ENV, severity="warning")
            return
        try:
            _, message = action(SqliteWorkflowStore(self.services.store), env.name)
        except AudienceError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.notify(message)
        self.refresh_workflow()

    @on(Button.Pressed, "#wf-pause")
    def action_pause(self) -> None:
        """Pause: a pass in progress finishes its batch; no new one starts."""
        self._transition(pause)

    @on(Button.Pressed, "#wf-resume")
    def action_resume(self) -> None:
        """Resume from paused, stopped, failed or idle (clears the last error)."""
        self._transition(resume)

    @on(Button.Pressed, "#wf-stop")
    def action_stop(self) -> None:
        """Asks, then stops: a pass in progress is cancelled."""
        if self.env is None:
            self.notify(NO_ENV, severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            job = self._jobs.get("pass")
            if job is not None:
                self._cancel(job)
            self._transition(stop)

        self.app.push_screen(
            ConfirmModal("Stop the import workflow?", STOP_BODY, yes="Stop", no="Keep it"),
            answered,
        )

    # --- export -------------------------------------------------------------

    @on(Button.Pressed, "#ex-preview")
    def preview_pressed(self) -> None:
        self.start_export("preview")

    @on(Button.Pressed, "#ex-write")
    def write_pressed(self) -> None:
        self.start_export("write")

    @on(Button.Pressed, "#ex-upload")
    def upload_pressed(self) -> None:
        self.start_export("upload")

    @on(Button.Pressed, "#ex-cancel")
    def cancel_export(self) -> None:
        job = self._jobs.get("export")
        if job is not None:
            self._cancel(job)

    def start_export(self, action: str) -> None:
        """``preview``, ``write`` (to the form's folder) or ``upload`` (export account)."""
        if self.env is None:
            self.notify(NO_ENV, severity="warning")
            return
        panel = self.query_one(ExportPanel)
        request = panel.request()
        if isinstance(request, str):
            self.notify(request, severity="warning")
            return
        folder = panel.folder()
        if action == "write" and folder is None:
            self.notify("enter the folder to write the file into", severity="warning")
            return
        words = {
            "preview": "building the preview…",
            "write": f"writing into {display_path(folder) if folder else ''}…",
            "upload": "uploading through the export account…",
        }[action]
        job = self._start("export", words, action)
        if job is None:
            return
        job.worker = self.export_worker(job, request, action, folder)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audiences-export")
    def export_worker(
        self, job: _Job, request: ExportRequest, action: str, folder: Any
    ) -> ExportPreview | ExportReport | None:
        """Builds the preview, writes or uploads the file, in this thread; None when
        cancelled (nothing is left behind: see ``core.export.run_export``)."""
        cancelled = self._cancelled_fn(job)
        with worker_services(self.services) as services:
            try:
                if action == "preview":
                    return preview_export(services, request, cancelled=cancelled)
                return export_request(
                    services,
                    request,
                    out_dir=folder,
                    upload=action == "upload",
                    cancelled=cancelled,
                )
            except OperationCancelled:
                return None

    # --- palette ------------------------------------------------------------

    def palette_commands(self) -> list[PaletteCommand]:
        """The screen's commands for the palette."""

        def on_tab(tab: str, then: Any) -> Any:
            def run() -> None:
                self.query_one(TabbedContent).active = tab
                then()

            return run

        return [
            PaletteCommand(
                "audiences: dry run",
                "Reconcile the chosen files offline (F8)",
                on_tab("dryrun", self.start_dry_run),
            ),
            PaletteCommand(
                "audiences: save report",
                "Write the dry run's Markdown report",
                self.action_save_report,
            ),
            PaletteCommand(
                "audiences: run import now",
                "One pass of the import workflow",
                on_tab("workflow", self.start_pass),
            ),
            PaletteCommand(
                "audiences: pause import",
                "Pause the import workflow",
                on_tab("workflow", self.action_pause),
            ),
            PaletteCommand(
                "audiences: resume import",
                "Resume the import workflow",
                on_tab("workflow", self.action_resume),
            ),
            PaletteCommand(
                "audiences: stop import",
                "Stop the import workflow (asks first)",
                on_tab("workflow", self.action_stop),
            ),
            PaletteCommand(
                "audiences: export preview",
                "Preview the AAM inbound file of a segment (F8 on the Export tab)",
                on_tab("export", lambda: self.start_export("preview")),
            ),
            PaletteCommand(
                "audiences: export to folder",
                "Write the AAM inbound file into the form's folder (F9 on the Export tab)",
                on_tab("export", lambda: self.start_export("write")),
            ),
            PaletteCommand(
                "audiences: upload to AAM",
                "Upload the AAM inbound file through the export account (F10 on the Export tab)",
                on_tab("export", lambda: self.start_export("upload")),
            ),
            PaletteCommand(
                "audiences: next tab",
                "Dry run, Workflow, Export (Ctrl+T)",
                self.action_next_tab,
            ),
        ]
