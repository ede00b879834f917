"""Drives the real console in a detached tmux session, as an admin over SSH would see it.

Usage:
    .venv/bin/python scripts/tmux_check.py [--sizes 80x24,200x50]
        [--terms xterm-256color,screen] [--theme ansi-dark] [--show]

It builds the demo workspace (`audiencectl demo --no-tui`) in a temporary
folder, then for every size and TERM: opens `audiencectl --no-mouse` in tmux,
visits every screen with the F-keys (F2 Home .. F7 Checklist), checks that the
screen's title, the navigation bar and the footer's keys are on the screen,
quits with Ctrl+Q and checks the exit status and that the terminal was given
back (no alternate screen, no mouse reporting, cursor shown). Last, it kills
the tmux session while the console runs (the terminal goes away: SIGHUP) and
checks that the console ends quietly within a few seconds and the store is
intact. Prints one line per check; exits 0 when all pass, 1 otherwise.
--show prints every captured screen.

tmux runs on a private socket (-L), so your own tmux sessions are not touched.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()

#: What the console must show on each screen: (key, screen, texts that must all be there).
SCREENS: list[tuple[str, str, tuple[str, ...]]] = [
    ("F3", "request", ("provisioning request", "Organization name")),
    ("F4", "accounts", ("external accounts", "importSharedAudience")),
    ("F5", "datasources", ("Shared data sources", "Recipient - Email")),
    ("F6", "audiences", ("Dry run", "Workflow", "Export")),
    ("F7", "checklist", ("When audiences are not shared", "Provisioning request")),
    ("F2", "home", ("step by step", "Provisioning request")),
]
#: The keys each screen's footer must show, even at 80x24 (its critical actions).
FOOTER_KEYS: dict[str, tuple[str, ...]] = {
    "home": ("F1",),
    "request": ("F8", "F9", "F10"),
    "accounts": ("F8", "F9", "F10"),
    "datasources": ("F8",),
    "audiences": ("F8",),
    "checklist": ("F1",),
}
#: The navigation bar (first line): every screen and its key.
NAV = ("F2 Home", "F3 Request", "F4 Accounts", "F5 Sources", "F6 Audiences", "F7 Checklist")
HOME_TEXT = "step by step"
SESSION = "console"
EXIT_MARK = "[console exited with status"


class CheckFailed(AssertionError):
    """A check did not hold; the message says what, and the screen is attached."""


def tmux_available() -> bool:
    try:
        subprocess.run(["tmux", "-V"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


@dataclass
class TmuxConsole:
    """One console in a detached tmux session of its own (private server socket)."""

    argv: Sequence[str]
    width: int = 80
    height: int = 24
    term: str = "xterm-256color"
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tmuxcheck-")))
    socket: str = field(default_factory=lambda: f"audiencectl-check-{uuid.uuid4().hex[:8]}")
    #: False: the wrapper swallows SIGHUP (a parent that ignores it), so the console
    #: only finds out from the dead terminal itself.
    pass_hangup: bool = True

    @property
    def status_file(self) -> Path:
        return self.workdir / "status"

    @property
    def config(self) -> Path:
        """tmux options: no status line (the pane is the whole size), dead panes stay."""
        path = self.workdir / "tmux.conf"
        path.write_text("set-option -g status off\nset-option -g remain-on-exit on\n")
        return path

    def tmux(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.config), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise CheckFailed(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self) -> None:
        """Starts the console behind a small wrapper that records its exit status."""
        self.status_file.unlink(missing_ok=True)
        wrapper = [sys.executable, str(SCRIPT), "--wrap", str(self.status_file), "--term"]
        hangup = [] if self.pass_hangup else ["--swallow-hangup"]
        command = shlex.join([*wrapper, self.term, *hangup, "--", *self.argv])
        self.tmux(
            "new-session", "-d", "-s", SESSION, "-x", str(self.width), "-y", str(self.height),
            command,
        )  # fmt: skip
        size = self.pane("#{pane_width}x#{pane_height}")
        if size != f"{self.width}x{self.height}":
            raise CheckFailed(f"tmux made a {size} pane, not {self.width}x{self.height}")

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", SESSION)

    def lines(self) -> list[str]:
        """The screen's rows, top to bottom."""
        return self.capture().removesuffix("\n").split("\n")

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", SESSION, *keys)

    def pane(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", SESSION, fmt).strip()

    def wait_for(self, *texts: str, seconds: float = 60.0) -> str:
        """Waits until every text is on the screen; returns the screen. The deadline only
        stops a hang: it is generous so that a busy machine does not fail the check."""
        return self._wait(lambda s: all(t in s for t in texts), seconds, f"{texts!r} on screen")

    def _wait(self, ok: Callable[[str], bool], seconds: float, what: str) -> str:
        deadline = time.monotonic() + seconds
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if ok(screen):
                return screen
            time.sleep(0.1)
        raise CheckFailed(f"waited {seconds:.0f}s for {what}\n{screen}")

    def wait_exit(self, seconds: float = 60.0) -> int:
        """Waits until the wrapper has written the console's exit status."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.status_file.exists() and self.status_file.read_text().strip():
                return int(self.status_file.read_text())
            time.sleep(0.05)
        raise CheckFailed(f"the console did not end within {seconds:.0f}s\n{self.safe_capture()}")

    def safe_capture(self) -> str:
        try:
            return self.capture()
        except CheckFailed:
            return "(no pane left)"

    def kill_session(self) -> None:
        self.tmux("kill-session", "-t", SESSION, check=False)

    def close(self) -> None:
        """Ends the private tmux server, and the console if it outlived its terminal
        (a failed hangup check must not leave it running), and removes the socket."""
        self.tmux("kill-server", check=False)
        ended = self.status_file.exists() and self.status_file.read_text().strip()
        if not ended:  # (once it ended, its process ID may already belong to another)
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file(self.status_file).read_text()), signal.SIGKILL)
        folder = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (folder / self.socket).unlink(missing_ok=True)


# --- the checks --------------------------------------------------------------


def console_argv(db: Path, theme: str) -> list[str]:
    return [sys.executable, "-m", "tui", "--db", str(db), "--no-mouse", "--theme", theme]


def build_demo(folder: Path) -> Path:
    """`audiencectl demo --no-tui` into folder; returns the store's path."""
    done = subprocess.run(
        [sys.executable, "-m", "tui", "demo", "--dir", str(folder), "--no-tui"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CheckFailed(f"audiencectl demo failed: {done.stderr.strip()}")
    return folder / "audiencectl.db"


def visit_every_screen(console: TmuxConsole, report: Callable[[str, str], None]) -> None:
    """F3..F7 then F2: each screen's texts, the navigation bar and the footer's keys."""
    console.wait_for(HOME_TEXT)
    for key, name, texts in SCREENS:
        screen = _press_until(console, key, texts)
        lines = console.lines()
        missing = [item for item in NAV if item not in lines[0]]
        if missing:
            raise CheckFailed(f"{name}: navigation bar lacks {missing}\n{screen}")
        footer = lines[-1]
        absent = [k for k in FOOTER_KEYS[name] if not _footer_has(footer, k)]
        if absent:
            raise CheckFailed(f"{name}: footer lacks {absent}: {footer!r}\n{screen}")
        report(name, screen)


def _press_until(console: TmuxConsole, key: str, texts: tuple[str, ...]) -> str:
    """Presses a screen key until its screen shows, as a person would: in full CI runs
    on a busy machine, F2 pressed on the checklist while its checks were still running
    changed nothing, twice in a row (never reproduced alone). The key only switches
    screens, so pressing it again is harmless; 60 s in all stops a real hang."""
    deadline = time.monotonic() + 60.0
    while True:
        console.send(key)
        try:
            return console.wait_for(*texts, seconds=5.0)
        except CheckFailed:
            if time.monotonic() >= deadline:
                raise


def _footer_has(footer: str, key: str) -> bool:
    return f"{key} " in footer or f"{key.lower()} " in footer


def quit_cleanly(console: TmuxConsole, key: str = "C-q") -> None:
    """Quits with the key; the exit status is 0 and the terminal is given back."""
    console.send(key)
    status = console.wait_exit()
    if status != 0:
        raise CheckFailed(f"exit status {status} after {key}\n{console.safe_capture()}")
    # The wrapper's last line comes after everything the console wrote: tmux has seen it all.
    console.wait_for(f"{EXIT_MARK} {status}]", seconds=30)
    flags = console.pane("#{alternate_on} #{mouse_any_flag} #{mouse_sgr_flag} #{cursor_flag}")
    if flags != "0 0 0 1":
        raise CheckFailed(
            f"terminal not restored after {key}: alternate screen, mouse, sgr mouse, "
            f"cursor = {flags!r} (want '0 0 0 1')\n{console.safe_capture()}"
        )


def hang_up(console: TmuxConsole, db: Path, grace: float = 8.0) -> float:
    """Kills the session under the running console; returns how long it took to end."""
    console.wait_for(HOME_TEXT)
    started = time.monotonic()
    console.kill_session()
    status = console.wait_exit(seconds=grace)
    took = time.monotonic() - started
    if status != 130:
        raise CheckFailed(f"after the hangup the console ended with {status}, want 130")
    integrity = store_integrity(db)
    if integrity != "ok":
        raise CheckFailed(f"store damaged after the hangup: {integrity}")
    return took


def store_integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def run_all(sizes: list[tuple[int, int]], terms: list[str], theme: str, show: bool) -> int:
    failures = 0

    def report(name: str, screen: str) -> None:
        if show:
            print(f"--- {name}\n{screen}")

    with tempfile.TemporaryDirectory(prefix="audiencectl-tmux-") as tmp:
        db = build_demo(Path(tmp) / "demo")
        argv = console_argv(db, theme)
        for (width, height), term in [(s, t) for s in sizes for t in terms]:
            label = f"{width}x{height} TERM={term} --theme {theme}"
            console = TmuxConsole(argv, width, height, term, workdir=Path(tmp))
            try:
                console.start()
                visit_every_screen(console, report)
                quit_cleanly(console)
                print(f"PASS  screens, footer keys and clean quit at {label}")
            except CheckFailed as exc:
                failures += 1
                print(f"FAIL  {label}: {exc}")
            finally:
                console.close()
        console = TmuxConsole(argv, 80, 24, terms[0], workdir=Path(tmp))
        try:
            console.start()
            took = hang_up(console, db)
            print(f"PASS  hangup: the console ended quietly in {took:.1f}s, store intact")
        except CheckFailed as exc:
            failures += 1
            print(f"FAIL  hangup: {exc}")
        finally:
            console.close()
    return 1 if failures else 0


# --- the wrapper inside the tmux pane ----------------------------------------


def pid_file(status_file: Path) -> Path:
    """Where the wrapper writes the console's process ID."""
    return status_file.with_name(status_file.name + ".pid")


def wrap(status_file: Path, term: str, argv: list[str], pass_hangup: bool = True) -> int:
    """Runs the console like a login shell would, and writes its exit status.

    A shell that gets SIGHUP passes it on to its job; so does this wrapper
    (the terminal going away reaches the session leader first), unless
    ``pass_hangup`` is False: then the console is left with a dead terminal only.
    """
    env = {**os.environ, "TERM": term}
    for name in ("TMUX", "COLUMNS", "LINES"):  # Textual would take COLUMNS/LINES as the size
        env.pop(name, None)

    def default_hangup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    child = subprocess.Popen(argv, env=env, cwd=ROOT, preexec_fn=default_hangup)
    pid_file(status_file).write_text(str(child.pid))
    if pass_hangup:
        signal.signal(signal.SIGHUP, lambda signum, frame: child.send_signal(signal.SIGHUP))
    else:
        signal.signal(signal.SIGHUP, lambda signum, frame: None)
    code = child.wait()
    status_file.write_text(str(code))
    try:
        print(f"{EXIT_MARK} {code}]", flush=True)
        time.sleep(0.5)  # tmux may drop a dead pane's last output it has not read yet
    except OSError:
        pass  # the terminal is gone
    return 0


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--wrap"]:
        split = args.index("--")
        return wrap(
            Path(args[1]), args[3], args[split + 1 :], "--swallow-hangup" not in args[:split]
        )
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="80x24,200x50", help="WIDTHxHEIGHT, comma-separated")
    parser.add_argument("--terms", default="xterm-256color,screen", help="TERM values to try")
    parser.add_argument("--theme", default="ansi-dark")
    parser.add_argument("--show", action="store_true", help="print every captured screen")
    options = parser.parse_args(args)
    if not tmux_available():
        print("tmux_check: tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 2
    sizes = [_size(s) for s in options.sizes.split(",")]
    return run_all(sizes, options.terms.split(","), options.theme, options.show)


if __name__ == "__main__":
    sys.exit(main())
