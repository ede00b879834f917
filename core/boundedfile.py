"""Reading a small file named in the configuration without trusting what it is.

A ``file:`` secret or a CA bundle is a path the user typed: it may name a FIFO (which
would block a plain ``open`` forever), a device such as ``/dev/zero`` (endless), a
folder, or a file far too big. :func:`read_bounded` opens it without blocking, takes
only a regular file, and reads at most ``limit`` bytes (docs/reference.md §8).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

RefusalKind = Literal["missing", "unreadable", "not_regular", "too_large"]


class FileRefused(Exception):
    """Why a file was not read: ``kind`` for the caller's hint, ``reason`` to show
    after the path (e.g. "is not a regular file")."""

    def __init__(self, kind: RefusalKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: RefusalKind = kind
        self.reason = reason


def size_text(limit: int) -> str:
    """``limit`` as written in messages: "64 KiB", "1 MiB"."""
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    return f"{limit // 1024} KiB"


def read_bounded(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``path`` (at most ``limit``) and its ``stat``.

    The open never waits (``O_NONBLOCK``), so a FIFO or a device is refused at once;
    a file larger than ``limit`` is refused without reading more than ``limit + 1``
    bytes. Raises :class:`FileRefused`.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileRefused("missing", "does not exist") from None
    except OSError as exc:
        raise FileRefused(
            "unreadable", f"cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise FileRefused("unreadable", f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):  # checked on the descriptor: fdopen refuses a folder
        os.close(fd)
        raise FileRefused("not_regular", "is not a regular file")
    with os.fdopen(fd, "rb") as fh:
        if info.st_size > limit:
            raise FileRefused("too_large", f"is larger than {size_text(limit)}")
        try:
            raw = fh.read(limit + 1)
        except OSError as exc:
            raise FileRefused("unreadable", f"cannot be read ({exc.strerror})") from None
    if len(raw) > limit:
        raise FileRefused("too_large", f"is larger than {size_text(limit)}")
    return raw, info
