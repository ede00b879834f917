"""Cleaning what a killed run left behind (docs/reference.md §8).

A run killed by ``kill -9`` or an unhandled SIGTERM cannot clean up after
itself: its temporary folder (``audiencectl-import-…``, a full copy of a
batch) stays in the system's temporary folder, and an upload cut short leaves
``.<name>.part-<random>`` in the export account's folder. The next run removes
them, and only its own kind:

- local folders are named ``audiencectl-<kind>-<pid>-…`` (:func:`temp_prefix`);
  one is removed when that process is gone, never while it runs;
- remote ``.part-`` files have no process to ask: one is removed when it has
  not changed for :data:`STALE_PART_SECONDS` (an upload still running keeps
  writing to it).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The kinds of temporary folder audiencectl makes (``audiencectl-<kind>-<pid>-…``).
TEMP_KINDS = ("import", "export", "members", "preview")
#: A remote ``.part-`` upload unchanged for this long is a leftover (3 hours).
STALE_PART_SECONDS = 3 * 3600

_LOCAL = re.compile(rf"^audiencectl-(?:{'|'.join(TEMP_KINDS)})-([0-9]+)-")
# the names core.transport gives uploads in flight: ".<name>.part-<12 hex>"
PART_NAME = re.compile(r"^\..+\.part-[0-9a-f]{12}$")


def temp_prefix(kind: str) -> str:
    """The prefix of a temporary folder of ``kind`` made by this process."""
    if kind not in TEMP_KINDS:
        raise ValueError(f"unknown temporary folder kind {kind!r}")
    return f"audiencectl-{kind}-{os.getpid()}-"


def is_part_upload(name: str) -> bool:
    """True for the temporary name of an upload (never one of AAM's files)."""
    return bool(PART_NAME.match(name))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # never a process of ours: keep it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_local_leftovers(folder: Path | None = None) -> list[Path]:
    """Removes this user's ``audiencectl-<kind>-<pid>-…`` folders whose process is gone
    from ``folder`` (default: the system's temporary folder); returns what it removed.
    Never raises: a folder that cannot be removed is left for the next run."""
    where = Path(folder or tempfile.gettempdir())
    removed: list[Path] = []
    uid = os.getuid()
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    for entry in entries:
        found = _LOCAL.match(entry.name)
        if found is None or int(found.group(1)) == os.getpid():
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or _alive(int(found.group(1))):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.lexists(entry.path):
            removed.append(Path(entry.path))
    return removed


def stale_parts(entries: Iterable[tuple[str, float]], now: float | None = None) -> list[str]:
    """The names among ``(name, mtime)`` that are upload leftovers, unchanged for
    :data:`STALE_PART_SECONDS`."""
    limit = (time.time() if now is None else now) - STALE_PART_SECONDS
    return [name for name, mtime in entries if is_part_upload(name) and mtime < limit]


def clean_remote_leftovers(files: Any, now: float | None = None) -> list[str]:
    """Removes stale ``.part-`` uploads from an open transport's folder (SFTP or local);
    returns their names. Never raises: what cannot be listed or removed stays."""
    try:
        sftp = getattr(files, "sftp", None)
        if sftp is not None:
            entries = [
                (a.filename, float(a.st_mtime or 0))
                for a in sftp.listdir_attr(files.folder)
                if a.st_mode is not None and stat.S_ISREG(a.st_mode)
            ]
        else:
            with os.scandir(files.folder) as scan:
                entries = [
                    (e.name, e.stat(follow_symlinks=False).st_mtime)
                    for e in scan
                    if e.is_file(follow_symlinks=False)
                ]
    except Exception:  # a listing problem is the run's to report, not the cleaner's
        return []
    removed: list[str] = []
    for name in stale_parts(entries, now):
        try:
            if files.remove(name):
                removed.append(name)
        except Exception:
            continue
    return removed
