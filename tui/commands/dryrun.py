"""`audiencectl dry-run`: reconcile audience files offline, change nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from core.clock import now
from core.errors import ExitCode, InputError
from core.files import write_atomic
from core.outcomes import EXPLANATIONS, Outcome
from core.profiles import CsvProfiles
from core.reconcile import (
    Sample,
    Summary,
    batches_from_paths,
    build_codecs,
    reconcile_batches,
    summarize,
)
from core.report import render_markdown
from tui.cli import CliState, pass_state

_CSV = click.Path(path_type=Path, dir_okay=False)


@click.command("dry-run")
@click.option("--profiles", "profiles_csv", type=_CSV, required=True, help="The profiles CSV.")
@click.option("--visitors", type=_CSV, help="The visitor-ID map CSV: profile_id,visitor_id.")
@click.option(
    "--datasource",
    help="Reconcile every file with this data source only (also files without a destination "
    "ID in their name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--report", type=click.Path(path_type=Path, dir_okay=False), help="Write a Markdown report."
)
@click.option("--max-samples", default=100, show_default=True, help="Unreconciled samples kept.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_state
def dry_run_command(
    state: CliState,
    profiles_csv: Path,
    visitors: Path | None,
    datasource: str | None,
    as_json: bool,
    report: Path | None,
    max_samples: int,
    files: tuple[Path, ...],
) -> int:
    """Reconcile AUDIENCE_FILE... (files or folders) with profiles from CSV, offline.

    Data sources, keys and IVs come from the environment in the store; the
    store is only read, never written. Files route to data sources by the
    destination ID in their name, in priority order; split parts are grouped
    and checked against their .info manifest. Exit 0 whenever the dry run ran,
    whatever the match rate (findings are in the output); 2 for bad input.
    """
    services = state.services
    if not services.db_path.exists():
        raise InputError(
            f"no store at {services.db_path}",
            "import a configuration first (`audiencectl config import FILE.toml`)",
        )
    env = services.env()
    routed_env = env
    force: int | None = None
    if datasource is not None:
        ds = env.datasource(datasource)
        routed_env = replace(env, datasources=(ds,))
        force = ds.destination_id
    codecs = build_codecs(routed_env, lambda ds, field: services.secret(env, ds, field))
    profiles = CsvProfiles(profiles_csv, visitors)
    profiles.columns()  # a bad header is the first error, as it always was
    if visitors is not None:
        profiles.validate()  # every visitor's profile_id against every profile id, first
    batches, skipped = batches_from_paths(
        list(files), force_destination=force, accept_unnamed=datasource is not None
    )
    skipped = list(skipped)
    results = reconcile_batches(
        batches,
        routed_env,
        codecs,
        profiles,
        datasource=datasource,
        max_samples=max_samples,
        skipped=skipped,
    )
    summary = summarize(list(results), skipped, max_samples=max_samples)
    # Whole and valid, even when no batch needed the profiles (known without reading
    # them again when the run read them all).
    profiles.validate()
    if report is not None:
        write_atomic(report, render_markdown(summary, env.name, now()), what="report")
    if as_json:
        state.emit_json(summary.to_json())
    else:
        _print_human(summary, env.name, len(batches))
        if report is not None:
            click.echo(f"report written to {report}")
    return ExitCode.OK


def _varied(summary: Summary, limit: int) -> list[Sample]:
    """Up to ``limit`` samples, one outcome after the other, so every outcome shows."""
    groups: dict[str, list[Sample]] = {}
    for sample in summary.unreconciled_samples:
        groups.setdefault(sample.outcome, []).append(sample)
    picked: list[Sample] = []
    depth = 0
    while len(picked) < min(limit, len(summary.unreconciled_samples)):
        for items in groups.values():
            if depth < len(items) and len(picked) < limit:
                picked.append(items[depth])
        depth += 1
    return picked


def _print_human(summary: Summary, env_name: str, batch_count: int) -> None:
    echo = click.echo
    reconciled_batches = len(summary.batches)
    skipped = summary.skipped_words()
    warning = "WARNING: " if summary.mostly_skipped() else ""
    echo(
        f"{warning}dry run on environment {env_name!r}: {reconciled_batches} of {batch_count} "
        "batch(es) reconciled (offline; nothing stored)"
        + (f"; {skipped.upper() if warning else skipped}, each named below" if skipped else "")
    )
    if summary.datasources:
        echo("data sources: " + ", ".join(summary.datasources))
    for batch in summary.batches:
        for note in batch.notes:
            echo(f"note: batch {batch.key}: {note}")
    echo(f"  records      {summary.records:>9}")
    echo(f"  reconciled   {summary.reconciled:>9}   match rate {summary.match_rate * 100:.1f} %")
    echo(f"  duplicates   {summary.duplicates:>9}")
    failures = [(name, n) for name, n in summary.to_json()["outcomes"].items()]
    if failures:
        echo("unreconciled:")
        width = max(len(name) for name, _ in failures)
        for name, count in failures:
            meaning, fix = EXPLANATIONS.get(Outcome(name), ("", ""))
            echo(f"  {name:<{width}} {count:>9}   {meaning}")
            if fix:
                echo(f"  {'':<{width}} {'':>9}   fix: {fix}")
    if summary.segments:
        echo("segments (distinct profiles):")
        for seg, counts in summary.to_json()["segments"].items():
            echo(f"  {seg:<12} members {counts['members']:>8}   removed {counts['removed']:>8}")
    samples = _varied(summary, 10)
    if samples:
        echo(f"samples ({len(samples)} of {len(summary.unreconciled_samples)}; --json for all):")
        for s in samples:
            echo(f"  {s.file}:{s.line}  {s.outcome}  {s.id}")
    for name, reason in summary.skipped:
        echo(f"skipped {name}: {reason}")
