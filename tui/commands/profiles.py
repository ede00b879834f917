"""`audiencectl profiles load|show`: the profile dimension in the store."""

from __future__ import annotations

from pathlib import Path

import click

from core.errors import ExitCode
from core.profiles import CsvProfiles
from storage.profiles import load_profiles, profile_stats
from tui.commands._common import CliState, pass_state

_CSV = click.Path(path_type=Path, dir_okay=False)


@click.group("profiles")
def profiles_group() -> None:
    """The profile dimension (and visitor-ID map) that audiences reconcile with."""


@profiles_group.command("load")
@click.argument("file", type=_CSV)
@click.option("--visitors", type=_CSV, help="The visitor-ID map: profile_id,visitor_id.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_state
def profiles_load(state: CliState, file: Path, visitors: Path | None, as_json: bool) -> int:
    """Load FILE.csv (header with an `id` column) as the environment's profiles.

    Replaces the environment's profiles, columns and visitor map in one
    transaction: a bad file (exit 2) changes nothing.
    """
    env = state.services.env()
    summary = load_profiles(state.services.store, env.name, CsvProfiles(file, visitors))
    if as_json:
        state.emit_json(
            {
                "environment": env.name,
                "profiles": summary.profiles,
                "visitors": summary.visitors,
                "columns": list(summary.columns),
            }
        )
        return ExitCode.OK
    click.echo(
        f"environment {env.name!r}: loaded {summary.profiles} profile(s) "
        f"({len(summary.columns)} columns: {', '.join(summary.columns)})"
    )
    if visitors is not None:
        click.echo(f"visitor map: {summary.visitors} visitor ID link(s)")
    return ExitCode.OK


@profiles_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_state
def profiles_show(state: CliState, as_json: bool) -> int:
    """Print how many profiles and visitor IDs the environment holds, and the columns."""
    env = state.services.env()
    stats = profile_stats(state.services.store, env.name)
    if as_json:
        state.emit_json(
            {
                "environment": env.name,
                "profiles": stats.count,
                "visitors": stats.visitors,
                "columns": list(stats.columns),
            }
        )
        return ExitCode.OK
    click.echo(
        f"environment {env.name!r}: {stats.count} profile(s), {stats.visitors} visitor ID(s)"
    )
    click.echo("columns: " + (", ".join(stats.columns) or "none (run `profiles load`)"))
    return ExitCode.OK
