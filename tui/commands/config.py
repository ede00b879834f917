"""`audiencectl config import|export`."""

from __future__ import annotations

from pathlib import Path

import click

from core.config import diff, dump_environment, load_file
from core.errors import ConfigError, ExitCode
from core.files import write_atomic
from tui.commands._common import CliState, pass_state


@click.group("config")
def config_group() -> None:
    """Environments as TOML files (configuration as code)."""


@config_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@pass_state
def config_import(state: CliState, file: Path, dry_run: bool, as_json: bool) -> int:
    """Create or update the environment a TOML file describes. An invalid file changes nothing."""
    state.services.create = True  # the way to start a store
    repo = state.services.repo
    env = load_file(file, repo.get)
    old = repo.get(env.name)
    changes = diff(old, env)
    if not dry_run:
        repo.save(env)
    if as_json:
        state.emit_json(
            {
                "environment": env.name,
                "created": old is None,
                "dry_run": dry_run,
                "changes": [{"key": c.key, "old": c.old, "new": c.new} for c in changes],
            }
        )
        return ExitCode.OK
    verb = "would " if dry_run else ""
    if not changes:
        click.echo(f"environment {env.name!r}: nothing to change")
        return ExitCode.OK
    for change in changes:
        click.echo(change.render())
    action = "create" if old is None else "update"
    done = {"create": "created", "update": "updated"}[action]
    click.echo(
        f"environment {env.name!r}: {verb}{action if dry_run else done} "
        f"({len(changes)} change{'s' if len(changes) != 1 else ''})"
    )
    return ExitCode.OK


@config_group.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@pass_state
def config_export(state: CliState, file: Path | None) -> int:
    """Write the environment as TOML (to FILE, or stdout). Secrets stay references or <stored>.

    Onto an existing FILE, values are updated in place and comments kept.
    """
    env = state.services.env()
    if file is None:
        click.echo(dump_environment(env), nl=False)
        return ExitCode.OK
    existing = None
    if file.exists():
        try:
            existing = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot be read ({exc})", "check the path") from None
    text = dump_environment(env, existing)
    write_atomic(file, text, what="configuration")
    click.echo(f"wrote {file}", err=True)
    return ExitCode.OK
