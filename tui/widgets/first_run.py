"""The first-run tips on the home screen: where a newcomer starts, and a key to hide them.

They show while the environment's tips are armed (``audiencectl demo`` arms
them) and not dismissed; ``x`` on the home screen dismisses them for good,
remembered in the store (``storage.settings``).
"""

from __future__ import annotations

from textual.widgets import Static

from core.errors import AudienceError
from storage.settings import dismiss_first_run_tips, first_run_tips_wanted
from tui.console import console_of

TIPS = (
    "1. F6 Audiences, then F8: the dry run; read the outcome chart and report\n"
    "2. F7 Checklist: what to fix, and how, for each finding\n"
    "3. F1 explains any screen; Ctrl+P lists every command"
)


class FirstRunTips(Static):
    """A short panel for newcomers; hidden unless the environment's tips are armed."""

    DEFAULT_CSS = """
    FirstRunTips {
        height: auto;
        margin: 1 1 0 1;
        padding: 0 1;
        border: round $accent;
        border-title-color: $accent;
        border-subtitle-color: $text-muted;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(TIPS, markup=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "New here? Start with"
        self.border_subtitle = "x hides these tips"

    def on_mount(self) -> None:
        self.reload()

    def _env_name(self) -> str | None:
        try:
            env = console_of(self.app).services.maybe_env()
        except AudienceError:
            return None
        return env.name if env is not None else None

    def reload(self) -> None:
        """Shows the tips when the current environment wants them."""
        name = self._env_name()
        store = console_of(self.app).services.store
        self.display = name is not None and first_run_tips_wanted(store, name)

    def dismiss(self) -> bool:
        """Hides the tips and remembers it; False when they were not showing."""
        name = self._env_name()
        if not self.display or name is None:
            return False
        try:
            dismiss_first_run_tips(console_of(self.app).services.store, name)
        except AudienceError as exc:
            self.notify(str(exc), title="Tips not hidden", severity="error")
            return False
        self.display = False
        self.notify("Tips hidden. F1 shows the help of any screen.")
        return True
