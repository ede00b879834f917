"""What every transport shares: the FileTransport interface, remote names, limits."""

from __future__ import annotations

import io
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from core.errors import ConnectionFailure, InputError

MAX_LISTING = 100_000
MAX_NAME_BYTES = 255
CHUNK = 256 * 1024
#: The largest file downloaded over SFTP or S3 (docs/reference.md §8); AAM parts are far
#: smaller. Read at each call, so a test may lower it.
MAX_DOWNLOAD_BYTES = 16 * 1024**3
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


def check_download_size(name: str, size: int) -> None:
    """Refuses, before any byte is read, a file the server lists larger than
    ``MAX_DOWNLOAD_BYTES`` (``ConnectionFailure``)."""
    if size > MAX_DOWNLOAD_BYTES:
        raise ConnectionFailure(
            f"{name}: {size:,} bytes is larger than the {MAX_DOWNLOAD_BYTES:,} bytes "
            "a download may have",
            "an AAM file is never this large; check the folder",
        )


class BoundedDownload(io.RawIOBase):
    """A download's raw stream that ends at ``limit``, the size the server gave when the
    file was opened, and refuses more with ``ConnectionFailure``. Subclasses read the
    wire in ``_read_raw`` (turning its errors into ``ConnectionFailure``) and release
    it in ``_close_raw``."""

    def __init__(self, label: str, limit: int) -> None:
        super().__init__()
        self._label = label
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        left = self._limit - self._read
        if left <= 0:
            if self._read_raw(1):
                raise ConnectionFailure(
                    f"{self._label}: the server sent more than the {self._limit:,} bytes it "
                    "listed (the file grew while read, or the server is broken)",
                    "download it again once the file stops changing",
                )
            return 0
        data = self._read_raw(min(len(buffer), left))
        size = len(data)
        memoryview(buffer).cast("B")[:size] = data
        self._read += size
        return size

    @abstractmethod
    def _read_raw(self, size: int) -> bytes:
        """Up to ``size`` bytes from the wire; ``b""`` at its end."""

    @abstractmethod
    def _close_raw(self) -> None:
        """Releases the wire (errors are ignored by ``close``)."""

    def close(self) -> None:
        if not self.closed:
            with suppress(Exception):
                self._close_raw()
        super().close()


def listed(name: str, shown: str, skipped: list[tuple[str, str]]) -> bool:
    """Whether a regular file called ``name`` belongs in a listing: a name that
    ``check_remote_name`` refuses goes to ``skipped`` as ``(shown, why)``; our own
    in-flight names (``.part-`` uploads, probe files) are left out without a word."""
    try:
        check_remote_name(name)
    except InputError as exc:
        skipped.append((shown, f"{exc.message}: {exc.hint}"))
        return False
    return not _PARTIAL.match(name)


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
        self.list_skipped: list[tuple[str, str]] = []

    @property
    def list_rejected(self) -> list[str]:
        """The names the last ``list()`` refused (``check_remote_name``), shown escaped."""
        return [name for name, reason in self.list_skipped if reason != SYMLINK_REASON]

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
