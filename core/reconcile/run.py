"""The run: routing, the ``Reconciler`` (indexes kept for the run, per-chunk lookups in
priority order, segment grouping) and ``reconcile_batches``."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat

import numpy as np

from core.cipher import IdCodec
from core.errors import InputError
from core.model import DataSource, Environment, IdType
from core.outcomes import Outcome
from core.profiles import CsvProfiles, ProfileSource
from core.reconcile.engine import Engine, ProfileIndex, _Found
from core.reconcile.misses import MissCollector, SourceCause
from core.reconcile.reading import _prepare, _Prepared
from core.reconcile.samples import _sample, _Sampler
from core.reconcile.types import (
    CHUNK_LINES,
    BadBatchFile,
    BatchInput,
    BatchResult,
    Cancelled,
    IndexProgress,
    Progress,
    SegmentResult,
)
from core.reconcile.worker import _use_worker, _Worker


def route(
    env: Environment, destination_id: int | None, datasource: str | None = None
) -> list[DataSource]:
    """The data sources a batch goes to, highest priority first.

    With ``datasource`` (a label): only that one, whatever the destination.
    Otherwise those whose ``destination_id`` equals the batch's (none when the
    batch has no destination ID).
    """
    if datasource is not None:
        return [env.datasource(datasource)]
    if destination_id is None:
        return []
    return [ds for ds in env.by_priority() if ds.destination_id == destination_id]


#: Decoded chunks are joined with the indexes this many lines at a time (at least):
#: a query costs a few milliseconds whatever its size, a chunk is 16k lines.
JOIN_LINES = 1 << 18


class _Groups:
    """Adds reconciled lines to segments, grouped by their segment lists."""

    def __init__(self, prepared: _Prepared) -> None:
        self.names = prepared.names
        self.segs = prepared.segs
        self.removed = prepared.removed
        self.no_removed = prepared.no_removed

    def name_all(self, segments: dict[str, SegmentResult]) -> None:
        """Every segment a line of the chunk names, even with no profile reconciled.

        A ``full`` batch replaces each segment it carries: a segment whose lines
        all failed to reconcile must still be emptied, so it must be listed.
        """
        names = self.names
        for code in np.unique(self.segs).tolist():
            for seg in names[int(code)]:
                _segment(segments, seg)

    def add(self, segments: dict[str, SegmentResult], lines: np.ndarray, found: _Found) -> int:
        """Add the profiles of ``found`` (positions in ``lines``); the number reconciled."""
        hits = np.flatnonzero(found.hit)
        if hits.size:
            at = lines[hits]
            self._update(segments, "members", self.segs[at], hits, found.single)
            removed = self.removed[at]
            some = removed != self.no_removed
            if some.any():
                self._update(segments, "removed", removed[some], hits[some], found.single)
        names = self.names
        for j, pids in found.multi.items():
            line = int(lines[j])
            for seg in names[int(self.segs[line])]:
                _segment(segments, seg).members.update(pids)
            for seg in names[int(self.removed[line])]:
                _segment(segments, seg).removed.update(pids)
        return int(hits.size) + len(found.multi)

    def _update(
        self,
        segments: dict[str, SegmentResult],
        which: str,
        codes: np.ndarray,
        positions: np.ndarray,
        values: np.ndarray,
    ) -> None:
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        picked = values[positions[order]].tolist()
        cuts = np.flatnonzero(np.diff(codes)) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), len(picked)]
        names = self.names
        for start, end in zip(starts, ends, strict=True):
            part = picked[start:end]
            for seg in names[int(codes[start])]:
                getattr(_segment(segments, seg), which).update(part)


def _segment(segments: dict[str, SegmentResult], seg: str) -> SegmentResult:
    result = segments.get(seg)
    if result is None:
        result = segments[seg] = SegmentResult()
    return result


class Reconciler:
    """One run over several batches: the codecs, and each data source's profile index,
    built on first use and kept for the run.

    :meth:`batch` reconciles one batch against the data sources it was routed to
    (:func:`route`); :func:`reconcile_batches` is the loop over many. The promises
    and callbacks are those of :func:`reconcile_batches`.
    """

    def __init__(
        self,
        codecs: dict[str, IdCodec],
        profiles: ProfileSource,
        *,
        max_samples: int = 100,
        progress: Callable[[Progress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        chunk_lines: int = CHUNK_LINES,
        indexing: Callable[[IndexProgress], None] | None = None,
        forensics: MissCollector | None = None,
    ) -> None:
        self.codecs = codecs
        #: Collects each data source's misses for :meth:`causes` (None: no forensics).
        self.forensics = forensics
        self.profiles = profiles
        self.max_samples = max_samples
        self.progress = progress
        self.cancelled = cancelled
        self.chunk_lines = chunk_lines
        self.indexing = indexing
        self.indexes: dict[str, ProfileIndex] = {}
        self._columns: list[str] | None = None
        self._engine: Engine | None = None
        self._rows: dict[str, int] = {}  # rows read into each data source's index

    def codec(self, ds: DataSource) -> IdCodec:
        codec = self.codecs.get(ds.label)
        if codec is None:
            raise InputError(
                f"no codec for data source {ds.label!r}",
                "build codecs for every routed data source",
            )
        return codec

    def index(self, ds: DataSource) -> ProfileIndex:
        """The data source's lookup index, built on first use and kept for the run."""
        built = self.indexes.get(ds.label)
        if built is not None:
            return built
        codec = self.codec(ds)
        engine = self.engine()

        def rows_read(rows: int) -> None:
            self._indexed(ds, rows)

        index: ProfileIndex | None = None
        chunks: Iterator[tuple[list[str | None], list[str]]]
        if ds.id_type is IdType.VISITOR:
            chunks = (
                (codec.profile_keys(vids), pids) for vids, pids in self.profiles.visitor_chunks()
            )
        else:
            if self._columns is None:
                self._columns = self.profiles.columns()
            column = ds.reconciliation_key
            if column not in self._columns:
                found = ", ".join(self._columns) or "none: no profiles"
                raise InputError(
                    f"data source {ds.label!r}: reconciliation key {column!r} is not a profile "
                    f"column (columns: {found})",
                    "load profiles with that column, or fix the data source's reconciliation_key",
                )
            if isinstance(self.profiles, CsvProfiles):
                index = engine.build_from_csv(
                    codec, self.profiles, column, self.check_cancelled, rows_read
                )
            chunks = self._column_keys(ds, codec, column)
        if index is None:
            visitors = ds.id_type is IdType.VISITOR  # a pair may be listed twice
            index = engine.build(
                codec, chunks, self.check_cancelled, rows_read, distinct_pids=visitors
            )
        self.indexes[ds.label] = index
        self._indexed(ds, self._rows.get(ds.label, 0), done=True)
        return index

    def _column_keys(
        self, ds: DataSource, codec: IdCodec, column: str
    ) -> Iterator[tuple[list[str | None], list[str]]]:
        """The column's lookup keys and profile ids, chunk by chunk; the column kept for
        forensics as it goes (``MissCollector.keep``)."""
        for pids, values in self.profiles.column_chunks(column):
            keys = codec.profile_keys(values)
            if self.forensics is not None:
                self.forensics.keep(ds, keys, values)
            yield keys, pids

    def causes(self) -> list[SourceCause]:
        """The website mistakes behind the misses collected since the last call
        (``core.reconcile.misses``); nothing without ``forensics``."""
        if self.forensics is None:
            return []
        return self.forensics.causes(
            self.codecs, self.profiles, self._contains, self._keys, self.check_cancelled
        )

    def _contains(self, label: str) -> Callable[[Sequence[str]], Sequence[bool]] | None:
        """A membership test on a data source's lookup keys: its run index."""
        index = self.indexes.get(label)
        return index.contains if index is not None else None

    def _keys(self, label: str) -> Callable[[], list[str]] | None:
        """A data source's lookup keys as indexed (its normalized values), read from the
        index when asked (an index built by DuckDB from a CSV kept nothing else)."""
        index = self.indexes.get(label)
        return index.keys if index is not None else None

    def engine(self) -> Engine:
        """The run's DuckDB database, opened on first use."""
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    def close(self) -> None:
        """Free the run's indexes (the DuckDB database)."""
        self.indexes.clear()
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def _indexed(self, ds: DataSource, rows: int, done: bool = False) -> None:
        self._rows[ds.label] = rows
        if self.indexing is not None:
            self.indexing(IndexProgress(ds.label, rows, done))

    def check_cancelled(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise Cancelled()

    @staticmethod
    def _unreconciled(
        prepared: _Prepared,
        positions: list[int],
        failed: dict[int, Outcome],
        decoded: set[int],
        outcomes: Counter[str],
        sampler: _Sampler,
    ) -> None:
        """Count (and sample, in line order) the lines no data source reconciled."""
        not_found = Outcome.NOT_FOUND
        got = [not_found if j in decoded else failed[j] for j in positions]
        for outcome, number in Counter(got).items():
            outcomes[outcome.value] += number
        wanted = {o for o in set(got) if sampler.wants(o.value)}
        if not wanted:
            return
        ids = prepared.ids_list()
        for j, outcome in zip(positions, got, strict=True):
            if outcome in wanted:
                line = int(prepared.lines[j])
                sampler.add(_sample(prepared.file, line, ids[j], outcome))
                if not sampler.wants(outcome.value):
                    wanted.discard(outcome)
                    if not wanted:
                        break

    def batch(self, batch: BatchInput, sources: Sequence[DataSource]) -> BatchResult:
        """The batch's result against ``sources`` (highest priority first); ``Cancelled``
        when ``cancelled()`` turns true, ``BadBatchFile`` when a file of the batch cannot
        be read to its end (nothing of the batch counts: the misses it added for
        forensics are taken back too), ``InputError`` for input that stops the run."""
        sources = list(sources)
        mark = self.forensics.mark() if self.forensics is not None else None
        try:
            return self._batch(batch, sources)
        except BadBatchFile:
            if self.forensics is not None and mark is not None:
                self.forensics.rollback(mark)
            raise

    def _batch(self, batch: BatchInput, sources: list[DataSource]) -> BatchResult:
        codecs = [self.codec(ds) for ds in sources]
        # A large batch on disk is read and decoded in a child process, started before
        # the indexes are built so that both run at once (two cores).
        worker = None
        if _use_worker(batch.files):
            with contextlib.suppress(OSError):  # cannot start one: read in-process
                worker = _Worker(batch.files, codecs, self.chunk_lines)
        try:
            steps = [(codec, self.index(ds)) for ds, codec in zip(sources, codecs, strict=True)]
            # From here on an input error comes from the batch's own files (a damaged
            # or bomb-like gzip): that batch fails, whole, and the run may go on.
            try:
                if worker is not None:
                    self.check_cancelled()
                    prepared = worker.chunks(self.check_cancelled)
                else:
                    prepared = _prepare(batch.files, codecs, self.chunk_lines, self.check_cancelled)
                return self._consume(batch, sources, steps, prepared)
            except BadBatchFile:
                raise
            except InputError as exc:
                raise BadBatchFile(exc.message, exc.hint) from None
        finally:
            if worker is not None:
                worker.stop()

    def _consume(
        self,
        batch: BatchInput,
        sources: list[DataSource],
        steps: list[tuple[IdCodec, ProfileIndex]],
        chunks: Iterable[_Prepared],
    ) -> BatchResult:
        state = _Tally(self.max_samples)
        buffer: list[_Prepared] = []
        lines = 0
        for prepared in chunks:
            self.check_cancelled()
            buffer.append(prepared)
            lines += prepared.lines.size
            if lines >= JOIN_LINES:
                self._join_chunks(batch, steps, buffer, state)
                buffer, lines = [], 0
        if buffer:
            self._join_chunks(batch, steps, buffer, state)
        result = BatchResult(
            key=batch.key,
            mode=batch.mode,
            destination_id=batch.destination_id,
            files=[f.name for f in batch.files],
            records=state.records,
            reconciled=state.reconciled,
            duplicates=state.duplicates,
            outcomes=state.outcomes,
            segments=state.segments,
            samples=state.sampler.take(),
            datasources=[ds.label for ds in sources],
            notes=list(batch.notes),
        )
        assert result.records == result.reconciled + result.duplicates + sum(
            result.outcomes.values()
        )
        return result

    def _join_chunks(
        self,
        batch: BatchInput,
        steps: list[tuple[IdCodec, ProfileIndex]],
        buffer: list[_Prepared],
        state: _Tally,
    ) -> None:
        """The chunks of ``buffer`` (in order): each data source's keys joined with its
        index in one query for all of them, then each chunk counted as it always was."""
        joined = [
            _join_step(buffer, step, codec, index) for step, (codec, index) in enumerate(steps)
        ]
        outcomes, segments, sampler = state.outcomes, state.segments, state.sampler
        malformed_line = Outcome.MALFORMED_LINE
        for c, prepared in enumerate(buffer):
            self.check_cancelled()
            state.records += prepared.records
            if prepared.malformed:
                outcomes[malformed_line.value] += len(prepared.malformed)
                for (line, text), reason in zip(prepared.malformed, prepared.reasons, strict=True):
                    if not sampler.wants(malformed_line.value):
                        break
                    sampler.add(_sample(prepared.file, line, text, malformed_line, reason))
            state.duplicates += prepared.duplicates
            count = prepared.lines.size
            if count:
                pending = np.arange(count)
                groups = _Groups(prepared)
                groups.name_all(segments)
                failed: dict[int, Outcome] = {}  # position -> first data source's outcome
                decoded: set[int] = set()  # positions some data source could decode
                for step, (_, index) in enumerate(steps):
                    if not pending.size:
                        break
                    kids, shaped, outs = joined[step][c]
                    if pending.size != count:
                        kids = kids[pending]
                        keep = np.zeros(count, dtype=bool)
                        keep[pending] = True
                        wanted = [j for j in outs if keep[j]]
                        rel = np.searchsorted(pending, wanted).tolist() if wanted else []
                        outs = {r: outs[j] for r, j in zip(rel, wanted, strict=True)}
                        if shaped is not None:
                            shaped = shaped[pending]
                    else:
                        kids = kids.copy()
                    found = index.found(kids, outs, shaped)
                    state.reconciled += groups.add(segments, pending, found)
                    for j, outcome in found.failed.items():
                        failed.setdefault(int(pending[j]), outcome)
                    if found.decoded.size:
                        decoded.update(pending[found.decoded].tolist())
                    pending = pending[~found.done]
                if pending.size:
                    self._unreconciled(
                        prepared, pending.tolist(), failed, decoded, outcomes, sampler
                    )
                    if self.forensics is not None:
                        self.forensics.collect(
                            prepared,
                            pending,
                            [
                                (codec.ds, joined[step][c][2], joined[step][c][1])
                                for step, (codec, _) in enumerate(steps)
                            ],
                        )
            if self.progress is not None:
                self.progress(
                    Progress(
                        batch.key,
                        prepared.file,
                        prepared.last_line,
                        prepared.position,
                        prepared.total,
                    )
                )


class _Tally:
    """What a batch has counted so far."""

    def __init__(self, max_samples: int) -> None:
        self.outcomes: Counter[str] = Counter()
        self.segments: dict[str, SegmentResult] = {}
        self.sampler = _Sampler(max_samples)
        self.records = self.reconciled = self.duplicates = 0


_Joined = tuple[np.ndarray, "np.ndarray | None", dict[int, Outcome]]


def _join_step(
    buffer: list[_Prepared], step: int, codec: IdCodec, index: ProfileIndex
) -> list[_Joined]:
    """Per chunk of ``buffer``: its keys' numbers in ``index`` (``-1``: not found), the
    e-mail shape of the keys not found (when the codec defers its shape check) and
    the positions whose codec gave an outcome, from one query over all the chunks."""
    shape = codec.defers_shape_check
    texts: list[str] = []
    outcomes: list[dict[int, Outcome]] = []
    counts: list[int] = []
    packed = True
    for prepared in buffer:
        keys = prepared.keys[step]
        if isinstance(keys, tuple):
            text, outs, count = keys
            outcomes.append({j: Outcome(v) for j, v in outs.items()})
            texts.append(text)
            counts.append(count)
            continue
        keys = prepared.keys_of(step)
        count = len(keys)
        is_outcome = np.fromiter(map(isinstance, keys, repeat(Outcome)), dtype=bool, count=count)
        outs = {j: keys[j] for j in np.flatnonzero(is_outcome).tolist()}
        outcomes.append(outs)
        plain = [k if not isinstance(k, Outcome) else "" for k in keys]
        texts.append("\n".join(plain))
        packed = packed and texts[-1].count("\n") == count - 1
        counts.append(count)
    total = sum(counts)
    used = [t for t, n in zip(texts, counts, strict=True) if n]
    if packed:
        kids, shaped = index.kids("\n".join(used), total, shape)
    else:  # a key holds a newline: the keys as a list
        every: list[str] = []
        for prepared in buffer:
            keys = prepared.keys_of(step)
            every.extend(k if not isinstance(k, Outcome) else "" for k in keys)
        kids, shaped = index.kids(every, total, shape)
    out: list[_Joined] = []
    at = 0
    for count, outs in zip(counts, outcomes, strict=True):
        part = shaped[at : at + count] if shaped is not None else None
        out.append((kids[at : at + count], part, outs))
        at += count
    return out


def reconcile_batches(
    batches: Iterable[BatchInput],
    env: Environment,
    codecs: dict[str, IdCodec],
    profiles: ProfileSource,
    *,
    datasource: str | None = None,
    max_samples: int = 100,
    progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    skipped: list[tuple[str, str]] | None = None,
    chunk_lines: int = CHUNK_LINES,
    indexing: Callable[[IndexProgress], None] | None = None,
    causes: list[SourceCause] | None = None,
) -> Iterator[BatchResult]:
    """Reconcile each batch in turn, yielding one ``BatchResult`` per routed batch.

    Promises: files are streamed (chunks of ``chunk_lines`` lines); IDs are
    transformed per chunk, never per record; each data source's index is
    built once, on first use, from ``profiles``; every non-empty line gets
    exactly one outcome (module docstring) so ``records = reconciled +
    duplicates + sum(outcomes)``. A batch routed to no data source (see
    :func:`route`) is not yielded: its files are appended to ``skipped`` (when
    given) with the reason. ``cancelled()`` is checked between chunks and
    raises ``Cancelled``; ``progress`` is called after each chunk, ``indexing``
    after each chunk of profiles read into an index and once it is built. Samples:
    at most ``max_samples`` per batch, spread across outcomes. A batch one of whose
    files cannot be read to its end (a damaged or bomb-like gzip, ``BadBatchFile``)
    counts for nothing, none of its lines: with ``skipped`` its files are appended
    there with the reason and the run goes on, without it the error is raised.
    Errors that stop the run (a missing reconciliation column, an unknown
    ``datasource`` label) raise ``InputError``.

    ``causes`` (when given) receives, once every batch is done, the website
    mistakes found in each data source's misses over the whole run
    (``core.reconcile.misses``; ``cancelled()`` is checked while they are sought).
    """
    run = Reconciler(
        codecs,
        profiles,
        max_samples=max_samples,
        progress=progress,
        cancelled=cancelled,
        chunk_lines=chunk_lines,
        indexing=indexing,
        forensics=MissCollector() if causes is not None else None,
    )
    if datasource is not None:
        env.datasource(datasource)  # an unknown label fails before anything is read
    try:
        for batch in batches:
            sources = route(env, batch.destination_id, datasource)
            if not sources:
                if skipped is not None:
                    reason = _no_route_reason(env, batch.destination_id)
                    skipped.extend((f.name, reason) for f in batch.files)
                continue
            try:
                result = run.batch(batch, sources)
            except BadBatchFile as exc:
                if skipped is None:
                    raise
                skipped.extend((f.name, exc.message) for f in batch.files)
                continue
            yield result
        if causes is not None:
            causes.extend(run.causes())
    finally:
        run.close()


def _no_route_reason(env: Environment, destination_id: int | None) -> str:
    if destination_id is None:
        return "the name carries no destination ID; choose a data source with --datasource"
    known = sorted({ds.destination_id for ds in env.datasources if ds.destination_id is not None})
    shown = ", ".join(str(d) for d in known) or "none"
    return f"no data source has destination ID {destination_id} (configured: {shown})"
