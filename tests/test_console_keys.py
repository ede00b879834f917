"""The real console in tmux: key bursts reach their rows, Ctrl+C during a probe ends it.

Uses scripts/tmux_check.py's helpers (a private tmux server per test), like
tests/test_terminal.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.checks import CHECKS
from tests.test_terminal import check

#: The cursor's mark on a checklist row: its thick left border, drawn in the first
#: column after the list's margin (a block in a 256-colour terminal).
CURSOR_MARKS = "█▌▐┃"


@pytest.fixture
def _require_tmux() -> None:
    if check.tmux_available():
        return
    import os

    if os.environ.get("CI"):
        pytest.fail("CI must run the terminal tests, but tmux is not installed", pytrace=False)
    pytest.skip("tmux is not installed (apt-get install tmux)")


@pytest.fixture
def demo_db(_require_tmux: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return check.build_demo(tmp_path_factory.mktemp("keys") / "demo")


@pytest.fixture
def console_factory(_require_tmux: None, tmp_path: Path) -> Iterator[object]:
    made: list[object] = []

    def make(argv: list[str], width: int = 80, height: int = 24) -> object:
        console = check.TmuxConsole(argv, width, height, "xterm-256color", workdir=tmp_path)
        made.append(console)
        console.start()
        return console

    yield make
    for console in made:
        console.close()  # type: ignore[attr-defined]


def _cursor_row(screen: str) -> str:
    """The title of the checklist row that carries the cursor."""
    for line in screen.splitlines():
        if len(line) > 1 and line[1] in CURSOR_MARKS:
            for spec in CHECKS:
                if spec.title[:30] in line:
                    return spec.title
    return ""


@pytest.mark.parametrize("keys", [["j"] * 4, ["Down"] * 4])
def test_a_burst_of_keys_moves_the_checklist_cursor_once_per_key(
    console_factory, demo_db: Path, keys: list[str]
) -> None:  # type: ignore[no-untyped-def]
    console = console_factory(check.console_argv(demo_db, "ansi-dark"), 120, 40)
    console.wait_for(check.HOME_TEXT)
    console.send("F7")
    first = CHECKS[0].title
    console._wait(lambda s: _cursor_row(s) == first, 60.0, "the cursor on the first row")
    console.send(*keys)  # one tmux command: the keys arrive as one burst
    want = CHECKS[4].title
    # the deadline only stops a hang; a dropped key leaves the cursor on an earlier row
    try:
        console._wait(lambda s: _cursor_row(s) == want, 20.0, want)
    except check.CheckFailed:
        pass
    assert _cursor_row(console.capture()) == want
