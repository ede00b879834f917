"""Probe reports kept per environment and account role in ``probe_runs``."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from core import clock
from core.model import Role
from core.probe import ProbeReport
from core.text import printable_name


def _printable(value: Any) -> Any:
    """The report's JSON with every string escaped (file names from the folder may hold
    control characters or bytes that are not UTF-8)."""
    if isinstance(value, str):
        return printable_name(value)
    if isinstance(value, dict):
        return {printable_name(str(k)): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def save(conn: sqlite3.Connection, env: str, report: ProbeReport) -> int:
    """Stores ``report`` (its JSON, no secret in it) for ``env``; returns the row id.

    ``env`` must exist in ``environments`` (the foreign key is enforced).
    """
    cur = conn.execute(
        "INSERT INTO probe_runs (env, role, at, ok, result) VALUES (?, ?, ?, ?, ?)",
        (
            env,
            report.role.value,
            clock.iso(report.started_at),
            1 if report.ok else 0,
            json.dumps(_printable(report.to_json()), ensure_ascii=False),
        ),
    )
    return int(cur.lastrowid or 0)


def last(conn: sqlite3.Connection, env: str, role: Role | str) -> ProbeReport | None:
    """The most recent report for env/role, or None."""
    reports = history(conn, env, role, limit=1)
    return reports[0] if reports else None


def history(
    conn: sqlite3.Connection, env: str, role: Role | str, limit: int = 20
) -> list[ProbeReport]:
    """Up to ``limit`` reports for env/role, newest first."""
    rows = conn.execute(
        "SELECT result FROM probe_runs WHERE env = ? AND role = ? ORDER BY id DESC LIMIT ?",
        (env, Role(role).value, max(0, limit)),
    ).fetchall()
    return [ProbeReport.from_json(json.loads(row[0])) for row in rows]
