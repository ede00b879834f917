"""One file interface for both kinds of account: an SFTP server or a local folder.

``open_transport()`` connects (SFTP: the same steps and host key policy as the
probe, so a changed host key is refused for transfers too) and returns a
``FileTransport`` to use as a context manager::

    with open_transport(account, creds, hostkeys, timeout=30) as files:
        for remote in files.list():
            with files.fetch(remote.name) as stream:
                ...
        files.upload_atomic(Path("out.sync"), "ftp_dpm_14016_1700000000.sync")

Every server-side problem is raised as ``ConnectionFailure`` (message + hint);
a bad remote name as ``InputError``; host key problems as ``HostKeyChanged`` /
``HostKeyUnknown``. A stalled server ends any operation within the timeout.
A transport is not thread-safe: open one per thread.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import secrets
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

from core.errors import AudienceError, ConnectionFailure, InputError
from core.hostkeys import HostKeyCheck
from core.model import Account, AccountType
from core.probe import H_DROPPED, Credentials, SshSession, StageError, quiet_paramiko

quiet_paramiko()

MAX_LISTING = 100_000
MAX_NAME_BYTES = 255
CHUNK = 256 * 1024
Progress = Callable[[int, int], None]

# Our own in-flight names: hidden from listings (see upload_atomic and the probe).
_PARTIAL = re.compile(r"^\..*\.part-[0-9a-f]{12}$|^\.audiencectl-probe-[0-9a-f]+\..*tmp$")


#: Why a symbolic link in an account's folder (or given to the dry run) is never read.
SYMLINK_REASON = "a symbolic link: never read (put the file itself in the folder)"


@dataclass(frozen=True)
class RemoteFile:
    """A regular file in the account's folder; ``mtime`` in POSIX seconds."""

    name: str
    size: int
    mtime: float


class RemoteFileExists(InputError):
    """The final name of an upload is taken: the upload never replaces a file."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} already exists on the account; it was not replaced",
            "AAM may not have read it yet: upload under another name",
        )
        self.name = name


def check_remote_name(name: str) -> str:
    """Returns ``name`` if it is a plain file name safe to use in the account's folder.

    Raises ``InputError`` for an empty name, ``/`` or ``\\``, ``..``, ``.``,
    control characters, text that is not UTF-8, or more than 255 bytes.
    """
    if not isinstance(name, str) or name == "":
        raise InputError("empty file name", "give a plain file name")
    shown = name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    if "/" in name or "\\" in name:
        raise InputError(
            f"file name {shown!r} contains a path separator", "give a plain file name, no folder"
        )
    if name in (".", "..") or ".." in name:
        raise InputError(f"file name {shown!r} contains '..'", "give a plain file name")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        raise InputError(
            f"file name {shown!r} contains control characters", "rename the file on the server"
        )
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InputError(
            f"file name {shown!r} is not valid UTF-8", "rename the file on the server"
        ) from None
    if size > MAX_NAME_BYTES:
        raise InputError(
            f"file name {shown[:40]!r}… is longer than {MAX_NAME_BYTES} bytes", "use a shorter name"
        )
    return name


def printable_name(raw: bytes) -> str:
    """A file name safe to display: undecodable bytes and control characters as ``\\xNN``."""
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text)


def _open_source(local_path: Path | str) -> BinaryIO:
    """The local file to upload, opened for reading (the caller closes it)."""
    local = Path(local_path)
    try:
        return open(local, "rb")
    except OSError as exc:
        raise InputError(
            f"cannot read {local}: {exc.strerror or exc}", "check the local file"
        ) from None


def _temp_name(name: str) -> str:
    token = secrets.token_hex(6)
    temp = f".{name}.part-{token}"
    if len(temp.encode("utf-8")) > MAX_NAME_BYTES:
        temp = f".audiencectl-upload.part-{token}"
    return temp


class FileTransport(ABC):
    """Files of one account's folder. Use as a context manager; ``close()`` is idempotent.

    ``list_rejected`` holds the names the last ``list()`` skipped because they
    failed ``check_remote_name`` (made displayable by ``printable_name``);
    ``list_skipped`` holds ``(name, reason)`` for every file it left out (those
    names, and symbolic links), for the reports that name each skipped file.
    """

    location: str

    def __init__(self) -> None:
        self.list_rejected: list[str] = []
        self.list_skipped: list[tuple[str, str]] = []

    @abstractmethod
    def list(self) -> list[RemoteFile]:
        """Regular files of the folder, sorted by name; our own in-progress uploads
        and probe files are left out; at most 100 000 entries are read
        (more: ``ConnectionFailure`` "endless listing")."""

    @abstractmethod
    def fetch(self, name: str) -> AbstractContextManager[BinaryIO]:
        """A stream of the file's bytes, closed when the ``with`` block ends. Reads that
        stall raise ``ConnectionFailure`` within the timeout."""

    @abstractmethod
    def upload_atomic(
        self, local_path: Path | str, name: str, progress: Progress | None = None
    ) -> None:
        """Uploads ``local_path`` as ``name``: written to ``.<name>.part-<random>`` then
        renamed to ``name``. On any error the temporary file is deleted and no
        partial file ever carries the final name. An existing ``name`` is never
        replaced (``RemoteFileExists``): AAM may not have picked it up yet.
        ``progress(done, total)`` is called as bytes go out; an exception raised
        from it aborts the upload."""

    @abstractmethod
    def remove(self, name: str) -> bool:
        """Deletes ``name``; False when it did not exist."""

    def close(self) -> None:
        """Releases the connection (nothing for a local folder)."""
        return None

    def __enter__(self) -> FileTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_transport(
    account: Account, creds: Credentials, hostkeys: HostKeyCheck, timeout: float = 30.0
) -> FileTransport:
    """Connects to ``account`` and returns its FileTransport.

    SFTP accounts go through the probe's steps (DNS, TCP, banner, host key via
    ``hostkeys``, authentication, SFTP); the first failure raises
    ``ConnectionFailure`` with the probe's hint, or ``HostKeyChanged`` /
    ``HostKeyUnknown``. Local accounts need an existing folder.
    """
    if account.type is AccountType.LOCAL:
        return LocalTransport(Path(account.path))
    session = SshSession(account, timeout)
    try:
        session.connect(creds, hostkeys)
    except StageError as exc:
        session.close()
        raise ConnectionFailure(f"{account.endpoint}: {exc.detail}", exc.hint) from None
    except BaseException:
        session.close()
        raise
    return SftpTransport(session, account.remote_dir or ".")


# ----------------------------------------------------------------------------- SFTP


class _GuardedStream(io.RawIOBase):
    """Raw stream over an SFTP file whose errors become ConnectionFailure."""

    def __init__(self, handle: paramiko.SFTPFile, label: str) -> None:
        super().__init__()
        self._handle = handle
        self._label = label

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            data = self._handle.read(len(buffer))
        except TimeoutError:
            raise ConnectionFailure(
                f"reading {self._label} stalled: no data within the timeout", H_DROPPED
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionFailure(f"reading {self._label} failed: {exc}", H_DROPPED) from None
        size = len(data)
        memoryview(buffer).cast("B")[:size] = data
        return size

    def close(self) -> None:
        if not self.closed:
            with suppress(Exception):
                self._handle.close()
        super().close()


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
        rejected: list[str] = []
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
                try:
                    check_remote_name(name)
                except InputError as exc:
                    rejected.append(printable_name(raw))
                    skipped.append((printable_name(raw), f"{exc.message}: {exc.hint}"))
                    continue
                if _PARTIAL.match(name):
                    continue
                files.append(RemoteFile(name, attr.st_size or 0, float(attr.st_mtime or 0)))
        self.list_rejected = rejected
        self.list_skipped = skipped
        return sorted(files, key=lambda f: f.name)

    @contextmanager
    def fetch(self, name: str) -> Iterator[BinaryIO]:
        check_remote_name(name)
        with self._errors("read", name):
            handle = self.sftp.open(self._path(name), "rb")
            handle.prefetch()
        stream = io.BufferedReader(_GuardedStream(handle, name), buffer_size=CHUNK)
        try:
            yield stream  # type: ignore[misc]
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
        rejected: list[str] = []
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
                try:
                    check_remote_name(entry.name)
                except InputError as exc:
                    shown = printable_name(os.fsencode(entry.name))
                    rejected.append(shown)
                    skipped.append((shown, f"{exc.message}: {exc.hint}"))
                    continue
                if _PARTIAL.match(entry.name):
                    continue
                info = entry.stat(follow_symlinks=False)
                files.append(RemoteFile(entry.name, info.st_size, info.st_mtime))
        self.list_rejected = rejected
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
