"""`audiencectl dry-run`: reconcile audience files offline, change nothing."""

from __future__ import annotations

from pathlib import Path

import click

from core.clock import now
from core.errors import ExitCode, InputError
from core.files import write_atomic
from core.outcomes import EXPLANATIONS, Outcome
from core.reconcile import Sample, Summary
from core.report import render_markdown
from core.text import printable_name
from tui.commands._common import CliState, pass_state
from usecases.dryrun import MAX_SAMPLES, DryRunRequest, DryRunResult, run_dry_run

_CSV = click.Path(path_type=Path, dir_okay=False)


@click.command("dry-run")
@click.option(
    "--profiles",
    "profiles_csv",
    type=_CSV,
    help="The profiles CSV (default: the profiles and visitor map in the store).",
)
@click.option(
    "--visitors", type=_CSV, help="The visitor-ID map CSV: profile_id,visitor_id (with --profiles)."
)
@click.option(
    "--datasource",
    help="Reconcile every file with this data source only (also files without a destination "
    "ID in their name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--report", type=click.Path(path_type=Path, dir_okay=False), help="Write a Markdown report."
)
@click.option(
    "--max-samples",
    type=click.IntRange(min=0),
    default=MAX_SAMPLES,
    show_default=True,
    help="Unreconciled samples kept (0 or more).",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_state
def dry_run_command(
    state: CliState,
    profiles_csv: Path | None,
    visitors: Path | None,
    datasource: str | None,
    as_json: bool,
    report: Path | None,
    max_samples: int,
    files: tuple[Path, ...],
) -> int:
    """Reconcile AUDIENCE_FILE... (files or folders) with the profiles, offline.

    Profiles come from --profiles (and --visitors), or else from the store
    (`audiencectl profiles load`). Data sources, keys and IVs come from the
    environment in the store; the store is only read, never written. Files
    route to data sources by the destination ID in their name, in priority
    order; split parts are grouped and checked against their .info manifest.
    Exit 0 whenever the dry run ran, whatever the match rate (findings are in
    the output); 2 for bad input.
    """
    if visitors is not None and profiles_csv is None:
        raise InputError(
            "--visitors goes with --profiles",
            "give --profiles too, or neither to use the profiles and visitor map in the store",
        )
    request = DryRunRequest(
        audience_paths=files,
        profiles_csv=profiles_csv,
        visitors_csv=visitors,
        datasource=datasource,
        max_samples=max_samples,
    )
    result = run_dry_run(state.services, request)
    summary = result.summary
    if report is not None:
        write_atomic(report, render_markdown(summary, result.env_name, now()), what="report")
    if as_json:
        state.emit_json(summary.to_json())
    else:
        _print_human(result)
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


def _print_human(result: DryRunResult) -> None:
    echo = click.echo
    summary = result.summary
    reconciled_batches = len(summary.batches)
    skipped = summary.skipped_words()
    warning = "WARNING: " if summary.mostly_skipped() else ""
    echo(
        f"{warning}dry run on environment {result.env_name!r}: {reconciled_batches} of "
        f"{result.batch_count} batch(es) reconciled (offline; nothing stored)"
        + (f"; {skipped.upper() if warning else skipped}, each named below" if skipped else "")
    )
    echo(f"profiles: {result.profiles_label}")
    if summary.datasources:
        echo("data sources: " + ", ".join(printable_name(d) for d in summary.datasources))
    for batch in summary.batches:
        for note in batch.notes:
            echo(f"note: batch {batch.key}: {printable_name(note)}")
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
            echo(f"  {printable_name(s.file)}:{s.line}  {s.outcome}  {printable_name(s.id)}")
    for name, reason in summary.skipped:
        echo(f"skipped {printable_name(name)}: {printable_name(reason)}")
