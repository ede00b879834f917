"""Writes the README's screenshots: the real console, driven over the demo workspace.

Usage: .venv/bin/python scripts/screenshots.py [--out screenshots]

The clock is frozen and the demo is generated from a fixed seed, so the
pictures only change when the console does.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent, TextArea

from core import clock
from core.demo import build_demo
from core.probe import common as probe
from tui.app import AudienceApp
from tui.commands.demo import install_demo
from usecases.services import Services

ROOT = Path(__file__).resolve().parent.parent
FROZEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

Step = Callable[[Pilot[int]], Awaitable[None]]


async def _settle(pilot: Pilot[int]) -> None:
    """Lets the screen finish what a key started: screens read their counts in thread
    workers, and a worker may start a frame or two after the key (a busy machine makes
    that later), so wait until no worker has run for two rounds in a row."""
    quiet = 0
    while quiet < 2:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)
        quiet = 0 if any(w.is_running for w in pilot.app.workers) else quiet + 1


async def _keys(pilot: Pilot[int], *keys: str) -> None:
    await pilot.press(*keys)
    await _settle(pilot)
    await pilot.pause(0.2)


async def _keys_then_wait(pilot: Pilot[int], *keys: str) -> None:
    """Presses keys one by one, letting every worker they start finish."""
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.1)
        await _settle(pilot)
    await pilot.pause(0.3)


async def _tab(pilot: Pilot[int], tab: str, *keys: str) -> None:
    """Opens Audiences (F6) on ``tab``, then presses ``keys`` (waiting for workers)."""
    await _keys(pilot, "f6")
    pilot.app.screen.query_one(TabbedContent).active = tab
    await pilot.pause(0.2)
    await _keys_then_wait(pilot, *keys)


#: (file name, terminal size, what to do before the shot)
SHOTS: list[tuple[str, tuple[int, int], Step]] = [
    ("home", (80, 24), lambda p: _keys(p)),
    ("home-wide", (120, 36), lambda p: _keys(p)),
    ("request", (100, 36), lambda p: _keys(p, "f3")),
    ("accounts", (120, 40), lambda p: _keys_then_wait(p, "f4", "f10")),
    ("datasources", (120, 36), lambda p: _keys(p, "f5")),
    ("audiences", (120, 44), lambda p: _keys_then_wait(p, "f6", "f8")),
    ("audiences-workflow", (120, 36), lambda p: _tab(p, "workflow")),
    ("audiences-export", (120, 40), lambda p: _tab(p, "export", "f8")),
    ("checklist", (100, 40), lambda p: _keys_then_wait(p, "f7", "o", "a")),
    ("help", (100, 36), lambda p: _keys(p, "f5", "f1")),
]

#: What changes from one run to the next although the console did not: measured
#: durations (probe stages, dry-run times) and the SVG's content-hash class names.
_VOLATILE = [
    (re.compile(r"terminal-\d+-"), "terminal-"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:&#160;| )(?:ms|s)\b"), "N ms"),
]


def normalized(svg: str) -> str:
    """The screenshot without what legitimately varies between two runs."""
    for pattern, replacement in _VOLATILE:
        svg = pattern.sub(replacement, svg)
    return svg


class _SteadyTime:
    """``core.probe.common``'s ``time`` (the stage runner's clock) during the shots: each
    stage seems to take 3 ms, so a probe's timings (and the screenshot) are the same from
    one run to the next."""

    def __init__(self) -> None:
        self._now = 1000.0

    def monotonic(self) -> float:
        self._now += 0.0015
        return self._now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def prepare(root: Path) -> Services:
    """A demo store, as `audiencectl demo` builds it."""
    workspace = build_demo(root)
    services = Services(db_path=workspace.db_path, env_name="demo")
    install_demo(services, workspace)
    return services


async def shoot(out: Path) -> list[Path]:
    """Writes every shot of ``SHOTS`` to ``out``; returns their paths."""
    written = []
    clock.freeze(FROZEN)
    real_time, probe.time = probe.time, _SteadyTime()  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            services = prepare(Path(tmp) / "demo")
            try:
                for name, size, step in SHOTS:
                    written.append(await _shot(services, Path(tmp), out, name, size, step))
            finally:
                services.close()
    finally:  # the tests call this in-process: leave no frozen clock behind
        clock.freeze(None)
        probe.time = real_time  # type: ignore[assignment]
    return written


async def _shot(
    services: Services, tmp: Path, out: Path, name: str, size: tuple[int, int], step: Step
) -> Path:
    app = AudienceApp(services)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        await step(pilot)
        for field in pilot.app.screen.query("Input, TextArea"):
            if isinstance(field, Input | TextArea):
                field.cursor_blink = False  # the shot never depends on the blink's phase
        await pilot.pause()
        path = out / f"{name}.svg"
        svg = app.export_screenshot(title="audiencectl")
        shown = svg.replace(str(tmp / "demo"), "~/audiencectl-demo")
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old is None or normalized(old) != normalized(shown):  # no churn
            path.write_text(shown, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(args.out)):
        print(path)


if __name__ == "__main__":
    main()
