"""The README's screenshots are current: the script's output equals the committed files.

The script drives the real console over the demo with a frozen clock; only measured
durations and the SVG's content-hash class names are allowed to differ.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "screenshots", ROOT / "scripts" / "screenshots.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["screenshots"] = module
    spec.loader.exec_module(module)
    return module


def test_readme_screenshots_are_current(tmp_path: Path) -> None:
    script = _script()
    written = asyncio.run(script.shoot(tmp_path))
    committed = ROOT / "screenshots"
    names = sorted(path.name for path in written)
    assert names == sorted(path.name for path in committed.glob("*.svg")), (
        "screenshots/ holds other files than the script writes"
    )
    stale = [
        name
        for name in names
        if script.normalized((tmp_path / name).read_text(encoding="utf-8"))
        != script.normalized((committed / name).read_text(encoding="utf-8"))
    ]
    assert not stale, f"stale screenshots {stale}: run .venv/bin/python scripts/screenshots.py"


def test_every_screenshot_is_shown_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        p.name
        for p in (ROOT / "screenshots").glob("*.svg")
        if f"screenshots/{p.name}" not in readme
    ]
    assert not missing, f"screenshots not in the README: {missing}"


def test_normalizing_keeps_what_the_console_says() -> None:
    script = _script()
    assert script.normalized("took 15&#160;ms") == script.normalized("took 3&#160;ms")
    assert script.normalized("match 91.2%") != script.normalized("match 91.3%")
    assert script.normalized("class terminal-123-r1") == script.normalized("class terminal-9-r1")
