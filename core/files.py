"""Writing the files audiencectl hands to people: whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import InputError


def write_atomic(path: Path, data: str | bytes, *, what: str = "file") -> Path:
    """Writes ``data`` to ``path`` through a temporary file and a rename.

    A reader never sees half a file, and on any error the previous content (or
    no file) stays. Raises ``InputError`` naming ``what`` and the path.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(
            f"cannot write the {what} {path}: {exc.strerror or exc}",
            "check that the folder exists, is writable and has free space",
        ) from None
    return path
