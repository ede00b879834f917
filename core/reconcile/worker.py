"""The decoding child process: ``_prepare`` in a fresh interpreter, its chunks sent
back as length-prefixed pickles (``_Frames``) while this process builds the indexes."""

from __future__ import annotations

import contextlib
import os
import pickle
import queue as queue_module
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

try:
    import fcntl
except ImportError:  # not on Windows: the pipe keeps its default size
    fcntl = None  # type: ignore[assignment]

from core.cipher import IdCodec
from core.errors import AudienceError
from core.reconcile.reading import _prepare, _Prepared
from core.reconcile.types import AudienceFile

#: A batch of files on disk at least this large is read and decoded in a child
#: process while this one builds the profile index and does the lookups.
PARALLEL_MIN_BYTES = 16 << 20
_QUEUE_CHUNKS = 64
_PIPE_BYTES = 1 << 20  # Linux's default limit for an unprivileged process
_MAX_FRAME = 1 << 31  # a chunk is a few MB; a larger length means a broken stream

_CHILD_CODE = "from core.reconcile.worker import _worker_main; _worker_main()"


def _use_worker(files: Sequence[AudienceFile]) -> bool:
    if (os.cpu_count() or 1) < 2 or any(f.path is None for f in files):
        return False
    try:
        size = sum(os.path.getsize(f.path) for f in files if f.path is not None)
    except OSError:
        return False
    return size >= PARALLEL_MIN_BYTES


def _write_frame(out: BinaryIO, item: Any) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)
    out.flush()


def _worker_main() -> None:
    """The child process (``python -c``): arguments pickled on stdin; ``_prepare`` over
    the files, each chunk packed and written to stdout as a length-prefixed pickle;
    then ``done`` or the error. Writing blocks while the parent is behind."""
    out = sys.stdout.buffer
    try:
        files, codecs, chunk_lines = pickle.load(sys.stdin.buffer)
        audience = [
            AudienceFile(name, AudienceFile.from_path(Path(path)).open, Path(path))
            for name, path in files
        ]
        for prepared in _prepare(audience, codecs, chunk_lines):
            prepared.pack()
            _write_frame(out, ("chunk", prepared))
        _write_frame(out, ("done", None))
    except AudienceError as exc:
        _write_frame(out, ("audience_error", (type(exc), exc.message, exc.hint)))
    except BrokenPipeError:
        pass  # the parent stopped reading (cancelled, or an error of its own)
    except BaseException as exc:
        try:
            _write_frame(out, ("error", exc))
        except Exception:
            _write_frame(out, ("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Frames:
    """Length-prefixed frames (``_write_frame``) from a stream read in pieces of any size."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by ``data``, in order (a partial one waits for more).

        After a length no frame can have (the stream is not frames: something else
        wrote to the child's stdout), ``broken`` is set and nothing more is read.
        """
        pending = self.pending
        pending += data
        done: list[bytes] = []
        start = 0
        with memoryview(pending) as view:
            while not self.broken and len(pending) - start >= 8:
                size = int.from_bytes(view[start : start + 8], "little")
                if size > _MAX_FRAME:
                    self.broken = True
                    break
                if len(pending) - start - 8 < size:
                    break
                done.append(bytes(view[start + 8 : start + 8 + size]))
                start += 8 + size
        del pending[:start]
        return done


class _Worker:
    """A child process running ``_prepare`` for one batch.

    A fresh interpreter (``subprocess``, never a fork, and no re-import of the
    caller's ``__main__``) gets the file paths and codecs on stdin and sends
    packed chunks back on stdout; a reader thread here keeps at most
    ``_QUEUE_CHUNKS`` of them, so the child runs ahead (while the indexes are
    built) but memory stays bounded.
    """

    def __init__(
        self, files: Sequence[AudienceFile], codecs: list[IdCodec], chunk_lines: int
    ) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the project root: core/ is on the path
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.frames: queue_module.Queue[bytes | None] = queue_module.Queue(_QUEUE_CHUNKS)
        self.stopping = False
        paths = [(f.name, str(f.path)) for f in files]
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            pickle.dump((paths, codecs, chunk_lines), self.process.stdin)
        except OSError:
            pass  # the child died at once: chunks() reports it
        finally:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def _read(self) -> None:
        """Frames from the child's stdout into the queue.

        Large ``os.read`` calls on a pipe enlarged to ``_PIPE_BYTES``: this thread
        needs the GIL after every read, and the main thread holds it for up to the
        switch interval (5 ms) at a time, so small reads of a full 64 KiB pipe kept
        the child waiting (measured: its 2.1 s of work took 3 s).
        """
        stream = self.process.stdout
        assert stream is not None
        frames = _Frames()
        try:
            fd = stream.fileno()
            with contextlib.suppress(OSError, AttributeError):  # Linux only
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
            while True:
                data = os.read(fd, _PIPE_BYTES)
                if not data:
                    break
                for frame in frames.feed(data):
                    if not self.stopping:
                        self.frames.put(frame)
                if frames.broken:
                    break
        except (OSError, ValueError):
            pass
        finally:
            if not self.stopping:
                self.frames.put(None)

    def chunks(self, idle: Callable[[], None]) -> Iterator[_Prepared]:
        """The child's chunks in order; ``idle()`` is called while waiting."""
        while True:
            try:
                frame = self.frames.get(timeout=0.2)
            except queue_module.Empty:
                idle()
                continue
            if frame is None:
                self.process.wait()
                self.errors.seek(0)
                tail = self.errors.read()[-2000:].decode("utf-8", "replace")
                raise RuntimeError(f"the audience decoding process stopped: {tail}")
            kind, payload = pickle.loads(frame)
            if kind == "chunk":
                yield payload
            elif kind == "done":
                return
            elif kind == "audience_error":
                cls, message, hint = payload
                error = cls.__new__(cls)
                AudienceError.__init__(error, message, hint)
                raise error
            else:
                raise payload

    def stop(self) -> None:
        """Kill the child (when still running) and let the reader thread end."""
        self.stopping = True
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        while self.reader.is_alive():
            with contextlib.suppress(queue_module.Empty):
                while True:  # unblock the reader if it waits on a full queue
                    self.frames.get_nowait()
            self.reader.join(timeout=0.05)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.errors.close()
