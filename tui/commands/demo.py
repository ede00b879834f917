"""`audiencectl demo`: a self-contained, offline workspace, then the console on it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import platformdirs

from core.checks import CheckResult, run_checks
from core.demo import DemoWorkspace, build_demo, deliver_next, is_demo_folder, workspace_at
from core.errors import ExitCode
from core.model import RequestStatus
from core.profiles import CsvProfiles
from core.workflow import PassReport, pause
from storage.audiences import SqliteWorkflowStore
from storage.checks import context_for, save_results
from storage.profiles import load_profiles
from storage.reset import forget_environment
from storage.settings import arm_first_run_tips
from tui.commands._common import CliState, check_theme, pass_state
from usecases.services import Services


def default_demo_dir() -> Path:
    return Path(platformdirs.user_data_dir("audiencectl", appauthor=False)) / "demo"


@dataclass(frozen=True)
class DemoInstall:
    """What the install left behind: the first pass, the waiting file, the checklist."""

    first_pass: PassReport
    waiting: Path
    checks: list[CheckResult]

    @property
    def findings(self) -> list[CheckResult]:
        return [r for r in self.checks if r.status in ("warn", "fail")]


def install_demo(services: Services, workspace: DemoWorkspace) -> DemoInstall:
    """Puts the demo in the store, from scratch (a re-run starts the demo over).

    Saves the environment, loads profiles and the visitor map, marks the request
    provisioned, runs ONE import pass, then a newer AAM batch arrives and the
    workflow is paused, so it waits. Runs the offline checklist and keeps its
    verdicts for the home and checklist screens, and arms the first-run tips.
    """
    from usecases.importwf import run_import_pass

    name = workspace.env.name
    forget_environment(services.store, name)  # only the demo's environment
    env = services.repo.save(workspace.env)
    load_profiles(services.store, name, CsvProfiles(workspace.profiles_csv, workspace.visitors_csv))
    services.repo.set_request_status(env, RequestStatus.PROVISIONED)
    first = run_import_pass(services)
    waiting = deliver_next(workspace)
    pause(SqliteWorkflowStore(services.store), name)
    checks = run_checks(context_for(services.store, env, box=services.box, offline=True))
    save_results(services.store, name, checks)
    arm_first_run_tips(services.store, name)
    return DemoInstall(first, waiting, checks)


def next_steps(workspace: DemoWorkspace) -> list[str]:
    """The lines that tell where to go from here (console, or the same by command line)."""
    db = shlex.quote(str(workspace.db_path))
    dry_run = (
        f"audiencectl --db {db} dry-run --profiles {shlex.quote(str(workspace.profiles_csv))} "
        f"--visitors {shlex.quote(str(workspace.visitors_csv))} "
        f"{shlex.quote(str(workspace.inbox))}"
    )
    return [
        "next steps:",
        f"  1. open the console: audiencectl --db {db}",
        "     (F6 Audiences, F8 dry run; F7 Checklist; F1 help on any screen)",
        f"  2. or by command line: {dry_run}",
        f"     then: audiencectl --db {db} doctor --offline",
    ]


def reopened_lines(workspace: DemoWorkspace, reset_command: str) -> list[str]:
    """What `demo` and `serve --demo` say when they reopen an existing workspace."""
    return [
        f"reopening the demo workspace at {workspace.root}",
        f"  store:    {workspace.db_path}",
        f"  (as you left it; `{reset_command}` starts it over)",
    ]


def demo_root(folder: Path | None) -> Path:
    return (folder or default_demo_dir()).expanduser().resolve()


def existing_demo(folder: Path | None) -> DemoWorkspace | None:
    """The demo workspace already built in ``folder`` (marked and with its store), if any."""
    root = demo_root(folder)
    workspace = workspace_at(root)
    if is_demo_folder(root) and workspace.db_path.is_file():
        return workspace
    return None


def prepare_demo(folder: Path | None) -> tuple[DemoWorkspace, DemoInstall]:
    """Builds the demo's files in ``folder`` (default: the user data dir's) and installs
    it in its own store; `demo` and `serve --demo` both start here. A folder the demo
    did not make is refused before anything is written (:class:`DemoFolderError`)."""
    workspace = build_demo(demo_root(folder))
    services = Services(db_path=workspace.db_path, env_name=workspace.env.name)
    try:
        return workspace, install_demo(services, workspace)
    finally:
        services.close()


def open_demo(folder: Path | None, reset: bool) -> tuple[DemoWorkspace, DemoInstall | None]:
    """The workspace `demo` and `serve --demo` open: the one already built in ``folder``,
    as the user left it (no install: ``None``), or else, and always with ``reset``, a
    fresh one (:func:`prepare_demo`)."""
    existing = None if reset else existing_demo(folder)
    if existing is not None:
        return existing, None
    return prepare_demo(folder)


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to build the workspace (default: the user data dir's demo folder).",
)
@click.option(
    "--no-tui", is_flag=True, help="Build the workspace, print where, do not open the console."
)
@click.option("--reset", is_flag=True, help="Start the demo over (only in a folder the demo made).")
@click.option("--no-mouse", is_flag=True, help="Do not capture the mouse.")
@click.option("--theme", default="textual-dark", show_default=True)
@pass_state
def demo_command(
    state: CliState,
    folder: Path | None,
    no_tui: bool,
    reset: bool,
    no_mouse: bool,
    theme: str,
) -> int:
    """Build a demo workspace (store, profiles, AAM files, data sources) and open the console.

    Works offline. The demo's store is its own (DIR/audiencectl.db); --db is ignored.
    Running it again reopens the workspace as you left it; --reset starts it over.
    DIR must be new, empty, or a folder the demo made: nothing else is ever touched.
    """
    if not no_tui:
        check_theme(theme)
    workspace, done = open_demo(folder, reset)
    if done is None:
        for line in reopened_lines(workspace, "audiencectl demo --reset"):
            click.echo(line)
        return _open(workspace, no_tui, no_mouse, theme)
    run = done.first_pass
    # The workspace's paths are this command's output: stdout, so they can be kept.
    click.echo(f"demo workspace: {workspace.root}")
    click.echo(f"  store:    {workspace.db_path}")
    click.echo(f"  profiles: {workspace.profiles_csv}")
    click.echo(f"  AAM files (import account): {workspace.inbox}")
    click.echo(
        f"  first import: {run.records} records, {run.reconciled} reconciled "
        f"({run.match_rate:.1%}); then the workflow was paused and "
        f"{done.waiting.name} arrived: it waits",
    )
    click.echo(f"  checklist: {len(done.findings)} finding(s) to fix")
    for finding in done.findings:
        click.echo(f"    {finding.status}: {finding.title}")
    return _open(workspace, no_tui, no_mouse, theme)


def _open(workspace: DemoWorkspace, no_tui: bool, no_mouse: bool, theme: str) -> int:
    """Prints the next steps (``--no-tui``) or opens the console on the demo's store."""
    if no_tui:
        for line in next_steps(workspace):
            click.echo(line)
        return ExitCode.OK
    from tui.app import run_console

    console = Services(db_path=workspace.db_path, env_name=workspace.env.name)
    try:
        run_console(console, mouse=not no_mouse, theme=theme)
    finally:
        console.close()
    return ExitCode.OK
