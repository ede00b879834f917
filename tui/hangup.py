"""When the terminal goes away (SSH drops, the tmux pane is killed): leave quietly.

Without this, SIGHUP kills the console outright, or Textual meets EIO on the
dead terminal first and ends with a traceback nobody can read. Here the
console is asked to exit, its output goes to /dev/null (writes to a hung-up
terminal fail and could wedge Textual's writer thread), and a watchdog ends
the process if it has not ended within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import termios
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from core.errors import ExitCode

#: The exit status after a hangup: the console was interrupted (docs/reference.md §1: 130).
HANGUP_EXIT = int(ExitCode.INTERRUPTED)
#: How long the console may take to wind down after a hangup.
GRACE_SECONDS = 5.0
#: The terminal watched (the console reads its keys there), and how often.
TERMINAL_FD = 0
WATCH_SECONDS = 1.0
#: Errors a dead terminal gives to readers and writers.
_TERMINAL_GONE = {errno.EIO, errno.ENXIO, errno.EBADF, errno.EPIPE}


class HangupGuard:
    """Turns SIGHUP into a quiet ``SystemExit(130)`` around ``app.run()``.

    ``request_exit`` is called (from the event loop) to ask the app to stop.
    """

    def __init__(self, request_exit: Callable[[], Any]) -> None:
        self._request_exit = request_exit
        self._previous: Any = None
        self._done = threading.Event()
        self._watcher: threading.Thread | None = None
        self.hung_up = False

    def __enter__(self) -> HangupGuard:
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGHUP, self._on_hangup)
            if _is_terminal(TERMINAL_FD):
                self._watcher = threading.Thread(
                    target=self._watch_terminal, name="terminal-watch", daemon=True
                )
                self._watcher.start()
        return self

    def _watch_terminal(self) -> None:
        """A parent that keeps SIGHUP to itself leaves the console with a dead terminal
        whose reads return nothing at once (Textual's input thread would spin): when the
        terminal stops answering, raise the hangup ourselves."""
        while not self._done.wait(WATCH_SECONDS):
            if not _is_terminal(TERMINAL_FD):
                os.kill(os.getpid(), signal.SIGHUP)
                return

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._watcher is not None:  # its SIGHUP must not meet the restored handler
            self._watcher.join(timeout=WATCH_SECONDS * 2)
        if self._previous is not None:
            signal.signal(signal.SIGHUP, self._previous)
        terminal_error = isinstance(exc, OSError) and exc.errno in _TERMINAL_GONE
        if self.hung_up or terminal_error:
            _silence_output()
            raise SystemExit(HANGUP_EXIT) from None

    def _on_hangup(self, signum: int, frame: FrameType | None) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        _silence_output()
        threading.Thread(target=_watchdog, name="hangup-watchdog", daemon=True).start()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not running yet, or already done: __exit__ finishes the job
            return
        loop.call_soon_threadsafe(self._request_exit)


def _is_terminal(fd: int) -> bool:
    """True while ``fd`` is a terminal that answers (a hung-up one fails with EIO)."""
    try:
        termios.tcgetattr(fd)
    except (termios.error, OSError):
        return False
    return True


def _silence_output() -> None:
    """Points stdout and stderr at /dev/null: the terminal behind them is gone."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            for fd in (1, 2):
                with contextlib.suppress(OSError):
                    os.dup2(devnull, fd)
        finally:
            os.close(devnull)


def _watchdog() -> None:
    time.sleep(GRACE_SECONDS)
    os._exit(HANGUP_EXIT)
