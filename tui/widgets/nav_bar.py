"""The top line of every screen: the environment and the F-keys to every screen.

Navigation lives here rather than in the footer, so that at 80 columns the
footer has room for the screen's own actions. Each entry is clickable.
"""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from tui.console import console_of
from tui.navigation import SCREENS

MAX_ENV = 10  # the F-keys need 67 columns: 80 leaves room for this much


class NavBar(Static):
    """``env F2 Home F3 Request ...`` with the current screen highlighted (F1 is help)."""

    DEFAULT_CLASSES = "nav-bar"

    def on_mount(self) -> None:
        self.watch(self.app, "sub_title", lambda _: self.refresh_bar())

    def on_screen_resume(self) -> None:
        self.refresh_bar()

    def refresh_bar(self) -> None:
        env = console_of(self.app).env_label()
        if len(env) > MAX_ENV:
            env = env[: MAX_ENV - 1] + "…"
        parts = [f"[reverse bold] {escape(env) or 'no env'} [/]"]
        for mode, title, key in SCREENS:
            label = f"[b]{key.upper()}[/b] {title}"
            if mode == self.app.current_mode:
                label = f"[reverse]{label}[/reverse]"
            parts.append(f"[@click=app.go('{mode}')]{label}[/]")
        self.update(" ".join(parts))
