"""One import at a time per store: an exclusive ``flock`` on ``<store>.import.lock``.

The lock belongs to the open file description, so it disappears when the
process dies (even with kill -9): there is never a stale lock to clean up.
The file keeps the holder's PID so a refused run can name it. The file itself
is never deleted (deleting a flock'ed file lets two processes lock two inodes).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from core.errors import InputError


class ImportLocked(InputError):
    """Another process holds the import lock (exit 2)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"PID {pid}" if pid else "another process"
        super().__init__(
            f"another `audiencectl import run` is in progress ({who} holds {path})",
            "wait for it to finish, or stop it; only one import runs at a time per store",
        )
        self.pid = pid


def lock_path_for(db_path: Path) -> Path:
    """``<store>.import.lock`` beside the real store file: symlinks (to the store or to a
    folder on its path) are resolved, so every path to one store takes the same lock."""
    real = Path(os.path.realpath(db_path))
    return real.with_name(real.name + ".import.lock")


class ImportLock:
    """Context manager: holds the exclusive, non-blocking import lock or raises
    ``ImportLocked`` at once, naming the PID that holds it."""

    def __init__(self, db_path: Path) -> None:
        self.path = lock_path_for(Path(db_path))
        self._fd: int | None = None

    def acquire(self) -> ImportLock:
        """Takes the lock (non-blocking); ``ImportLocked`` when someone else has it."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise ImportLocked(self.path, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Releases the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> ImportLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
