"""The troubleshooting checklist (docs/reference.md §6), in the order of Adobe's setup page.

Each check is a function of a :class:`CheckRun` returning a :class:`CheckResult`:
a status (``pass|warn|fail|skip``), a short title, the evidence looked at
(``detail``, secrets masked), the fix in plain words and the console screen
where it is fixed. The front end builds a :class:`CheckContext`: the
environment, :class:`Facts` (everything read from the store, implemented in
``storage.checks``), a secrets resolver, whether to stay offline, the probe
timeout, the DNS resolver and the website fetcher. Core never touches SQLite.

One live probe per account is shared by its ``reachable``, ``readable`` and
``writable`` checks within a run. A check that raises unexpectedly becomes a
``fail`` carrying the error's one-line message; a run never crashes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from core import clock
from core.cipher import parse_iv, parse_key
from core.direction import direction_findings
from core.dnscheck import DnsSettings, check_tracking
from core.errors import AudienceError
from core.hostkeys import HostKeyCheck, HostKeyStore, HostKeyUnknown
from core.model import (
    Account,
    AccountType,
    Channel,
    DataSource,
    Environment,
    IdType,
    RequestStatus,
    Role,
    Transform,
)
from core.normalize import normalize_email, normalize_phone
from core.outcomes import EXPLANATIONS, FAILURES, Outcome
from core.probe import Credentials, ProbeReport, probe
from core.secrets import MASK
from core.website import fetch_page, inspect_page, judge, read_page_file
from core.workflow import RunRecord, State, WorkflowStatus, expected_latency, is_overdue

__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "SECTIONS",
    "CheckContext",
    "CheckResult",
    "CheckRun",
    "CheckSpec",
    "CheckStatus",
    "Facts",
    "FixScreen",
    "ProfileFacts",
    "SampleFact",
    "run_checks",
    "scrub",
    "summarize",
]

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

    def to_json(self) -> dict[str, Any]:
        """The contract's ``{"id","status","title","detail","fix"}`` plus ``screen`` and ``at``."""
        return {
            "id": self.id,
            "status": self.status,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
            "screen": self.screen,
            "at": clock.iso(self.at) if self.at else None,
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


SecretResolver = Callable[[Account | DataSource, str], str]
ProbeFn = Callable[..., ProbeReport]
FetchFn = Callable[[str, float], str]


def _default_fetch(url: str, timeout: float) -> str:
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
    return Credentials(
        password=ctx.secret(account, "password") if account.password else "",
        private_key=ctx.secret(account, "private_key") if account.private_key else "",
        passphrase=(
            ctx.secret(account, "private_key_passphrase") if account.private_key_passphrase else ""
        ),
    )


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


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _run_one(spec: CheckSpec, run: CheckRun) -> CheckResult:
    try:
        verdict = spec.fn(run)
    except AudienceError as exc:
        verdict = Verdict("fail", exc.message, exc.hint)
    except Exception as exc:  # a check reports, it never crashes the run
        verdict = Verdict(
            "fail", f"the check itself failed: {_one_line(exc)}", "please report this as a bug"
        )
    return CheckResult(
        spec.id, verdict.status, spec.title, verdict.detail, verdict.fix, spec.screen, clock.now()
    )


def run_checks(
    ctx: CheckContext,
    only: Iterable[str] | None = None,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[CheckResult]:
    """Runs the checks (all, or those in ``only``) in the checklist's order.

    ``on_result`` is called after each check; ``cancelled`` is asked before each
    one (and inside probes): once it says True the run stops and returns what
    it has. Every result is scrubbed of the environment's secret values.
    """
    wanted = set(only) if only is not None else None
    if wanted is not None:
        unknown = wanted - set(CHECK_IDS)
        if unknown:
            raise ValueError(f"unknown check IDs: {', '.join(sorted(unknown))}")
    run = CheckRun(ctx, cancelled)
    secrets = known_secrets(ctx)
    results: list[CheckResult] = []
    for spec in CHECKS:
        if wanted is not None and spec.id not in wanted:
            continue
        if cancelled is not None and cancelled():
            break
        result = scrub(_run_one(spec, run), secrets)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


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
    counts = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result.status] += 1
    return counts


def _worst(statuses: Iterable[CheckStatus]) -> CheckStatus:
    found = list(statuses)
    if not found:
        return "skip"
    return max(found, key=lambda s: _RANK[s])


# ----------------------------------------------------------------------- the checks


def check_request(run: CheckRun) -> Verdict:
    request = run.env.request
    missing = request.missing()
    if missing:
        return Verdict(
            "fail",
            "the provisioning request is missing " + ", ".join(missing),
            "fill the organization and IMS Org ID (F3), then send the request to Adobe",
        )
    status = run.ctx.facts.request_status()
    what = (
        f"{request.organization}, {request.ims_org_id}, {request.environment}, "
        f"{request.service}, {request.id_type}; status {status.value}"
    )
    if status is RequestStatus.DRAFT:
        return Verdict(
            "warn",
            f"{what}: not sent yet",
            "send the request (F3: Copy email or Save .eml), then "
            "`audiencectl request status sent`",
        )
    if status is RequestStatus.SENT:
        return Verdict(
            "warn",
            f"{what}: waiting for Adobe to provision",
            "when Adobe answers with the accounts, alias and destination ID, "
            "`audiencectl request status provisioned`",
        )
    return Verdict("pass", what)


def _auth_text(account: Account) -> str:
    parts = []
    if account.private_key is not None:
        parts.append(f"key {account.private_key.display()}")
    if account.password is not None:
        parts.append(f"password {account.password.display()}")
    return " + ".join(parts) or "no credential"


def _configured(role: Role) -> CheckFn:
    def check(run: CheckRun) -> Verdict:
        account = run.env.account(role)
        name = role.campaign_name
        missing = account.missing()
        if missing:
            return Verdict(
                "fail",
                f"{name} ({role.direction}) is missing {', '.join(missing)}",
                f"enter the {role.value} account Adobe sent (F4), or a local folder for "
                "offline work",
            )
        if account.type is AccountType.LOCAL:
            return Verdict("pass", f"{name}: local folder {account.path} (offline work)")
        creds = credentials(run.ctx, account)  # SecretError becomes a fail with its hint
        if creds.private_key:
            creds.load_private_key()
        detail = f"{name}: {account.endpoint}, auth {_auth_text(account)}"
        if account.host_key:
            detail += f", host key pinned {account.host_key}"
        if account.private_key is None:
            detail += " (Adobe recommends keys: passwords expire)"
        return Verdict("pass", detail)

    return check


def _probe_gate(run: CheckRun, role: Role) -> Verdict | ProbeReport:
    account = run.env.account(role)
    if not account.configured:
        return Verdict(
            "skip",
            f"{role.campaign_name} is not configured",
            f"configure the {role.value} account first (F4)",
        )
    if run.ctx.offline and account.type is not AccountType.LOCAL:
        return Verdict(
            "skip",
            f"offline: {account.endpoint} was not contacted",
            f"run without --offline, or `audiencectl probe {role.value}`",
        )
    return run.probe(role)


def _stage_verdict(
    report: ProbeReport, account: Account, names: Sequence[str], what: str
) -> Verdict:
    stages = [s for s in report.stages if s.name in names]
    if report.cancelled:
        return Verdict("skip", "cancelled before the probe finished", "run the check again")
    for stage in stages:
        if stage.status == "fail":
            fix = stage.hint or "see `audiencectl probe` for details"
            if isinstance(report.host_key_error, HostKeyUnknown) and stage.name == "hostkey":
                fix = (
                    "confirm the fingerprint with Adobe, then pin it: "
                    "`audiencectl probe --trust-new-host-key` (or set host_key in the "
                    "configuration)"
                )
            return Verdict("fail", f"{stage.name} failed: {stage.detail}", fix)
        if stage.status == "skip" and stage.detail.startswith("not run"):
            earlier = report.first_failure
            reason = f"{earlier.name} failed" if earlier else "an earlier stage failed"
            return Verdict("skip", f"not checked: {reason}", "fix the connection first")
    ran = [s for s in stages if s.status in ("pass", "warn")]
    if account.type is AccountType.LOCAL and not ran:
        return Verdict("pass", f"{account.endpoint}: a local folder, no network involved")
    evidence = "; ".join(f"{s.name}: {s.detail}" for s in ran if s.detail)
    warns = [s for s in ran if s.status == "warn"]
    if warns:
        return Verdict(
            "warn", f"{what} with warnings: {evidence}", warns[0].hint or "see the probe"
        )
    return Verdict("pass", f"{account.endpoint}: {evidence}")


_REACH = ("dns", "tcp", "banner", "hostkey", "auth")


def _reachable(role: Role) -> CheckFn:
    def check(run: CheckRun) -> Verdict:
        gate = _probe_gate(run, role)
        if isinstance(gate, Verdict):
            return gate
        return _stage_verdict(gate, run.env.account(role), _REACH, "reachable")

    return check


def _folder_access(role: Role) -> CheckFn:
    last = "read" if role is Role.IMPORT else "write"

    def check(run: CheckRun) -> Verdict:
        gate = _probe_gate(run, role)
        if isinstance(gate, Verdict):
            return gate
        account = run.env.account(role)
        return _stage_verdict(gate, account, ("sftp", "list", last), f"{last}able")

    return check


def check_direction(run: CheckRun) -> Verdict:
    findings = direction_findings(run.env)
    imp, exp = run.env.import_account, run.env.export_account
    where = (
        f"import {imp.endpoint if imp.configured else '(not set)'}; "
        f"export {exp.endpoint if exp.configured else '(not set)'}"
    )
    if not findings:
        return Verdict("pass", f"{where}: distinct, pointed the right way, no deprecated host")
    status: CheckStatus = "fail" if any(f.level == "fail" for f in findings) else "warn"
    return Verdict(
        status,
        " | ".join(f.message for f in findings),
        " | ".join(dict.fromkeys(f.fix for f in findings)),
    )


def _ds_summary(ds: DataSource) -> str:
    dest = (
        "triggers only"
        if ds.triggers_only and ds.destination_id is None
        else (f"destination {ds.destination_id or '-'}")
    )
    return f"{ds.label}: alias {ds.alias or '-'}, DPID {ds.dpid or '-'}, {dest}"


def _no_datasources() -> Verdict:
    return Verdict(
        "fail",
        "no shared data source is configured",
        "add the data source with the alias and AAM destination ID Adobe sent (F5)",
    )


def check_datasource_configured(run: CheckRun) -> Verdict:
    sources = run.env.datasources
    if not sources:
        return _no_datasources()
    gaps = [(ds, ds.missing()) for ds in sources]
    bad = [(ds, missing) for ds, missing in gaps if missing]
    if bad:
        text = "; ".join(f"{ds.label} is missing {', '.join(m)}" for ds, m in bad)
        return Verdict(
            "fail",
            text,
            "enter the Data Source / Alias, the DPID and the AAM destination ID Adobe sent "
            "(F5); the destination ID may stay empty only for a Triggers-only data source",
        )
    return Verdict("pass", "; ".join(_ds_summary(ds) for ds in sources))


def check_priority(run: CheckRun) -> Verdict:
    sources = run.env.datasources
    if not sources:
        return Verdict("skip", "no data source", "add one first (F5)")
    clashes = [
        f"{', '.join(repr(x) for x in labels)} share alias {alias or '(no alias)'!r} and "
        f"priority {priority}"
        for alias, priority, labels in run.env.priority_clashes()
    ]
    order = ", ".join(f"{ds.label} ({ds.priority})" for ds in run.env.by_priority())
    if clashes:
        return Verdict(
            "fail",
            "; ".join(clashes) + ": which one matches first is undefined",
            "give the preferred data source a higher priority (F5): priority decides which "
            "data source matches an alias first",
        )
    return Verdict("pass", f"matched in this order: {order}")


def _declared(run: CheckRun) -> list[DataSource]:
    return [ds for ds in run.env.datasources if ds.id_type is IdType.DECLARED]


def check_reconciliation_key(run: CheckRun) -> Verdict:
    sources = run.env.datasources
    if not sources:
        return Verdict("skip", "no data source", "add one first (F5)")
    stats = run.ctx.facts.profiles()
    if stats.count == 0:
        return Verdict(
            "warn",
            "no profiles are loaded, so the reconciliation keys cannot be checked",
            "load the profile dimension: `audiencectl profiles load FILE.csv "
            "[--visitors FILE.csv]` (F6)",
        )
    parts: list[str] = []
    statuses: list[CheckStatus] = []
    fixes: list[str] = []
    for ds in sources:
        if ds.id_type is IdType.VISITOR:
            if stats.visitors == 0:
                statuses.append("fail")
                parts.append(f"{ds.label}: visitor IDs, but the visitor map is not loaded")
                fixes.append(
                    "load the visitor-ID map (profile_id,visitor_id from the tracking logs): "
                    "`audiencectl profiles load FILE.csv --visitors VISITORS.csv`"
                )
            else:
                statuses.append("pass")
                parts.append(f"{ds.label}: visitor map has {stats.visitors:,} links")
            continue
        column = ds.reconciliation_key
        if column not in stats.columns:
            statuses.append("fail")
            parts.append(
                f"{ds.label}: column {column!r} is not in the profiles "
                f"(columns: {', '.join(stats.columns)})"
            )
            fixes.append(
                f"set {ds.label}'s reconciliation key to a loaded column (F5), or load profiles "
                f"that have {column!r}"
            )
            continue
        empty = run.ctx.facts.empty_count(column)
        share = empty / stats.count
        parts.append(f"{ds.label}: {column!r} is empty for {empty:,} of {stats.count:,} profiles")
        if share > 0.5:
            statuses.append("fail")
            fixes.append(
                f"most profiles have no {column!r}: they can never reconcile; choose a filled "
                "column or fill it"
            )
        elif share > 0.1:
            statuses.append("warn")
            fixes.append(f"{empty:,} profiles without {column!r} will never reconcile")
        else:
            statuses.append("pass")
    return Verdict(_worst(statuses), "; ".join(parts), " | ".join(fixes))


def _key_text(ds: DataSource, field_name: str) -> str:
    secret = getattr(ds, field_name)
    return secret.display() if secret is not None else "-"


def check_encryption(run: CheckRun) -> Verdict:
    declared = _declared(run)
    aes = [ds for ds in declared if ds.transform is Transform.AES]
    others = [f"{ds.label}: {ds.transform.value}" for ds in declared if ds not in aes]
    if not aes:
        what = "; ".join(others) if others else "no declared-ID data source"
        return Verdict("skip", f"no data source uses AES ({what})")
    parts: list[str] = []
    fixes: list[str] = []
    failed = False
    for ds in aes:
        try:
            key = parse_key(run.ctx.secret(ds, "aes_key"))
            iv = parse_iv(run.ctx.secret(ds, "aes_iv"))
        except AudienceError as exc:
            failed = True
            parts.append(f"{ds.label}: {exc.message}")
            fixes.append(exc.hint or "check the key and IV (F5)")
            continue
        parts.append(
            f"{ds.label}: AES-{len(key) * 8}-CBC key {_key_text(ds, 'aes_key')}, "
            f"IV {len(iv)} bytes {_key_text(ds, 'aes_iv')}, ciphertext "
            f"{ds.ciphertext_encoding.value}"
        )
    parts.extend(others)
    return Verdict("fail" if failed else "pass", "; ".join(parts), " | ".join(fixes))


def check_channel(run: CheckRun) -> Verdict:
    declared = _declared(run)
    if not declared:
        return Verdict("skip", "no declared-ID data source: the channel does not apply")
    stats = run.ctx.facts.profiles()
    parts: list[str] = []
    statuses: list[CheckStatus] = []
    fixes: list[str] = []
    for ds in declared:
        if ds.channel is Channel.OTHER:
            statuses.append("pass")
            parts.append(f"{ds.label}: channel Other, {ds.reconciliation_key!r} compared as is")
            continue
        if stats.count == 0 or ds.reconciliation_key not in stats.columns:
            statuses.append("skip")
            parts.append(
                f"{ds.label}: no loaded profile column {ds.reconciliation_key!r} to sample"
            )
            continue
        values = run.ctx.facts.column_sample(ds.reconciliation_key, CHANNEL_SAMPLE)
        if not values:
            statuses.append("skip")
            parts.append(f"{ds.label}: {ds.reconciliation_key!r} has no value to sample")
            continue
        fits = normalize_email if ds.channel is Channel.EMAIL else normalize_phone
        what = "email addresses" if ds.channel is Channel.EMAIL else "phone numbers"
        good = sum(1 for v in values if fits(v) is not None)
        share = good / len(values)
        parts.append(
            f"{ds.label}: channel {ds.channel.value}, {good} of {len(values)} sampled values of "
            f"{ds.reconciliation_key!r} are {what} ({share:.0%})"
        )
        if share < 0.5:
            statuses.append("fail")
            fixes.append(
                f"{ds.label}: the channel must match the reconciliation key: pick the column "
                f"holding {what}, or set the channel to Other (F5)"
            )
        elif share < 0.9:
            statuses.append("warn")
            fixes.append(f"{ds.label}: clean the values that are not {what}; they cannot match")
        else:
            statuses.append("pass")
    status = _worst(statuses)
    if status == "skip" and not fixes:
        fixes.append("load profiles: `audiencectl profiles load FILE.csv`")
    return Verdict(status, "; ".join(parts), " | ".join(fixes))


def check_website_sample(run: CheckRun) -> Verdict:
    declared = [ds for ds in _declared(run) if ds.transform is not Transform.NONE]
    if not declared:
        return Verdict("skip", "no data source hashes or encrypts declared IDs")
    parts: list[str] = []
    statuses: list[CheckStatus] = []
    fixes: list[str] = []
    for ds in declared:
        sample = run.ctx.facts.last_sample(ds.label)
        if sample is None:
            statuses.append("skip")
            parts.append(f"{ds.label}: no website sample checked yet")
            fixes.append(
                "capture a value the website sends (its clear text and the encrypted or "
                f"hashed ID) and run `audiencectl crypto diagnose --datasource {ds.label!r} "
                "--clear VALUE --sample VALUE` (or F5 > Website check)"
            )
            continue
        when = clock.iso(sample.at)
        if sample.diagnosis == "ok":
            statuses.append("pass")
            parts.append(f"{ds.label}: the sample of {when} matches ({sample.detail})")
        else:
            statuses.append("fail")
            parts.append(f"{ds.label}: the sample of {when} differs: {sample.diagnosis}")
            fixes.append(sample.detail or "see `audiencectl crypto diagnose`")
    return Verdict(_worst(statuses), "; ".join(parts), " | ".join(fixes))


def _latency_text(run: CheckRun) -> str:
    latency = expected_latency(run.env.workflow.interval_minutes, clock.now())
    return "; ".join(latency.lines())


def check_workflow(run: CheckRun) -> Verdict:
    facts = run.ctx.facts
    status = facts.workflow_status()
    last = facts.last_run()
    interval = run.env.workflow.interval_minutes
    since = clock.iso(status.changed_at)
    last_text = f"last run {clock.iso(last.started_at)} ({last.status})" if last else "never run"
    base = f"Import shared audience workflow {status.state.value} since {since}, {last_text}"
    latency = _latency_text(run)
    if status.state in (State.PAUSED, State.STOPPED, State.FAILED):
        error = f"; last error: {status.last_error}" if status.last_error else ""
        return Verdict(
            "fail",
            f"{base}{error}. Audiences are not shared while it is {status.state.value}",
            "fix the cause, then resume it: `r` on the Workflow tab of Audiences (F6), "
            "or `audiencectl import resume`",
        )
    if status.state is State.IDLE:
        return Verdict(
            "warn",
            f"{base}: it was never started. {latency}",
            "start it: `audiencectl import resume` then `audiencectl import run` (F6)",
        )
    if is_overdue(status, last, interval, clock.now()):
        return Verdict(
            "warn",
            f"{base}: no run within twice its {interval} min interval. {latency}",
            "check that the scheduler runs `audiencectl import run` (cron, systemd timer)",
        )
    return Verdict("pass", f"{base}, every {interval} min. {latency}")


def check_unreconciled(run: CheckRun) -> Verdict:
    last = run.ctx.facts.last_run()
    if last is None:
        return Verdict(
            "skip",
            "no import run yet",
            "run the import (`audiencectl import run --once`) or a dry run on an audience file",
        )
    counted = last.records - last.duplicates
    if counted <= 0:
        return Verdict(
            "skip",
            f"the last run ({clock.iso(last.started_at)}, {last.status}) counted no record",
            "wait for AAM's next delivery (daily, about 14:00 UTC)",
        )
    rate = last.match_rate
    failures = sorted(
        (
            (Outcome(k), v)
            for k, v in last.outcomes.items()
            if k in {o.value for o in FAILURES} and v > 0
        ),
        key=lambda kv: -kv[1],
    )[:3]
    head = (
        f"last run {clock.iso(last.started_at)}: {last.reconciled:,} of {counted:,} IDs "
        f"reconciled ({rate:.1%})"
    )
    if failures:
        head += "; top: " + "; ".join(
            f"{outcome.value} {count:,} ({EXPLANATIONS[outcome][0]})" for outcome, count in failures
        )
    fix = " | ".join(f"{o.value}: {EXPLANATIONS[o][1]}" for o, _ in failures)
    if rate < 0.5:
        return Verdict("fail", head, fix or "check the data source settings")
    if rate < 0.9:
        return Verdict("warn", head, fix)
    return Verdict("pass", head, fix)


def check_tracking_cname(run: CheckRun) -> Verdict:
    tracking = run.env.tracking
    if not tracking.server:
        return Verdict(
            "fail",
            "no tracking server is configured",
            "set [tracking] server to the Campaign tracking subdomain (e.g. t.news.example.com)",
        )
    if run.ctx.offline:
        return Verdict(
            "skip",
            f"offline: DNS was not asked about {tracking.server}",
            "run without --offline to check the delegation",
        )
    verdict = check_tracking(tracking.server, tracking.website, run.ctx.dns)
    return Verdict(verdict.status, verdict.detail, verdict.fix)


def check_visitor_id(run: CheckRun) -> Verdict:
    tracking = run.env.tracking
    if not tracking.website and not tracking.website_file:
        return Verdict(
            "fail",
            "no website is configured",
            "set [tracking] website (or website_file, a saved page, for offline checks)",
        )
    if tracking.website and not run.ctx.offline:
        html = run.ctx.fetch(tracking.website, run.ctx.fetch_timeout)
        source = tracking.website
    elif tracking.website_file:
        html = read_page_file(tracking.website_file)
        source = f"saved page {tracking.website_file}"
    else:
        return Verdict(
            "skip",
            f"offline: {tracking.website} was not fetched",
            "run without --offline, or save the page and set tracking.website_file",
        )
    needs_declared = any(ds.id_type is IdType.DECLARED for ds in run.env.datasources)
    verdict = judge(inspect_page(html), run.env.request.ims_org_id, needs_declared, source)
    return Verdict(verdict.status, verdict.detail, verdict.fix)


# ------------------------------------------------------------------------ registry

#: The checklist's sections, in the order of Adobe's setup page (docs/adobe.md).
SECTIONS: tuple[str, ...] = (
    "Provisioning request",
    "External accounts",
    "Shared data sources",
    "Import workflow",
    "Data",
    "Tracking server",
    "Website",
)

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        "request.complete",
        "Provisioning request filled and sent",
        SECTIONS[0],
        "request",
        check_request,
    ),
    CheckSpec(
        "account.import.configured",
        "Import account configured",
        SECTIONS[1],
        "accounts",
        _configured(Role.IMPORT),
    ),
    CheckSpec(
        "account.import.reachable",
        "Import account reachable",
        SECTIONS[1],
        "accounts",
        _reachable(Role.IMPORT),
    ),
    CheckSpec(
        "account.import.readable",
        "Import folder readable",
        SECTIONS[1],
        "accounts",
        _folder_access(Role.IMPORT),
    ),
    CheckSpec(
        "account.export.configured",
        "Export account configured",
        SECTIONS[1],
        "accounts",
        _configured(Role.EXPORT),
    ),
    CheckSpec(
        "account.export.reachable",
        "Export account reachable",
        SECTIONS[1],
        "accounts",
        _reachable(Role.EXPORT),
    ),
    CheckSpec(
        "account.export.writable",
        "Export folder writable",
        SECTIONS[1],
        "accounts",
        _folder_access(Role.EXPORT),
    ),
    CheckSpec(
        "account.direction",
        "Accounts pointed the right way",
        SECTIONS[1],
        "accounts",
        check_direction,
    ),
    CheckSpec(
        "datasource.configured",
        "Data sources: alias, DPID, destination",
        SECTIONS[2],
        "datasources",
        check_datasource_configured,
    ),
    CheckSpec(
        "datasource.priority",
        "Data source priorities distinct",
        SECTIONS[2],
        "datasources",
        check_priority,
    ),
    CheckSpec(
        "datasource.reconciliation_key",
        "Reconciliation key filled in profiles",
        SECTIONS[2],
        "datasources",
        check_reconciliation_key,
    ),
    CheckSpec(
        "datasource.encryption",
        "AES key and IV valid",
        SECTIONS[2],
        "datasources",
        check_encryption,
    ),
    CheckSpec(
        "datasource.channel",
        "Channel fits the reconciliation key",
        SECTIONS[2],
        "datasources",
        check_channel,
    ),
    CheckSpec(
        "datasource.website_sample",
        "Website sample matches",
        SECTIONS[2],
        "datasources",
        check_website_sample,
    ),
    CheckSpec(
        "workflow.import", "Import workflow running", SECTIONS[3], "audiences", check_workflow
    ),
    CheckSpec(
        "data.unreconciled", "Last import reconciled", SECTIONS[4], "audiences", check_unreconciled
    ),
    CheckSpec(
        "tracking.cname",
        "Tracking server delegated (CNAME/NS)",
        SECTIONS[5],
        "checklist",
        check_tracking_cname,
    ),
    CheckSpec(
        "website.visitor_id",
        "Visitor ID service on the website",
        SECTIONS[6],
        "checklist",
        check_visitor_id,
    ),
)

CHECK_IDS: tuple[str, ...] = tuple(spec.id for spec in CHECKS)
_BY_ID = {spec.id: spec for spec in CHECKS}


def spec_for(check_id: str) -> CheckSpec:
    """The check's spec (title, section, screen); ``KeyError`` for an unknown ID."""
    return _BY_ID[check_id]
