"""The Import shared audience workflow at a glance: state, timing, runs, audiences.

The panel only shows what it is given (:meth:`WorkflowPanel.show` with a
``usecases.importwf.WorkflowView``); its buttons post ``Button.Pressed`` for the tab
to act on. The expected latency is always on screen, so a slow delivery is
not read as a broken one.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, Static

from core import clock
from core.workflow import RunRecord
from tui.text import for_console, plain
from tui.widgets.run_progress import RunProgress
from usecases.importwf import WorkflowView

__all__ = ["STATES", "WorkflowPanel", "run_row", "state_words"]

#: state -> (glyph, what it means for the admin).
STATES: dict[str, tuple[str, str]] = {
    "running": ("▶", "passes run; new AAM files are imported"),
    "paused": ("‖", "nothing new starts until resumed"),
    "stopped": ("■", "nothing runs until resumed; audiences are not imported"),
    "failed": ("✗", "the last pass failed and needs attention"),
    "idle": ("·", "never started; Run now starts it"),
}

#: run status -> glyph.
RUN_MARKS = {
    "ok": "✓",
    "nothing_new": "·",
    "running": "…",
    "paused": "‖",
    "cancelled": "-",
    "failed": "✗",
}


def state_words(state: str) -> str:
    """``▶ running: passes run; ...``: glyph, word and meaning."""
    mark, meaning = STATES.get(state, ("?", ""))
    return f"{mark} {state}: {meaning}" if meaning else f"{mark} {state}"


def _stamp(text: str) -> str:
    try:
        return clock.parse_iso(text).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def run_row(run: RunRecord) -> tuple[str, str, str, str, str, str]:
    """A run as table cells: time (UTC), status with glyph, files, records,
    reconciled, match rate."""
    started = run.started_at.strftime("%Y-%m-%d %H:%M")
    status = f"{RUN_MARKS.get(run.status, '?')} {run.status}"
    rate = f"{run.match_rate:.1%}" if run.records else "-"
    return (
        started,
        status,
        str(run.files),
        f"{run.records:,}",
        f"{run.reconciled:,}",
        rate,
    )


class WorkflowPanel(Vertical):
    """State, last error, expected latency, ledger size, runs, segments and the actions."""

    def compose(self) -> ComposeResult:
        yield Static("", id="wf-state", markup=False)
        yield Static("", id="wf-details", markup=False)
        yield Static("", id="wf-latency", markup=False)
        with Horizontal(id="wf-buttons"):
            yield Button("Run now (F8)", id="wf-run", variant="primary", compact=True)
            yield Button("Pause (p)", id="wf-pause", compact=True)
            yield Button("Resume (r)", id="wf-resume", compact=True)
            yield Button("Stop (s)", id="wf-stop", variant="warning", compact=True)
            yield Button("Cancel (Esc)", id="wf-cancel", compact=True)
        yield RunProgress("no pass running in this console", id="wf-progress")
        with Horizontal(id="wf-tables"):
            with Vertical(id="wf-runs-box"):
                yield Label("Last runs", classes="table-title")
                yield DataTable(id="wf-runs", cursor_type="row", zebra_stripes=False)
            with Vertical(id="wf-segments-box"):
                yield Label("Segments in the store", classes="table-title")
                yield DataTable(id="wf-segments", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        runs = self.query_one("#wf-runs", DataTable)
        runs.add_column("Started (UTC)", key="time", width=16)
        runs.add_column("Status", key="status", width=13)
        runs.add_column("Files", key="files")
        runs.add_column("Records", key="records")
        runs.add_column("Reconciled", key="reconciled")
        runs.add_column("Match", key="rate")
        segments = self.query_one("#wf-segments", DataTable)
        segments.add_column("Segment", key="segment")
        segments.add_column("Members", key="members")
        self.running = False
        self.state = "idle"
        self.set_running(False)

    @property
    def progress(self) -> RunProgress:
        """The pass's progress line."""
        return self.query_one(RunProgress)

    def show(self, view: WorkflowView) -> None:
        """Draws ``view``."""
        self.state = view.state
        state = self.query_one("#wf-state", Static)
        mark, meaning = STATES.get(view.state, ("?", ""))
        state.update(f"{mark} {view.state} since {_stamp(view.changed_at)} UTC: {meaning}")
        for name in STATES:
            state.set_class(name == view.state, f"-{name}")
        details = [
            f"last error: {for_console(view.last_error) or 'none'} · processed files: "
            f"{view.processed_files} · passes every {view.interval_minutes} min"
        ]
        details.extend(f"! {for_console(note)}" for note in view.notes)
        self.query_one("#wf-details", Static).update("\n".join(details))
        self.query_one("#wf-latency", Static).update("\n".join(view.latency))
        runs = self.query_one("#wf-runs", DataTable)
        runs.clear()
        for run in view.runs:
            runs.add_row(*(plain(cell) for cell in run_row(run)), key=str(run.id))
        if not view.runs:
            runs.add_row("never run", "", "", "", "", "")
        segments = self.query_one("#wf-segments", DataTable)
        segments.clear()
        for seg, members in view.segments.items():
            segments.add_row(plain(seg), f"{members:,}", key=seg)
        if not view.segments:
            segments.add_row("none yet", "")
        self.set_running(self.running)

    def set_running(self, running: bool) -> None:
        """Enables the buttons that apply: one pass at a time, transitions by state."""
        self.running = running
        state = self.state
        self.query_one("#wf-run", Button).disabled = running or state not in ("running", "idle")
        self.query_one("#wf-pause", Button).disabled = state != "running"
        self.query_one("#wf-resume", Button).disabled = state == "running"
        self.query_one("#wf-stop", Button).disabled = state == "stopped"
        self.query_one("#wf-cancel", Button).disabled = not running
