"""A checkbox that shows its state by shape, not by colour alone."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class TickBox(Checkbox):
    """A checkbox whose state shows as a glyph (✓ on, blank off): Textual's own draws
    an X either way and tells the two apart by colour only."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "✓" if self.value else " "
        return super()._button
