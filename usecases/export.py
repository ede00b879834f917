"""Exports to AAM: a segment's members as the AAM inbound file, previewed, written or
uploaded. Members come from a CSV or from the audience the import workflow stored."""

from __future__ import annotations

import csv
import gzip
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InputError
from core.export import (
    REASONS,
    ExportReport,
    choose_datasource,
    make_codec,
    run_export,
    write_export,
)
from core.ids import check_numeric_id
from core.leftovers import clean_local_leftovers, temp_prefix
from core.model import Environment
from storage.audiences import SqliteExportProfiles, SqliteWorkflowStore
from usecases.access import account_opener, secret_resolver
from usecases.paths import default_export_dir
from usecases.progress import CancelledFn
from usecases.services import Services

PREVIEW_LINES = 8


@dataclass(frozen=True)
class ExportRequest:
    """What to export: a segment of the store (``store_segment``) or a members CSV,
    as ``segment_id`` for data source ``datasource`` (None: the only one)."""

    segment_id: str
    datasource: str | None
    store_segment: str | None = None
    members_csv: Path | None = None
    gz: bool = False
    #: The ``.overwrite`` form: AAM replaces each listed ID's traits of the data source.
    overwrite: bool = False


@dataclass
class ExportPreview:
    """The first lines of the file an export would write, and who has no usable ID."""

    file_name: str
    lines: list[str]
    report: ExportReport
    skipped_lines: list[str] = field(default_factory=list)

    @property
    def without_id(self) -> int:
        """Members with no usable ID (Campaign's "complement")."""
        return sum(self.report.skipped.values())


def _write_members(members: Iterable[str], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id"])
        writer.writerows([m] for m in sorted(members))
    return path


@contextmanager
def _members_csv(services: Services, env: Environment, request: ExportRequest) -> Iterator[Path]:
    if request.members_csv is not None:
        yield request.members_csv
        return
    if request.store_segment is None:
        raise InputError("no segment chosen", "pick a segment of the store or a members CSV")
    segment = request.store_segment.strip()  # " 201" is 201, as the digits check reads it
    check_numeric_id(segment, "segment_id")
    members = SqliteWorkflowStore(services.store).segment_members(env.name, segment)
    if not members:
        raise InputError(
            f"segment {segment} has no member in the store",
            "run the import workflow first, or export a members CSV",
        )
    with tempfile.TemporaryDirectory(prefix=temp_prefix("members")) as tmp:
        yield _write_members(members, Path(tmp) / f"segment-{segment}.csv")


def skipped_lines(report: ExportReport) -> list[str]:
    """One line per reason a member got no line in the file, most frequent first."""
    return [
        f"{reason}: {count} ({REASONS.get(reason, '')})"
        for reason, count in sorted(report.skipped.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def preview_export(
    services: Services,
    request: ExportRequest,
    limit: int = PREVIEW_LINES,
    cancelled: CancelledFn | None = None,
) -> ExportPreview:
    """Builds the export in a temporary folder and returns its first ``limit`` lines.

    Nothing is written anywhere else; ``InputError`` as ``core.export.write_export``.
    """
    env = services.env()
    ds = choose_datasource(env, request.datasource)
    codec = make_codec(ds, secret_resolver(services, env))
    profiles = SqliteExportProfiles(services.store, env.name)
    with (
        _members_csv(services, env, request) as members,
        tempfile.TemporaryDirectory(prefix=temp_prefix("preview")) as tmp,
    ):
        report = write_export(
            members,
            request.segment_id,
            ds,
            codec,
            profiles,
            Path(tmp),
            gz=request.gz,
            overwrite=request.overwrite,
            cancelled=cancelled,
        )
        first = Path(tmp) / report.files[0]
        opener = gzip.open if first.name.endswith(".gz") else open
        lines: list[str] = []
        with opener(first, "rt", encoding="utf-8") as handle:
            for line in handle:
                lines.append(line.rstrip("\n"))
                if len(lines) >= limit:
                    break
    return ExportPreview(report.files[0], lines, report, skipped_lines(report))


def export_request(
    services: Services,
    request: ExportRequest,
    *,
    out_dir: Path | None,
    upload: bool,
    cancelled: CancelledFn | None = None,
) -> ExportReport:
    """Writes the export into ``out_dir``, or uploads it through the export account
    (``upload``), with ``core.export.run_export``."""
    env = services.env()
    if not upload and out_dir is None:
        raise InputError("no folder to export to", "enter a folder, or upload")
    clean_local_leftovers()  # what a killed run left in the temporary folder
    with _members_csv(services, env, request) as members:
        return run_export(
            env,
            members,
            request.segment_id,
            SqliteExportProfiles(services.store, env.name),
            secret_resolver(services, env),
            datasource=request.datasource,
            out_dir=None if upload else out_dir,
            open_account=account_opener(services, env) if upload else None,
            gz=request.gz,
            overwrite=request.overwrite,
            cancelled=cancelled,
            hooks=services.hooks,
        )


def export_folder(services: Services, out_dir: Path | None) -> Path:
    """``out_dir``, or the default export folder beside the store (created when missing,
    once the store and its environment are known to exist)."""
    if out_dir is not None:
        return out_dir
    services.env()  # a missing store or environment is the error, not a new folder
    folder = default_export_dir(services.db_path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the export folder {folder}: {exc.strerror or exc}",
            "choose a folder with --out",
        ) from exc
    return folder
