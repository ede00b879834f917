"""The external account checks: configured, reachable, folder access, direction."""

from __future__ import annotations

from collections.abc import Sequence

from core.checks.base import (
    CheckFn,
    CheckRun,
    CheckStatus,
    Verdict,
    credentials,
)
from core.direction import direction_findings
from core.errors import AudienceError
from core.hostkeys import HostKeyUnknown
from core.model import (
    Account,
    AccountType,
    Role,
)
from core.probe import ProbeReport
from core.s3 import masked_key_id


def _auth_text(account: Account) -> str:
    parts = []
    if account.private_key is not None:
        parts.append(f"key {account.private_key.display()}")
    if account.password is not None:
        parts.append(f"password {account.password.display()}")
    if account.secret_access_key is not None:
        parts.append(
            f"key ID {masked_key_id(account.access_key_id)} + secret "
            f"{account.secret_access_key.display()}"
        )
    return " + ".join(parts) or "no credential"


def configured_check(role: Role) -> CheckFn:
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


_REACH = ("dns", "tcp", "banner", "hostkey", "tls", "auth")  # SFTP's and S3's stages


def reachable_check(role: Role) -> CheckFn:
    def check(run: CheckRun) -> Verdict:
        gate = _probe_gate(run, role)
        if isinstance(gate, Verdict):
            return gate
        return _stage_verdict(gate, run.env.account(role), _REACH, "reachable")

    return check


def folder_access_check(role: Role) -> CheckFn:
    last = "read" if role is Role.IMPORT else "write"

    def check(run: CheckRun) -> Verdict:
        gate = _probe_gate(run, role)
        if isinstance(gate, Verdict):
            return gate
        account = run.env.account(role)
        return _stage_verdict(gate, account, ("sftp", "bucket", "list", last), f"{last}able")

    return check


def _seen(run: CheckRun, role: Role) -> list[str] | None:
    """The names in the account's folder: a local folder is listed here (no network),
    a remote one by this run's shared probe (online only); None when unknown."""
    account = run.env.account(role)
    if not account.configured:
        return None
    if account.type is not AccountType.LOCAL and run.ctx.offline:
        return None
    try:
        report = run.probe(role)
    except AudienceError:  # an unresolvable credential: account.*.configured says so
        return None
    listed = report.stage("list")
    return list(report.seen) if listed is not None and listed.status == "pass" else None


def check_direction(run: CheckRun) -> Verdict:
    """docs/adobe.md ("Who sends what to whom"): the files in each folder decide the
    direction; folder words are only notes; identical endpoints fail."""
    seen = {role: names for role in Role if (names := _seen(run, role))}
    findings = direction_findings(run.env, seen)
    imp, exp = run.env.import_account, run.env.export_account
    where = (
        f"import {imp.endpoint if imp.configured else '(not set)'}; "
        f"export {exp.endpoint if exp.configured else '(not set)'}"
    )
    notes = [f for f in findings if f.level == "note"]
    problems = [f for f in findings if f.level != "note"]
    note_text = "".join(f" | note: {f.message}" for f in notes)
    if not problems:
        basis = (
            "the files in the folders agree"
            if any(f.code == "confirmed" for f in notes)
            else "distinct, no file says otherwise"
        )
        return Verdict("pass", f"{where}: {basis}, no deprecated host{note_text}")
    status: CheckStatus = "fail" if any(f.level == "fail" for f in problems) else "warn"
    return Verdict(
        status,
        " | ".join(f.message for f in problems) + note_text,
        " | ".join(dict.fromkeys(f.fix for f in problems)),
    )
