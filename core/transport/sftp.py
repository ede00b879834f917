"""The SFTP transport: an Adobe-hosted or own SFTP server, through the probe's session."""

from __future__ import annotations

import io
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

from core.errors import AudienceError, ConnectionFailure
from core.probe import H_DROPPED, SshSession, quiet_paramiko
from core.text import printable_name
from core.transport.base import (
    CHUNK,
    MAX_LISTING,
    SYMLINK_REASON,
    BoundedDownload,
    FileTransport,
    Progress,
    RemoteFile,
    RemoteFileExists,
    _open_source,
    _temp_name,
    check_download_size,
    check_remote_name,
    listed,
)

quiet_paramiko()

# ----------------------------------------------------------------------------- SFTP


class _GuardedStream(BoundedDownload):
    """Raw stream over an SFTP file whose errors become ConnectionFailure; it ends at
    ``limit`` (the size the server gave when the file was opened) and refuses more."""

    def __init__(self, handle: paramiko.SFTPFile, label: str, limit: int) -> None:
        super().__init__(label, limit)
        self._handle = handle

    def _read_raw(self, size: int) -> bytes:
        try:
            return self._handle.read(size)
        except TimeoutError:
            raise ConnectionFailure(
                f"reading {self._label} stalled: no data within the timeout", H_DROPPED
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionFailure(f"reading {self._label} failed: {exc}", H_DROPPED) from None

    def _close_raw(self) -> None:
        self._handle.close()


class SftpTransport(FileTransport):
    """A FileTransport over an authenticated ``SshSession`` (made by ``open_transport``)."""

    def __init__(self, session: SshSession, folder: str) -> None:
        super().__init__()
        assert session.sftp is not None
        self.session = session
        self.sftp: paramiko.SFTPClient = session.sftp
        self.folder = folder
        self.location = f"{session.account.endpoint}"

    def _path(self, name: str) -> str:
        return posixpath.join(self.folder, name)

    @contextmanager
    def _errors(self, action: str, what: str) -> Iterator[None]:
        try:
            yield
        except AudienceError:
            raise
        except FileNotFoundError:
            raise ConnectionFailure(
                f"cannot {action} {what}: it does not exist", "check remote_dir and the file name"
            ) from None
        except PermissionError:
            raise ConnectionFailure(
                f"cannot {action} {what}: permission denied",
                "ask Adobe to check the account's rights on this folder",
            ) from None
        except TimeoutError:
            raise ConnectionFailure(
                f"cannot {action} {what}: no answer within the timeout", H_DROPPED
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionFailure(f"cannot {action} {what}: {exc}", H_DROPPED) from None

    def _readdir(self, path: str) -> Iterator[tuple[bytes, paramiko.SFTPAttributes]]:
        """Raw directory entries (names as bytes, so a bad name cannot break the listing)."""
        kind, msg = self.sftp._request(CMD_OPENDIR, path)
        if kind != CMD_HANDLE or msg is None:
            raise ConnectionFailure(f"cannot list {path}: unexpected server reply", H_DROPPED)
        handle = msg.get_binary()
        try:
            while True:
                try:
                    kind, msg = self.sftp._request(CMD_READDIR, handle)
                except EOFError:
                    return
                if kind != CMD_NAME or msg is None:
                    raise ConnectionFailure(
                        f"cannot list {path}: unexpected server reply", H_DROPPED
                    )
                for _ in range(msg.get_int()):
                    raw = msg.get_string()
                    msg.get_string()  # longname
                    yield raw, paramiko.SFTPAttributes._from_msg(msg)
        finally:
            with suppress(Exception):
                self.sftp._request(CMD_CLOSE, handle)

    def list(self) -> list[RemoteFile]:
        skipped: list[tuple[str, str]] = []
        files: list[RemoteFile] = []
        with self._errors("list", self.folder):
            for count, (raw, attr) in enumerate(self._readdir(self.folder), start=1):
                if count > MAX_LISTING:
                    raise ConnectionFailure(
                        f"endless listing: {self.folder} returned more than {MAX_LISTING} entries",
                        "a broken server or the wrong folder; check remote_dir",
                    )
                if attr.st_mode is not None and stat.S_ISLNK(attr.st_mode):
                    skipped.append((printable_name(raw), SYMLINK_REASON))
                if attr.st_mode is None or not stat.S_ISREG(attr.st_mode):
                    continue
                name = raw.decode("utf-8", "surrogateescape")
                if not listed(name, printable_name(raw), skipped):
                    continue
                files.append(RemoteFile(name, attr.st_size or 0, float(attr.st_mtime or 0)))
        self.list_skipped = skipped
        return sorted(files, key=lambda f: f.name)

    @contextmanager
    def fetch(self, name: str) -> Iterator[BinaryIO]:
        check_remote_name(name)
        with self._errors("read", name):
            handle = self.sftp.open(self._path(name), "rb")
            size = handle.stat().st_size or 0
            try:
                check_download_size(name, size)
            except ConnectionFailure:
                handle.close()
                raise
            handle.prefetch(size)
        stream = io.BufferedReader(_GuardedStream(handle, name, size), buffer_size=CHUNK)
        try:
            yield stream
        finally:
            with suppress(Exception):
                stream.close()

    def upload_atomic(
        self, local_path: Path | str, name: str, progress: Progress | None = None
    ) -> None:
        check_remote_name(name)
        source = _open_source(local_path)
        temp = self._path(_temp_name(name))
        final = self._path(name)
        try:
            with source, self._errors("upload", name):
                size = os.fstat(source.fileno()).st_size
                self.sftp.putfo(source, temp, file_size=size, callback=progress, confirm=True)
                self._rename(temp, final)
        except BaseException:
            self._discard(temp)
            raise

    def _rename(self, temp: str, final: str) -> None:
        """SFTP's plain rename, which fails when the target exists: never a clobber."""
        try:
            self.sftp.rename(temp, final)
        except OSError:
            try:
                self.sftp.stat(final)
            except OSError:
                raise  # the rename failed for another reason
            raise RemoteFileExists(posixpath.basename(final)) from None

    def _discard(self, temp: str) -> None:
        with suppress(Exception):
            self.sftp.remove(temp)

    def remove(self, name: str) -> bool:
        check_remote_name(name)
        with self._errors("delete", name):
            try:
                self.sftp.remove(self._path(name))
            except FileNotFoundError:
                return False
        return True

    def close(self) -> None:
        self.session.close()
