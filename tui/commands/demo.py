"""`audiencectl demo`: a self-contained, offline workspace, then the console on it."""

from __future__ import annotations

from pathlib import Path

import click
import platformdirs

from core.demo import DemoWorkspace, build_demo
from core.errors import ExitCode
from core.model import RequestStatus
from core.profiles import CsvProfiles
from storage.profiles import load_profiles
from tui.cli import CliState, pass_state
from tui.services import Services


def default_demo_dir() -> Path:
    return Path(platformdirs.user_data_dir("audiencectl", appauthor=False)) / "demo"


def install_demo(services: Services, workspace: DemoWorkspace) -> None:
    """Puts the demo's environment, profiles and visitor map into the store, and runs
    the import workflow once, so every screen has real data to show."""
    repo = services.repo
    env = repo.save(workspace.env)
    load_profiles(
        services.store, env.name, CsvProfiles(workspace.profiles_csv, workspace.visitors_csv)
    )
    if repo.request_status(env.name) is RequestStatus.DRAFT:
        repo.set_request_status(env, RequestStatus.PROVISIONED)
    from storage.audiences import SqliteWorkflowStore
    from tui.commands.importwf import run_import_pass

    if SqliteWorkflowStore(services.store).processed_count(env.name) == 0:
        run_import_pass(services)


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
@click.option("--no-mouse", is_flag=True, help="Do not capture the mouse.")
@click.option("--theme", default="textual-dark", show_default=True)
@pass_state
def demo_command(
    state: CliState, folder: Path | None, no_tui: bool, no_mouse: bool, theme: str
) -> int:
    """Build a demo workspace (store, profiles, AAM files, data sources) and open the console.

    Works offline. The demo's store is its own (DIR/audiencectl.db); --db is ignored.
    """
    workspace = build_demo((folder or default_demo_dir()).expanduser().resolve())
    services = Services(db_path=workspace.db_path, env_name="demo")
    try:
        install_demo(services, workspace)
    finally:
        services.close()
    click.echo(f"demo workspace: {workspace.root}", err=True)
    click.echo(f"  store:    {workspace.db_path}", err=True)
    click.echo(f"  profiles: {workspace.profiles_csv}", err=True)
    click.echo(f"  AAM files (import account): {workspace.inbox}", err=True)
    if no_tui:
        click.echo(f"open it with: audiencectl --db {workspace.db_path}", err=True)
        return ExitCode.OK
    from tui.app import run_console

    console = Services(db_path=workspace.db_path, env_name="demo")
    try:
        run_console(console, mouse=not no_mouse, theme=theme)
    finally:
        console.close()
    return ExitCode.OK
