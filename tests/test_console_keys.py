"""The real console in tmux: key bursts reach their rows, Ctrl+C during a probe ends it.

Uses scripts/tmux_check.py's helpers (a private tmux server per test), like
tests/test_terminal.py.
"""

from __future__ import annotations

import contextlib
import sys
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


@pytest.mark.parametrize("keys", [["j"] * 5, ["Down"] * 5])
def test_a_burst_of_keys_moves_the_checklist_cursor_once_per_key(
    console_factory, demo_db: Path, keys: list[str]
) -> None:  # type: ignore[no-untyped-def]
    console = console_factory(check.console_argv(demo_db, "ansi-dark"), 120, 40)
    console.wait_for(check.HOME_TEXT)
    console.send("F7")
    first = CHECKS[0].title
    console._wait(lambda s: _cursor_row(s) == first, 60.0, "the cursor on the first row")
    console.send(*keys)  # one tmux command: the keys arrive as one burst
    want = CHECKS[5].title
    # the deadline only stops a hang; a dropped key leaves the cursor on an earlier row
    with contextlib.suppress(check.CheckFailed):
        console._wait(lambda s: _cursor_row(s) == want, 20.0, want)
    assert _cursor_row(console.capture()) == want


#: The console with a stage timeout of 30 s, so that "gone at once" and "gone when the
#: stage timed out" cannot be confused.
PROBE_TIMEOUT = 30.0
SLOW_CONSOLE = (
    "from tui.screens.accounts import AccountsScreen\n"
    f"AccountsScreen.probe_timeout = {PROBE_TIMEOUT}\n"
    "from tui.cli import entry\n"
    "entry()\n"
)


def test_ctrl_c_during_a_probe_ends_the_console_at_once(console_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A server that accepts TCP and never speaks SSH: the probe waits for its banner.

    Ctrl+C must end the process itself, not only give the terminal back. The limit
    below is a safety net for a loaded machine, far under the stage timeout (30 s):
    before the fix the process lived until the stage timed out.
    """
    import socket

    from tests.conftest import SAMPLE_TOML
    from tests.tui_helpers import services_with_sample

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts the connection; nobody ever writes
    port = silent.getsockname()[1]
    toml = SAMPLE_TOML.replace(
        'host = "sftp.example.net"\nport = 22\n', f'host = "127.0.0.1"\nport = {port}\n', 1
    )
    db = tmp_path / "store" / "audiencectl.db"
    services, _ = services_with_sample(db, toml)
    services.close()
    argv = [sys.executable, "-c", SLOW_CONSOLE, "--db", str(db), "--no-mouse"]
    console = console_factory(argv, 120, 40)
    try:
        console.wait_for(check.HOME_TEXT)
        console.send("F4")
        console.wait_for("Probe (F8)")
        console.send("F8")
        console.wait_for(f"probing sftp://campaign@127.0.0.1:{port}")
        console.send("C-c")
        status = console.wait_exit(seconds=10.0)
    finally:
        silent.close()
    assert status == 0
