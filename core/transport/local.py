"""The local-folder transport (offline runs and the demo)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from core.errors import AudienceError, ConnectionFailure
from core.text import printable_name
from core.transport.base import (
    CHUNK,
    MAX_LISTING,
    SYMLINK_REASON,
    FileTransport,
    Progress,
    RemoteFile,
    RemoteFileExists,
    _open_source,
    _temp_name,
    check_remote_name,
    listed,
)

# ---------------------------------------------------------------------------- local


class LocalTransport(FileTransport):
    """A FileTransport on a local folder (offline runs, the demo); atomic via os.replace."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        if not str(folder) or not folder.is_dir():
            raise ConnectionFailure(
                f"the folder {folder} does not exist", "folder missing: check the account's path"
            )
        self.folder = folder
        self.location = f"local:{folder}"

    @contextmanager
    def _errors(self, action: str, what: str) -> Iterator[None]:
        try:
            yield
        except AudienceError:
            raise
        except FileNotFoundError:
            raise ConnectionFailure(
                f"cannot {action} {what}: it does not exist",
                "check the account's path and the file name",
            ) from None
        except PermissionError:
            raise ConnectionFailure(
                f"cannot {action} {what}: permission denied", "check the folder's permissions"
            ) from None
        except OSError as exc:
            raise ConnectionFailure(
                f"cannot {action} {what}: {exc.strerror or exc}",
                "check the folder (full or read-only?)",
            ) from None

    def list(self) -> list[RemoteFile]:
        skipped: list[tuple[str, str]] = []
        files: list[RemoteFile] = []
        with self._errors("list", str(self.folder)), os.scandir(self.folder) as entries:
            for count, entry in enumerate(entries, start=1):
                if count > MAX_LISTING:
                    raise ConnectionFailure(
                        f"endless listing: {self.folder} has more than {MAX_LISTING} entries",
                        "check the account's path",
                    )
                if entry.is_symlink():
                    skipped.append((printable_name(os.fsencode(entry.name)), SYMLINK_REASON))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                if not listed(entry.name, printable_name(os.fsencode(entry.name)), skipped):
                    continue
                info = entry.stat(follow_symlinks=False)
                files.append(RemoteFile(entry.name, info.st_size, info.st_mtime))
        self.list_skipped = skipped
        return sorted(files, key=lambda f: f.name)

    @contextmanager
    def fetch(self, name: str) -> Iterator[BinaryIO]:
        check_remote_name(name)
        with self._errors("read", name):
            stream = open(self.folder / name, "rb")  # noqa: SIM115 - closed below
        try:
            yield stream
        finally:
            stream.close()

    def upload_atomic(
        self, local_path: Path | str, name: str, progress: Progress | None = None
    ) -> None:
        check_remote_name(name)
        source = _open_source(local_path)
        temp = self.folder / _temp_name(name)
        try:
            with source, self._errors("upload", name):
                total = os.fstat(source.fileno()).st_size
                done = 0
                with open(temp, "xb") as target:
                    while chunk := source.read(CHUNK):
                        target.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
                    target.flush()
                    os.fsync(target.fileno())
                try:
                    os.link(temp, self.folder / name)  # fails when the name is taken
                except FileExistsError:
                    raise RemoteFileExists(name) from None
                temp.unlink()
        except BaseException:
            with suppress(OSError):
                temp.unlink()
            raise

    def remove(self, name: str) -> bool:
        check_remote_name(name)
        with self._errors("delete", name):
            try:
                (self.folder / name).unlink()
            except FileNotFoundError:
                return False
        return True
