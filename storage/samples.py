"""The website's last sample per data source, as the cross-check left it (docs/reference.md §7).

One row per environment and data source: a new check replaces the previous one.
The doctor's ``datasource.website_sample`` check reads ``last_sample``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.clock import iso, now, parse_iso
from core.diagnose import Diagnosis
from core.errors import StoreError
from core.model import DataSource, Environment
from storage.db import Store

__all__ = ["StoredSample", "forget_sample", "last_sample", "rename_sample", "save_sample"]


@dataclass(frozen=True)
class StoredSample:
    """The last website sample checked for one data source, and its verdict."""

    env: str
    datasource: str
    clear: str
    sample: str
    diagnosis: str  # one of core.diagnose.CODES
    detail: str
    at: datetime

    @property
    def match(self) -> bool:
        """True when the website's sample matched the data source (``ok``)."""
        return self.diagnosis == "ok"

    def to_diagnosis(self) -> Diagnosis:
        """The stored verdict as a ``Diagnosis``."""
        return Diagnosis(self.match, self.diagnosis, self.detail)


def _env_name(env: Environment | str) -> str:
    return env.name if isinstance(env, Environment) else env


def _ds_label(datasource: DataSource | str) -> str:
    return datasource.label if isinstance(datasource, DataSource) else datasource


def save_sample(
    store: Store,
    env: Environment | str,
    datasource: DataSource | str,
    clear: str,
    sample: str,
    diagnosis: Diagnosis,
) -> StoredSample:
    """Keeps ``sample`` and its verdict as the data source's last sample (one transaction).

    Replaces any earlier sample of the same data source. The environment must be
    in the store.
    """
    stored = StoredSample(
        env=_env_name(env),
        datasource=_ds_label(datasource),
        clear=clear,
        sample=sample,
        diagnosis=diagnosis.code,
        detail=diagnosis.detail,
        at=now(),
    )
    with store.transaction() as conn:
        known = conn.execute("SELECT 1 FROM environments WHERE name = ?", (stored.env,))
        if known.fetchone() is None:
            raise StoreError(
                f"no environment named {stored.env!r} in the store",
                "save the environment before checking a website sample",
            )
        conn.execute(
            "INSERT INTO website_samples (env, datasource, clear, sample, diagnosis, detail, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(env, datasource) DO UPDATE SET clear = excluded.clear,"
            " sample = excluded.sample, diagnosis = excluded.diagnosis,"
            " detail = excluded.detail, at = excluded.at",
            (
                stored.env,
                stored.datasource,
                stored.clear,
                stored.sample,
                stored.diagnosis,
                stored.detail,
                iso(stored.at),
            ),
        )
    return stored


def last_sample(
    store: Store, env: Environment | str, datasource: DataSource | str
) -> StoredSample | None:
    """The data source's last checked website sample, or ``None`` when it was never checked."""
    row = store.conn.execute(
        "SELECT clear, sample, diagnosis, detail, at FROM website_samples"
        " WHERE env = ? AND datasource = ?",
        (_env_name(env), _ds_label(datasource)),
    ).fetchone()
    if row is None:
        return None
    clear, sample, diagnosis, detail, at = row
    return StoredSample(
        _env_name(env), _ds_label(datasource), clear, sample, diagnosis, detail, parse_iso(at)
    )


def rename_sample(store: Store, env: Environment | str, old: str, new: str) -> None:
    """Moves the last sample to a data source's new label (after a rename)."""
    if old == new:
        return
    with store.transaction() as conn:
        conn.execute(
            "DELETE FROM website_samples WHERE env = ? AND datasource = ?", (_env_name(env), new)
        )
        conn.execute(
            "UPDATE website_samples SET datasource = ? WHERE env = ? AND datasource = ?",
            (new, _env_name(env), old),
        )


def forget_sample(store: Store, env: Environment | str, datasource: DataSource | str) -> None:
    """Drops the last sample of a data source (after it was deleted)."""
    with store.transaction() as conn:
        conn.execute(
            "DELETE FROM website_samples WHERE env = ? AND datasource = ?",
            (_env_name(env), _ds_label(datasource)),
        )
