"""Home: the setup as the steps of Adobe's setup page, each with its real state from the store."""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from core.text import printable_name
from storage.overview import SetupStep, overview
from tui.palette import PaletteCommand
from tui.screens.base import ConsoleScreen
from tui.screens.first_run_keys import FirstRunKeys
from tui.text import plain
from tui.widgets.first_run import FirstRunTips
from tui.widgets.glyphs import badge
from tui.widgets.nav_bar import NavBar
from tui.widgets.screen_header import ScreenIntro

NEXT_STEP = {
    "request": "Fill the provisioning request and send it to Adobe (F3).",
    "accounts": "Enter the SFTP accounts Adobe sent and probe them (F4).",
    "datasources": "Enter the data source alias and AAM destination ID (F5).",
    "checklist": "Run the troubleshooting checklist (F7).",
    "audiences": "Load profiles and run a dry run on an audience file (F6).",
}

STATE_COLUMN = 8
STEP_COLUMN = 29

EMPTY = (
    "This store holds no environment yet.\n\n"
    "  • F3 starts one with the provisioning request,\n"
    "  • or: audiencectl config import FILE.toml\n"
    "  • or try everything offline: audiencectl demo"
)


class HomeScreen(FirstRunKeys, ConsoleScreen):
    """The integration's setup at a glance; Enter opens the step's screen."""

    BINDINGS = [Binding("r", "refresh", "Refresh", show=False, id="home.refresh")]

    def compose(self) -> ComposeResult:
        yield NavBar()
        with Vertical(id="home"):
            yield ScreenIntro(
                "Campaign ↔ Audience Manager: the setup, step by step", id="home-intro"
            )
            yield FirstRunTips(id="first-run")
            yield DataTable(id="steps", cursor_type="row", zebra_stripes=False)
            yield Static("", id="next-step", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#steps", DataTable)
        table.add_column("", key="state", width=STATE_COLUMN)
        table.add_column("Step", key="step", width=STEP_COLUMN)
        table.add_column("State", key="summary")
        self.steps: list[SetupStep] = []
        self.refresh_steps()

    def on_screen_resume(self) -> None:
        self.refresh_steps()

    def action_refresh(self) -> None:
        self.refresh_steps()

    def refresh_steps(self) -> None:
        table = self.query_one("#steps", DataTable)
        table.clear()
        env = self.console.current_env()
        if env is None:
            self.steps = []
            table.display = False
            self.query_one("#next-step", Static).update(EMPTY)
            return
        table.display = True
        services = self.console.services
        self.steps = overview(services.store, services.repo, env)
        width = self.state_width()
        for number, step in enumerate(self.steps, start=1):
            lines = textwrap.wrap(step.summary, width) or [""]
            table.add_row(
                badge(step.state, {"done": "ok", "todo": "todo"}.get(step.state)),
                plain(f"{number}. {step.title}"),
                Text("\n".join(printable_name(line) for line in lines)),
                key=f"{number}",
                height=len(lines),
            )
        self.show_next_step()

    def state_width(self) -> int:
        """The State column's width: what the terminal leaves after the other columns, so
        that a long state wraps onto a second line instead of being cut."""
        used = STATE_COLUMN + STEP_COLUMN + 3 * 2 + 2 + 1  # cell padding, margins, scrollbar
        return max(24, self.app.size.width - used)

    def on_resize(self) -> None:
        if self.steps:
            self.refresh_steps()

    def show_next_step(self) -> None:
        pending = next((s for s in self.steps if s.state not in ("done", "skip")), None)
        text = (
            f"Next: {pending.hint or NEXT_STEP.get(pending.key, pending.title)}"
            if pending
            else "Every step is done. Run the checklist (F7) whenever audiences look wrong."
        )
        self.query_one("#next-step", Static).update(text)

    @on(DataTable.RowHighlighted, "#steps")
    def describe_step(self, event: DataTable.RowHighlighted) -> None:
        index = event.cursor_row
        if not 0 <= index < len(self.steps):
            return
        step = self.steps[index]
        hint = (
            "done; Enter opens it"
            if step.state == "done"
            else step.hint or NEXT_STEP.get(step.key, "")
        )
        self.query_one("#next-step", Static).update(f"{step.title}: {step.summary}\n→ {hint}")

    @on(DataTable.RowSelected, "#steps")
    def open_step(self, event: DataTable.RowSelected) -> None:
        index = event.cursor_row
        if 0 <= index < len(self.steps):
            self.app.switch_mode(self.steps[index].key)

    def palette_commands(self) -> list[PaletteCommand]:
        return [PaletteCommand("home: refresh", "Re-read the setup's state", self.refresh_steps)]
