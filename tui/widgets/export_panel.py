"""Export a segment to Audience Manager: what to send, a preview, where to put it.

The panel collects the choice (a segment of the store or a members CSV, the
segment or trait ID AAM should get, the data source, a folder) and shows the
preview and the result; the Export tab runs the work (``usecases.export``) in a worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.export import ExportReport
from tui.text import plain
from tui.widgets.run_progress import RunProgress
from tui.widgets.tickbox import TickBox
from usecases.export import ExportPreview, ExportRequest, skipped_lines
from usecases.paths import display_path, resolve_path

__all__ = ["CSV_CHOICE", "ExportPanel", "preview_line"]

#: The members select's value for "a members CSV file".
CSV_CHOICE = "csv"
_SEGMENT = "segment:"


def preview_line(line: str, keep: int = 36) -> str:
    """A line of the inbound file as shown: a long ID shortened in the middle (so the
    segment stays visible), the TAB shown as ``⇥``."""
    ident, tab, rest = line.partition("\t")
    if len(ident) > keep:
        ident = f"{ident[: keep - 13]}…{ident[-12:]}"
    return f"{ident} ⇥ {rest}" if tab else ident


class ExportPanel(Vertical):
    """The export form, its preview and its result."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label("Members", classes="row-label")
            yield Select[str]([], id="ex-members", prompt="choose", compact=True)
            yield Input(
                placeholder="members.csv (header with an id column)", id="ex-csv", compact=True
            )
        with Horizontal(classes="row"):
            yield Label("Segment ID", classes="row-label")
            yield Input(
                placeholder="AAM segment or trait ID",
                id="ex-segment",
                restrict=r"[0-9]*",
                compact=True,
            )
            yield Label("Data source", classes="row-label-short")
            yield Select[str]([], id="ex-datasource", prompt="choose", compact=True)
        with Horizontal(classes="row"):
            yield Label("Folder", classes="row-label")
            yield Input(placeholder="exports/ beside the store", id="ex-folder", compact=True)
            yield TickBox("gzip", id="ex-gzip", compact=True)
        with Horizontal(classes="buttons"):
            yield Button("Preview (F8)", id="ex-preview", variant="primary", compact=True)
            yield Button("Export to folder (F9)", id="ex-write", compact=True)
            yield Button("Upload to AAM (F10)", id="ex-upload", compact=True)
            yield Button("Cancel (Esc)", id="ex-cancel", compact=True, disabled=True)
        yield RunProgress("choose members and a data source, then Preview", id="ex-progress")
        yield Static("", id="ex-file", markup=False)
        yield Static("", id="ex-lines", markup=False)
        yield Static("", id="ex-skipped", markup=False)

    def on_mount(self) -> None:
        self.query_one("#ex-csv", Input).display = False
        self.preview: ExportPreview | None = None
        self.result: ExportReport | None = None

    @property
    def progress(self) -> RunProgress:
        """The export's progress line."""
        return self.query_one(RunProgress)

    def set_choices(self, segments: Mapping[str, int], datasources: Sequence[str]) -> None:
        """Fills the selects, keeping the current choice when it still exists."""
        members = self.query_one("#ex-members", Select)
        current = members.value
        options = [
            (plain(f"segment {seg} ({count:,} members)"), f"{_SEGMENT}{seg}")
            for seg, count in segments.items()
        ]
        options.append(("a members CSV file…", CSV_CHOICE))
        members.set_options(options)
        values = [value for _, value in options]
        typed = bool(self.query_one("#ex-csv", Input).value.strip())
        if current in values and (current != CSV_CHOICE or typed or not segments):
            members.value = current
        elif segments:
            members.value = options[0][1]
        else:
            members.value = CSV_CHOICE
        sources = self.query_one("#ex-datasource", Select)
        chosen = sources.value
        sources.set_options([(plain(label), label) for label in datasources])
        if chosen in datasources:
            sources.value = chosen
        elif datasources:
            sources.value = datasources[0]

    @on(Select.Changed, "#ex-members")
    def members_changed(self, event: Select.Changed) -> None:
        value = event.value
        self.query_one("#ex-csv", Input).display = value == CSV_CHOICE
        if isinstance(value, str) and value.startswith(_SEGMENT):
            self.query_one("#ex-segment", Input).value = value.removeprefix(_SEGMENT)

    def request(self) -> ExportRequest | str:
        """The export asked for, or why the form is not complete."""
        members = self.query_one("#ex-members", Select).value
        segment = self.query_one("#ex-segment", Input).value.strip()
        source = self.query_one("#ex-datasource", Select).value
        gz = self.query_one("#ex-gzip", Checkbox).value
        if not isinstance(source, str):
            return "choose a data source"
        if not segment:
            return "enter the AAM segment or trait ID to export as"
        if members == CSV_CHOICE:
            path = self.query_one("#ex-csv", Input).value.strip()
            if not path:
                return "enter the members CSV's path"
            return ExportRequest(segment, source, members_csv=resolve_path(path), gz=gz)
        if isinstance(members, str) and members.startswith(_SEGMENT):
            return ExportRequest(
                segment, source, store_segment=members.removeprefix(_SEGMENT), gz=gz
            )
        return "choose the members: a segment of the store or a members CSV"

    def show_default_folder(self, folder: Path) -> None:
        """Shows where "Export to folder" writes while the Folder field is empty
        (``usecases.paths.default_export_dir``, as for the CLI)."""
        self.query_one("#ex-folder", Input).placeholder = f"{display_path(folder)}  (default)"

    def folder(self) -> Path | None:
        """The folder typed for "Export to folder" (None when empty: the default
        folder, ``exports/`` beside the store)."""
        text = self.query_one("#ex-folder", Input).value.strip()
        return resolve_path(text) if text else None

    def set_busy(self, busy: bool) -> None:
        """Disables the three actions while one runs; only then can it be cancelled."""
        for button in self.query(Button):
            button.disabled = busy if button.id != "ex-cancel" else not busy

    def show_preview(self, preview: ExportPreview) -> None:
        """The file name, its first lines and who has no usable ID."""
        self.preview = preview
        report = preview.report
        self.query_one("#ex-file", Static).update(
            f"{preview.file_name}: {report.lines:,} line(s), ID<TAB>segment, "
            f"data source {report.datasource!r}"
        )
        more = report.lines - len(preview.lines)
        shown = "\n".join(f"  {preview_line(line)}" for line in preview.lines)
        if more > 0:
            shown += f"\n  … {more:,} more"
        self.query_one("#ex-lines", Static).update(shown)
        self._show_skipped(report)

    def _show_skipped(self, report: ExportReport) -> None:
        without = sum(report.skipped.values())
        lines = [
            f"{'!' if without else '✓'} members with no usable ID: {without:,} "
            f"of {report.members:,}"
        ]
        lines.extend(f"  {line}" for line in skipped_lines(report))
        self.query_one("#ex-skipped", Static).update("\n".join(lines))

    def show_result(self, report: ExportReport) -> None:
        """What was written or uploaded, and where."""
        self.result = report
        where = "uploaded" if report.uploaded else "wrote"
        destination = report.destination
        if destination.startswith("local:"):
            destination = "local:" + display_path(destination.removeprefix("local:"))
        elif not report.uploaded and destination:
            destination = display_path(destination)
        self.query_one("#ex-file", Static).update(
            f"✓ {where} {', '.join(report.files)} ({report.lines:,} line(s)) to {destination}"
        )
        self._show_skipped(report)
