"""The dry run: reconcile audience files offline against profiles, change nothing.

One use case for ``audiencectl dry-run`` and the console's Dry run tab. Profiles
come from a CSV (with an optional visitor-ID map) or, when none is given, from
the store (profiles and visitor map loaded with ``audiencectl profiles load``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import InputError
from core.model import Environment
from core.profiles import CsvProfiles, ProfileSource
from core.reconcile import (
    IndexProgress,
    Progress,
    SourceCause,
    Summary,
    batches_from_paths,
    build_codecs,
    index_words,
    reconcile_batches,
    summarize,
)
from storage.profiles import StoreProfiles
from usecases.progress import CancelledFn, Step, StepFn
from usecases.services import Services

#: Unreconciled samples kept by default (spread across outcomes).
MAX_SAMPLES = 100


@dataclass(frozen=True)
class DryRunRequest:
    """What to reconcile: audience files or folders, and where profiles come from
    (``profiles_csv``; None: the profiles in the store)."""

    audience_paths: tuple[Path, ...]
    profiles_csv: Path | None = None
    visitors_csv: Path | None = None
    datasource: str | None = None
    max_samples: int = MAX_SAMPLES


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
    if request.visitors_csv is not None:
        raise InputError(
            "a visitors CSV goes with a profiles CSV",
            "give the profiles CSV too, or neither to use the store's profiles",
        )
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
    """Reconciles the request's files offline.

    Promises: the store is only read (profiles, data sources, secrets), never
    written; ``progress`` gets :class:`Step` snapshots in bytes read over all
    files; ``cancelled()`` is checked between chunks and raises
    ``core.errors.OperationCancelled``. Bad input raises ``InputError``.
    """
    if not request.audience_paths:
        raise InputError("no audience file or folder given", "enter a file or a folder path")
    if not services.db_path.exists():
        raise InputError(
            f"no store at {services.db_path}",
            "import a configuration first (`audiencectl config import FILE.toml`)",
        )
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
            words = index_words(step.datasource, step.rows, step.done)
            progress(Step(min(total, sum(read.values())), total, words))

    if progress is not None:
        progress(Step(0, total, f"{len(batches)} batch(es) to reconcile"))
    causes: list[SourceCause] = []
    results = reconcile_batches(
        batches,
        routed_env,
        codecs,
        profiles,
        datasource=request.datasource or None,
        max_samples=request.max_samples,
        skipped=skipped,
        progress=on_progress,
        cancelled=cancelled,
        indexing=on_index,
        causes=causes,
    )
    batch_results = list(results)  # the causes are sought once every batch is done
    summary = summarize(batch_results, skipped, max_samples=request.max_samples, causes=causes)
    label = describe()  # may read a profiles CSV the run did not need
    if progress is not None:
        progress(Step(total, total, f"{summary.records:,} records reconciled"))
    return DryRunResult(summary, len(batches), label, env.name)
