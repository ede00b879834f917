"""The checklist's side of the store: the facts the checks read, and their last results.

``StoreFacts`` implements ``core.checks.Facts`` on the store's tables;
``save_results`` / ``last_results`` keep each check's last verdict in
``check_results`` (the home screen reads them); ``context_for`` builds the
``CheckContext`` both front ends use.
"""

from __future__ import annotations

from collections.abc import Iterable

from core import clock
from core.checks import (
    CHECK_IDS,
    CheckContext,
    CheckResult,
    Confirmation,
    ProfileFacts,
    SampleFact,
    spec_for,
)
from core.dnscheck import DnsSettings
from core.hostkeys import HostKeyStore
from core.model import Account, DataSource, Environment, RequestStatus
from core.probe import ProbeReport
from core.secrets import SecretBox
from core.text import printable_name
from core.workflow import RunRecord, WorkflowStatus
from storage import probes
from storage.audiences import SqliteWorkflowStore
from storage.confirmations import get_confirmation
from storage.db import Store
from storage.hostkeys import SqliteHostKeyStore
from storage.profiles import column_sample, empty_count, profile_stats
from storage.repo import EnvironmentRepo, resolve_secret
from storage.samples import last_sample

__all__ = ["StoreFacts", "context_for", "last_results", "save_results"]


class StoreFacts:
    """``core.checks.Facts`` for one environment, read from the store."""

    def __init__(self, store: Store, env: Environment, repo: EnvironmentRepo | None = None) -> None:
        self.store = store
        self.env = env
        self.repo = repo or EnvironmentRepo(store)
        self.workflow = SqliteWorkflowStore(store)

    def request_status(self) -> RequestStatus:
        """The provisioning request's current status."""
        return self.repo.request_status(self.env.name)

    def host_keys(self) -> HostKeyStore:
        """The pinned host keys (the ``host_keys`` table)."""
        return SqliteHostKeyStore(self.store.conn)

    def record_probe(self, report: ProbeReport) -> None:
        """Keeps the probe report in ``probe_runs`` (one statement)."""
        with self.store.transaction() as conn:
            probes.save(conn, self.env.name, report)

    def profiles(self) -> ProfileFacts:
        """Profile count, columns and visitor links."""
        stats = profile_stats(self.store, self.env.name)
        return ProfileFacts(stats.count, tuple(stats.columns), stats.visitors)

    def empty_count(self, column: str) -> int:
        """Profiles whose ``column`` is empty."""
        return empty_count(self.store, self.env.name, column)

    def column_sample(self, column: str, limit: int) -> list[str]:
        """Up to ``limit`` non-empty values of ``column``."""
        return column_sample(self.store, self.env.name, column, limit)

    def last_sample(self, datasource: str) -> SampleFact | None:
        """The data source's last website sample, or None."""
        stored = last_sample(self.store, self.env.name, datasource)
        if stored is None:
            return None
        return SampleFact(stored.diagnosis, stored.detail, stored.at)

    def workflow_status(self) -> WorkflowStatus:
        """The import workflow's state."""
        return self.workflow.status(self.env.name)

    def last_run(self) -> RunRecord | None:
        """The import workflow's last run, or None."""
        return self.workflow.last_run(self.env.name)

    def confirmation(self, check_id: str) -> Confirmation | None:
        """The manual check's standing confirmation, or None."""
        return get_confirmation(self.store, self.env.name, check_id)


def context_for(
    store: Store,
    env: Environment,
    *,
    box: SecretBox | None = None,
    offline: bool = False,
    probe_timeout: float = 10.0,
    dns: DnsSettings | None = None,
) -> CheckContext:
    """The ``CheckContext`` for ``env``: facts from ``store``, secrets through ``box``."""
    repo = EnvironmentRepo(store, box)

    def secret(owner: Account | DataSource, field_name: str) -> str:
        return resolve_secret(repo.box, env, owner, field_name)

    return CheckContext(
        env=env,
        facts=StoreFacts(store, env, repo),
        secret=secret,
        offline=offline,
        probe_timeout=probe_timeout,
        dns=dns or DnsSettings(),
        fetch_timeout=probe_timeout,
    )


def save_results(
    store: Store, env: str, results: Iterable[CheckResult], *, replace_all: bool = True
) -> None:
    """Keeps the results as the checks' last verdicts, in one transaction.

    ``replace_all`` drops the environment's previous rows first (a full run);
    otherwise only the given checks' rows are replaced (re-running one item).
    """
    rows = [
        (
            env,
            r.id,
            r.status,
            printable_name(r.title),
            printable_name(r.detail),
            printable_name(r.fix),
            clock.iso(r.at or clock.now()),
        )
        for r in results
    ]
    with store.transaction() as conn:
        if replace_all:
            conn.execute("DELETE FROM check_results WHERE env = ?", (env,))
        conn.executemany(
            "INSERT OR REPLACE INTO check_results (env, check_id, status, title, detail, fix, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def last_results(store: Store, env: str) -> list[CheckResult]:
    """The stored verdicts of ``env``, in the checklist's order (unknown IDs dropped)."""
    rows = store.conn.execute(
        "SELECT check_id, status, title, detail, fix, at FROM check_results WHERE env = ?",
        (env,),
    ).fetchall()
    by_id = {row[0]: row for row in rows}
    out: list[CheckResult] = []
    for check_id in CHECK_IDS:
        row = by_id.get(check_id)
        if row is None:
            continue
        _, status, title, detail, fix, at = row
        spec = spec_for(check_id)
        out.append(
            CheckResult(
                check_id, status, title, detail, fix, spec.screen, clock.parse_iso(at), spec.manual
            )
        )
    return out
