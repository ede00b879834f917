"""The base of every console screen: worker failures go to the App's one handler."""

from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState


class ConsoleScreen(Screen[None]):
    """``Worker.StateChanged`` does not bubble, so screens forward failures to the App."""

    @on(Worker.StateChanged)
    def forward_worker_failure(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.app.report_worker_failure(event.worker)  # type: ignore[attr-defined]
