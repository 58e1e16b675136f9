"""The answer pool: a few low-priority threads that work out answers, with a bounded queue.

Every front end must acknowledge a request within the platform's window (Slack's ack, Discord's
first response) whatever the answers cost. So answers never run where acknowledgements run: they
go to this pool, whose threads lower their own scheduling priority (on Linux each thread has its
own nice value), so that when the CPU is saturated the threads that acknowledge are served first.
The queue is bounded: when it is full, `submit` raises `Busy` at once and the front end tells the
member to ask again in a moment (FrontDesk.busy), instead of letting the backlog grow until even the
acknowledgements wait behind it.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from bot.errors import Busy

__all__ = ["NICE", "AnswerPool", "default_threads", "lower_priority"]

log = logging.getLogger(__name__)

NICE = 10  # added to an answer thread's nice value: acknowledgements (nice 0) go first under load


def default_threads() -> int:
    """One answer thread per core, two at least (one may be waiting on the database), eight at most."""
    return max(2, min(8, os.cpu_count() or 1))


def lower_priority(nice: int = NICE) -> bool:
    """Lower the calling thread's priority by `nice` (Linux: setpriority on the thread's own id; elsewhere
    nothing). Raising a nice value needs no privilege; whether it was done."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        log.warning("could not lower an answer thread's priority", exc_info=True)
        return False
    return True


class AnswerPool(ThreadPoolExecutor):
    """`threads` answer threads at lowered priority; at most `queue` jobs wait for one. Each job runs in
    the context (log request id) of the call that submitted it; a job's exception is logged."""

    def __init__(self, threads: int | None = None, queue: int = 64, *, nice: int = NICE, name: str = "maisky-answer"):
        self.threads = threads or default_threads()
        self.queue = queue
        self.nice = nice
        self._pending = 0  # submitted and not finished: running or waiting
        self._refused = 0  # refused since the last log line
        self._logged = -60.0
        self._count_lock = threading.Lock()
        super().__init__(
            max_workers=self.threads, thread_name_prefix=name, initializer=lower_priority, initargs=(nice,)
        )

    @property
    def pending(self) -> int:
        with self._count_lock:
            return self._pending

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue `fn`, or raise Busy when `threads` jobs run and `queue` more already wait."""
        with self._count_lock:
            if self._pending >= self.threads + self.queue:
                self._refused += 1
                now = time.monotonic()
                if now - self._logged >= 60:  # a line a minute at most: an overload must not flood the log
                    log.warning("answer pool full (%d threads, %d waiting): %d member(s) told to ask again "
                                "since the last such line", self.threads, self.queue, self._refused)  # fmt: skip
                    self._logged, self._refused = now, 0
                raise Busy(f"{self._pending} answers in hand")
            self._pending += 1
        context = contextvars.copy_context()
        try:
            future = super().submit(context.run, _logged, fn, *args, **kwargs)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any] | None) -> None:
        with self._count_lock:
            self._pending -= 1


def _logged(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception:
        log.exception("answer failed")
        raise
