"""The one batch builder: audience files grouped into batches, for a local folder (the
dry run) and an import account's listing (the import pass) alike.

Both sides give a list of names and a way to open a file by name
(:class:`BatchFiles`). :func:`plan_batches` reads the ``.info`` manifests through
the one bounded reader (``core.formats.read_manifest``) and groups the names
(``core.formats.classify_names``); :func:`check_part` checks one part against its
manifest entry, with one message and hint wherever the part came from; and
:func:`batch_input` turns a batch whose parts are on disk into a ``BatchInput``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from core.errors import InputError
from core.formats import (
    Batch,
    IgnoredName,
    Manifest,
    classify_names,
    parse_manifest_name,
    parse_outbound_name,
    read_manifest,
    verify_part,
)
from core.reconcile.types import AudienceFile, BadBatchFile, BatchInput

#: Opens a file of the batch's folder or account by name (raw bytes).
OpenFile = Callable[[str], AbstractContextManager[BinaryIO]]


@dataclass
class BatchPlan:
    """A listing grouped into batches: every batch (complete or waiting, by timestamp),
    the names that fit no batch, the manifests read (by name) and those that could not
    be read or parsed (name: the one-line reason; their batch is held back)."""

    batches: list[Batch]
    ignored: list[IgnoredName]
    manifests: dict[str, Manifest]
    unreadable: dict[str, str] = field(default_factory=dict)

    def manifest_of(self, batch: Batch) -> Manifest | None:
        """The batch's manifest when it has one and it was read."""
        return self.manifests.get(batch.manifest_name) if batch.manifest_name else None


def plan_batches(
    names: Sequence[str],
    open_file: OpenFile,
    *,
    read: Callable[[str], bool] | None = None,
    on_manifest: Callable[[str], None] | None = None,
) -> BatchPlan:
    """Group ``names`` into batches, reading each manifest among them through ``open_file``.

    ``read(name)`` chooses the manifests to read (default: all; a manifest not read
    keeps its batch waiting); ``on_manifest(name)`` is called after each one is read.
    A manifest that is too large or does not parse holds its batch back with the reason
    (``BatchPlan.unreadable``); errors of ``open_file`` (connection) pass through.
    """
    manifests: dict[str, Manifest] = {}
    unreadable: dict[str, str] = {}
    for name in names:
        if parse_manifest_name(name) is None or parse_outbound_name(name) is not None:
            continue
        if read is not None and not read(name):
            continue
        try:
            manifests[name] = read_manifest(name, open_file)
        except InputError as exc:
            unreadable[name] = exc.message.removeprefix(f"{name}: ")
        if on_manifest is not None:
            on_manifest(name)
    batches, ignored = classify_names(names, manifests, unreadable)
    return BatchPlan(batches, ignored, manifests, unreadable)


def check_part(batch: Batch, manifest: Manifest | None, name: str, path: Path) -> None:
    """Check the part ``name`` of ``batch``, at ``path``, against its manifest entry.

    Nothing to check without a manifest or an entry for the part; otherwise every
    problem (size, md5, line count) in one ``BadBatchFile`` naming the batch (only that
    batch is left out: often a part still being uploaded).
    """
    entry = manifest.file(name) if manifest is not None else None
    if entry is None:
        return
    problems = verify_part(entry, path)
    if problems:
        raise BadBatchFile(
            f"batch {batch.key}: " + "; ".join(problems),
            f"the file differs from {batch.manifest_name}: fetch it again from AAM "
            "(an import fetches it again on its next run, after `audiencectl import resume`)",
        )


def batch_input(
    batch: Batch, paths: Mapping[str, Path], destination_id: int | None = None
) -> BatchInput:
    """The ``BatchInput`` of a batch whose parts are on disk (``paths`` by part name);
    ``destination_id`` replaces the one in the names when given."""
    return BatchInput(
        key=batch.key,
        mode=batch.mode,
        destination_id=batch.destination_id if destination_id is None else destination_id,
        files=tuple(AudienceFile.from_path(paths[name]) for name in batch.part_names),
        notes=batch.notes,
    )


# ------------------------------------------------------------------------ a local folder


def _expand(paths: Sequence[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files to read, and ``(file, reason)`` for each one left out. A folder is listed
    as an import account on it is (``LocalTransport.list``: the one rule for the dry run,
    the import pass and ``import status``); a symbolic link given by name is left out
    for the same reason."""
    from core.transport import SYMLINK_REASON, LocalTransport

    out: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for path in paths:
        path = Path(path)
        if path.is_symlink():
            skipped.append((path.name, SYMLINK_REASON))
        elif path.is_dir():
            folder = LocalTransport(path)
            out.extend(path / f.name for f in folder.list())
            skipped.extend(folder.list_skipped)
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder", "check the path")
    return out, skipped


def _opener(by_name: Mapping[str, Path]) -> OpenFile:
    @contextmanager
    def open_file(name: str) -> Iterator[BinaryIO]:
        try:
            handle = by_name[name].open("rb")
        except OSError as exc:
            raise InputError(f"{name}: cannot be read ({exc.strerror})", "check the file") from None
        with handle:
            yield handle

    return open_file


def batches_from_paths(
    paths: Sequence[Path],
    *,
    force_destination: int | None = None,
    accept_unnamed: bool | None = None,
) -> tuple[list[BatchInput], list[tuple[str, str]]]:
    """Group audience files on disk into batches; also return ``(file, reason)`` skipped.

    A folder means all its regular files (not recursive; symbolic links and names an
    account may not hold are skipped with the reason, see :func:`_expand`). Batches
    come from
    :func:`plan_batches`; when a ``.info`` manifest is present every part is
    checked against it (:func:`check_part`); a batch with a part that differs is
    skipped, all its files, with the reason. Incomplete batches are skipped with
    the formats module's waiting reason.

    ``force_destination`` sets every batch's destination ID. ``accept_unnamed``
    (default: whether ``force_destination`` is given) turns each file whose
    name is not an AAM outbound name into a batch of its own (mode ``iter``);
    otherwise such files are skipped with the reason.
    """
    if accept_unnamed is None:
        accept_unnamed = force_destination is not None
    by_name: dict[str, Path] = {}
    files, skipped = _expand(paths)
    for path in files:
        if path.name in by_name and by_name[path.name] != path:
            raise InputError(
                f"two files are named {path.name} ({by_name[path.name]} and {path})",
                "give each delivery's files once",
            )
        by_name[path.name] = path
    plan = plan_batches(list(by_name), _opener(by_name))
    out: list[BatchInput] = []
    for batch in plan.batches:
        if not batch.complete:
            names = (*batch.part_names, *((batch.manifest_name,) if batch.manifest_name else ()))
            skipped.extend((name, batch.waiting_reason) for name in names)
            continue
        manifest = plan.manifest_of(batch)
        try:
            for name in batch.part_names:
                check_part(batch, manifest, name, by_name[name])
        except BadBatchFile as exc:
            names = (*batch.part_names, *((batch.manifest_name,) if batch.manifest_name else ()))
            skipped.extend((name, exc.message) for name in names)
            continue
        out.append(batch_input(batch, by_name, force_destination))
    for item in plan.ignored:
        name = Path(item.name).name
        unnamed = parse_outbound_name(name) is None and parse_manifest_name(name) is None
        if accept_unnamed and unnamed:
            single = (AudienceFile.from_path(by_name[name]),)
            out.append(BatchInput(name, "iter", force_destination, single))
        else:
            skipped.append((name, item.reason))
    return out, skipped
