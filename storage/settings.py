"""Small per-environment settings (the ``env_settings`` table), and the first-run tips' flag.

The first-run tips show on the home screen only when something armed them
(``audiencectl demo`` does) and until they are dismissed; both are remembered
here, per environment.
"""

from __future__ import annotations

from storage.db import Store

__all__ = [
    "FIRST_RUN_KEY",
    "arm_first_run_tips",
    "dismiss_first_run_tips",
    "first_run_tips_wanted",
    "get_setting",
    "set_setting",
]

FIRST_RUN_KEY = "first_run_tips"
_ARMED = "armed"
_DISMISSED = "dismissed"


def get_setting(store: Store, env: str, key: str) -> str | None:
    """The setting's value, or None when it was never set."""
    row = store.conn.execute(
        "SELECT value FROM env_settings WHERE env = ? AND key = ?", (env, key)
    ).fetchone()
    return str(row[0]) if row else None


def set_setting(store: Store, env: str, key: str, value: str) -> None:
    """Sets (or replaces) the setting; the environment must exist."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO env_settings (env, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT(env, key) DO UPDATE SET value = excluded.value",
            (env, key, value),
        )


def arm_first_run_tips(store: Store, env: str) -> None:
    """Makes the home screen show the first-run tips until they are dismissed."""
    set_setting(store, env, FIRST_RUN_KEY, _ARMED)


def dismiss_first_run_tips(store: Store, env: str) -> None:
    """Hides the first-run tips for good (for this environment)."""
    set_setting(store, env, FIRST_RUN_KEY, _DISMISSED)


def first_run_tips_wanted(store: Store, env: str) -> bool:
    """True when the tips were armed and not dismissed since."""
    return get_setting(store, env, FIRST_RUN_KEY) == _ARMED
