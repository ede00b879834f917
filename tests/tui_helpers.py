"""Building apps over prepared stores for Pilot and snapshot tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import parse_environment
from core.model import Environment
from tests.conftest import SAMPLE_TOML
from tui.app import AudienceApp
from usecases.services import Services


def services_with_sample(db_path: Path, toml: str = SAMPLE_TOML) -> tuple[Services, Environment]:
    services = Services(db_path=db_path)
    env = services.repo.save(parse_environment(toml))
    return services, env


def app_for(services: Services) -> AudienceApp:
    return AudienceApp(services)


async def wait_until(
    pilot: Any, condition: Callable[[], bool], what: str, timeout: float = 60.0
) -> None:
    """Lets the app run until ``condition()`` holds.

    The deadline is only a safety net against a hang, generous enough for a loaded
    machine; the behaviour under test is the condition, never how fast it came.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not the case after {timeout:.0f} s")
        await pilot.pause(0.02)


async def settle(pilot: Any) -> None:
    """Waits until no worker has run for two rounds in a row: a screen may start its
    worker a frame or two after the key, later still on a busy machine."""
    quiet = 0
    while quiet < 2:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        quiet = 0 if any(w.is_running for w in pilot.app.workers) else quiet + 1


def settled_press(*keys: str) -> Callable[[Any], Any]:
    """A ``run_before`` for ``snap_compare``: presses each key, then lets the work it
    started in thread workers finish, so the snapshot shows the settled screen however
    busy the machine is (``press=`` alone takes it after a fixed number of frames)."""

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        steady_cursors(pilot.app)

    return run_before


def steady_cursors(app: Any) -> None:
    """Stops the text cursors blinking, so a snapshot never depends on the blink's phase
    (a busy machine can take it half a second after the last key): a focused field
    then always shows its cursor, as the committed snapshots do."""
    from textual.widgets import Input, TextArea

    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False
