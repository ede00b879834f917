"""The local-folder probe: network stages are ``skip``; ``list`` then ``read`` or ``write``."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from core.model import Account, Role
from core.probe.common import (
    PROBE_PAYLOAD,
    READ_LIMIT,
    Outcome,
    StageError,
    StageResult,
    StageRunner,
    probe_names,
)
from core.probe.sftp import NETWORK_STAGES


def probe_local(account: Account, runner: StageRunner) -> None:
    """Runs a local folder's stages: the network ones are ``skip``, then list and read/write."""
    box: dict[str, Any] = {}
    for name in NETWORK_STAGES:
        runner.record(StageResult(name, "skip", 0, "local folder"))
    folder = Path(account.path)
    runner.run("list", lambda: _local_list(folder, box))
    runner.saw(box)
    if account.role is Role.IMPORT:
        runner.run("read", lambda: _local_read(folder, box))
    else:
        runner.run("write", lambda: _local_write(folder))


def _local_list(folder: Path, box: dict[str, Any]) -> Outcome:
    if not str(folder):
        raise StageError("no folder configured", "set the account's path")
    files: list[tuple[str, int, float]] = []
    dirs: list[str] = []
    others = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    files.append((entry.name, info.st_size, info.st_mtime))
                else:
                    others += 1
                    if entry.is_dir(follow_symlinks=False):
                        dirs.append(entry.name)
    except FileNotFoundError:
        raise StageError(
            f"the folder {folder} does not exist", "folder missing: check the account's path"
        ) from None
    except NotADirectoryError:
        raise StageError(f"{folder} is a file, not a folder", "check the account's path") from None
    except PermissionError:
        raise StageError(
            f"permission denied listing {folder}",
            "permission denied: check the folder's permissions",
        ) from None
    box["files"] = files
    box["dirs"] = dirs
    return Outcome(f"{folder}: {len(files)} files, {others} other entries")


def _local_read(folder: Path, box: dict[str, Any]) -> Outcome:
    files: list[tuple[str, int, float]] = box.get("files", [])
    if not files:
        return Outcome("the folder is empty; it could be listed, so it is readable")
    name, size, _mtime = max(files, key=lambda f: (f[2], f[0]))
    try:
        with open(folder / name, "rb") as handle:
            data = handle.read(READ_LIMIT)
    except PermissionError:
        raise StageError(
            f"permission denied reading {name}", "check the file's permissions"
        ) from None
    except OSError as exc:
        raise StageError(f"cannot read {name}: {exc.strerror or exc}", "check the folder") from None
    return Outcome(f"read {len(data)} bytes of the newest file {name} ({size} bytes)")


def _local_write(folder: Path) -> Outcome:
    first, second = probe_names()
    paths = [folder / first, folder / second]
    try:
        with open(paths[0], "xb") as handle:
            handle.write(PROBE_PAYLOAD)
        os.replace(paths[0], paths[1])
        os.remove(paths[1])
    except PermissionError:
        raise StageError(
            f"permission denied writing in {folder}", "check the folder's permissions"
        ) from None
    except OSError as exc:
        raise StageError(
            f"the write test failed in {folder}: {exc.strerror or exc}",
            "check the folder (missing, full or read-only?)",
        ) from None
    finally:
        for path in paths:
            with suppress(OSError):
                path.unlink()
    return Outcome(
        f"created, renamed and deleted a {len(PROBE_PAYLOAD)}-byte probe file in {folder}"
    )
