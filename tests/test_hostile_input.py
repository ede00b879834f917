"""Hostile audience input: a 200 MB single line is counted as one bad line in bounded memory."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

from core.formats import read_chunks

SIZE = 200 * 1024 * 1024


class EndlessLine(io.RawIOBase):
    """``SIZE`` bytes of one line with no newline, then a good line; never held in memory."""

    def __init__(self) -> None:
        self.left = SIZE
        self.tail = b"\n59767559181262060060278870901087098252 24\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left > 0:
            n = min(len(buffer), self.left)
            buffer[:n] = b"7" * n
            self.left -= n
            return n
        n = min(len(buffer), len(self.tail))
        buffer[:n] = self.tail[:n]
        self.tail = self.tail[n:]
        return n


def test_a_200_mb_line_is_one_malformed_line_in_bounded_memory() -> None:
    tracemalloc.start()
    try:
        chunks = list(read_chunks(io.BufferedReader(EndlessLine(), 1 << 20), gz=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    malformed = [m for c in chunks for m in c.malformed]
    ids = [i for c in chunks for i in c.ids]
    assert len(malformed) == 1 and malformed[0][0] == 1
    assert len(malformed[0][1]) <= 80  # the excerpt, not the line
    assert ids == ["59767559181262060060278870901087098252"]
    assert peak < 32 * 1024 * 1024, peak


# ------------------------------------------------------------- the import lock (issue 17.14)


def test_the_import_lock_holds_through_a_symlinked_store_path(tmp_path: Path) -> None:
    import pytest

    from storage.lock import ImportLock, ImportLocked, lock_path_for

    real = tmp_path / "d4" / "audiencectl.db"
    real.parent.mkdir()
    real.write_bytes(b"")
    alias_dir = tmp_path / "d4alt"
    alias_dir.mkdir()
    (alias_dir / "store.db").symlink_to(real)
    linked_dir = tmp_path / "d4link"
    linked_dir.symlink_to(real.parent)
    assert lock_path_for(alias_dir / "store.db") == lock_path_for(real)
    with ImportLock(real):
        for other in (alias_dir / "store.db", linked_dir / "audiencectl.db"):
            with pytest.raises(ImportLocked):
                ImportLock(other).acquire()


# ------------------------------------------------------------- gzip bombs (issue 17.10)


def _gz_of(data_blocks: list[bytes]) -> bytes:
    import gzip

    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        for block in data_blocks:
            gz.write(block)
    return out.getvalue()


def test_a_gzip_bomb_of_newlines_stops_with_a_message() -> None:
    import pytest

    from core.errors import InputError
    from core.gzbound import GZIP_FREE_BYTES, MAX_GZIP_RATIO

    bomb = _gz_of([b"\n" * (1 << 20)] * 32)  # 32 MiB of blank lines in about 32 KB
    lines = 0
    with pytest.raises(InputError) as caught:
        for chunk in read_chunks(io.BytesIO(bomb), gz=True, name="ftp_1_2_iso8601_full.gz"):
            lines = chunk.last_line
    message = str(caught.value)
    assert "ftp_1_2_iso8601_full.gz" in message
    assert f"more than {MAX_GZIP_RATIO} times" in message
    assert lines <= max(GZIP_FREE_BYTES, MAX_GZIP_RATIO * len(bomb)) + (1 << 20)


def test_an_ordinary_gzip_file_reads_whole() -> None:
    import random

    rng = random.Random(7)
    body = b"".join(f"{rng.randrange(10**37, 10**38)} 46390\n".encode() for _ in range(300_000))
    chunks = list(read_chunks(io.BytesIO(_gz_of([body])), gz=True))
    assert sum(len(c.ids) for c in chunks) == 300_000
