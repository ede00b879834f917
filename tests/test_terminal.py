"""The real console in a real terminal (tmux): sizes, TERM values, keys, quitting, hangups.

Drives scripts/tmux_check.py's helpers. Without tmux these tests are skipped,
except under ``CI=...`` where they fail: CI must run them (.ci/run installs tmux).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tmux_check", ROOT / "scripts" / "tmux_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tmux_check"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


check = _load_script()


@pytest.fixture
def _require_tmux() -> None:
    if check.tmux_available():
        return
    if os.environ.get("CI"):
        pytest.fail("CI must run the terminal tests, but tmux is not installed", pytrace=False)
    pytest.skip("tmux is not installed (apt-get install tmux)")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not check.tmux_available():
        return tmp_path_factory.mktemp("no-tmux") / "unused.db"  # _require_tmux decides
    return check.build_demo(tmp_path_factory.mktemp("tmux") / "demo")


@pytest.fixture
def console_factory(_require_tmux: None, tmp_path: Path) -> Iterator[object]:
    made: list[object] = []

    def make(argv: list[str], width: int, height: int, term: str) -> object:
        console = check.TmuxConsole(argv, width, height, term, workdir=tmp_path)
        made.append(console)
        console.start()
        return console

    yield make
    for console in made:
        console.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("width", "height", "term", "theme", "quit_key"),
    [
        (80, 24, "xterm-256color", "ansi-dark", "C-q"),
        (80, 24, "screen", "ansi-dark", "C-c"),
        (200, 50, "xterm-256color", "ansi-dark", "C-c"),
        (200, 50, "screen", "ansi-dark", "C-q"),
        (80, 24, "xterm-256color", "textual-dark", "C-c"),
        (200, 50, "screen", "textual-dark", "C-q"),
    ],
)
def test_every_screen_by_f_keys_then_quit(
    console_factory, demo_db: Path, width: int, height: int, term: str, quit_key: str, theme: str
) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, str] = {}
    console = console_factory(check.console_argv(demo_db, theme), width, height, term)
    check.visit_every_screen(console, lambda name, screen: seen.__setitem__(name, screen))
    assert set(seen) == {name for _, name, _ in check.SCREENS}
    check.quit_cleanly(console, quit_key)


def test_a_hidden_label_fails_the_footer_check() -> None:
    """The footer check is real: a footer without the screen's keys is reported."""
    assert check._footer_has("^s Save F8 Copy email F9 Save .eml", "F8")
    assert not check._footer_has("^s Save F1 Help", "F8")
    assert not check._footer_has("^s Save F10 Next", "F1")


def test_disabled_buttons_keep_their_label_in_ansi_themes(console_factory, demo_db: Path) -> None:  # type: ignore[no-untyped-def]
    """A one-line row of buttons (Run, Cancel, Save report) must show every label."""
    console = console_factory(check.console_argv(demo_db, "ansi-dark"), 80, 24, "screen")
    console.wait_for(check.HOME_TEXT)
    console.send("F6")
    screen = console.wait_for("Run (F8)", "Cancel (Esc)", "Save report")
    assert "▔▔▔" not in screen  # no cut-off top border where a label should be
    console.send("F4")
    console.wait_for("Probe (F8)", "Cancel (Esc)")


def test_terminal_going_away_ends_the_console_quietly(console_factory, demo_db: Path) -> None:  # type: ignore[no-untyped-def]
    console = console_factory(check.console_argv(demo_db, "ansi-dark"), 80, 24, "xterm-256color")
    # raises unless 130 within 25 s (the watchdog's 5 s, with room for a loaded machine)
    check.hang_up(console, demo_db, grace=25.0)  # and the store is intact


# --- the hangup guard itself (in a subprocess: it points fds 1 and 2 at /dev/null) ---

GUARD_SCRIPT = """
import asyncio, os, signal, sys
from tui.hangup import HangupGuard

mark = sys.argv[1]
asked = None


def request_exit():
    with open(mark, "w") as out:
        out.write("asked")
    if sys.argv[2] == "obeys":
        asked.set()


async def main():
    global asked
    asked = asyncio.Event()
    os.kill(os.getpid(), signal.SIGHUP)
    await asyncio.wait_for(asked.wait(), 30)


with HangupGuard(request_exit):
    asyncio.run(main())
print("not reached")
"""


@pytest.mark.parametrize("app", ["obeys", "hangs"])
def test_hangup_asks_the_app_to_exit_and_ends_with_130(tmp_path: Path, app: str) -> None:
    mark = tmp_path / "mark"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", GUARD_SCRIPT, str(mark), app],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert done.returncode == 130
    assert mark.read_text() == "asked"
    assert done.stdout == "" and done.stderr == ""  # nothing printed, no traceback
    if app == "hangs":  # the watchdog ended it
        from tui.hangup import GRACE_SECONDS

        # time is the behaviour: the watchdog's grace, with room for a loaded machine
        assert GRACE_SECONDS <= took < GRACE_SECONDS + 20


def test_terminal_errors_become_a_quiet_130_and_others_pass_through() -> None:
    code = (
        "import errno, sys\n"
        "from tui.hangup import HangupGuard\n"
        "kind = sys.argv[1]\n"
        "with HangupGuard(lambda: None):\n"
        "    if kind == 'eio':\n"
        "        raise OSError(errno.EIO, 'Input/output error')\n"
        "    if kind == 'other':\n"
        "        raise ValueError('a real bug')\n"
        "print('ran')\n"
    )

    def run(kind: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, kind], cwd=ROOT, capture_output=True, text=True
        )

    eio, other, normal = run("eio"), run("other"), run("none")
    assert (eio.returncode, eio.stderr) == (130, "")
    assert other.returncode == 1 and "ValueError: a real bug" in other.stderr
    assert (normal.returncode, normal.stdout) == (0, "ran\n")


@pytest.mark.parametrize(
    "args",
    [
        ("--theme", "neon"),
        ("tui", "--theme", "neon"),
        ("demo", "--dir", "unused", "--theme", "neon"),
    ],
)
def test_unknown_theme_is_one_line_listing_the_valid_ones(run_cli, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*args)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert "unknown theme 'neon'" in lines[0]
    assert "ansi-dark" in lines[0] and "textual-dark" in lines[0]


def test_a_dead_terminal_ends_the_console_even_when_no_hangup_signal_comes(
    _require_tmux: None, demo_db: Path, tmp_path: Path
) -> None:
    """A parent that keeps SIGHUP to itself: the console sees only a terminal that no
    longer answers, and must still end (not spin on empty reads) with 130."""
    console = check.TmuxConsole(
        check.console_argv(demo_db, "ansi-dark"), workdir=tmp_path, pass_hangup=False
    )
    console.start()
    try:
        check.hang_up(console, demo_db, grace=25.0)  # 130 within 25 s (5 s watchdog + load)
    finally:
        console.close()
