"""The Audiences screen's Dry run tab: reconcile AAM files offline and show the report.

The form names the audience files, the profiles (the store's, or a CSV with an
optional visitor map) and the data source; the report shows totals, outcomes as
a bar chart, the website mistakes found in the misses (causes), segments and
unreconciled samples. Nothing is written to the store.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from core import clock
from core.errors import AudienceError, OperationCancelled
from core.files import write_atomic
from core.model import Environment
from core.reconcile import Summary
from core.report import render_markdown
from tui.modals.prompt import PromptModal
from tui.text import plain
from tui.widgets.job_tab import NO_ENV, Job, JobTab
from tui.widgets.outcome_chart import OutcomeChart
from tui.widgets.run_progress import RunProgress
from tui.widgets.screen_header import ScreenIntro
from usecases.dryrun import DryRunRequest, DryRunResult, run_dry_run
from usecases.paths import default_audience_path, display_path, full_path, resolve_path
from usecases.services import worker_services

#: The data source select's value: route each file by the destination ID in its name.
ROUTE = "*route*"


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


def causes_text(summary: Summary) -> str:
    """Each website mistake found, once per data source: count, outcome, examples, fix."""
    lines: list[str] = []
    for item in summary.causes:
        c = item.cause
        lines.append(
            f"{item.datasource}: {c.code} on {c.count:,} line(s) ({c.outcome}), "
            f"e.g. {', '.join(c.examples)}"
        )
        lines.append(f"  {c.detail}")
        lines.append(f"  fix: {c.fix}")
    return "\n".join(lines)


class DryRunTab(JobTab):
    """The dry run's form, progress and match report."""

    KIND = "dryrun"

    def __init__(self, *, id: str = "dr-scroll") -> None:
        super().__init__(id=id)
        self.result: DryRunResult | None = None

    def compose(self) -> ComposeResult:
        yield ScreenIntro("Reconcile AAM files offline: what Campaign would import, line by line")
        yield Static(NO_ENV, classes="no-env", markup=False)
        with Horizontal(classes="row"):
            yield Label("Audience files", classes="row-label")
            yield Input(placeholder="a file or a folder of AAM files", id="dr-files", compact=True)
        with Horizontal(classes="row"):
            yield Label("Profiles CSV", classes="row-label")
            yield Input(placeholder="the store's profiles", id="dr-profiles", compact=True)
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
            yield Label(
                "Website mistakes (confirmed against the profiles)",
                id="dr-causes-title",
                classes="table-title",
            )
            yield Static("", id="dr-causes", markup=False)
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

    # --- data -------------------------------------------------------------------

    @property
    def progress(self) -> RunProgress:
        return self.query_one("#dr-progress", RunProgress)

    def load(self, env: Environment) -> None:
        """The default audience folder and the data sources of ``env``."""
        files = self.query_one("#dr-files", Input)
        if not files.value:
            default = default_audience_path(env)
            if default is not None:
                files.value = display_path(default)
        select = self.query_one("#dr-datasource", Select)
        chosen = select.value
        labels = [ds.label for ds in env.by_priority()]
        select.set_options(
            [("by destination ID in the name", ROUTE), *[(plain(x), x) for x in labels]]
        )
        select.value = chosen if chosen in labels else ROUTE

    def show_profile_count(self, count: int) -> None:
        self.query_one("#dr-profiles", Input).placeholder = f"the store's {count:,} profiles"

    # --- the job ----------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        self.query_one("#dr-run", Button).disabled = busy
        self.query_one("#dr-cancel", Button).disabled = not busy
        self.query_one("#dr-save", Button).disabled = busy or self.result is None

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
        job = self.start_job("reading the profiles and the audience files…")
        if job is None:
            return
        job.worker = self.dry_run_worker(job, request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audiences-dryrun")
    def dry_run_worker(self, job: Job, request: DryRunRequest) -> DryRunResult | None:
        """Reconciles in this thread; None when cancelled."""
        cancelled = self.cancelled_fn(job)
        with worker_services(self.services) as services:
            try:
                return run_dry_run(
                    services, request, progress=self.poster(job), cancelled=cancelled
                )
            except OperationCancelled:  # while reading profiles or reconciling
                return None

    @on(Button.Pressed, "#dr-cancel")
    def cancel_pressed(self) -> None:
        self.cancel_job()

    def finished(self, job: Job, result: Any) -> None:
        if result is None:
            self.progress.stopped("cancelled: no report (nothing was stored)")
            return
        self.show_report(result)
        self.progress.finish(
            f"dry run done at {clock.now().strftime('%H:%M')} UTC: "
            f"{result.summary.records:,} records"
        )

    # --- the report ---------------------------------------------------------------

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
        causes = self.query_one("#dr-causes", Static)
        causes.update(causes_text(summary))
        causes.display = bool(summary.causes)
        self.query_one("#dr-causes-title", Label).display = bool(summary.causes)
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
        self.screen.refresh_bindings()

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
    def save_report(self) -> None:
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
