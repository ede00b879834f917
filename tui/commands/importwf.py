"""`audiencectl import run|status|pause|resume|stop`: the Import shared audience workflow.

The work is done by ``usecases.importwf``; these commands parse and print.
"""

from __future__ import annotations

import click

from core import clock
from core.errors import ExitCode
from core.workflow import LEFT_OUT_STATUSES, PassEvent, PassReport, ProgressFn
from tui.commands._common import CliState, pass_state
from usecases.importwf import ImportStatus, change_state, import_status, run_import_loop

# ----------------------------------------------------------------------- commands


@click.group("import")
def import_group() -> None:
    """The Import shared audience workflow (AAM -> Campaign)."""


def _printer(quiet: bool) -> ProgressFn:
    def show(event: PassEvent) -> None:
        if quiet or event.stage == "progress":
            return
        click.echo(f"[{event.stage}] {event.message}", err=True)

    return show


def _report_lines(report: PassReport) -> list[str]:
    lines = [
        f"run {report.run_id}: {report.status}"
        + (
            f": {report.batches} batch(es), {report.files} file(s), {report.records} record(s), "
            f"{report.reconciled} reconciled ({report.match_rate:.1%}), "
            f"{report.duplicates} duplicate(s)"
            if report.batches
            else ""
        )
    ]
    if report.outcomes:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
        lines.append(f"  not reconciled: {shown}")
    for key, reason in report.waiting:
        lines.append(f"  waiting: {key} left for the next run ({reason})")
    for name, reason in report.ignored[:10]:
        lines.append(f"  skipped: {name} ({reason})")
    if len(report.ignored) > 10:
        lines.append(f"  ... and {len(report.ignored) - 10} more skipped file(s) (--json for all)")
    lines.extend(f"  note: {note}" for note in report.notes)
    return lines


def _emit_report(state: CliState, report: PassReport, as_json: bool) -> None:
    if as_json:
        state.emit_json(report.to_json())
    else:
        for line in _report_lines(report):
            click.echo(line)


@import_group.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--json", "as_json", is_flag=True, help="Each pass's report as JSON on stdout.")
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
@pass_state
def import_run(state: CliState, once: bool, as_json: bool, quiet: bool) -> int:
    """Run the workflow: one pass (--once) or a pass every interval until Ctrl+C.

    Refuses (exit 1) a paused, stopped or failed workflow; an idle one starts.
    The loop ends (exit 0) when the workflow is paused or stopped elsewhere.
    Errors mark the workflow failed: exit 3 (connection) or 2 (input).
    """

    def waiting(minutes: int) -> None:
        if not quiet:
            click.echo(f"next pass in {minutes} min (Ctrl+C to quit)", err=True)

    ended = run_import_loop(
        state.services,
        once=once,
        progress=_printer(quiet),
        on_report=lambda report: _emit_report(state, report, as_json),
        on_wait=waiting,
    )
    if ended is not None:
        click.echo(f"the workflow is now {ended.value}: exiting", err=True)
    return ExitCode.OK


@import_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def import_status_command(state: CliState, as_json: bool) -> int:
    """Show the workflow's state, its last run, the audiences in the store and the timing."""
    status = import_status(state.services)
    if as_json:
        state.emit_json(status.to_json())
        return ExitCode.OK
    for line in status_lines(status):
        click.echo(line)
    return ExitCode.OK


def status_lines(status: ImportStatus) -> list[str]:
    """``import status`` for a person: state, last run, ledger, audiences, timing, notes."""
    lines = [
        f"import workflow ({status.env}): {status.state.value} since {clock.iso(status.changed_at)}"
    ]
    if status.last_error:
        lines.append(f"  last error: {status.last_error}")
    run = status.last_run
    if run is None:
        lines.append("last run: never")
    else:
        lines.append(
            f"last run: {run.status} at {clock.iso(run.started_at)}: {run.files} file(s), "
            f"{run.records} record(s), {run.reconciled} reconciled "
            f"({run.match_rate:.1%}), {run.duplicates} duplicate(s)"
        )
        if run.error and run.status not in LEFT_OUT_STATUSES:
            lines.append(f"  error: {run.error}")
    lines.append(f"processed files: {status.processed_files}")
    if status.waiting_files:
        lines.append(f"waiting files: {status.waiting_files} (not imported yet)")
    lines.extend(f"skipped {name}: {reason}" for name, reason in status.skipped)
    if status.segments:
        shown = ", ".join(f"{seg}: {n}" for seg, n in status.segments.items())
        lines.append(f"segments (members): {shown}")
    else:
        lines.append("segments: none imported yet")
    lines.extend(status.expected_latency.lines())
    lines.extend(f"! {note}" for note in status.notes)
    return lines


def _transition(state: CliState, action: str) -> int:
    click.echo(change_state(state.services, action))
    return ExitCode.OK


@import_group.command("pause")
@pass_state
def import_pause(state: CliState) -> int:
    """Pause: a pass in progress finishes its batch; no new pass starts."""
    return _transition(state, "pause")


@import_group.command("resume")
@pass_state
def import_resume(state: CliState) -> int:
    """Make the workflow running again (from paused, stopped, failed or idle)."""
    return _transition(state, "resume")


@import_group.command("stop")
@pass_state
def import_stop(state: CliState) -> int:
    """Stop: a pass in progress is cancelled; nothing runs until resumed."""
    return _transition(state, "stop")
