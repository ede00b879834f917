"""The base of every console screen: worker failures go to the App's one handler."""

from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.widgets import Checkbox, Input, Select, TextArea
from textual.worker import Worker, WorkerState

from tui.console import ConsoleApp, console_of


class ConsoleScreen(Screen[None]):
    """The base of the console's screens.

    ``Worker.StateChanged`` does not bubble, so screens forward failures to the
    App. ``remember_form``/``form_is_dirty`` let a screen that reloads when it
    comes back keep what the user typed and did not save yet.
    """

    _form_snapshot: dict[str, object] | None = None

    @property
    def console(self) -> ConsoleApp:
        """The App as the console: its services and environment, typed."""
        return console_of(self.app)

    def _form_values(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for widget in self.query("Input, Select, TextArea, Checkbox"):
            if widget.id is None:
                continue
            if isinstance(widget, TextArea):
                values[widget.id] = widget.text
            elif isinstance(widget, (Input, Select, Checkbox)):
                values[widget.id] = widget.value
        return values

    def remember_form(self) -> None:
        """Takes what the form shows now as its saved state."""
        self._form_snapshot = self._form_values()

    def form_is_dirty(self) -> bool:
        """True when a field differs from what ``remember_form`` saw."""
        return self._form_snapshot is not None and self._form_values() != self._form_snapshot

    def unsaved_changes(self) -> bool:
        """True when quitting now would lose an edit (the App asks first)."""
        return self.form_is_dirty()

    @on(Worker.StateChanged)
    def forward_worker_failure(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.console.report_worker_failure(event.worker)
