"""The doctor's Markdown report: what an admin attaches to a support ticket.

It describes the environment (secrets only as references or masks), every
check with its evidence and fix, the versions involved and when it was made.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata

from core import clock
from core.checks import CheckResult, spec_for, summarize
from core.model import Account, AccountType, DataSource, Environment, IdType, Transform
from core.text import printable_name

__all__ = ["GLYPH", "render_report", "versions"]

GLYPH = {"pass": "✓", "warn": "!", "fail": "✗", "skip": "-"}
_PACKAGES = ("audiencectl", "paramiko", "cryptography", "textual")


def versions() -> dict[str, str]:
    """Versions of audiencectl, Python and the libraries that matter for support."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _account_line(account: Account) -> str:
    role = account.role
    if not account.configured and account.type is AccountType.SFTP and not account.host:
        return f"- **{role.campaign_name}** ({role.direction}): not configured"
    auth = []
    if account.private_key is not None:
        auth.append(f"key {account.private_key.display()}")
    if account.password is not None:
        auth.append(f"password {account.password.display()}")
    if account.secret_access_key is not None:
        auth.append(f"secret access key {account.secret_access_key.display()}")
    extra = f"; auth: {', '.join(auth)}" if auth else ""
    pin = f"; host key {account.host_key}" if account.host_key else ""
    return f"- **{role.campaign_name}** ({role.direction}): `{account.endpoint}`{extra}{pin}"


def _datasource_row(ds: DataSource) -> str:
    if ds.id_type is IdType.VISITOR:
        ident = "visitor ID"
    else:
        ident = (
            f"declared `{ds.reconciliation_key}`, {ds.transform.value}, channel {ds.channel.value}"
        )
    if ds.transform is Transform.AES:
        key = ds.aes_key.display() if ds.aes_key else "-"
        iv = ds.aes_iv.display() if ds.aes_iv else "-"
        crypto = f"key {key}, IV {iv}, {ds.ciphertext_encoding.value}"
    else:
        crypto = "-"
    dest = (
        "triggers only"
        if ds.triggers_only and ds.destination_id is None
        else (ds.destination_id or "-")
    )
    cells = (ds.label, ds.alias or "-", ds.dpid or "-", dest, ds.priority, ident, crypto)
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_report(
    env: Environment,
    results: Sequence[CheckResult],
    *,
    request_status: str = "",
    offline: bool = False,
    generated_at: datetime | None = None,
    versions_used: dict[str, str] | None = None,
) -> str:
    """The Markdown report of one doctor run (no secret value in it, only masks/references)."""
    at = generated_at or clock.now()
    counts = summarize(results)
    req = env.request
    lines = [
        f"# audiencectl doctor report: {env.name}",
        "",
        f"Generated {clock.iso(at)}" + (" (offline: network checks skipped)" if offline else ""),
        "",
        "Summary: " + ", ".join(f"{counts[s]} {s}" for s in ("fail", "warn", "pass", "skip")),
        "",
        "## Environment",
        "",
        f"- Name: {env.name}",
        f"- Organization: {req.organization or '-'}",
        f"- IMS Org ID: {req.ims_org_id or '-'}",
        f"- Environment: {req.environment}; service: {req.service}; ID type: {req.id_type}",
    ]
    if request_status:
        lines.append(f"- Request status: {request_status}")
    lines += [
        f"- Tracking server: {env.tracking.server or '-'}",
        f"- Website: {env.tracking.website or '-'}"
        + (f" (saved page {env.tracking.website_file})" if env.tracking.website_file else ""),
        f"- Import workflow interval: {env.workflow.interval_minutes} min",
        "",
        "### External accounts",
        "",
        _account_line(env.import_account),
        _account_line(env.export_account),
        "",
        "### Shared data sources",
        "",
    ]
    if env.datasources:
        lines += [
            "| Label | Alias | DPID | Destination | Priority | IDs | AES |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *(_datasource_row(ds) for ds in env.by_priority()),
        ]
    else:
        lines.append("None configured.")
    lines += ["", "## Checks", ""]
    section = ""
    for result in results:
        spec_section = spec_for(result.id).section
        if spec_section != section:
            section = spec_section
            if lines[-1] != "":
                lines.append("")
            lines += [f"### {section}", ""]
        lines.append(
            f"- {GLYPH[result.status]} **{result.status.upper()}** `{result.id}`: {result.title}"
        )
        if result.detail:
            lines.append(f"  - Evidence: {result.detail}")
        if result.fix:
            lines.append(f"  - Fix: {result.fix}")
    lines += ["", "## Versions", ""]
    for name, version in (versions_used or versions()).items():
        lines.append(f"- {name}: {version}")
    lines.append("")
    return "\n".join(printable_name(line) for line in lines)  # names stay on one line
