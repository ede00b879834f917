"""`audiencectl export`: a segment's members as an AAM inbound file, written or uploaded."""

from __future__ import annotations

from pathlib import Path

import click

from core.errors import ExitCode, InputError
from core.export import REASONS, ExportReport
from tui.commands._common import CliState, pass_state
from usecases.export import ExportRequest, export_folder, export_request
from usecases.paths import full_path


def _human(report: ExportReport) -> None:
    where = "uploaded" if report.uploaded else "wrote"
    destination = report.destination if report.uploaded else full_path(report.destination)
    for name in report.files:
        click.echo(
            f"{where} {name} ({report.lines} line(s), segment {report.segment_id}, "
            f"data source {report.datasource!r}) to {destination}"
        )
    skipped = sum(report.skipped.values())
    click.echo(
        f"members: {report.members}, exported: {report.members - skipped}, "
        f"without a usable ID: {skipped}"
    )
    for reason, count in sorted(report.skipped.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {reason}: {count} ({REASONS.get(reason, '')})")
    for sample in report.skipped_samples:
        click.echo(f"    {sample['id'] or '<empty>'}: {sample['reason']}")
    if report.duplicate_members:
        click.echo(f"  repeated in the members CSV (exported once): {report.duplicate_members}")
    if report.duplicate_ids:
        click.echo(f"  IDs shared by several members (one line each): {report.duplicate_ids}")


@click.command("export")
@click.option(
    "--members",
    "members",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV with a header and an id column (profile IDs); default: the segment's "
    "audience as the import workflow stored it.",
)
@click.option("--segment-id", required=True, help="The AAM segment (or trait) ID, digits.")
@click.option("--datasource", default=None, help="Data source label (default: the only one).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the file into this folder (default: exports/ beside the store).",
)
@click.option("--upload", is_flag=True, help="Upload through the export account instead.")
@click.option("--gzip", "gz", is_flag=True, help="Compress (.sync.gz).")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Write the .overwrite form: AAM replaces each listed ID's traits of the data source.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def export_command(
    state: CliState,
    members: Path | None,
    segment_id: str,
    datasource: str | None,
    out_dir: Path | None,
    upload: bool,
    gz: bool,
    overwrite: bool,
    as_json: bool,
) -> int:
    """Build the AAM inbound file (ftp_dpm_<DPID>_<seconds>.sync, or .overwrite) for a segment.

    Members come from --members, or else from the segment's audience in the store
    (imported by the workflow). The file goes into --out, or exports/ beside the
    store, or through the export account (--upload); the output says where.
    Members whose profile has no usable ID are counted per reason and listed.
    Exit 0 written, 2 input or configuration error, 3 connection error.
    """
    if upload and out_dir is not None:
        raise InputError("--out and --upload exclude each other", "choose one")
    services = state.services
    request = ExportRequest(
        segment_id=segment_id,
        datasource=datasource,
        store_segment=segment_id if members is None else None,
        members_csv=members,
        gz=gz,
        overwrite=overwrite,
    )
    folder = None if upload else export_folder(services, out_dir)
    report = export_request(services, request, out_dir=folder, upload=upload)
    if as_json:
        state.emit_json(report.to_json())
    else:
        _human(report)
    return ExitCode.OK
