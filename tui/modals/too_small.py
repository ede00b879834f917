"""Below 80×24 the console says so instead of squeezing its screens into nonsense."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.screen import ModalScreen
from textual.widgets import Static

#: The smallest terminal every screen is laid out for (docs/reference.md §8).
MIN_WIDTH = 80
MIN_HEIGHT = 24


def too_small(width: int, height: int) -> bool:
    return width < MIN_WIDTH or height < MIN_HEIGHT


def too_small_text(width: int, height: int) -> str:
    return (
        f"The terminal is {width}×{height}: audiencectl needs at least "
        f"{MIN_WIDTH}×{MIN_HEIGHT}.\nEnlarge the window (or make the font smaller); "
        "the console comes back as it was. Ctrl+Q quits."
    )


class TooSmall(ModalScreen[None]):
    """Covers the console while the terminal is smaller than 80×24; the App removes it
    as soon as the terminal is large enough again."""

    BINDINGS = [Binding("escape", "ignore", show=False)]

    DEFAULT_CSS = """
    TooSmall {
        background: $background;
        align: center middle;
    }
    TooSmall #too-small {
        width: auto;
        max-width: 100%;
        height: auto;
        text-align: center;
    }
    """

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(
                too_small_text(self.app.size.width, self.app.size.height),
                id="too-small",
                markup=False,
            )

    def show_size(self, width: int, height: int) -> None:
        self.query_one("#too-small", Static).update(too_small_text(width, height))

    def action_ignore(self) -> None:
        """Escape does not hide the notice: only a larger terminal does."""
