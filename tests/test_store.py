from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from core import clock
from core.errors import StoreError
from storage.db import Store
from storage.migrations import SCHEMA_VERSION


def test_new_store_is_private_wal_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "a" / "s.db"
    with Store(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert "environments" in store.db.table_names()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store, store.transaction() as conn:
        conn.execute("INSERT INTO environments VALUES ('p', '{}', '2026-01-01', '2026-01-01')")
    with Store(path) as store:
        assert store.conn.execute("SELECT name FROM environments").fetchall() == [("p",)]


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.execute("INSERT INTO environments VALUES ('p', '{}', 'x', 'x')")
            raise RuntimeError("boom")
        assert store.conn.execute("SELECT count(*) FROM environments").fetchone()[0] == 0


def test_not_sqlite_is_a_clear_error_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database at all" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not an audiencectl store"):
        Store(path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("future",)]


def test_older_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    sqlite3.connect(path).close()  # version 0, empty
    with Store(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_integrity(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_memo_is_forgotten_after_any_commit(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    calls: list[int] = []

    def count(store: Store) -> int:
        def compute() -> int:
            calls.append(1)
            return int(store.conn.execute("SELECT count(*) FROM environments").fetchone()[0])

        return store.memo("envs", compute)

    with Store(path) as store:
        assert count(store) == 0 and count(store) == 0
        assert len(calls) == 1  # remembered
        with store.transaction() as conn:  # our own write
            conn.execute("INSERT INTO environments VALUES ('a', '{}', 'x', 'x')")
        assert count(store) == 1
        other = sqlite3.connect(path)  # another process's commit
        other.execute("INSERT INTO environments VALUES ('b', '{}', 'x', 'x')")
        other.commit()
        other.close()
        assert count(store) == 2
        assert len(calls) == 3


_ODD_IDS = [
    "P1",
    "p1",
    "",
    "é",
    'a"b',
    "a\\b",
    "x y",
    "[1]",
    "\u2028",
    "😀",
    "null",
    "P",
    "P\x00a",
    "P\x00b",
    "\\u0000",
]


@pytest.mark.parametrize("bulk", [True, False])
def test_segment_members_written_in_bulk_or_row_by_row(
    tmp_path: Path, bulk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON bulk path and the row-by-row path (SQLite without JSON) store the same
    rows: full replaces, iter adds then removes, odd ids survive, chunking included."""
    from core.workflow import BatchWrite
    from storage import audiences

    monkeypatch.setattr(audiences, "_has_json_each", lambda conn: bulk)
    monkeypatch.setattr(audiences, "_JSON_IDS", 3)

    def write(
        store: Store, run: int, mode: str, segs: dict[str, tuple[set[str], set[str]]], name: str
    ) -> None:
        audiences.SqliteWorkflowStore(store).write_batch(
            "e",
            run,
            BatchWrite(
                batch=name,
                mode=mode,
                segments={s: (frozenset(m), frozenset(r)) for s, (m, r) in segs.items()},
                files=[(name, 1)],
                records=0,
                reconciled=0,
                duplicates=0,
                outcomes={},
                samples=[],
            ),
        )

    def rows(store: Store) -> set[tuple[str, str]]:
        return set(
            store.conn.execute(
                "SELECT segment_id, profile_id FROM segment_members WHERE env = 'e'"
            ).fetchall()
        )

    with Store(tmp_path / "s.db") as store:
        with store.transaction() as conn:
            conn.execute("INSERT INTO environments VALUES ('e', '{}', 'now', 'now')")
        run = audiences.SqliteWorkflowStore(store).start_run("e", clock.now())
        write(store, run, "full", {"24": (set(_ODD_IDS), set()), "25": ({"P9"}, set())}, "a")
        assert rows(store) == {("24", i) for i in _ODD_IDS} | {("25", "P9")}
        write(store, run, "iter", {"24": ({"new", "P1"}, {"é", "a\\b", "P\x00a", "gone?"})}, "b")
        kept = set(_ODD_IDS) - {"é", "a\\b", "P\x00a"} | {"new"}
        assert rows(store) == {("24", i) for i in kept} | {("25", "P9")}
        write(store, run, "full", {"24": ({"only"}, set())}, "c")
        assert rows(store) == {("24", "only"), ("25", "P9")}


def test_bulk_path_is_used_wherever_sqlite_has_json(tmp_path: Path) -> None:
    from storage import audiences

    with Store(tmp_path / "s.db") as store:
        has = audiences._has_json_each(store.conn)
    assert has == (sqlite3.sqlite_version_info >= (3, 38, 0))
