"""A gzip reader that refuses a decompression bomb (docs/reference.md §8).

AAM's gzip files hold text IDs, which compress a few times at most. A file
that inflates far beyond that (a few kilobytes of gzip holding gigabytes of
blank lines) would keep a reader busy for minutes: :class:`BoundedGzip`
stops it with one clear line once the output passes
:data:`MAX_GZIP_RATIO` times the compressed bytes read so far, after a
first :data:`GZIP_FREE_BYTES` that are always allowed.
"""

from __future__ import annotations

import gzip
import io
from typing import IO

from core.errors import InputError

#: Output bytes allowed per compressed byte read (real AAM files stay under 20).
MAX_GZIP_RATIO = 200
#: Output always allowed, whatever the ratio (small files compress well).
GZIP_FREE_BYTES = 8 * 1024 * 1024


class GzipBombError(InputError):
    """A gzip stream inflates beyond the allowed ratio."""


class _Counted(io.RawIOBase):
    """The compressed stream, counting the bytes read from it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class BoundedGzip(io.RawIOBase):
    """Reads the decompressed content of ``raw``, refusing a bomb (``GzipBombError``,
    naming ``name``). Damage in the gzip data raises as :class:`gzip.GzipFile` does."""

    def __init__(self, raw: IO[bytes], name: str = "<stream>") -> None:
        self._counted = _Counted(raw)
        self._gzip = gzip.GzipFile(fileobj=self._counted, mode="rb")
        self.name = name
        self.produced = 0

    def readable(self) -> bool:
        return True

    def _check(self) -> None:
        allowed = max(GZIP_FREE_BYTES, MAX_GZIP_RATIO * self._counted.count)
        if self.produced > allowed:
            raise GzipBombError(
                f"{self.name}: the gzip data inflates more than {MAX_GZIP_RATIO} times "
                f"(after {self._counted.count:,} compressed bytes); it is not an AAM file",
                "ask Adobe to resend the file, or remove it from the folder",
            )

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while block := self.read(1 << 20):
                chunks.append(block)
            return b"".join(chunks)
        data = self._gzip.read(size)
        self.produced += len(data)
        self._check()
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._gzip.close()
        super().close()
