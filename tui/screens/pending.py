"""A screen whose capability is not built yet says so plainly: no fake data."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.widgets.nav_bar import NavBar


class PendingScreen(Screen[None]):
    AREA = ""
    WHAT = ""

    def compose(self) -> ComposeResult:
        yield NavBar()
        yield Static(
            f"{self.AREA}\n\nNot available in this version yet: {self.WHAT}",
            classes="pending",
            markup=False,
        )
        yield Footer(compact=True)
