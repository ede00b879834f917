"""The profile side of a run in DuckDB: each data source's index (lookup key ->
profiles), built from a ``ProfileSource``, and the join of decoded keys with it.

One in-process DuckDB database per run (``Engine``), nothing on disk, no extension
ever installed or loaded. An index is a table ``(key, kid)`` of the distinct keys;
``kid`` numbers a key, and ``ProfileIndex.single`` / ``multi`` give its profile
id(s) in Python (they go into the segments' sets).

Profiles reach DuckDB two ways:

- a plain profiles CSV (no quote, CR or NUL; every line with the header's
  number of fields; UTF-8) of an e-mail data source is read by DuckDB itself
  (``read_csv``, every column as text) and normalized in SQL: ids trimmed of
  the ASCII characters Python's ``str.strip`` removes, addresses trimmed the
  same way, lower-cased and checked against ``core.normalize``'s ASCII pattern.
  Rows holding any non-ASCII character are normalized in Python
  (``IdCodec.profile_keys``), so every key equals ``core.normalize``'s. Anything
  the SQL checks do not accept (duplicate or empty ids, blank lines, long
  fields, a parse error) drops the result and takes the second way, whose
  reader gives the same rows and the same error messages as ever;
- every other source (the store's profiles, the visitor map, other channels,
  CSV files with quotes...) in chunks from ``column_chunks`` /
  ``visitor_chunks``, keys made by ``IdCodec.profile_keys`` in Python, handed
  over as one text per chunk.

A chunk of decoded keys comes as one newline-joined text (what the decoding
process sends) and is joined with the index in one query; several chunks are
joined at once by the run (``Reconciler``), so the number of queries stays small.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_not
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.cipher import IdCodec
from core.model import Channel
from core.outcomes import Outcome
from core.profiles import _BOM, ID_COLUMN, CsvProfiles, ProfilesCheck, _names, _plain_text

if TYPE_CHECKING:
    import duckdb

__all__ = ["Engine", "ProfileIndex"]

#: DuckDB settings: never download or load an extension; one thread, since the
#: decoding process works on the other core meanwhile (measured on two loaded
#: cores, 1M profiles: the profile side took 1.5 s with one thread, 3.5 s with two).
_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "enable_external_access": True,  # read_csv of the profiles file
    "threads": 1,
    "memory_limit": "1GB",
}
#: ``core.normalize._EMAIL_ASCII`` in RE2's syntax.
_EMAIL_RE2 = r"[^@\x00-\x20\x7f]+@[^@.\x00-\x20\x7f]+(?:\.[^@.\x00-\x20\x7f]+)+"
_POLL_SECONDS = 0.05
_READ_BLOCK = 1 << 20


@dataclass
class _Found:
    """One data source's answer for a list of lookup keys (positions in that list).

    ``single[j]`` is the profile id when the key belongs to one profile (``hit[j]``),
    ``multi`` maps positions to the ids of several profiles; ``done`` marks both.
    ``failed`` holds the data source's outcome for IDs it could not decode;
    ``decoded`` the positions decoded but not found.
    """

    single: np.ndarray  # object array: a profile id where ``hit``
    hit: np.ndarray
    multi: dict[int, list[str]]
    done: np.ndarray
    failed: dict[int, Outcome]
    decoded: np.ndarray


class ProfileIndex:
    """One data source's lookup keys in DuckDB and, per key number, its profiles."""

    def __init__(self, engine: Engine, table: str) -> None:
        self.engine = engine
        self.table = table
        self.size = 0
        self.single = np.empty(0, dtype=object)  # kid -> the pid (keys of one profile)
        self.is_multi = np.empty(0, dtype=bool)
        self.multi: dict[int, list[str]] = {}  # kid -> ids of several profiles

    def kids(
        self, keys: str | Sequence[str], count: int, shape: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Each key's number in the index (``-1``: not found), for ``count`` keys given as
        one newline-joined text or as a list (keys holding newlines).

        With ``shape``, also whether each key not found is shaped like an e-mail
        address (``True`` for keys found), checked in the same query with
        ``core.normalize``'s ASCII pattern: this is for the keys of a codec that
        defers its shape check (``IdCodec.defers_shape_check``), whose unchecked
        keys are printable ASCII, where that pattern is ``is_email_key``; its
        other keys were checked already, so both checks accept them.
        """
        kids = np.full(count, -1, dtype=np.int64)
        if not count or (not self.size and not shape):
            return kids, np.ones(count, dtype=bool) if shape else None
        if isinstance(keys, str):
            source, param = "string_split(?, chr(10))", keys
        else:
            source, param = "?::VARCHAR[]", list(keys)  # type: ignore[assignment]
        queried = (
            f"(SELECT unnest(s) AS key, generate_subscripts(s, 1) - 1 AS p FROM (SELECT {source}"
            " AS s)) q"
        )
        if shape:
            got = self.engine.execute(
                f"SELECT q.p, coalesce(i.kid, -1) AS kid, i.kid IS NOT NULL OR"
                f" regexp_full_match(q.key, '{_EMAIL_RE2}') AS shaped FROM {queried}"
                f" LEFT JOIN {self.table} i USING (key)",
                [param],
            ).fetchnumpy()
            at = got["p"].astype(np.int64)
            kids[at] = got["kid"]
            shaped = np.empty(count, dtype=bool)
            shaped[at] = got["shaped"]
            return kids, shaped
        got = self.engine.execute(
            f"SELECT q.p, i.kid FROM {queried} JOIN {self.table} i USING (key)", [param]
        ).fetchnumpy()
        kids[got["p"].astype(np.int64)] = got["kid"]
        return kids, None

    def find(self, keys: Sequence[str]) -> np.ndarray:
        """For each key, its key number in the index, or -1."""
        keys = list(keys)
        text = "\n".join(keys)
        if text.count("\n") == len(keys) - 1:
            return self.kids(text, len(keys))[0]
        return self.kids(keys, len(keys))[0]

    def contains(self, keys: Sequence[str]) -> list[bool]:
        """Whether each key is some profile's key (one query for the whole list)."""
        return (self.find(keys) >= 0).tolist()

    def get(self, key: str) -> str | list[str] | None:
        """The profile id of ``key`` (a list for several), or ``None``."""
        k = int(self.find([key])[0])
        if k < 0:
            return None
        return self.multi.get(k) or str(self.single[k])

    def found(
        self,
        kids: np.ndarray,
        outcomes: dict[int, Outcome],
        shaped: np.ndarray | None,
    ) -> _Found:
        """The answer for one chunk's keys from their key numbers (``-1``: not found).

        ``outcomes``: positions whose codec gave an outcome instead of a key;
        ``shaped``: for a codec that leaves the e-mail shape check to the lookup,
        whether each key not found has it (``invalid_email`` when not; see ``kids``).
        """
        at = kids
        n = at.size
        failed: dict[int, Outcome] = dict(outcomes)
        is_outcome = np.zeros(n, dtype=bool)
        if failed:
            where = np.fromiter(failed, dtype=np.int64, count=len(failed))
            is_outcome[where] = True
            at[where] = -1  # an outcome is never a key, whatever its text
        done = at >= 0
        hit = done.copy()
        multi: dict[int, list[str]] = {}
        if self.multi:
            shared = np.flatnonzero(done)
            shared = shared[self.is_multi[at[shared]]]
            if shared.size:
                hit[shared] = False
                pids_of = self.multi
                pairs = zip(shared.tolist(), at[shared].tolist(), strict=True)
                multi = {j: pids_of[k] for j, k in pairs}
        single = np.empty(n, dtype=object)
        single[hit] = self.single[at[hit]]
        decoded = np.flatnonzero(~done & ~is_outcome)
        if shaped is not None and decoded.size:
            ok = shaped[decoded]
            if not ok.all():
                invalid = Outcome.INVALID_EMAIL
                failed.update(dict.fromkeys(decoded[~ok].tolist(), invalid))
                decoded = decoded[ok]
        return _Found(single, hit, multi, done, failed, decoded)


class Engine:
    """The run's DuckDB database (in memory) and the indexes built in it."""

    def __init__(self) -> None:
        # Past ``memory_limit`` DuckDB spills to files: in a directory of its own,
        # removed when the run ends.
        self.spill = tempfile.mkdtemp(prefix="audiencectl-duckdb-")
        # Removed by ``close``, or else when the engine is collected or Python exits.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.spill, True)
        config = dict(_CONFIG, temp_directory=self.spill)
        import duckdb  # imported by the first run only: about 0.1 s at start-up otherwise

        self.error: type[Exception] = duckdb.Error
        self.con = duckdb.connect(":memory:", config=config)
        self.con.execute("SET enable_progress_bar = true")
        self.con.execute("SET enable_progress_bar_print = false")
        self._tables = 0

    def close(self) -> None:
        with contextlib.suppress(self.error):
            self.con.close()
        self._cleanup()

    def execute(self, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def watched(
        self,
        sql: str,
        check: Callable[[], None],
        progress: Callable[[float], None] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run ``sql`` in a thread; here, every 50 ms, ``check()`` (an exception from it
        interrupts the query and is raised) and ``progress(fraction done)``."""
        result: list[Any] = []
        error: list[BaseException] = []

        def work() -> None:
            try:
                result.extend(self.con.execute(sql).fetchall())
            except BaseException as exc:
                error.append(exc)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                thread.join(_POLL_SECONDS)
                if not thread.is_alive():
                    break
                check()
                if progress is not None:
                    with contextlib.suppress(self.error):
                        done = self.con.query_progress()
                        if done >= 0:
                            progress(done / 100)
        except BaseException:
            self.con.interrupt()
            thread.join()
            raise
        if error:
            raise error[0]
        return result

    def new_table(self) -> str:
        self._tables += 1
        return f"t{self._tables}"

    # -- building an index ----------------------------------------------------------

    def build(
        self,
        codec: IdCodec,
        chunks: Iterable[tuple[list[str | None], list[str]]],
        check: Callable[[], None],
        rows_read: Callable[[int], None],
        *,
        distinct_pids: bool = True,
    ) -> ProfileIndex:
        """An index from ``(keys, profile ids)`` chunks (a ``None`` key is skipped).
        ``distinct_pids=False`` when no ``(key, pid)`` pair can come twice (each
        profile has one value of a column)."""
        raw = self.new_table()
        self.execute(f"CREATE TEMP TABLE {raw} (key VARCHAR, pid VARCHAR)")
        rows = 0
        try:
            for keys, pids in chunks:
                check()
                rows += len(pids)
                self._insert(raw, keys, pids)
                rows_read(rows)
            return self._finish(raw, check, distinct_pids)
        finally:
            self.execute(f"DROP TABLE IF EXISTS {raw}")

    def _insert(self, raw: str, keys: Sequence[str | None], pids: Sequence[str]) -> None:
        if None in keys:
            present = list(map(is_not, keys, repeat(None)))
            keys = list(compress(keys, present))
            pids = list(compress(pids, present))
        if not keys:
            return
        key_text, pid_text = "\n".join(keys), "\n".join(pids)  # type: ignore[arg-type]
        if key_text.count("\n") == len(keys) - 1 and pid_text.count("\n") == len(pids) - 1:
            self.execute(
                f"INSERT INTO {raw} (key, pid) SELECT unnest(string_split(?, chr(10))),"
                " unnest(string_split(?, chr(10)))",
                [key_text, pid_text],
            )
        else:  # a key or an id holds a newline
            self.execute(
                f"INSERT INTO {raw} (key, pid) SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                [list(keys), list(pids)],
            )

    def _finish(
        self, raw: str, check: Callable[[], None], distinct_pids: bool = True
    ) -> ProfileIndex:
        """The index of the ``(key, pid)`` rows of table ``raw``: distinct keys numbered,
        keys of several profiles grouped (a profile once per key). ``distinct_pids``
        when a ``(key, pid)`` pair may come more than once."""
        agg, table = self.new_table(), self.new_table()
        # ``distinct_pids``: a pair may come twice (a visitor map); each profile
        # has one value of a column, so there it need not be counted distinctly.
        count = "count(DISTINCT pid)" if distinct_pids else "count(*)"
        self.watched(
            f"CREATE TEMP TABLE {agg} AS SELECT key, {count} AS n, any_value(pid) AS pid"
            f" FROM {raw} GROUP BY key",
            check,
        )
        try:
            got = self.execute(f"SELECT rowid, pid, n FROM {agg}").fetchnumpy()
            check()
            size = int(got["rowid"].size)
            order = got["rowid"].astype(np.int64)
            index = ProfileIndex(self, table)
            index.size = size
            index.single = np.empty(size, dtype=object)
            index.single[order] = got["pid"]
            index.is_multi = np.zeros(size, dtype=bool)
            index.is_multi[order] = got["n"] > 1
            del got
            if index.is_multi.any():
                rows = self.execute(
                    f"SELECT a.rowid, list(DISTINCT r.pid) FROM {raw} r JOIN {agg} a"
                    " USING (key) WHERE a.n > 1 GROUP BY a.rowid"
                ).fetchall()
                index.multi = {int(k): list(pids) for k, pids in rows}
            self.watched(f"CREATE TEMP TABLE {table} AS SELECT key, rowid AS kid FROM {agg}", check)
            return index
        finally:
            self.execute(f"DROP TABLE IF EXISTS {agg}")

    # -- a plain profiles CSV read by DuckDB -------------------------------------------

    def build_from_csv(
        self,
        codec: IdCodec,
        source: CsvProfiles,
        column: str,
        check: Callable[[], None],
        rows_read: Callable[[int], None],
    ) -> ProfileIndex | None:
        """The index of ``column`` of a plain profiles CSV read and normalized by DuckDB,
        or ``None`` when the file or the data source is not one this path reads
        exactly (the caller then reads it chunk by chunk)."""
        if codec.visitor or codec.channel is not Channel.EMAIL or codec.transform.is_hash:
            return None
        columns = source.columns()
        path = source.profiles_file.path
        if any(c in str(path) for c in "*?[]{}"):
            return None  # read_csv would take the name for a pattern of names
        layout = _plain_layout(path, columns)
        if layout is None:
            return None
        lines = layout
        at, col = columns.index(ID_COLUMN), columns.index(column)
        names = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(columns)))
        src, raw = self.new_table(), self.new_table()
        literal = str(path).replace("'", "''")
        # Rows whose id or value is not ASCII, or starts or ends with a character
        # ``str.strip`` may remove (all of them in ASCII are at most 32), are made
        # in Python; the others need no trimming.
        odd = (
            "strlen(id) != length(id) OR strlen(v) != length(v) OR ascii(id) <= 32"
            " OR ascii(right(id, 1)) <= 32 OR (v != '' AND (ascii(v) <= 32"
            " OR ascii(right(v, 1)) <= 32))"
        )

        def progress(done: float) -> None:
            rows_read(int(lines * done))

        try:
            try:
                self.watched(
                    f"CREATE TEMP TABLE {src} AS SELECT *, {odd} AS odd FROM (SELECT"
                    f" coalesce(c{at}, '') AS id, coalesce(c{col}, '') AS v"
                    f" FROM read_csv('{literal}', header = false, skip = 1, delim = ',',"
                    " quote = '', escape = '', new_line = '\\n', all_varchar = true,"
                    " auto_detect = false, strict_mode = true, null_padding = false,"
                    f" ignore_errors = false, columns = {{{names}}}))",
                    check,
                    progress,
                )
            except self.error:
                return None
            count, distinct, odd_rows = self.execute(
                f"SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE odd) FROM {src}"
            ).fetchone()  # type: ignore[misc]
            if count != lines or distinct != count:
                # Blank lines (skipped by both readers) or ids used twice: the reader
                # chunk by chunk counts the lines and names the duplicate.
                return None
            check()
            self.watched(
                f"CREATE TEMP TABLE {raw} AS SELECT key, id AS pid FROM (SELECT id,"
                f" lower(v) AS key FROM {src} WHERE NOT odd AND v != '')"
                f" WHERE regexp_full_match(key, '{_EMAIL_RE2}')",
                check,
            )
            if odd_rows:  # Python's strip and lower
                rows = self.execute(f"SELECT id, v FROM {src} WHERE odd").fetchall()
                pids = [r[0].strip() for r in rows]
                if "" in pids:
                    return None  # an empty id
                self._insert(raw, codec.profile_keys([r[1] for r in rows]), pids)
                if any(pid != r[0] for pid, r in zip(pids, rows, strict=True)):
                    # Ids trimmed here may now equal others: all of them counted again.
                    (unique,) = self.execute(
                        f"SELECT count(DISTINCT x) FROM (SELECT id AS x FROM {src} WHERE NOT odd"
                        " UNION ALL SELECT unnest(?::VARCHAR[]))",
                        [pids],
                    ).fetchone()  # type: ignore[misc]
                    if unique != count:
                        return None
            self.execute(f"DROP TABLE {src}")
            check()
            index = self._finish(raw, check, distinct_pids=False)
            if source.visitors_file is None and source._check is None:
                source._check = ProfilesCheck(int(count), 0, tuple(columns))
            rows_read(int(count))
            return index
        finally:
            self.execute(f"DROP TABLE IF EXISTS {src}")
            self.execute(f"DROP TABLE IF EXISTS {raw}")


def _plain_layout(path: Path, columns: list[str]) -> int | None:
    """The number of data lines of a profiles CSV that DuckDB reads as the csv module
    does: its header plain and equal to ``columns`` (at least two), no quote, CR or
    NUL anywhere. ``None`` otherwise (or when it cannot be read)."""
    if len(columns) < 2:
        return None
    try:
        handle = path.open("rb")
    except OSError:
        return None
    with handle:
        try:
            head = handle.readline()
            text = _plain_text(head.removeprefix(_BOM).removesuffix(b"\n"))
            if text is None or _names(text) != columns or not head.endswith(b"\n"):
                return None
            breaks = 0
            last = b"\n"
            # A line longer than the csv module's field limit covers a whole aligned
            # piece of half that size: no such piece may lack a line break.
            half = max(1, csv.field_size_limit() // 2)
            while True:
                block = handle.read(_READ_BLOCK)
                if not block:
                    break
                if b'"' in block or b"\r" in block or b"\x00" in block:
                    return None
                if len(block) > half:
                    for start in range(0, len(block) - half + 1, half):
                        if block.find(b"\n", start, start + half) < 0:
                            return None
                breaks += block.count(b"\n")
                last = block[-1:]
        except OSError:
            return None
    return breaks + (0 if last == b"\n" else 1)
