"""Confirmations of the manual checks (``manual_confirmations``; docs/reference.md §6).

One row per environment and check: who confirmed it (the OS user), when, their
note, and the fingerprint of the configuration it concerned then.
"""

from __future__ import annotations

from core import clock
from core.checks import Confirmation
from storage.db import Store

__all__ = ["get_confirmation", "remove_confirmation", "save_confirmation"]


def save_confirmation(store: Store, env: str, confirmation: Confirmation) -> None:
    """Keeps ``confirmation`` as the check's standing one (replacing an older one)."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO manual_confirmations"
            " (env, check_id, who, note, fingerprint, at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                env,
                confirmation.check_id,
                confirmation.who,
                confirmation.note,
                confirmation.fingerprint,
                clock.iso(confirmation.at),
            ),
        )


def get_confirmation(store: Store, env: str, check_id: str) -> Confirmation | None:
    """The check's standing confirmation in ``env``, or None."""
    row = store.conn.execute(
        "SELECT who, note, fingerprint, at FROM manual_confirmations"
        " WHERE env = ? AND check_id = ?",
        (env, check_id),
    ).fetchone()
    if row is None:
        return None
    who, note, digest, at = row
    return Confirmation(check_id, who, clock.parse_iso(at), note, digest)


def remove_confirmation(store: Store, env: str, check_id: str) -> bool:
    """Drops the check's confirmation; True when there was one."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "DELETE FROM manual_confirmations WHERE env = ? AND check_id = ?", (env, check_id)
        )
    return cursor.rowcount > 0
