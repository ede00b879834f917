"""The tips' key for the screen that shows them: ``x`` hides the first-run tips."""

from __future__ import annotations

from textual.binding import Binding

from tui.screens.base import ConsoleScreen
from tui.widgets.first_run import FirstRunTips


class FirstRunKeys(ConsoleScreen):
    """A screen that carries the tips' key: ``x`` hides them, only while they show."""

    BINDINGS = [Binding("x", "hide_tips", "Hide tips", id="home.hide_tips")]

    def _tips(self) -> FirstRunTips | None:
        found = self.query(FirstRunTips)
        return found.first() if found else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hide_tips":
            tips = self._tips()
            return tips is not None and tips.display
        return super().check_action(action, parameters)

    def action_hide_tips(self) -> None:
        tips = self._tips()
        if tips is not None and tips.dismiss():
            self.refresh_bindings()
