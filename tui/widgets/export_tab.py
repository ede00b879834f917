"""The Audiences screen's Export tab: preview, write or upload a segment's AAM file.

The form and its results are :class:`tui.widgets.export_panel.ExportPanel`; this
tab runs the chosen action (``usecases.export``) in a thread worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Button, Static

from core.errors import OperationCancelled
from core.export import ExportReport
from tui.widgets.export_panel import ExportPanel
from tui.widgets.job_tab import NO_ENV, Job, JobTab
from tui.widgets.run_progress import RunProgress
from tui.widgets.screen_header import ScreenIntro
from usecases.export import (
    ExportPreview,
    ExportRequest,
    export_folder,
    export_request,
    preview_export,
)
from usecases.paths import default_export_dir, display_path
from usecases.services import worker_services

#: The tab's actions: a preview, a file in the form's folder, an upload.
ACTIONS = ("preview", "write", "upload")


class ExportTab(JobTab):
    """The export panel and its job (a preview, a write or an upload)."""

    KIND = "export"

    def __init__(self, *, id: str = "ex-scroll") -> None:
        super().__init__(id=id)

    def on_mount(self) -> None:
        self.panel.show_default_folder(default_export_dir(self.services.db_path))

    def compose(self) -> ComposeResult:
        yield ScreenIntro("A segment's members as the AAM inbound file, ID<TAB>segment")
        yield Static(NO_ENV, classes="no-env", markup=False)
        yield ExportPanel(id="ex-panel")

    @property
    def panel(self) -> ExportPanel:
        return self.query_one(ExportPanel)

    @property
    def progress(self) -> RunProgress:
        return self.panel.progress

    def set_busy(self, busy: bool) -> None:
        self.panel.set_busy(busy)

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
    def cancel_pressed(self) -> None:
        self.cancel_job()

    def start_export(self, action: str) -> None:
        """``preview``, ``write`` (to the form's folder) or ``upload`` (export account)."""
        if self.env is None:
            self.notify(NO_ENV, severity="warning")
            return
        panel = self.panel
        request = panel.request()
        if isinstance(request, str):
            self.notify(request, severity="warning")
            return
        folder = panel.folder()
        shown = folder or default_export_dir(self.services.db_path)
        words = {
            "preview": "building the preview…",
            "write": f"writing into {display_path(shown)}…",
            "upload": "uploading through the export account…",
        }[action]
        job = self.start_job(words, action)
        if job is None:
            return
        job.worker = self.export_worker(job, request, action, folder)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audiences-export")
    def export_worker(
        self, job: Job, request: ExportRequest, action: str, folder: Path | None
    ) -> ExportPreview | ExportReport | None:
        """Builds the preview, writes or uploads the file, in this thread; None when
        cancelled (nothing is left behind: see ``core.export.run_export``)."""
        cancelled = self.cancelled_fn(job)
        with worker_services(self.services) as services:
            try:
                if action == "preview":
                    return preview_export(services, request, cancelled=cancelled)
                upload = action == "upload"
                return export_request(
                    services,
                    request,
                    out_dir=None if upload else export_folder(services, folder),
                    upload=upload,
                    cancelled=cancelled,
                )
            except OperationCancelled:
                return None

    def finished(self, job: Job, result: Any) -> None:
        if isinstance(result, ExportPreview):
            self.panel.show_preview(result)
            self.progress.finish(f"preview of {result.file_name}: nothing was written")
        elif isinstance(result, ExportReport):
            self.panel.show_result(result)
            where = "uploaded" if result.uploaded else "written"
            self.progress.finish(f"{', '.join(result.files)} {where}")
        else:
            self.progress.stopped("export cancelled: nothing was written")
