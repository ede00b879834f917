"""What every headless command shares: the state it receives and its output helpers.

Commands import this module, never ``tui.cli`` (which registers the commands), so
that no import runs in a circle.
"""

from __future__ import annotations

import json
from typing import Any

import click

from core.errors import InputError
from usecases.services import Services


class CliState:
    """What every command receives: the services and output helpers."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @staticmethod
    def emit_json(data: Any) -> None:
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


pass_state = click.make_pass_decorator(CliState)


def check_theme(name: str) -> None:
    """Fails with one line listing the valid names when the theme is unknown."""
    from textual.theme import BUILTIN_THEMES  # only the console's commands get here

    if name not in BUILTIN_THEMES:
        valid = ", ".join(sorted(BUILTIN_THEMES))
        raise InputError(f"unknown theme {name!r}", f"valid themes: {valid}")
