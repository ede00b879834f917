"""`audiencectl doctor`: the troubleshooting checklist, headless.

Exit codes: 0 when no check failed, 1 when one did, 2 for a bad store or
environment (raised before any check runs).
"""

from __future__ import annotations

from pathlib import Path

import click

from core.checks import CheckResult, run_checks, summarize
from core.dnscheck import DnsSettings
from core.doctor_report import GLYPH, render_report
from core.errors import ExitCode, InputError
from core.files import write_atomic
from storage.checks import context_for, save_results
from tui.cli import CliState, pass_state


def parse_nameserver(text: str) -> DnsSettings:
    """``IP`` or ``IP:PORT`` (``[v6]:PORT`` for IPv6) into resolver settings."""
    value = text.strip()
    port = 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], text)
    elif value.count(":") == 1:
        host, _, raw = value.partition(":")
        port = _port(raw, text)
    else:
        host = value
    if not host:
        raise InputError(f"--nameserver {text!r} names no server", "e.g. 127.0.0.1 or 10.0.0.2:53")
    return DnsSettings(nameservers=(host,), port=port)


def _port(raw: str, text: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise InputError(f"--nameserver {text!r} has a bad port", "e.g. 127.0.0.1:5353")
    return int(raw)


def human_lines(results: list[CheckResult]) -> list[str]:
    """One line per check with its glyph; the fix under failures and warnings."""
    lines: list[str] = []
    for r in results:
        lines.append(f"{GLYPH[r.status]} {r.status:<4} {r.id:<31} {r.title}")
        if r.status in ("fail", "warn", "skip") and r.detail:
            lines.append(f"      {r.detail}")  # for a skip: why it did not run
        if r.status in ("fail", "warn") and r.fix:
            lines.append(f"      fix: {r.fix}")
    counts = summarize(results)
    lines.append(
        "summary: " + ", ".join(f"{counts[s]} {s}" for s in ("fail", "warn", "pass", "skip"))
    )
    return lines


@click.command("doctor")
@click.option("--offline", is_flag=True, help="Skip network checks (SFTP, DNS, website).")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a Markdown report for a support ticket.",
)
@click.option(
    "--timeout", type=float, default=10.0, show_default=True, help="Seconds per network step."
)
@click.option(
    "--nameserver",
    envvar="AUDIENCECTL_NAMESERVER",
    default="",
    help="DNS server for the tracking check, IP[:PORT] (default: the system's).",
)
@pass_state
def doctor_command(
    state: CliState,
    offline: bool,
    as_json: bool,
    report: Path | None,
    timeout: float,
    nameserver: str,
) -> int:
    """Run the troubleshooting checklist (exit 1 when a check fails)."""
    services = state.services
    env = services.env()
    if timeout <= 0:
        raise InputError("--timeout must be positive", "e.g. --timeout 10")
    dns = parse_nameserver(nameserver) if nameserver else DnsSettings(timeout=min(timeout, 5.0))
    ctx = context_for(
        services.store, env, box=services.box, offline=offline, probe_timeout=timeout, dns=dns
    )
    results = run_checks(ctx)
    save_results(services.store, env.name, results)
    counts = summarize(results)
    if report is not None:
        text = render_report(
            env,
            results,
            request_status=services.repo.request_status(env.name).value,
            offline=offline,
        )
        write_atomic(report, text, what="report")
        if not as_json:
            click.echo(f"wrote {report}", err=True)
    if as_json:
        state.emit_json(
            {
                "environment": env.name,
                "offline": offline,
                "checks": [r.to_json() for r in results],
                "summary": counts,
            }
        )
    else:
        for line in human_lines(results):
            click.echo(line)
    return ExitCode.FINDINGS if counts["fail"] else ExitCode.OK
