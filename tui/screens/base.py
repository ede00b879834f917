"""The base of every console screen: worker failures go to the App's one handler."""

from __future__ import annotations

from functools import partial

from textual import on
from textual.binding import Binding
from textual.command import SimpleCommand
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select, TextArea
from textual.worker import Worker, WorkerState

from tui.console import ConsoleApp, console_of


class ConsoleScreen(Screen[None]):
    """The base of the console's screens.

    ``Worker.StateChanged`` does not bubble, so screens forward failures to the
    App. ``remember_form``/``form_is_dirty`` let a screen that reloads when it
    comes back keep what the user typed and did not save yet. Ctrl+G jumps to
    any field of the screen by its label (a long form is many Tabs deep).
    """

    BINDINGS = [Binding("ctrl+g", "goto_field", "Go to field", show=False, id="screen.goto_field")]

    _form_snapshot: dict[str, object] | None = None

    def form_fields(self) -> list[tuple[str, Widget]]:
        """(label, widget) of every field shown on the screen, in order."""
        fields: list[tuple[str, Widget]] = []
        for widget in self.query("Input, Select, TextArea, Checkbox"):
            if not widget.focusable and not isinstance(widget, Select):
                continue
            if not all(node.display for node in widget.ancestors_with_self if node is not self):
                continue
            fields.append((_field_label(widget), widget))
        return fields

    def action_goto_field(self) -> None:
        """A searchable list of the screen's fields; choosing one puts the cursor there."""
        fields = self.form_fields()
        if not fields:
            self.notify("no field on this screen", severity="warning")
            return
        self.app.search_commands(
            [
                SimpleCommand(label, partial(widget.focus), "go to this field")
                for label, widget in fields
            ],
            placeholder="Go to field…",
        )

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


def _field_label(widget: Widget) -> str:
    """The words that name a field on screen: its row's label (with the account or
    panel it belongs to when the screen has two of them), else its id."""
    label = ""
    for node in widget.ancestors:
        if isinstance(node, Horizontal):
            names = [str(child.render()).strip() for child in node.query("Label")]
            if names and names[0]:
                label = names[0]
                break
    if isinstance(widget, Checkbox) and not label:
        label = str(widget.label).strip()
    if not label:
        label = (widget.id or type(widget).__name__).replace("-", " ").replace("_", " ")
    side = (widget.id or "").split("-", 1)[0]
    return f"{side}: {label}" if side in ("import", "export") else label
