"""What the screens and widgets may ask of the console App, as a typed Protocol.

``tui.app.AudienceApp`` implements it. Screens reach it through
``ConsoleScreen.console`` and widgets through :func:`console_of`, so that neither
imports ``tui.app`` (which imports every screen) nor writes ``# type: ignore``.
"""

from __future__ import annotations

from typing import Protocol, cast

from textual.app import App
from textual.worker import Worker

from core.model import Environment
from usecases.services import Services


class ConsoleApp(Protocol):
    """The console's own part of the App: its services and environment."""

    services: Services

    def current_env(self) -> Environment | None:
        """The environment the console shows (None when the store has none yet)."""
        ...

    def env_label(self) -> str:
        """The environment's name for the navigation bar ('' when there is none)."""
        ...

    def environment_saved(self, env: Environment) -> None:
        """Screens call this after saving, so the rest of the console follows."""
        ...

    def switch_environment(self, name: str) -> None:
        """Shows another environment of the store."""
        ...

    def report_worker_failure(self, worker: Worker[object]) -> None:
        """One place for worker errors."""
        ...

    def action_help(self) -> None:
        """Opens the help of the screen in front."""
        ...


def console_of(app: App[object]) -> ConsoleApp:
    """``app`` as the console (every App that runs these widgets is one)."""
    return cast(ConsoleApp, app)
