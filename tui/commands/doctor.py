"""`audiencectl doctor`: the troubleshooting checklist, headless.

Exit codes: 0 when no check failed, 1 when one did, 2 for a bad store or
environment (raised before any check runs).
"""

from __future__ import annotations

from pathlib import Path

import click

from core.checks import CheckResult, summarize
from core.doctor_report import GLYPH
from core.errors import ExitCode
from tui.commands._common import CliState, pass_state
from usecases.doctor import run_doctor


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
    result = run_doctor(
        state.services, offline=offline, timeout=timeout, nameserver=nameserver, report=report
    )
    if report is not None and not as_json:
        click.echo(f"wrote {report}", err=True)
    if as_json:
        state.emit_json(result.to_json())
    else:
        for line in human_lines(result.results):
            click.echo(line)
    return ExitCode.FINDINGS if result.failed else ExitCode.OK
