"""Pinned SSH host keys in the store's ``host_keys`` table."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from core import clock
from core.hostkeys import HostKey


@dataclass(frozen=True)
class PinnedHostKey:
    """One row of ``host_keys``."""

    host: str
    port: int
    key: HostKey
    pinned_at: datetime


def _norm(host: str) -> str:
    return host.strip().lower().rstrip(".")


class SqliteHostKeyStore:
    """``core.hostkeys.HostKeyStore`` on the ``host_keys`` table (host names compared
    case-insensitively). Each write is one statement, atomic on its own."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, host: str, port: int) -> HostKey | None:
        """The pinned key of host:port, or None."""
        row = self.conn.execute(
            "SELECT key_type, fingerprint FROM host_keys WHERE host = ? AND port = ?",
            (_norm(host), port),
        ).fetchone()
        return HostKey(row[0], row[1]) if row else None

    def pin(self, host: str, port: int, key: HostKey) -> None:
        """Pins ``key`` for host:port, replacing a previous pin."""
        self.conn.execute(
            "INSERT OR REPLACE INTO host_keys (host, port, key_type, fingerprint, pinned_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (_norm(host), port, key.key_type, key.fingerprint, clock.iso(clock.now())),
        )

    def forget(self, host: str, port: int) -> bool:
        """Removes the pin of host:port; True when there was one."""
        cur = self.conn.execute(
            "DELETE FROM host_keys WHERE host = ? AND port = ?", (_norm(host), port)
        )
        return cur.rowcount > 0

    def all(self) -> list[PinnedHostKey]:
        """Every pin, ordered by host then port."""
        rows = self.conn.execute(
            "SELECT host, port, key_type, fingerprint, pinned_at FROM host_keys ORDER BY host, port"
        ).fetchall()
        return [
            PinnedHostKey(host, port, HostKey(kt, fp), clock.parse_iso(at))
            for host, port, kt, fp, at in rows
        ]
