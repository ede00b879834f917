"""Our commands in the command palette, named ``area: verb``.

Navigation commands are always there; the active screen adds its own through
``palette_commands()`` (a list of ``PaletteCommand``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.console import console_of
from tui.navigation import SCREENS


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    callback: Callable[[], object]


class ScreenCommands(Provider):
    def _commands(self) -> Iterable[PaletteCommand]:
        screen = self.screen
        provider = getattr(screen, "palette_commands", None)
        if provider is not None:
            yield from provider()
        yield PaletteCommand(
            "help: this screen",
            "What each field means and where to find it (F1)",
            console_of(self.app).action_help,
        )
        for mode, title, key in SCREENS:
            yield PaletteCommand(
                f"go: {title.lower()}",
                f"Open the {title} screen ({key.upper()})",
                partial(self.app.switch_mode, mode),
            )
        services = getattr(self.app, "services", None)
        if services is not None:
            for name in services.repo.names():
                yield PaletteCommand(
                    f"env: switch to {name}",
                    "Show this environment of the store",
                    partial(console_of(self.app).switch_environment, name),
                )

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.title), command.callback, help=command.help
                )
