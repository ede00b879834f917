"""Probing the accounts (SFTP, Amazon S3, local) stage by stage (docs/reference.md §5),
saving each report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import InputError
from core.hostkeys import HostKeyChanged, HostKeyUnknown
from core.model import Account, Environment, Role
from core.probe import Credentials, ProbeReport, StageResult, probe
from storage import probes
from usecases.access import credentials_for, host_key_check
from usecases.services import Services

DEFAULT_TIMEOUT = 10.0


def not_configured_message(env: Environment, roles: list[Role]) -> str | None:
    """One line naming the missing fields of every account in ``roles``, or None."""
    gaps = []
    for role in roles:
        missing = env.account(role).missing()
        if missing:
            gaps.append(f"{role.value} account ({role.campaign_name}) misses {', '.join(missing)}")
    return "; ".join(gaps) if gaps else None


@dataclass(frozen=True)
class ProbeOutcome:
    """The reports of one probe of several accounts, in the order probed."""

    reports: list[ProbeReport]

    @property
    def host_key_errors(self) -> list[tuple[Role, HostKeyUnknown | HostKeyChanged]]:
        """The accounts whose server's host key is unknown or changed."""
        return [
            (r.role, r.host_key_error)
            for r in self.reports
            if isinstance(r.host_key_error, HostKeyUnknown | HostKeyChanged)
        ]

    @property
    def failed(self) -> bool:
        """True when a stage of any account failed."""
        return any(r.first_failure is not None for r in self.reports)


def probe_account(
    services: Services,
    env: Environment,
    account: Account,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    trust_new_host_key: bool = False,
    credentials: Credentials | None = None,
    on_stage: Callable[[StageResult], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ProbeReport:
    """Probes one account of ``env`` (its secrets resolved here unless ``credentials``
    are given), against the store's pinned host keys; the report is not saved."""
    creds = credentials if credentials is not None else credentials_for(services, env, account)
    return probe(
        account,
        creds,
        host_key_check(services, account, trust_new_host_key),
        timeout=timeout,
        on_stage=on_stage,
        cancelled=cancelled,
    )


def probe_accounts(
    services: Services,
    roles: list[Role],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    trust_new_host_key: bool = False,
    on_report: Callable[[ProbeReport], None] | None = None,
) -> ProbeOutcome:
    """Probes the accounts of ``roles`` in turn and saves every report in the store.

    Raises ``InputError`` naming the missing fields when an account is not configured
    (before anything connects); secrets are resolved before the first connection.
    """
    env = services.env()
    gaps = not_configured_message(env, roles)
    if gaps:
        raise InputError(
            f"cannot probe: the {gaps}",
            "fill them in the console (F4) or in [accounts.*] of the TOML file",
        )
    credentials = {role: credentials_for(services, env, env.account(role)) for role in roles}
    reports: list[ProbeReport] = []
    for role in roles:
        report = probe_account(
            services,
            env,
            env.account(role),
            timeout=timeout,
            trust_new_host_key=trust_new_host_key,
            credentials=credentials[role],
        )
        probes.save(services.store.conn, env.name, report)
        reports.append(report)
        if on_report is not None:
            on_report(report)
    return ProbeOutcome(reports)
