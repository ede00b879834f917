"""The thread workers' executor: threads that do not hold the console open after it quit.

Textual runs thread workers in the event loop's default executor. The standard one
(``ThreadPoolExecutor``) is joined when the loop closes and again when Python exits,
so a probe waiting on a silent server kept the process alive after Ctrl+C until its
stage timed out, with the user's keys queueing behind it. Quitting cancels every
worker (their results are no longer wanted; what they write to the store is
transactional), so these threads are daemons and nobody waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class DaemonExecutor(ThreadPoolExecutor):
    """Runs each submitted call in a daemon thread of its own; ``shutdown`` never waits.

    A ``ThreadPoolExecutor`` by type only (asyncio's default executor must be one):
    none of the pool's threads, which Python joins at exit, is ever started.
    """

    def __init__(self, name: str = "worker") -> None:
        super().__init__(max_workers=1, thread_name_prefix=name)
        self._name = name
        self._count = 0
        self._daemon_lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._daemon_lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._count += 1
            name = f"{self._name}-{self._count}"

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the awaiting worker, as the pool does
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name=name, daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accepts no more work; threads still running are left to end (or to die with
        the process): a quitting console waits for none of them."""
        with self._daemon_lock:
            self._closed = True
