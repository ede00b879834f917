"""Thread-side helpers of the Audiences screen: the dry run, an import pass, exports.

Everything here is called from a thread worker (or is pure) and never touches a
widget: progress goes out through a callback as :class:`Step` snapshots (the
screen turns them into coalescing messages), cancellation comes in through a
``cancelled()`` callback checked between chunks. Each worker opens its own
store connection (:func:`worker_services`), so a run never shares a
transaction with the UI thread.

The wiring follows the command line (``tui/commands/dryrun.py``,
``importwf.py``, ``export.py``): one pipeline, two front ends.
"""

from __future__ import annotations

import csv
import gzip
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
from core.model import AccountType, Environment
from core.profiles import CsvProfiles, ProfileSource
from core.reconcile import (
    IndexProgress,
    Progress,
    Summary,
    batches_from_paths,
    build_codecs,
    index_words,
    reconcile_batches,
    summarize,
)
from core.workflow import (
    AAM_DAILY_HOUR_UTC,
    ExpectedLatency,
    PassEvent,
    PassReport,
    RunRecord,
    expected_latency,
)
from storage.audiences import SqliteExportProfiles, SqliteWorkflowStore
from storage.profiles import StoreProfiles
from tui.commands.importwf import (
    account_opener,
    import_status,
    run_import_pass,
    secret_resolver,
)
from tui.services import Services

__all__ = [
    "PREVIEW_LINES",
    "DryRunRequest",
    "DryRunResult",
    "ExportPreview",
    "ExportRequest",
    "PassTracker",
    "Step",
    "WorkflowView",
    "default_audience_path",
    "display_path",
    "export_request",
    "full_path",
    "latency_lines",
    "preview_export",
    "resolve_path",
    "run_dry_run",
    "run_pass_now",
    "skipped_lines",
    "worker_services",
    "workflow_view",
]

PREVIEW_LINES = 8
#: ProgressBar units per batch of an import pass (a batch's bytes are scaled to this).
_PER_BATCH = 1000

StepFn = Callable[["Step"], None]
CancelledFn = Callable[[], bool]


@dataclass(frozen=True)
class Step:
    """A progress snapshot: ``done`` of ``total`` units and a one-line description.

    A snapshot carries everything to draw, so a newer one may replace an older
    one that was not shown yet."""

    done: int
    total: int
    text: str


# ------------------------------------------------------------------------ paths


def resolve_path(text: str) -> Path:
    """A path typed by the admin: ``~`` expanded, relative to the working folder."""
    return Path(text.strip()).expanduser()


def display_path(path: Path | str, base: Path | None = None) -> str:
    """``path`` as shown on screen: relative to ``base`` (the working folder) when
    inside it, else with the home folder as ``~``, else absolute."""
    path = Path(path)
    base = Path.cwd() if base is None else base
    try:
        absolute = path if path.is_absolute() else (base / path)
        relative = absolute.resolve().relative_to(base.resolve())
        return str(relative) if str(relative) != "." else "."
    except (OSError, ValueError):
        pass
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except (OSError, ValueError, RuntimeError):
        return str(path)


def full_path(path: Path | str) -> str:
    """``path`` made absolute, with the home folder as ``~``: where a file was written,
    said so that nobody has to guess the working folder."""
    absolute = Path(path).expanduser().absolute()
    try:
        return "~/" + str(absolute.relative_to(Path.home()))
    except ValueError:
        return str(absolute)


def default_audience_path(env: Environment | None) -> Path | None:
    """The import account's folder when it is a ``local`` account (what a dry run reads
    by default), else None."""
    if env is None:
        return None
    account = env.import_account
    if account.type is AccountType.LOCAL and account.path:
        return Path(account.path)
    return None


@contextmanager
def worker_services(services: Services) -> Iterator[Services]:
    """A ``Services`` with its own store connection, for one worker; closed after."""
    own = Services(db_path=services.db_path, env_name=services.env_name, hooks=services.hooks)
    try:
        yield own
    finally:
        own.close()


# ------------------------------------------------------------------------ dry run


@dataclass(frozen=True)
class DryRunRequest:
    """What to reconcile: audience files or folders, and where profiles come from
    (``profiles_csv``; None: the profiles in the store)."""

    audience_paths: tuple[Path, ...]
    profiles_csv: Path | None = None
    visitors_csv: Path | None = None
    datasource: str | None = None


@dataclass
class DryRunResult:
    """A finished dry run: the summary, how many batches were found, the profiles used."""

    summary: Summary
    batch_count: int
    profiles_label: str
    env_name: str


def _file_sizes(paths: Sequence[Path]) -> dict[str, int]:
    """File name -> size of the files a dry run reads (folders: their visible files)."""
    sizes: dict[str, int] = {}
    for path in paths:
        try:
            if path.is_dir():
                for child in path.iterdir():
                    if child.is_file() and not child.name.startswith("."):
                        sizes[child.name] = child.stat().st_size
            elif path.is_file():
                sizes[path.name] = path.stat().st_size
        except OSError:
            continue
    return sizes


def _profiles(
    services: Services,
    env: Environment,
    request: DryRunRequest,
    cancelled: CancelledFn | None = None,
) -> tuple[ProfileSource, Callable[[], str]]:
    """The run's profiles and a function naming them (called after the run)."""
    if request.profiles_csv is not None:
        csv_profiles = CsvProfiles(request.profiles_csv, request.visitors_csv)
        csv_profiles.columns()  # a bad header is the first error, as it always was
        if request.visitors_csv is not None:
            csv_profiles.validate(cancelled)  # visitors against every profile id, first
        name = request.profiles_csv.name

        def describe() -> str:
            # Valid as a whole even if no batch needed it; known without a second
            # read when the run read every profile.
            return f"{name} ({csv_profiles.validate(cancelled).profiles} profiles)"

        return csv_profiles, describe
    stored = StoreProfiles(services.store, env.name)
    count = stored.count()
    if count == 0:
        raise InputError(
            f"no profiles in the store for {env.name!r}",
            "load them (`audiencectl profiles load FILE.csv`) or give a profiles CSV",
        )
    return stored, lambda: f"the store ({count} profiles)"


def run_dry_run(
    services: Services,
    request: DryRunRequest,
    *,
    progress: StepFn | None = None,
    cancelled: CancelledFn | None = None,
) -> DryRunResult:
    """Reconciles the request's files offline, as ``audiencectl dry-run`` does.

    Promises: the store is only read (profiles, data sources, secrets), never
    written; ``progress`` gets :class:`Step` snapshots in bytes read over all
    files; ``cancelled()`` is checked between chunks and raises
    ``core.reconcile.Cancelled``. Bad input raises ``InputError``.
    """
    if not request.audience_paths:
        raise InputError("no audience file or folder given", "enter a file or a folder path")
    env = services.env()
    routed_env = env
    force: int | None = None
    if request.datasource:
        ds = env.datasource(request.datasource)
        routed_env = replace(env, datasources=(ds,))
        force = ds.destination_id
    codecs = build_codecs(routed_env, lambda ds, name: services.secret(env, ds, name))
    profiles, describe = _profiles(services, env, request, cancelled)
    paths = list(request.audience_paths)
    batches, skipped = batches_from_paths(
        paths, force_destination=force, accept_unnamed=bool(request.datasource)
    )
    skipped = list(skipped)
    sizes = _file_sizes(paths)
    total = sum(sizes.get(f.name, 0) for b in batches for f in b.files) or 1
    read: dict[str, int] = {}

    def on_progress(step: Progress) -> None:
        read[step.file] = step.bytes_read
        if progress is not None:
            done = min(total, sum(read.values()))
            progress(Step(done, total, f"{step.file}: {step.lines:,} lines"))

    def on_index(step: IndexProgress) -> None:
        if progress is not None:  # the bar stays where the files have got to
            progress(Step(min(total, sum(read.values())), total, _indexing_words(step)))

    if progress is not None:
        progress(Step(0, total, f"{len(batches)} batch(es) to reconcile"))
    results = reconcile_batches(
        batches,
        routed_env,
        codecs,
        profiles,
        datasource=request.datasource or None,
        skipped=skipped,
        progress=on_progress,
        cancelled=cancelled,
        indexing=on_index,
    )
    summary = summarize(list(results), skipped)
    label = describe()  # may read a profiles CSV the run did not need
    if progress is not None:
        progress(Step(total, total, f"{summary.records:,} records reconciled"))
    return DryRunResult(summary, len(batches), label, env.name)


def _indexing_words(step: IndexProgress) -> str:
    return index_words(step.datasource, step.rows, step.done)


# ------------------------------------------------------------------------ import pass


class PassTracker:
    """Turns a pass's :class:`PassEvent` s into overall :class:`Step` snapshots:
    batches done (each worth its bytes read) over the batches to process."""

    def __init__(self) -> None:
        self.batches = 0
        self.index = 0
        self.fraction = 0.0
        self.text = "starting"

    def step(self, event: PassEvent) -> Step:
        """The snapshot after ``event``."""
        if event.stage == "list" and event.total:
            self.batches = event.total
        elif event.stage in ("reconcile", "write") and event.total:
            self.batches = max(self.batches, event.total)
            self.index = max(0, event.done - 1)
            self.fraction = 1.0 if event.stage == "write" else 0.0
        elif event.stage == "progress" and event.total:
            self.fraction = min(1.0, event.done / event.total)
        total = max(1, self.batches) * _PER_BATCH
        done = int((self.index + self.fraction) * _PER_BATCH)
        if event.stage == "done":
            done = total
        self.text = event.message
        return Step(min(done, total), total, event.message)


def run_pass_now(
    services: Services,
    *,
    progress: StepFn | None = None,
    cancelled: CancelledFn | None = None,
) -> PassReport:
    """One pass of the import workflow (``import run --once``), with overall progress.

    Refusals and errors are those of ``tui.commands.importwf.run_import_pass``.
    """
    tracker = PassTracker()

    def on_event(event: PassEvent) -> None:
        if progress is not None:
            progress(tracker.step(event))

    return run_import_pass(services, progress=on_event, cancelled=cancelled)


# ------------------------------------------------------------------------ export


@dataclass(frozen=True)
class ExportRequest:
    """What to export: a segment of the store (``store_segment``) or a members CSV,
    as ``segment_id`` for data source ``datasource`` (None: the only one)."""

    segment_id: str
    datasource: str | None
    store_segment: str | None = None
    members_csv: Path | None = None
    gz: bool = False


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
    if not request.store_segment:
        raise InputError("no segment chosen", "pick a segment of the store or a members CSV")
    members = SqliteWorkflowStore(services.store).segment_members(env.name, request.store_segment)
    if not members:
        raise InputError(
            f"segment {request.store_segment} has no member in the store",
            "run the import workflow first, or export a members CSV",
        )
    with tempfile.TemporaryDirectory(prefix="audiencectl-members-") as tmp:
        yield _write_members(members, Path(tmp) / f"segment-{request.store_segment}.csv")


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
        tempfile.TemporaryDirectory(prefix="audiencectl-preview-") as tmp,
    ):
        report = write_export(
            members,
            request.segment_id,
            ds,
            codec,
            profiles,
            Path(tmp),
            gz=request.gz,
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
            cancelled=cancelled,
            hooks=services.hooks,
        )


# ------------------------------------------------------------------------ workflow view


@dataclass(frozen=True)
class WorkflowView:
    """What the workflow panel shows, read from the store in one go."""

    state: str
    changed_at: str
    last_error: str
    processed_files: int
    runs: list[RunRecord]
    segments: dict[str, int]
    latency: list[str]
    notes: list[str]
    interval_minutes: int = 60


def workflow_view(services: Services, runs: int = 8) -> WorkflowView:
    """The import workflow's state, last ``runs`` runs, audiences and expected timing
    (the data of ``audiencectl import status``)."""
    status = import_status(services)
    env = services.env()
    records = SqliteWorkflowStore(services.store).runs(env.name, runs)
    return WorkflowView(
        state=str(status["state"]),
        changed_at=str(status["changed_at"]),
        last_error=str(status["last_error"] or ""),
        processed_files=int(status["processed_files"]),
        runs=records,
        segments={seg: int(v["members"]) for seg, v in status["segments"].items()},
        latency=latency_lines(expected_latency(int(status["interval_minutes"]))),
        notes=[str(n) for n in status["notes"]],
        interval_minutes=int(status["interval_minutes"]),
    )


def latency_lines(latency: ExpectedLatency) -> list[str]:
    """The expected timing in two short lines, so slow is not read as broken."""
    low, high = latency.end_to_end_hours
    nxt = latency.next_aam_delivery.strftime("%m-%d %H:%M")
    return [
        f"AAM sends daily about {AAM_DAILY_HOUR_UTC}:00 UTC, sometimes late (next: {nxt} UTC)",
        f"expect {low}-{high} h end to end ({latency.from_analytics_max_hours} h from "
        "Analytics): slow is not broken",
    ]
