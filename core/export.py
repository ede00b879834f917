"""Export a segment to Audience Manager: members CSV -> AAM inbound file -> folder or account.

The members CSV has a header with an ``id`` column (profile IDs). Each member
is looked up in the profile dimension (``ExportProfiles``), its ID for AAM is
taken from the data source's reconciliation key (declared IDs) or its visitor
IDs (visitor data source), transformed in batches by ``IdCodec.outgoing``
(normalized, hashed or AES-encrypted), and written with
``core.formats.write_inbound`` as ``ftp_dpm_<DPID>_<seconds>.sync[.N][.gz]`` (or
``.overwrite`` when asked), ONE line ``ID<TAB>segment`` per ID (AAM keeps at most 200
lines per ID: an ID met again is counted as a duplicate, never written twice). Members
without a usable ID (including an ID holding ``:`` or ``%3A``, which AAM forbids)
are Campaign's "complement": counted per reason, the first 20 listed.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core import clock
from core.cipher import IdCodec
from core.errors import InputError, OperationCancelled
from core.formats import has_colon, has_control, write_inbound
from core.ids import check_numeric_id
from core.leftovers import clean_remote_leftovers, temp_prefix
from core.model import Account, DataSource, Environment
from core.outcomes import Outcome
from core.reconcile import make_codec

__all__ = [
    "CHUNK",
    "MAX_SKIPPED_SAMPLES",
    "ExportProfiles",
    "ExportReport",
    "choose_datasource",
    "make_codec",
    "read_member_chunks",
    "run_export",
    "write_export",
]

CHUNK = 10_000
MAX_SKIPPED_SAMPLES = 20

#: Why a member got no line in the file (the JSON ``skipped`` keys).
REASONS = {
    "unknown_profile": "no profile with this id in the store",
    "empty_member_id": "the members CSV has an empty id",
    "empty_value": "the profile's reconciliation key is empty",
    "no_visitor_id": "the profile has no visitor ID (never clicked a tracked email)",
    "invalid_email": "the value is not an email address",
    "invalid_phone": "the value is not a phone number",
    "invalid_visitor_id": "the visitor ID is not a 38-digit ECID",
    "colon_in_id": "the ID holds ':' or '%3A', which AAM does not accept in an ID",
    "control_in_id": "the ID holds a TAB, newline or control character, which would break "
    "the ID<TAB>segment line",
}
_OUTCOME_REASON = {
    Outcome.NOT_FOUND: "empty_value",
    Outcome.INVALID_EMAIL: "invalid_email",
    Outcome.INVALID_PHONE: "invalid_phone",
    Outcome.INVALID_VISITOR_ID: "invalid_visitor_id",
}


class ExportProfiles(Protocol):
    """Profile lookups for an export (``storage.audiences.SqliteExportProfiles``)."""

    def values_for(self, profile_ids: Sequence[str], ds: DataSource) -> dict[str, list[str]]:
        """Known profiles -> their values to export (the key column's value, or every
        visitor ID); unknown IDs are absent. ``InputError`` for a missing column."""
        ...


@dataclass
class ExportReport:
    """What an export wrote, and who could not be exported and why."""

    files: list[str]
    lines: int
    segment_id: str
    datasource: str
    members: int
    duplicate_members: int = 0
    duplicate_ids: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_samples: list[dict[str, str]] = field(default_factory=list)
    uploaded: bool = False
    destination: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``export --json`` object."""
        return {
            "file": self.files[0] if self.files else None,
            "files": list(self.files),
            "lines": self.lines,
            "segment_id": self.segment_id,
            "datasource": self.datasource,
            "members": self.members,
            "duplicate_members": self.duplicate_members,
            "duplicate_ids": self.duplicate_ids,
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_samples": list(self.skipped_samples),
            "uploaded": self.uploaded,
            "destination": self.destination,
        }


def choose_datasource(env: Environment, label: str | None) -> DataSource:
    """The data source named ``label``, or the only one; ``InputError`` listing the labels."""
    if label:
        return env.datasource(label)
    if len(env.datasources) == 1:
        return env.datasources[0]
    labels = ", ".join(repr(ds.label) for ds in env.datasources) or "none"
    if not env.datasources:
        raise InputError(
            f"the environment {env.name!r} has no data source",
            "add a [[datasources]] block to the configuration",
        )
    raise InputError(
        f"the environment has {len(env.datasources)} data sources; choose one with --datasource",
        f"labels: {labels}",
    )


def read_member_chunks(path: Path, chunk: int = CHUNK) -> Iterator[list[str]]:
    """Profile IDs of the members CSV (the ``id`` column, trimmed), in lists of ``chunk``.

    ``InputError`` (naming the file and line) for a missing file, a file that is
    not UTF-8 CSV, or a header without an ``id`` column.
    """
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror or exc})", "check the path"
        ) from None
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path.name} is empty", "the first row names the columns: id,...")
            names = [h.strip().lower() for h in header]
            if "id" not in names:
                found = ", ".join(repr(h) for h in header) or "none"
                raise InputError(
                    f"{path.name}: no `id` column (columns found: {found})",
                    "the members CSV has a header row with an id column of profile IDs",
                )
            at = names.index("id")
            batch: list[str] = []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                batch.append(row[at].strip() if at < len(row) else "")
                if len(batch) >= chunk:
                    yield batch
                    batch = []
            if batch:
                yield batch
        except UnicodeDecodeError:
            raise InputError(
                f"{path.name}: line {reader.line_num + 1} is not UTF-8", "save it as UTF-8"
            ) from None
        except csv.Error as exc:
            raise InputError(
                f"{path.name}: line {reader.line_num} is not valid CSV ({exc})",
                "check the quotes on that line",
            ) from None


class _Rows:
    """Turns member chunks into (ID, [segment]) rows, counting what is skipped."""

    def __init__(
        self,
        report: ExportReport,
        ds: DataSource,
        codec: IdCodec,
        profiles: ExportProfiles,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.report = report
        self.ds = ds
        self.codec = codec
        self.profiles = profiles
        self.cancelled = cancelled
        self.seen_members: set[str] = set()
        self.seen_ids: set[str] = set()

    def _skip(self, member: str, reason: str) -> None:
        self.report.skipped[reason] += 1
        if len(self.report.skipped_samples) < MAX_SKIPPED_SAMPLES:
            self.report.skipped_samples.append({"id": member, "reason": reason})

    def rows(self, chunks: Iterator[list[str]]) -> Iterator[tuple[str, Sequence[str]]]:
        segment = [self.report.segment_id]
        for chunk in chunks:
            _check(self.cancelled)
            members: list[str] = []
            for member in chunk:
                if not member:
                    self._skip(member, "empty_member_id")
                elif member in self.seen_members:
                    self.report.duplicate_members += 1
                else:
                    self.seen_members.add(member)
                    members.append(member)
            self.report.members += len(members)
            found = self.profiles.values_for(members, self.ds)
            owners: list[str] = []
            values: list[str] = []
            for member in members:
                if member not in found:
                    self._skip(member, "unknown_profile")
                    continue
                if not found[member]:
                    self._skip(member, "no_visitor_id" if self.codec.visitor else "empty_value")
                    continue
                for value in found[member]:
                    owners.append(member)
                    values.append(value)
            outcome_of: dict[str, str] = {}
            usable: set[str] = set()
            for member, out in zip(owners, self.codec.outgoing(values), strict=True):
                if isinstance(out, Outcome):
                    outcome_of.setdefault(member, _OUTCOME_REASON.get(out, out.value))
                    continue
                if has_control(out):
                    outcome_of.setdefault(member, "control_in_id")
                    continue
                if has_colon(out):
                    outcome_of.setdefault(member, "colon_in_id")
                    continue
                usable.add(member)
                if out in self.seen_ids:
                    self.report.duplicate_ids += 1
                    continue
                self.seen_ids.add(out)
                self.report.lines += 1
                yield out, segment
            for member in dict.fromkeys(owners):
                if member not in usable:
                    self._skip(member, outcome_of.get(member, "empty_value"))


def write_export(
    members_csv: Path,
    segment_id: str,
    ds: DataSource,
    codec: IdCodec,
    profiles: ExportProfiles,
    out_dir: Path,
    *,
    gz: bool = False,
    overwrite: bool = False,
    unix_seconds: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ExportReport:
    """Writes the AAM inbound file for ``segment_id`` into ``out_dir``; returns the report.

    The file appears under its final name only when complete (``write_inbound``);
    when ``ftp_dpm_<DPID>_<seconds>`` is taken in ``out_dir`` (another export in the
    same second) the file moves to the next free second, atomically;
    ``overwrite`` writes the ``.overwrite`` form (AAM replaces each listed ID's traits
    of the data source instead of adding to them).
    ``InputError`` when the data source has no DPID, the segment ID is not numeric,
    or no member has a usable ID (nothing is written then). ``OperationCancelled``
    when ``cancelled()`` turns true (checked per chunk of members; nothing is written).
    """
    segment = str(check_numeric_id(segment_id, "segment_id"))
    if ds.dpid is None:
        raise InputError(
            f"the data source {ds.label!r} has no dpid", "set its AAM data source ID (dpid)"
        )
    seconds = unix_seconds if unix_seconds is not None else int(clock.now().timestamp())
    report = ExportReport(files=[], lines=0, segment_id=segment, datasource=ds.label, members=0)
    rows = _Rows(report, ds, codec, profiles, cancelled)
    paths = write_inbound(
        rows.rows(read_member_chunks(Path(members_csv))),
        Path(out_dir),
        ds.dpid,
        seconds,
        gz=gz,
        overwrite=overwrite,
        next_free=True,
    )
    if not paths:
        top = report.skipped.most_common(1)
        why = f"most common reason: {top[0][0]} ({REASONS.get(top[0][0], '')})" if top else ""
        raise InputError(
            f"none of the {report.members} member(s) has a usable ID; nothing was written",
            why or "the members CSV lists no profile",
        )
    report.files = [p.name for p in paths]
    return report


def run_export(
    env: Environment,
    members_csv: Path,
    segment_id: str,
    profiles: ExportProfiles,
    resolve: Callable[[DataSource, str], str],
    *,
    datasource: str | None = None,
    out_dir: Path | None = None,
    open_account: Callable[[Account], AbstractContextManager[Any]] | None = None,
    gz: bool = False,
    overwrite: bool = False,
    cancelled: Callable[[], bool] | None = None,
    hooks: Callable[[str], None] | None = None,
) -> ExportReport:
    """Builds the export and writes it to ``out_dir``, or uploads it through the export
    account when ``open_account`` is given (``upload_atomic``: written under a
    temporary name, renamed when complete; the local copy is deleted). The codec is
    ``core.reconcile.make_codec``'s, as for reconciliation. ``hooks("upload")`` is
    called after each block sent (tests stop the process there).

    Errors: ``InputError`` (exit 2), ``ConnectionFailure`` / host key errors (exit 3),
    ``OperationCancelled`` when ``cancelled()`` turns true while the file is built or
    sent (the local file or the remote temporary file is removed: nothing is left).
    """
    ds = choose_datasource(env, datasource)
    codec = make_codec(ds, resolve)
    if open_account is None:
        target = Path(out_dir or Path.cwd())
        if not target.is_dir():
            raise InputError(f"{target} is not a folder", "create it or choose another --out")
        report = write_export(
            members_csv,
            segment_id,
            ds,
            codec,
            profiles,
            target,
            gz=gz,
            overwrite=overwrite,
            cancelled=cancelled,
        )
        report.destination = str(target)
        return report
    with tempfile.TemporaryDirectory(prefix=temp_prefix("export")) as tmp:
        report = write_export(
            members_csv,
            segment_id,
            ds,
            codec,
            profiles,
            Path(tmp),
            gz=gz,
            overwrite=overwrite,
            cancelled=cancelled,
        )
        with open_account(env.export_account) as files:
            clean_remote_leftovers(files)  # .part- uploads a killed run left
            taken = {remote.name for remote in files.list()}
            report.files = _free_names(Path(tmp), report.files, taken)
            sent: list[str] = []
            try:
                for name in report.files:
                    files.upload_atomic(
                        Path(tmp) / name, name, progress=_upload_progress(cancelled, hooks)
                    )
                    sent.append(name)
            except OperationCancelled:
                for name in sent:  # parts already renamed: a cancel leaves nothing
                    files.remove(name)
                raise
            report.destination = str(getattr(files, "location", env.export_account.endpoint))
        report.uploaded = True
    return report


_INBOUND = re.compile(r"^(ftp_dpm_\d+_)(\d{10})(\..*)$")


def _free_names(folder: Path, names: list[str], taken: set[str]) -> list[str]:
    """Renames the local parts so that none collides with a file already on the account.

    Two exports in the same second (two segments, two data sources on one DPID)
    would share ``ftp_dpm_<DPID>_<seconds>``; the later ones move to the next
    free second, all parts of one export together.
    """
    shift = 0
    while shift < 3600:
        moved = [_with_seconds(name, shift) for name in names]
        if not taken.intersection(moved):
            break
        shift += 1
    else:
        raise InputError(
            "no free ftp_dpm_ file name in the next hour on the export account",
            "clear processed files from the export folder",
        )
    for old, new in zip(names, moved, strict=True):
        if old != new:
            (folder / old).rename(folder / new)
    return moved


def _with_seconds(name: str, shift: int) -> str:
    match = _INBOUND.match(name)
    if match is None or shift == 0:
        return name
    return f"{match[1]}{int(match[2]) + shift:010d}{match[3]}"


def _upload_progress(
    cancelled: Callable[[], bool] | None, hooks: Callable[[str], None] | None
) -> Callable[[int, int], None]:
    """The upload's progress callback: the hook, then the cancel check (raising
    there makes ``upload_atomic`` remove its temporary file)."""

    def progress(done: int, total: int) -> None:
        if hooks is not None:
            hooks("upload")
        _check(cancelled)

    return progress


def _check(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise OperationCancelled("export cancelled", "nothing was written")
