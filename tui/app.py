"""The console: owns the services, installs the screens, routes navigation and errors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

from textual import events, on
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets._toast import ToastRack
from textual.worker import Worker, WorkerState

from core.errors import AudienceError
from core.model import Environment
from core.text import printable_lines
from tui.console import ConsoleApp
from tui.modals.confirm import ConfirmModal
from tui.modals.help import HelpModal
from tui.modals.too_small import TooSmall, too_small
from tui.navigation import SCREENS
from tui.palette import ScreenCommands
from tui.screens.accounts import AccountsScreen
from tui.screens.audiences import AudiencesScreen
from tui.screens.base import ConsoleScreen
from tui.screens.checklist import ChecklistScreen
from tui.screens.datasources import DataSourcesScreen
from tui.screens.home import HomeScreen
from tui.screens.request import RequestScreen
from tui.text import for_console
from usecases.services import Services

STYLES = Path(__file__).parent / "styles"


class QuitConfirm(ConfirmModal):
    """The question before quitting with unsaved edits (Ctrl+Q there quits)."""


class AudienceApp(App[int]):
    """audiencectl's console. Services come in; widgets never open the store themselves."""

    TITLE = "audiencectl"
    CSS_PATH = [
        STYLES / "global.tcss",
        STYLES / "home.tcss",
        STYLES / "request.tcss",
        STYLES / "accounts.tcss",
        STYLES / "datasources.tcss",
        STYLES / "audiences.tcss",
        STYLES / "checklist.tcss",
    ]
    COMMANDS = App.COMMANDS | {ScreenCommands}
    MODES: dict[str, Callable[[], Screen[None]]] = {  # type: ignore[assignment]
        "home": HomeScreen,
        "request": RequestScreen,
        "accounts": AccountsScreen,
        "datasources": DataSourcesScreen,
        "audiences": AudiencesScreen,
        "checklist": ChecklistScreen,
    }
    DEFAULT_MODE = "home"
    BINDINGS = [
        *[
            # Shown in the navigation bar at the top, not in the footer.
            Binding(key, f"go('{mode}')", title, id=f"go.{mode}", priority=True, show=False)
            for mode, title, key in SCREENS
        ],
        Binding("f1", "help", "Help", id="app.help"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.quit_ctrl_c"),
    ]

    def __init__(self, services: Services, *, theme: str = "textual-dark") -> None:
        super().__init__()
        self.services = services
        self.animation_level = "none"
        self.requested_theme = theme
        self._startup_notes = self._choose_environment()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text: messages carry labels, file names and hosts,
        which must never be read as markup (``markup`` is ignored on purpose)."""
        super().notify(
            printable_lines(for_console(message)),
            title=printable_lines(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def _refresh_notifications(self) -> None:
        """Toasts never cover a dialog: while one is open they wait, hidden on every screen
        (a dialog's backdrop shows the screen under it), and show again, if not expired
        yet, when it closes. Textual calls this whenever the screen in front changes."""
        try:
            dialog = isinstance(self.screen, ModalScreen)
        except ScreenStackError:
            dialog = False
        if not dialog:
            super()._refresh_notifications()
            return
        for screen in self.screen_stack:
            for rack in screen.query(ToastRack):
                rack.display = False

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.check_size)

    def check_size(self) -> None:
        """Below 80×24 a notice covers the console; at 80×24 or more it goes away."""
        width, height = self.size
        notice = next((s for s in self.screen_stack if isinstance(s, TooSmall)), None)
        if too_small(width, height):
            if notice is None:
                self.push_screen(TooSmall())
            else:
                notice.show_size(width, height)
        elif notice is not None:
            if self.screen is notice:
                self.pop_screen()
            else:
                notice.dismiss(None)

    def on_mount(self) -> None:
        if self.requested_theme in self.available_themes:
            self.theme = self.requested_theme
        else:
            self.notify(f"unknown theme {self.requested_theme!r}", severity="warning")
        for message, severity in self._startup_notes:
            self.notify(message, severity=severity, timeout=10)
        self.update_subtitle()
        self.check_size()

    def _choose_environment(self) -> list[tuple[str, SeverityLevel]]:
        """With several environments and no ``--env``, show the first and say how to switch.

        Runs before the screens mount, so that they open on that environment.
        """
        try:
            names = self.services.repo.names()
        except AudienceError as exc:
            return [(str(exc), "error")]
        wanted = self.services.env_name
        if wanted is not None and wanted not in names:
            known = ", ".join(names) or "none"
            return [(f"no environment named {wanted!r} in this store (known: {known})", "error")]
        if wanted is None and len(names) > 1:
            self.services.env_name = names[0]
            return [
                (
                    f"{len(names)} environments in this store; showing {names[0]!r}. "
                    "Switch with Ctrl+P, 'env: switch to …' (or start with --env NAME)",
                    "information",
                )
            ]
        return []

    def switch_environment(self, name: str) -> None:
        """Shows another environment of the store, starting from the home screen."""
        self.services.env_name = name
        self.update_subtitle()
        self.switch_mode("home")
        refresh = getattr(self.screen, "refresh_steps", None)
        if refresh is not None:
            refresh()
        self.notify(f"environment {name!r}")

    # --- environment ------------------------------------------------------

    def current_env(self) -> Environment | None:
        """The environment the console shows (None when the store has none yet)."""
        try:
            return self.services.maybe_env()
        except AudienceError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return None

    def env_label(self) -> str:
        """The environment's name for the navigation bar ('' when there is none)."""
        env = self.current_env()
        return env.name if env else ""

    def update_subtitle(self) -> None:
        env = self.current_env()
        self.sub_title = f"environment {env.name}" if env else "no environment yet: F3 starts one"

    def environment_saved(self, env: Environment) -> None:
        """Screens call this after saving, so the rest of the console follows."""
        if self.services.env_name is None or self.services.env_name != env.name:
            self.services.env_name = env.name
        self.update_subtitle()

    # --- navigation -------------------------------------------------------

    def get_key_display(self, binding: Binding) -> str:
        """F-keys as the keyboard prints them in the footer: F8, not f8."""
        display = super().get_key_display(binding)
        return display.upper() if re.fullmatch(r"f\d+", display) else display

    def action_go(self, mode: str) -> None:
        if isinstance(self.screen, TooSmall):
            return  # the notice stays in front until the terminal is large enough
        self.switch_mode(mode)

    async def action_quit(self) -> None:
        """Quits, after asking when a screen holds edits that were not saved."""
        titles = {mode: title for mode, title, _ in SCREENS}
        stacks: dict[str, list[Screen[object]]] = getattr(self, "_screen_stacks", {})
        unsaved = [
            titles.get(mode, mode)
            for mode, stack in stacks.items()
            if any(isinstance(s, ConsoleScreen) and s.unsaved_changes() for s in stack)
        ]
        if not unsaved or isinstance(self.screen, QuitConfirm):  # Ctrl+Q twice: quit
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(
            QuitConfirm(
                "Quit without saving?",
                f"Unsaved changes on: {', '.join(unsaved)}. Ctrl+S on that screen saves them.",
                yes="Quit",
                no="Stay",
            ),
            answered,
        )

    def action_help(self) -> None:
        """Opens the help of the screen in front (F1 again, Escape or q closes it)."""
        if isinstance(self.screen, HelpModal):
            self.screen.dismiss(None)
            return
        base = next(
            (s for s in reversed(self.screen_stack) if not isinstance(s, ModalScreen)),
            self.screen,
        )
        titles = {mode: title for mode, title, _ in SCREENS}
        self.push_screen(HelpModal(self.current_mode, base, titles.get(self.current_mode, "")))

    # --- errors -----------------------------------------------------------

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.report_worker_failure(event.worker)

    def report_worker_failure(self, worker: Worker[object]) -> None:
        """One place for worker errors: known ones as a notification, the rest as a bug."""
        error = worker.error
        if isinstance(error, AudienceError):
            self.notify(str(error), title="Error", severity="error", timeout=10)
        else:
            self.notify(
                f"unexpected {type(error).__name__}: {error}",
                title="Internal error",
                severity="error",
                timeout=15,
            )


def run_console(services: Services, *, mouse: bool = True, theme: str = "textual-dark") -> None:
    """Runs the console until the user quits; a hangup (SIGHUP) exits quietly with 130."""
    from tui.hangup import HangupGuard
    from tui.threads import DaemonExecutor

    app = AudienceApp(services, theme=theme)
    # Quitting must not wait for a thread worker stuck on the network (tui/threads.py).
    loop = asyncio.new_event_loop()
    loop.set_default_executor(DaemonExecutor())
    try:
        with HangupGuard(app.exit):
            app.run(mouse=mouse, loop=loop)
    finally:
        loop.close()


def _is_a_console(app: AudienceApp) -> ConsoleApp:
    """A type check only: the App is what screens and widgets see as the console."""
    return app
