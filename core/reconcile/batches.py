"""Batches from files on disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import InputError
from core.formats import (
    Manifest,
    classify_names,
    parse_manifest,
    parse_manifest_name,
    parse_outbound_name,
    verify_part,
)
from core.reconcile.types import AudienceFile, BatchInput


def _expand(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            out.extend(
                sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            )
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder", "check the path")
    return out


def _read_manifest(path: Path) -> Manifest:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path.name}: cannot be read ({exc.strerror})", "check the file"
        ) from None
    try:
        return parse_manifest(data)
    except InputError as exc:
        raise InputError(f"{path.name}: {exc.message}", exc.hint) from None


def batches_from_paths(
    paths: Sequence[Path],
    *,
    force_destination: int | None = None,
    accept_unnamed: bool | None = None,
) -> tuple[list[BatchInput], list[tuple[str, str]]]:
    """Group audience files on disk into batches; also return ``(file, reason)`` skipped.

    A folder means all its files (not hidden, not recursive). Split parts are
    grouped by ``core.formats.classify_names``; when a ``.info`` manifest is
    present every part is checked against it (``verify_part``) and a part that
    fails is an ``InputError`` naming the file and the problem. Incomplete
    batches are skipped with the formats module's waiting reason.

    ``force_destination`` sets every batch's destination ID. ``accept_unnamed``
    (default: whether ``force_destination`` is given) turns each file whose
    name is not an AAM outbound name into a batch of its own (mode ``iter``);
    otherwise such files are skipped with the reason.
    """
    if accept_unnamed is None:
        accept_unnamed = force_destination is not None
    files = _expand(paths)
    by_name: dict[str, Path] = {}
    for path in files:
        if path.name in by_name and by_name[path.name] != path:
            raise InputError(
                f"two files are named {path.name} ({by_name[path.name]} and {path})",
                "give each delivery's files once",
            )
        by_name[path.name] = path
    manifests = {
        name: _read_manifest(path)
        for name, path in by_name.items()
        if parse_manifest_name(name) is not None and parse_outbound_name(name) is None
    }
    batches, ignored = classify_names(list(by_name), manifests)
    out: list[BatchInput] = []
    skipped: list[tuple[str, str]] = []
    for batch in batches:
        if not batch.complete:
            names = batch.part_names or ((batch.manifest_name,) if batch.manifest_name else ())
            skipped.extend((name, batch.waiting_reason) for name in names)
            continue
        if batch.manifest_name is not None:
            manifest = manifests[batch.manifest_name]
            for part in batch.parts:
                entry = manifest.file(part.name)
                if entry is None:
                    continue
                problems = verify_part(entry, by_name[part.name])
                if problems:
                    raise InputError(
                        "; ".join(problems),
                        f"fetch {part.name} again; {batch.manifest_name} describes the batch",
                    )
        out.append(
            BatchInput(
                key=batch.key,
                mode=batch.mode,
                destination_id=force_destination
                if force_destination is not None
                else batch.destination_id,
                files=tuple(AudienceFile.from_path(by_name[p.name]) for p in batch.parts),
            )
        )
    for item in ignored:
        name = Path(item.name).name
        unnamed = parse_outbound_name(name) is None and parse_manifest_name(name) is None
        if accept_unnamed and unnamed:
            single = (AudienceFile.from_path(by_name[name]),)
            out.append(BatchInput(name, "iter", force_destination, single))
        else:
            skipped.append((name, item.reason))
    return out, skipped
