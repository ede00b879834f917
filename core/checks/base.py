"""What every check shares: the result and context types, one run, scrubbing, the summary.

A check is a function of a :class:`CheckRun` returning a :class:`Verdict`; the
registry (``core.checks.registry``) adds its ID, title, section and screen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from core import clock
from core.dnscheck import DnsSettings
from core.errors import AudienceError
from core.hostkeys import HostKeyCheck, HostKeyStore
from core.model import (
    Account,
    DataSource,
    Environment,
    RequestStatus,
    Role,
)
from core.probe import Credentials, ProbeReport, probe
from core.secrets import MASK
from core.text import printable_name
from core.website import Page, fetch_page
from core.workflow import RunRecord, WorkflowStatus

CheckStatus = Literal["pass", "warn", "fail", "skip"]
FixScreen = Literal["request", "accounts", "datasources", "audiences", "checklist"]
STATUSES: tuple[CheckStatus, ...] = ("pass", "warn", "fail", "skip")
_RANK = {"pass": 0, "skip": 1, "warn": 2, "fail": 3}

#: How many profile values the channel check samples.
CHANNEL_SAMPLE = 200


# ------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict. ``detail`` is the evidence (never a secret), ``fix`` what to do,
    ``screen`` the console mode that fixes it, ``at`` when it was checked."""

    id: str
    status: CheckStatus
    title: str
    detail: str
    fix: str = ""
    screen: FixScreen = "checklist"
    at: datetime | None = None
    manual: bool = False

    def to_json(self) -> dict[str, Any]:
        """``{"id","status","title","detail","fix","screen","at","manual"}``
        (docs/reference.md §6); ``manual`` is true for a step a person confirms."""
        return {
            "id": self.id,
            "status": self.status,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
            "screen": self.screen,
            "at": clock.iso(self.at) if self.at else None,
            "manual": self.manual,
        }


@dataclass(frozen=True)
class ProfileFacts:
    """The loaded profile dimension: how many profiles, their columns, visitor-map links."""

    count: int
    columns: tuple[str, ...]
    visitors: int


@dataclass(frozen=True)
class SampleFact:
    """The last website sample checked for a data source (``diagnosis`` ``ok`` = match)."""

    diagnosis: str
    detail: str
    at: datetime


@dataclass(frozen=True)
class Confirmation:
    """A person's confirmation of a manual check: who (OS user), when, their note, and the
    fingerprint of the configuration it concerned then (``core.checks.manual``)."""

    check_id: str
    who: str
    at: datetime
    note: str
    fingerprint: str


class Facts(Protocol):
    """Everything the checks read from the store (``storage.checks.StoreFacts``)."""

    def request_status(self) -> RequestStatus:
        """The provisioning request's current status."""
        ...

    def host_keys(self) -> HostKeyStore:
        """The pinned SSH host keys."""
        ...

    def record_probe(self, report: ProbeReport) -> None:
        """Keeps a probe report (so the accounts screen and home show it)."""
        ...

    def profiles(self) -> ProfileFacts:
        """Counts and columns of the loaded profiles."""
        ...

    def empty_count(self, column: str) -> int:
        """Profiles whose ``column`` is empty (the column exists)."""
        ...

    def column_sample(self, column: str, limit: int) -> list[str]:
        """Up to ``limit`` non-empty values of ``column`` (the column exists)."""
        ...

    def last_sample(self, datasource: str) -> SampleFact | None:
        """The data source's last website sample, or None."""
        ...

    def workflow_status(self) -> WorkflowStatus:
        """The import workflow's state."""
        ...

    def last_run(self) -> RunRecord | None:
        """The import workflow's last run, or None."""
        ...

    def confirmation(self, check_id: str) -> Confirmation | None:
        """The standing confirmation of a manual check, or None."""
        ...


SecretResolver = Callable[[Account | DataSource, str], str]
ProbeFn = Callable[..., ProbeReport]
FetchFn = Callable[[str, float], Page]


def _default_fetch(url: str, timeout: float) -> Page:
    return fetch_page(url, timeout=timeout)


@dataclass
class CheckContext:
    """What a run needs, built by the front end (CLI or console)."""

    env: Environment
    facts: Facts
    secret: SecretResolver
    offline: bool = False
    probe_timeout: float = 10.0
    dns: DnsSettings = field(default_factory=DnsSettings)
    fetch: FetchFn = _default_fetch
    fetch_timeout: float = 10.0
    probe_fn: ProbeFn = probe


# -------------------------------------------------------------------------- the run


class CheckRun:
    """One pass over some checks: shares the probe reports between the account checks."""

    def __init__(self, ctx: CheckContext, cancelled: Callable[[], bool] | None = None) -> None:
        self.ctx = ctx
        self.cancelled = cancelled
        self._probes: dict[Role, ProbeReport] = {}
        self._lock = threading.Lock()

    @property
    def env(self) -> Environment:
        return self.ctx.env

    def probe(self, role: Role) -> ProbeReport:
        """The account's probe report, run once per run (kept in the store too)."""
        with self._lock:
            if role not in self._probes:
                account = self.env.account(role)
                creds = credentials(self.ctx, account)
                hostkeys = HostKeyCheck(
                    self.ctx.facts.host_keys(), trust_new=False, pinned_from_config=account.host_key
                )
                report = self.ctx.probe_fn(
                    account,
                    creds,
                    hostkeys,
                    timeout=self.ctx.probe_timeout,
                    cancelled=self.cancelled,
                )
                self._probes[role] = report
                if not report.cancelled:
                    self.ctx.facts.record_probe(report)
            return self._probes[role]


def credentials(ctx: CheckContext, account: Account) -> Credentials:
    """The account's resolved credentials (``SecretError`` when a reference fails)."""
    return Credentials.of(account, lambda name: ctx.secret(account, name))


CheckFn = Callable[[CheckRun], "Verdict"]


@dataclass(frozen=True)
class Verdict:
    """What a check function returns; the spec adds id, title and screen."""

    status: CheckStatus
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    section: str
    screen: FixScreen
    fn: CheckFn
    manual: bool = False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_one(spec: CheckSpec, run: CheckRun) -> CheckResult:
    try:
        verdict = spec.fn(run)
    except AudienceError as exc:
        verdict = Verdict("fail", exc.message, exc.hint)
    except Exception as exc:  # a check reports, it never crashes the run
        verdict = Verdict(
            "fail", f"the check itself failed: {_one_line(exc)}", "please report this as a bug"
        )
    return CheckResult(
        spec.id,
        verdict.status,
        spec.title,
        verdict.detail,
        verdict.fix,
        spec.screen,
        clock.now(),
        spec.manual,
    )


def known_secrets(ctx: CheckContext) -> list[str]:
    """Every secret value of the environment that resolves (for scrubbing output)."""
    values: list[str] = []
    owners: list[tuple[Account | DataSource, tuple[str, ...]]] = [
        (ctx.env.import_account, ("password", "private_key", "private_key_passphrase")),
        (ctx.env.export_account, ("password", "private_key", "private_key_passphrase")),
        *((ds, ("aes_key", "aes_iv")) for ds in ctx.env.datasources),
    ]
    for owner, names in owners:
        for name in names:
            if getattr(owner, name) is None:
                continue
            try:
                value = ctx.secret(owner, name)
            except Exception:
                continue
            if len(value.strip()) >= 4:
                values.append(value)
                values.append(value.strip())
    return sorted(set(values), key=len, reverse=True)


def printable_result(result: CheckResult) -> CheckResult:
    """``result`` with names from files and configuration escaped (control characters,
    bytes that are not UTF-8): safe to print, store and put in a report."""
    return replace(
        result,
        title=printable_name(result.title),
        detail=printable_name(result.detail),
        fix=printable_name(result.fix),
    )


def scrub(result: CheckResult, secrets: Sequence[str]) -> CheckResult:
    """The result with every occurrence of a secret value replaced by the mask."""
    detail, fix, title = result.detail, result.fix, result.title
    for value in secrets:
        if value and (value in detail or value in fix or value in title):
            detail = detail.replace(value, MASK)
            fix = fix.replace(value, MASK)
            title = title.replace(value, MASK)
    if (detail, fix, title) == (result.detail, result.fix, result.title):
        return result
    return replace(result, detail=detail, fix=fix, title=title)


def summarize(results: Iterable[CheckResult]) -> dict[str, int]:
    """Counts per status, every status present (``{"pass": n, "warn": n, ...}``)."""
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result.status] += 1
    return counts


def worst(statuses: Iterable[CheckStatus]) -> CheckStatus:
    found = list(statuses)
    if not found:
        return "skip"
    return max(found, key=lambda s: _RANK[s])
