"""Opening the store: where it lives, file mode 0600, WAL, migrations, clear errors."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar, cast

import platformdirs
import sqlite_utils

from core.errors import SecretError, StoreError
from storage.migrations import MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")
APP_NAME = "audiencectl"
DB_ENV = "AUDIENCECTL_DB"


def default_db_path() -> Path:
    """``$AUDIENCECTL_DB``, else the platform's user data dir."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "audiencectl.db"


def key_path_for(db_path: Path) -> Path:
    """The secrets key file lives beside the store."""
    return db_path.with_name(db_path.name + ".key")


class Store:
    """The SQLite store. ``transaction()`` makes one operation's writes atomic."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.key_path = key_path_for(path)
        _check_key_file(self.key_path)
        self.conn = _connect(path, create=create)
        self._memo: dict[Hashable, tuple[tuple[int, int], object]] = {}
        self.db = sqlite_utils.Database(self.conn)
        _migrate(self.conn, path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit: everything inside commits together or not at all."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None
        try:
            yield conn
        except sqlite3.Error as exc:
            _rollback(conn)
            raise _store_error(exc, self.path) from None
        except BaseException:
            _rollback(conn)
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise _store_error(exc, self.path) from None

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s value, computed again only after the database changed.

        Any commit (by this connection or another process) invalidates it, so the
        console's periodic refreshes do not rescan millions of rows for nothing.
        """
        version = (self.conn.execute("PRAGMA data_version").fetchone()[0], self.conn.total_changes)
        hit = self._memo.get(key)
        if hit is not None and hit[0] == version:
            return cast(T, hit[1])
        value = compute()
        self._memo[key] = (version, value)
        return value

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
            conn.execute("ROLLBACK")


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreError(f"the store {path} is busy", "another audiencectl is writing; retry")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"the store {path} is read-only", "check the file's permissions")
    if "full" in text or "disk i/o" in text:
        return StoreError(
            f"cannot write the store {path}: disk full or I/O error",
            "free some space; nothing was changed",
        )
    if "unable to open" in text and _read_only(path):
        return StoreError(
            f"the store {path} is on a read-only file system or not writable",
            "remount it read-write or point --db at a writable copy; nothing was changed",
        )
    if "not a database" in text or "malformed" in text:
        return StoreError(
            f"{path} is not an audiencectl store (not SQLite, or damaged)",
            "point --db at the right file, or move this one away",
        )
    return StoreError(f"store error on {path}: {exc}", "check the file and retry")


def _check_key_file(key_path: Path) -> None:
    """Refuses to start when the secrets key file is readable or writable by others."""
    try:
        mode = stat.S_IMODE(key_path.stat().st_mode)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SecretError(f"cannot check the key file {key_path}: {exc.strerror}") from None
    if mode & 0o077:
        raise SecretError(
            f"the key file {key_path} is open to other users (mode {mode:o})",
            f"run: chmod 600 {key_path}",
        )


def _read_only(path: Path) -> bool:
    folder = path.parent if path.parent.exists() else Path("/")
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK))


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    existed = path.exists()
    if not existed and not create:
        raise StoreError(
            f"no store at {path}",
            "check --db or AUDIENCECTL_DB; `audiencectl config import FILE.toml` or "
            "`audiencectl demo` creates one",
        )
    if not existed:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(
                f"cannot create the store {path}: {exc.strerror}", "choose another --db path"
            ) from None
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal" and os.access(path, os.W_OK):
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        raise _store_error(exc, path) from None
    _tighten(path)
    return conn


def _tighten(path: Path) -> None:
    """Store, WAL and shared-memory files readable by the owner only."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if candidate.exists() and stat.S_IMODE(candidate.stat().st_mode) & 0o077:
                candidate.chmod(0o600)
        except OSError:
            pass


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _store_error(exc, path) from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store {path} has schema version {version}, newer than this audiencectl "
            f"understands ({SCHEMA_VERSION})",
            "upgrade audiencectl; the store was left untouched",
        )
    for number in range(version, SCHEMA_VERSION):
        script = MIGRATIONS[number]
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _store_error(exc, path) from None


def _statements(script: str) -> list[str]:
    """Splits a migration into statements (executescript would commit implicitly)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out
