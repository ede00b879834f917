"""`audiencectl import run|status|pause|resume|stop`: the Import shared audience workflow.

Also the wiring the console reuses from a thread worker: :func:`run_import_pass`
(lock + state check + one pass) and :func:`import_status` (the status object).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from core import clock
from core.errors import AudienceError, ExitCode
from core.hostkeys import HostKeyCheck
from core.model import Account, AccountType, DataSource, Environment
from core.probe import Credentials
from core.transport import FileTransport, LocalTransport, open_transport
from core.workflow import (
    Backlog,
    CancelledFn,
    PassEvent,
    PassReport,
    ProgressFn,
    State,
    check_can_run,
    expected_latency,
    folder_backlog,
    is_overdue,
    iter_sleep,
    pause,
    resume,
    run_pass,
    stop,
)
from storage.audiences import SqliteWorkflowStore
from storage.hostkeys import SqliteHostKeyStore
from storage.lock import ImportLock
from storage.profiles import StoreProfiles
from tui.cli import CliState, pass_state
from tui.services import Services

TRANSFER_TIMEOUT = 30.0


def account_opener(
    services: Services, env: Environment, timeout: float = TRANSFER_TIMEOUT
) -> Callable[[Account], FileTransport]:
    """Opens an account of ``env`` with its resolved secrets, checking host keys against
    the store's pins (never trusting a new key: probe first)."""

    def open_account(account: Account) -> FileTransport:
        creds = Credentials(
            password=services.secret(env, account, "password"),
            private_key=services.secret(env, account, "private_key"),
            passphrase=services.secret(env, account, "private_key_passphrase"),
        )
        check = HostKeyCheck(
            SqliteHostKeyStore(services.store.conn),
            trust_new=False,
            pinned_from_config=account.host_key,
        )
        return open_transport(account, creds, check, timeout)

    return open_account


def secret_resolver(services: Services, env: Environment) -> Callable[[DataSource, str], str]:
    """``resolve(ds, field)`` for data source secrets (AES key and IV)."""

    def resolve(ds: DataSource, field: str) -> str:
        return services.secret(env, ds, field)

    return resolve


def run_import_pass(
    services: Services,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> PassReport:
    """One pass of the import workflow, as `import run --once` does it.

    Takes the store's import lock (``ImportLocked``, exit 2, when another run holds
    it), refuses a paused, stopped or failed workflow (``WorkflowRefused``, exit 1),
    makes an idle one running, then runs :func:`core.workflow.run_pass`. Safe to
    call from a thread worker (the store connection allows it; do not share it
    with concurrent writers).
    """
    env = services.env()
    workflow = SqliteWorkflowStore(services.store)
    with ImportLock(services.db_path):
        check_can_run(workflow, env.name)
        return run_pass(
            env,
            workflow,
            StoreProfiles(services.store, env.name),
            account_opener(services, env),
            secret_resolver(services, env),
            progress=progress,
            cancelled=cancelled,
            hooks=services.hooks,
        )


def waiting_files(env: Environment, processed: set[str]) -> Backlog | None:
    """What a local import folder holds that is not imported yet (``folder_backlog``: the
    import pass's own rules); None for an SFTP account (status never connects) or a
    folder that cannot be listed."""
    account = env.import_account
    if account.type is not AccountType.LOCAL or not account.path:
        return None
    try:
        with LocalTransport(Path(account.path)) as files:
            return folder_backlog(files, processed)
    except AudienceError:
        return None


def import_status(services: Services) -> dict[str, Any]:
    """The ``import status --json`` object: state, last run, ledger, audiences, timing."""
    env = services.env()
    workflow = SqliteWorkflowStore(services.store)
    status = workflow.status(env.name)
    last = workflow.last_run(env.name)
    interval = env.workflow.interval_minutes
    overdue = is_overdue(status, last, interval)
    notes: list[str] = []
    if overdue:
        since = clock.iso(last.started_at) if last else "never"
        notes.append(
            f"no run within 2 x {interval} min while running (last run: {since}): "
            "is `audiencectl import run` (or its scheduler) still going?"
        )
    backlog = waiting_files(env, workflow.processed_names(env.name))
    waiting = backlog.waiting_files if backlog is not None else None
    if backlog is not None and backlog.skipped:
        shown = "; ".join(f"{name} ({reason})" for name, reason in backlog.skipped[:5])
        more = f"; and {len(backlog.skipped) - 5} more" if len(backlog.skipped) > 5 else ""
        notes.append(f"{len(backlog.skipped)} file(s) skipped, never imported: {shown}{more}")
    if backlog is not None:
        notes.extend(f"batch {key} waits: {reason}" for key, reason in backlog.waiting)
    if status.state in (State.PAUSED, State.STOPPED):
        held = f", {waiting} file(s) waiting" if waiting else ""
        notes.append(
            f"the workflow is {status.state.value}{held}: audiences are not imported "
            "(`audiencectl import resume`)"
        )
    return {
        "env": env.name,
        "state": status.state.value,
        "changed_at": clock.iso(status.changed_at),
        "last_error": status.last_error,
        "last_run": last.to_json() if last else None,
        "processed_files": workflow.processed_count(env.name),
        "waiting_files": waiting,
        "waiting": backlog.to_json()["waiting"] if backlog is not None else [],
        "skipped": backlog.to_json()["skipped"] if backlog is not None else [],
        "segments": {seg: {"members": n} for seg, n in workflow.segment_counts(env.name).items()},
        "interval_minutes": interval,
        "overdue": overdue,
        "expected_latency": expected_latency(interval).to_json(),
        "notes": notes,
    }


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
    services = state.services
    env = services.env()
    workflow = SqliteWorkflowStore(services.store)
    show = _printer(quiet)
    with ImportLock(services.db_path):
        while True:
            check_can_run(workflow, env.name)
            report = run_pass(
                env,
                workflow,
                StoreProfiles(services.store, env.name),
                account_opener(services, env),
                secret_resolver(services, env),
                progress=show,
                hooks=services.hooks,
            )
            _emit_report(state, report, as_json)
            if once:
                return ExitCode.OK
            interval = env.workflow.interval_minutes
            if not quiet:
                click.echo(f"next pass in {interval} min (Ctrl+C to quit)", err=True)
            last_check = 0.0
            for _ in iter_sleep(interval * 60):
                if time.monotonic() - last_check < 2:
                    continue
                last_check = time.monotonic()
                current = workflow.status(env.name).state
                if current is not State.RUNNING:
                    click.echo(f"the workflow is now {current.value}: exiting", err=True)
                    return ExitCode.OK
            current = workflow.status(env.name).state
            if current is not State.RUNNING:
                click.echo(f"the workflow is now {current.value}: exiting", err=True)
                return ExitCode.OK


@import_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def import_status_command(state: CliState, as_json: bool) -> int:
    """Show the workflow's state, its last run, the audiences in the store and the timing."""
    data = import_status(state.services)
    if as_json:
        state.emit_json(data)
        return ExitCode.OK
    line = f"import workflow ({data['env']}): {data['state']} since {data['changed_at']}"
    click.echo(line)
    if data["last_error"]:
        click.echo(f"  last error: {data['last_error']}")
    run = data["last_run"]
    if run is None:
        click.echo("last run: never")
    else:
        click.echo(
            f"last run: {run['status']} at {run['started_at']}: {run['files']} file(s), "
            f"{run['records']} record(s), {run['reconciled']} reconciled "
            f"({run['match_rate']:.1%}), {run['duplicates']} duplicate(s)"
        )
        if run["error"]:
            click.echo(f"  error: {run['error']}")
    click.echo(f"processed files: {data['processed_files']}")
    if data["waiting_files"]:
        click.echo(f"waiting files: {data['waiting_files']} (not imported yet)")
    for item in data["skipped"]:
        click.echo(f"skipped {item['file']}: {item['reason']}")
    segments = data["segments"]
    if segments:
        shown = ", ".join(f"{seg}: {v['members']}" for seg, v in segments.items())
        click.echo(f"segments (members): {shown}")
    else:
        click.echo("segments: none imported yet")
    interval = data["interval_minutes"]
    for text in expected_latency(interval).lines():
        click.echo(text)
    for note in data["notes"]:
        click.echo(f"! {note}")
    return ExitCode.OK


def _transition(state: CliState, action: Callable[..., Any]) -> int:
    env = state.services.env()
    _, message = action(SqliteWorkflowStore(state.services.store), env.name)
    click.echo(message)
    return ExitCode.OK


@import_group.command("pause")
@pass_state
def import_pause(state: CliState) -> int:
    """Pause: a pass in progress finishes its batch; no new pass starts."""
    return _transition(state, pause)


@import_group.command("resume")
@pass_state
def import_resume(state: CliState) -> int:
    """Make the workflow running again (from paused, stopped, failed or idle)."""
    return _transition(state, resume)


@import_group.command("stop")
@pass_state
def import_stop(state: CliState) -> int:
    """Stop: a pass in progress is cancelled; nothing runs until resumed."""
    return _transition(state, stop)
