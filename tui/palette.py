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


def _commands_of(screen: object) -> list[PaletteCommand]:
    provider = getattr(screen, "palette_commands", None)
    return list(provider()) if provider is not None else []


class ScreenCommands(Provider):
    def _commands(self) -> Iterable[PaletteCommand]:
        screen = self.screen
        yield from _commands_of(screen)
        yield from self._other_screens_commands(screen)
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

    def _other_screens_commands(self, current: object) -> Iterable[PaletteCommand]:
        """Every other screen's commands: choosing one opens that screen, then runs it
        there (so "status" finds the request's status from anywhere)."""
        app = self.app
        stacks: dict[str, list[object]] = getattr(app, "_screen_stacks", {})
        modes: dict[str, object] = getattr(app, "MODES", {})
        for mode, title, key in SCREENS:
            stack = stacks.get(mode) or []
            screen = stack[0] if stack else None
            if screen is current:
                continue
            if screen is None:  # not opened yet: a fresh instance only lists its commands
                factory = modes.get(mode)
                if not callable(factory):
                    continue
                screen = factory()
            for command in _commands_of(screen):
                yield PaletteCommand(
                    command.title,
                    f"{command.help} · on {title} ({key.upper()})",
                    partial(self._run_on, mode, command.title),
                )

    async def _run_on(self, mode: str, title: str) -> None:
        """Opens the screen of ``mode`` and runs its command ``title`` there."""
        await self.app.switch_mode(mode)
        for command in _commands_of(self.app.screen):
            if command.title == title:
                result = command.callback()
                if hasattr(result, "__await__"):
                    await result  # type: ignore[misc]
                return

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
