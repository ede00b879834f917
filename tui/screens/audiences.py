"""Audiences (F6): dry runs, the Import shared audience workflow, exports to AAM.

Three tabs, one widget each, each owning its job (a thread worker with its own
store connection, progress, cancel): **Dry run** (``tui.widgets.dryrun_tab``)
reconciles audience files offline and shows the match report; **Workflow**
(``tui.widgets.workflow_tab``) shows the import workflow and runs, pauses,
resumes or stops it; **Export** (``tui.widgets.export_tab``) previews and writes
(or uploads) the AAM inbound file of a segment.

The screen composes the tabs, routes its keys to the tab in front, and reads
the counts the tabs show (profiles, the workflow, the segments) in a thread, as
on a store of millions of rows counting takes a while.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import get_current_worker

from core.errors import AudienceError
from core.model import Environment
from storage.profiles import ProfileStats, profile_stats
from tui.palette import PaletteCommand
from tui.screens.base import ConsoleScreen
from tui.widgets.dryrun_tab import DryRunTab
from tui.widgets.export_tab import ExportTab
from tui.widgets.job_tab import NO_ENV, Job, JobTab
from tui.widgets.nav_bar import NavBar
from tui.widgets.workflow_panel import WorkflowPanel
from tui.widgets.workflow_tab import WorkflowTab
from usecases.dryrun import DryRunResult
from usecases.importwf import WorkflowView, workflow_view
from usecases.services import Services

__all__ = ["NO_ENV", "REFRESH_SECONDS", "AudiencesScreen"]

REFRESH_SECONDS = 10.0


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

    TABS = ("dryrun", "workflow", "export")

    def __init__(self) -> None:
        super().__init__()
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
            with TabPane("Dry run", id="dryrun"):
                yield DryRunTab()
            with TabPane("Workflow", id="workflow"):
                yield WorkflowTab(self.refresh_workflow)
            with TabPane("Export", id="export"):
                yield ExportTab()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()
        self.set_interval(REFRESH_SECONDS, self._tick)

    def on_screen_resume(self) -> None:
        self.load()

    # --- the tabs -----------------------------------------------------------

    @property
    def dry_run(self) -> DryRunTab:
        return self.query_one(DryRunTab)

    @property
    def workflow(self) -> WorkflowTab:
        return self.query_one(WorkflowTab)

    @property
    def export(self) -> ExportTab:
        return self.query_one(ExportTab)

    def _tabs(self) -> dict[str, JobTab]:
        return {"dryrun": self.dry_run, "workflow": self.workflow, "export": self.export}

    @property
    def result(self) -> DryRunResult | None:
        """The last dry run's result (None before the first, or after a cancel)."""
        return self.dry_run.result

    @property
    def _jobs(self) -> dict[str, Job]:
        """The jobs running, by kind (dryrun, pass, export)."""
        return {tab.KIND: tab.job for tab in self.query(JobTab) if tab.job is not None}

    # --- environment and data -----------------------------------------------

    @property
    def env(self) -> Environment | None:
        return self.console.current_env()

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
        self.dry_run.load(env)
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
            self._counts = Services(db_path=self.console.services.db_path, env_name=env_name)
        return self._counts

    def _show_counts(self, env_name: str, stats: ProfileStats, view: WorkflowView) -> None:
        env = self.env
        if not self.is_mounted or env is None or env.name != env_name:
            return  # the screen went away, or another environment is shown now
        self.query_one(DryRunTab).show_profile_count(stats.count)
        self.query_one(WorkflowPanel).show(view)
        self.export.panel.set_choices(view.segments, [ds.label for ds in env.by_priority()])
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
            return bool(self._jobs)
        if action == "save_report":
            return tab == "dryrun" and self.result is not None
        if action in ("pause", "resume", "stop"):
            return tab == "workflow" and self.env is not None
        if action == "export":
            if tab != "export" or self.env is None:
                return False
            return True if self.export.job is None else None
        if action == "run":
            return True if self._tabs()[tab].job is None else None
        return True

    def action_run(self) -> None:
        tab = self.active_tab
        if tab == "dryrun":
            self.dry_run.start_dry_run()
        elif tab == "workflow":
            self.workflow.start_pass()
        else:
            self.export.start_export("preview")

    def action_export(self, action: str) -> None:
        self.export.start_export(action)

    def action_save_report(self) -> None:
        self.dry_run.save_report()

    def action_pause(self) -> None:
        self.workflow.pause_workflow()

    def action_resume(self) -> None:
        self.workflow.resume_workflow()

    def action_stop(self) -> None:
        self.workflow.stop_workflow()

    def action_page(self, step: int) -> None:
        scroll = self._tabs()[self.active_tab]
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
        tab = self._tabs()[self.active_tab]
        running = [t for t in self._tabs().values() if t.job is not None]
        if tab.job is None and len(running) == 1:
            tab = running[0]
        tab.cancel_job()

    # --- palette ------------------------------------------------------------

    def palette_commands(self) -> list[PaletteCommand]:
        """The screen's commands for the palette."""

        def on_tab(tab: str, then: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                self.query_one(TabbedContent).active = tab
                then()

            return run

        return [
            PaletteCommand(
                "audiences: dry run",
                "Reconcile the chosen files offline (F8)",
                on_tab("dryrun", lambda: self.dry_run.start_dry_run()),
            ),
            PaletteCommand(
                "audiences: save report",
                "Write the dry run's Markdown report",
                self.action_save_report,
            ),
            PaletteCommand(
                "audiences: run import now",
                "One pass of the import workflow",
                on_tab("workflow", lambda: self.workflow.start_pass()),
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
                on_tab("export", lambda: self.export.start_export("preview")),
            ),
            PaletteCommand(
                "audiences: export to folder",
                "Write the AAM inbound file into the form's folder (F9 on the Export tab)",
                on_tab("export", lambda: self.export.start_export("write")),
            ),
            PaletteCommand(
                "audiences: upload to AAM",
                "Upload the AAM inbound file through the export account (F10 on the Export tab)",
                on_tab("export", lambda: self.export.start_export("upload")),
            ),
            PaletteCommand(
                "audiences: next tab",
                "Dry run, Workflow, Export (Ctrl+T)",
                self.action_next_tab,
            ),
        ]
