"""The profile dimension in the store: loading it from CSV, reading it back in chunks.

Tables (storage/migrations.py): ``profile_columns(env, position, name)`` lists
every CSV column, ``id`` included, in file order; ``profiles(env, id, data)``
holds each profile's values as a JSON array in that order; ``visitors(env,
visitor_id, profile_id)`` is the visitor-ID map.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from core.errors import InputError
from core.profiles import CHUNK_ROWS, ID_COLUMN, CsvProfiles, list_names
from storage.db import Store

__all__ = [
    "LoadSummary",
    "ProfileStats",
    "StoreProfiles",
    "column_sample",
    "empty_count",
    "load_profiles",
    "profile_stats",
]


@dataclass(frozen=True)
class LoadSummary:
    """What ``load_profiles`` stored: profile and visitor-link counts, and the columns."""

    profiles: int
    visitors: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ProfileStats:
    """The profile dimension of one environment, for the home screen and doctor checks."""

    count: int
    columns: tuple[str, ...]
    visitors: int


def load_profiles(store: Store, env_name: str, source: CsvProfiles) -> LoadSummary:
    """Replace the environment's profiles, columns and visitor map with ``source``'s.

    Promise: ONE transaction. The files are streamed and validated while rows
    are inserted (executemany per chunk); any problem (an ``InputError`` at the
    last line, a store error, an interruption) rolls everything back, so the
    previous profiles stay exactly as they were. Repeated (visitor, profile)
    pairs are stored once. The environment must exist in the store.
    """
    ids: set[str] = set()
    with store.transaction() as conn:
        known = conn.execute("SELECT 1 FROM environments WHERE name = ?", (env_name,)).fetchone()
        if known is None:
            raise InputError(f"no environment named {env_name!r}", "import its configuration first")
        for table in ("profiles", "profile_columns", "visitors"):
            conn.execute(f"DELETE FROM {table} WHERE env = ?", (env_name,))
        columns = source.columns()
        conn.executemany(
            "INSERT INTO profile_columns (env, position, name) VALUES (?, ?, ?)",
            [(env_name, position, name) for position, name in enumerate(columns)],
        )
        at = columns.index(ID_COLUMN)
        profiles = 0
        for chunk in source.row_chunks(ids):
            conn.executemany(
                "INSERT INTO profiles (env, id, data) VALUES (?, ?, ?)",
                [(env_name, row[at], json.dumps(row, ensure_ascii=False)) for row in chunk],
            )
            profiles += len(chunk)
        before = conn.total_changes
        batch: list[tuple[str, str, str]] = []
        for _, vid, pid in source.visitor_rows(ids):
            batch.append((env_name, vid, pid))
            if len(batch) >= CHUNK_ROWS:
                _insert_visitors(conn, batch)
                batch = []
        _insert_visitors(conn, batch)
        visitors = conn.total_changes - before
    return LoadSummary(profiles, visitors, tuple(columns))


def _insert_visitors(conn: sqlite3.Connection, batch: list[tuple[str, str, str]]) -> None:
    if batch:
        conn.executemany(
            "INSERT OR IGNORE INTO visitors (env, visitor_id, profile_id) VALUES (?, ?, ?)", batch
        )


def _columns(store: Store, env_name: str) -> list[str]:
    rows = store.conn.execute(
        "SELECT name FROM profile_columns WHERE env = ? ORDER BY position", (env_name,)
    ).fetchall()
    return [row[0] for row in rows]


def _position(store: Store, env_name: str, column: str) -> int:
    columns = _columns(store, env_name)
    if column not in columns:
        found = list_names(columns) or "none: no profiles loaded"
        raise InputError(
            f"the profiles of {env_name!r} have no column {column!r} (columns: {found})",
            "load profiles with that column (`audiencectl profiles load`), "
            "or change the data source's reconciliation_key",
        )
    return columns.index(column)


def _text(value: object) -> str:
    return "" if value is None else str(value)


class StoreProfiles:
    """An environment's profiles in the store, as a ``core.profiles.ProfileSource``.

    Reads with keyset-paginated SELECTs of ``chunk_rows`` rows, so no query
    holds a cursor open between chunks and memory stays bounded.
    """

    def __init__(self, store: Store, env_name: str, *, chunk_rows: int = CHUNK_ROWS) -> None:
        self.store = store
        self.env_name = env_name
        self.chunk_rows = chunk_rows

    def __repr__(self) -> str:
        return f"StoreProfiles({self.env_name!r})"

    def columns(self) -> list[str]:
        """Column names in file order (empty when no profiles were loaded)."""
        return _columns(self.store, self.env_name)

    def count(self) -> int:
        """The number of stored profiles."""
        row = self.store.conn.execute(
            "SELECT COUNT(*) FROM profiles WHERE env = ?", (self.env_name,)
        ).fetchone()
        return int(row[0])

    def column_chunks(self, column: str) -> Iterator[tuple[list[str], list[str]]]:
        """``(profile ids, values of column)`` in id order; ``InputError`` for an unknown
        column."""
        position = _position(self.store, self.env_name, column)
        path = f"$[{position}]"
        last = ""
        while True:
            rows = self.store.conn.execute(
                "SELECT id, json_extract(data, ?) FROM profiles"
                " WHERE env = ? AND id > ? ORDER BY id LIMIT ?",
                (path, self.env_name, last, self.chunk_rows),
            ).fetchall()
            if not rows:
                return
            yield [r[0] for r in rows], [_text(r[1]) for r in rows]
            last = rows[-1][0]

    def visitor_chunks(self) -> Iterator[tuple[list[str], list[str]]]:
        """``(visitor ids, profile ids)`` of the visitor map, in chunks."""
        last = ("", "")
        while True:
            rows = self.store.conn.execute(
                "SELECT visitor_id, profile_id FROM visitors"
                " WHERE env = ? AND (visitor_id, profile_id) > (?, ?)"
                " ORDER BY visitor_id, profile_id LIMIT ?",
                (self.env_name, *last, self.chunk_rows),
            ).fetchall()
            if not rows:
                return
            yield [r[0] for r in rows], [r[1] for r in rows]
            last = (rows[-1][0], rows[-1][1])


def profile_stats(store: Store, env_name: str) -> ProfileStats:
    """Profile count, columns and visitor-map size of ``env_name`` (zeros when none).

    Remembered until the store changes: counting millions of rows takes a while.
    """

    def compute() -> ProfileStats:
        conn = store.conn
        count = conn.execute("SELECT COUNT(*) FROM profiles WHERE env = ?", (env_name,)).fetchone()[
            0
        ]
        visitors = conn.execute(
            "SELECT COUNT(*) FROM visitors WHERE env = ?", (env_name,)
        ).fetchone()[0]
        return ProfileStats(int(count), tuple(_columns(store, env_name)), int(visitors))

    return store.memo(("profile_stats", env_name), compute)


def column_sample(store: Store, env_name: str, column: str, limit: int = 20) -> list[str]:
    """Up to ``limit`` non-empty values of ``column`` (in id order), for checks and
    previews; ``InputError`` for an unknown column."""
    path = f"$[{_position(store, env_name, column)}]"
    rows = store.conn.execute(
        "SELECT json_extract(data, ?) AS v FROM profiles"
        " WHERE env = ? AND TRIM(COALESCE(v, '')) != '' ORDER BY id LIMIT ?",
        (path, env_name, max(0, limit)),
    ).fetchall()
    return [_text(r[0]) for r in rows]


def empty_count(store: Store, env_name: str, column: str) -> int:
    """How many profiles have an empty (or blank) ``column``; ``InputError`` for an
    unknown column."""
    path = f"$[{_position(store, env_name, column)}]"
    row = store.conn.execute(
        "SELECT COUNT(*) FROM profiles WHERE env = ? AND TRIM(COALESCE(json_extract(data, ?), ''))"
        " = ''",
        (env_name, path),
    ).fetchone()
    return int(row[0])
