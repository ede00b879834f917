"""Forgetting one environment: every row of every table that belongs to it.

``audiencectl demo`` uses it to start its environment over; other
environments in the same store are left alone.
"""

from __future__ import annotations

from storage.db import Store

__all__ = ["forget_environment"]


def _env_tables(store: Store) -> list[tuple[str, str]]:
    """``(table, column)`` for every table keyed by an environment name."""
    names = [
        row[0]
        for row in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    out: list[tuple[str, str]] = []
    for name in names:
        columns = {row[1] for row in store.conn.execute(f"PRAGMA table_info({name!r})")}
        if name == "environments":
            continue
        if "env" in columns:
            out.append((name, "env"))
    return out


def forget_environment(store: Store, name: str) -> None:
    """Deletes the environment and all its data (profiles, runs, audiences...) in one
    transaction; a no-op when it does not exist."""
    tables = _env_tables(store)
    with store.transaction() as conn:
        for table, column in tables:
            conn.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (name,))
        conn.execute("DELETE FROM environments WHERE name = ?", (name,))
