"""The import workflow's persistence: state, runs, the processed-files ledger, audiences.

``SqliteWorkflowStore`` implements ``core.workflow.WorkflowStore``;
``SqliteExportProfiles`` implements ``core.export.ExportProfiles`` (profile
values and visitor IDs looked up for an export).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any

from core import clock
from core.errors import InputError
from core.model import DataSource, IdType
from core.workflow import BatchWrite, RunRecord, State, WorkflowStatus
from storage.db import Store

MAX_SAMPLES = 100
#: Causes (website mistakes found by forensics) kept per run, in the order found.
MAX_CAUSES = 50
_IN_CHUNK = 500  # SQLite's default host-parameter limit is generous; stay well under it


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: Profile ids per statement when they go to SQLite as one JSON array (a few MB).
_JSON_IDS = 200_000
#: How ``json.dumps`` writes a NUL (a literal backslash-u0000 also matches: harmless).
_NUL = "\\u0000"


def _has_json_each(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has the JSON functions (built in since 3.38)."""
    try:
        conn.execute("SELECT count(*) FROM json_each('[]')").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


_INSERT_ROW = "INSERT OR IGNORE INTO segment_members (env, segment_id, profile_id) VALUES (?, ?, ?)"
_INSERT_JSON = (
    "INSERT OR IGNORE INTO segment_members (env, segment_id, profile_id)"
    " SELECT ?, ?, value FROM json_each(?)"
)
_DELETE_ROW = "DELETE FROM segment_members WHERE env = ? AND segment_id = ? AND profile_id = ?"
_DELETE_JSON = (
    "DELETE FROM segment_members WHERE env = ? AND segment_id = ?"
    " AND profile_id IN (SELECT value FROM json_each(?))"
)


def _members(
    conn: sqlite3.Connection,
    env: str,
    segment: str,
    pids: list[str],
    bulk: bool,
    row_sql: str,
    json_sql: str,
) -> None:
    """One statement over the segment's ``pids``. With ``bulk``, the ids go in as JSON
    arrays read by ``json_each``: SQLite walks them in C instead of binding three
    parameters per row from Python (1.6M inserts: 0.63 s instead of 2.2 s). A part
    holding a NUL goes row by row: SQLite's JSON text values end at a NUL."""
    if not bulk:
        conn.executemany(row_sql, zip(repeat(env), repeat(segment), pids))
        return
    for part in _chunks(pids, _JSON_IDS):
        text = json.dumps(part)
        if _NUL in text:
            conn.executemany(row_sql, zip(repeat(env), repeat(segment), part))
        else:
            conn.execute(json_sql, (env, segment, text))


def _insert_members(
    conn: sqlite3.Connection, env: str, segment: str, pids: list[str], bulk: bool
) -> None:
    """Add ``pids`` to the segment (present ones stay)."""
    _members(conn, env, segment, pids, bulk, _INSERT_ROW, _INSERT_JSON)


def _delete_members(
    conn: sqlite3.Connection, env: str, segment: str, pids: list[str], bulk: bool
) -> None:
    """Remove ``pids`` from the segment (absent ones are ignored)."""
    _members(conn, env, segment, pids, bulk, _DELETE_ROW, _DELETE_JSON)


class SqliteWorkflowStore:
    """``core.workflow.WorkflowStore`` on the store's ``workflow``, ``import_runs``,
    ``processed_files`` and ``segment_members`` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    # -- state ----------------------------------------------------------------------

    def status(self, env: str) -> WorkflowStatus:
        """The workflow's state; ``idle`` (since now) when the environment has no row yet."""
        row = self.conn.execute(
            "SELECT state, changed_at, last_error FROM workflow WHERE env = ?", (env,)
        ).fetchone()
        if row is None:
            return WorkflowStatus(State.IDLE, clock.now(), "")
        try:
            state = State(row[0])
        except ValueError:
            state = State.FAILED
        return WorkflowStatus(state, clock.parse_iso(row[1]), row[2] or "")

    def set_state(self, env: str, state: State, last_error: str = "") -> WorkflowStatus:
        """Records ``state`` and ``last_error`` (one line) with the current time."""
        stamp = clock.now()
        line = " ".join(last_error.split())
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO workflow (env, state, changed_at, last_error) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(env) DO UPDATE SET state = excluded.state,"
                " changed_at = excluded.changed_at, last_error = excluded.last_error",
                (env, state.value, clock.iso(stamp), line),
            )
        return WorkflowStatus(state, stamp, line)

    # -- runs -----------------------------------------------------------------------

    def close_interrupted_runs(self, env: str) -> int:
        """Runs left ``running`` by a process that died are closed as ``failed``."""
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE import_runs SET status = 'failed', finished_at = ?,"
                " error = 'interrupted: the process ended before the run finished'"
                " WHERE env = ? AND status = 'running'",
                (clock.iso(clock.now()), env),
            )
        return cur.rowcount

    def start_run(self, env: str, started_at: datetime) -> int:
        """A new run record with status ``running``; its ID."""
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO import_runs (env, started_at, status) VALUES (?, ?, 'running')",
                (env, clock.iso(started_at)),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def write_batch(
        self, env: str, run_id: int, write: BatchWrite, during: Callable[[], None] | None = None
    ) -> None:
        """One transaction: the audiences, the ledger rows of the batch's files, the run's
        counters and samples. ``full`` replaces each segment present in the batch;
        ``iter`` adds members then deletes removed ones."""
        stamp = clock.iso(clock.now())
        with self.store.transaction() as conn:
            bulk = _has_json_each(conn)
            for segment, (members, removed) in sorted(write.segments.items()):
                if write.mode == "full":
                    conn.execute(
                        "DELETE FROM segment_members WHERE env = ? AND segment_id = ?",
                        (env, segment),
                    )
                # Sorted: the rows then go into the primary key's B-tree in order, about
                # twice as fast as in set order for a million rows (bench/bench_import.py).
                _insert_members(conn, env, segment, sorted(members), bulk)
                if write.mode != "full" and removed:
                    _delete_members(conn, env, segment, sorted(removed), bulk)
            conn.executemany(
                "INSERT OR REPLACE INTO processed_files"
                " (env, name, batch, size, run_id, processed_at) VALUES (?, ?, ?, ?, ?, ?)",
                ((env, name, write.batch, size, run_id, stamp) for name, size in write.files),
            )
            row = conn.execute(
                "SELECT outcomes, samples, causes FROM import_runs WHERE id = ?", (run_id,)
            ).fetchone()
            outcomes = Counter(json.loads(row[0] or "{}"))
            outcomes.update(write.outcomes)
            samples: list[Any] = json.loads(row[1] or "[]")
            samples.extend(list(write.samples)[: max(0, MAX_SAMPLES - len(samples))])
            causes: list[Any] = json.loads(row[2] or "[]")
            causes.extend(dict(c) for c in list(write.causes)[: max(0, MAX_CAUSES - len(causes))])
            conn.execute(
                "UPDATE import_runs SET batches = batches + 1, files = files + ?,"
                " records = records + ?, reconciled = reconciled + ?,"
                " duplicates = duplicates + ?, outcomes = ?, samples = ?, causes = ?"
                " WHERE id = ?",
                (
                    len(write.files),
                    write.records,
                    write.reconciled,
                    write.duplicates,
                    json.dumps(dict(sorted(outcomes.items()))),
                    json.dumps(samples),
                    json.dumps(causes),
                    run_id,
                ),
            )
            if during is not None:
                during()

    def finish_run(
        self, env: str, run_id: int, finished_at: datetime, status: str, error: str = ""
    ) -> None:
        """Closes the run: final status, finish time, error (one line)."""
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE import_runs SET finished_at = ?, status = ?, error = ?"
                " WHERE id = ? AND env = ?",
                (clock.iso(finished_at), status, " ".join(error.split()), run_id, env),
            )

    def runs(self, env: str, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""
        rows = self.conn.execute(
            "SELECT id, started_at, finished_at, status, batches, files, records, reconciled,"
            " duplicates, outcomes, samples, error, causes FROM import_runs WHERE env = ?"
            " ORDER BY id DESC LIMIT ?",
            (env, limit),
        ).fetchall()
        return [_run(row) for row in rows]

    def last_run(self, env: str) -> RunRecord | None:
        """The most recent run, or None."""
        runs = self.runs(env, 1)
        return runs[0] if runs else None

    # -- ledger and audiences ---------------------------------------------------------

    def mark_superseded(
        self, env: str, run_id: int, batch: str, files: Sequence[tuple[str, int]]
    ) -> None:
        """Ledger rows for a batch that was not applied (older than the store's snapshot)."""
        stamp = clock.iso(clock.now())
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO processed_files"
                " (env, name, batch, size, run_id, processed_at) VALUES (?, ?, ?, ?, ?, ?)",
                ((env, name, batch, size, run_id, stamp) for name, size in files),
            )

    def processed_names(self, env: str) -> set[str]:
        """Every file name in the processed-files ledger."""
        rows = self.conn.execute("SELECT name FROM processed_files WHERE env = ?", (env,))
        return {row[0] for row in rows}

    def processed_count(self, env: str) -> int:
        """How many files the ledger holds."""
        return int(
            self.conn.execute(
                "SELECT count(*) FROM processed_files WHERE env = ?", (env,)
            ).fetchone()[0]
        )

    def segment_counts(self, env: str) -> dict[str, int]:
        """Members per segment, ordered by numeric segment ID (remembered until the store
        changes: the count reads every membership)."""

        def compute() -> dict[str, int]:
            rows = self.conn.execute(
                "SELECT segment_id, count(*) FROM segment_members WHERE env = ?"
                " GROUP BY segment_id",
                (env,),
            ).fetchall()
            ordered = sorted(((s, int(n)) for s, n in rows), key=lambda kv: (len(kv[0]), kv[0]))
            return dict(ordered)

        return dict(self.store.memo(("segment_counts", env), compute))

    def segment_members(self, env: str, segment_id: str) -> set[str]:
        """The profile IDs in one segment."""
        rows = self.conn.execute(
            "SELECT profile_id FROM segment_members WHERE env = ? AND segment_id = ?",
            (env, segment_id),
        )
        return {row[0] for row in rows}


def _run(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        id=int(row[0]),
        started_at=clock.parse_iso(row[1]),
        finished_at=clock.parse_iso(row[2]) if row[2] else None,
        status=row[3],
        batches=int(row[4]),
        files=int(row[5]),
        records=int(row[6]),
        reconciled=int(row[7]),
        duplicates=int(row[8]),
        outcomes=json.loads(row[9] or "{}"),
        samples=json.loads(row[10] or "[]"),
        error=row[11] or "",
        causes=json.loads(row[12] or "[]"),
    )


class SqliteExportProfiles:
    """``core.export.ExportProfiles`` on the ``profiles`` and ``visitors`` tables."""

    def __init__(self, store: Store, env: str) -> None:
        self.store = store
        self.env = env

    def columns(self) -> list[str]:
        """The profile columns, in stored order (``id`` included)."""
        rows = self.store.conn.execute(
            "SELECT name FROM profile_columns WHERE env = ? ORDER BY position", (self.env,)
        )
        return [row[0] for row in rows]

    def values_for(self, profile_ids: Sequence[str], ds: DataSource) -> dict[str, list[str]]:
        """For each known profile ID: the values to export (the reconciliation key's value,
        or every visitor ID). Unknown profiles are absent from the result."""
        conn = self.store.conn
        found: dict[str, list[str]] = {}
        ids = list(dict.fromkeys(profile_ids))
        if ds.id_type is IdType.VISITOR:
            for part in _chunks(ids):
                marks = ",".join("?" * len(part))
                for (pid,) in conn.execute(
                    f"SELECT id FROM profiles WHERE env = ? AND id IN ({marks})",
                    (self.env, *part),
                ):
                    found[pid] = []
                for vid, pid in conn.execute(
                    "SELECT visitor_id, profile_id FROM visitors WHERE env = ?"
                    f" AND profile_id IN ({marks}) ORDER BY visitor_id",
                    (self.env, *part),
                ):
                    if pid in found:
                        found[pid].append(vid)
            return found
        columns = self.columns()
        column = ds.reconciliation_key
        if column not in columns:
            shown = ", ".join(columns) or "none (load profiles first)"
            raise InputError(
                f"the profiles in the store have no column {column!r} (columns: {shown})",
                "load profiles with that column (`audiencectl profiles load`) or fix the "
                "data source's reconciliation_key",
            )
        at = columns.index(column)
        for part in _chunks(ids):
            marks = ",".join("?" * len(part))
            for pid, data in conn.execute(
                f"SELECT id, data FROM profiles WHERE env = ? AND id IN ({marks})",
                (self.env, *part),
            ):
                values = json.loads(data)
                value = values[at] if at < len(values) else ""
                found[pid] = ["" if value is None else str(value)]
        return found
