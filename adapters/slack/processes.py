"""Several HTTP processes over one listening socket, forked once the core is loaded (`HTTP_PROCESSES`).

One process acknowledges as fast as one core runs waitress, the guard and bolt: about 1 ms of CPU a
request, all of it under one GIL. On a busy machine a process gets only its fair share of a core, so
64 requests at once waited 2-3 ms each behind one another (ack p99 about 200 ms with two CPU hogs on
two cores). Forked processes take requests from the same listening socket, each with its own GIL
and its own answer process (bot/chat/pool.py), so acknowledgements go on in parallel on every core,
and on a shared machine they get a share for each process.

The process that was started (the first) binds the socket, forks the others before any thread runs,
runs the daily scheduler, and on a stop signal tells the others to stop (SIGTERM) and waits for them
within the shutdown bound; its /healthz fails when one of them ended unexpectedly. The others leave
SIGINT to it (a terminal's Ctrl-C reaches the whole group) and stop when it tells them, or when it is
gone without a word (kill -9): the pipe it holds open (the lifeline) then reads as closed. (The first
process's answer process, forked after the others, holds that end too; it ends as soon as the first
process is gone, so the others stop a moment later.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["GRACE", "Family", "fork"]

log = logging.getLogger("maisky.slack")

GRACE = 5.0  # seconds the first process waits past the shutdown bound before it kills the others


@dataclass
class Family:
    """This process's place among the HTTP processes: `index` 0 is the first (the parent)."""

    index: int
    count: int
    lifeline: int  # the pipe: the first process holds its write end, the others its read end
    others: list[int] = field(default_factory=list)  # the first process only: the others' pids
    _ended: dict[int, int] = field(default_factory=dict)  # pid -> exit status, as each was reaped
    _lost: list[int] = field(default_factory=list)  # pids that ended before a stop was asked
    _stopping: threading.Event = field(default_factory=threading.Event)
    _orphaned: threading.Event = field(default_factory=threading.Event)  # the others: the first is gone
    _all_ended: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def first(self) -> bool:
        return self.index == 0

    def name(self) -> str:
        return f"HTTP process {self.index + 1} of {self.count} (pid {os.getpid()})"

    def watch(self, stop: Callable[[], None]) -> None:
        """Start watching: the first process reaps the others (and logs one that ends unasked); each other
        process calls `stop` when the first is gone. Call once the answer process is forked."""
        if self.first:
            if not self.others:
                self._all_ended.set()
            for pid in self.others:
                threading.Thread(target=self._reap, args=(pid,), name=f"maisky-reap-{pid}", daemon=True).start()
            return
        threading.Thread(target=self._hold, args=(stop,), name="maisky-lifeline", daemon=True).start()

    def _reap(self, pid: int) -> None:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        with self._lock:
            self._ended[pid] = code
            if not self._stopping.is_set():
                self._lost.append(pid)
                log.error("HTTP process pid %d ended (exit %d) while serving: the others take its requests; "
                          "restart the service to get it back", pid, code)  # fmt: skip
            if len(self._ended) == len(self.others):
                self._all_ended.set()

    def _hold(self, stop: Callable[[], None]) -> None:
        while True:
            try:
                if os.read(self.lifeline, 1) == b"":
                    break
            except InterruptedError:
                continue
            except OSError:
                break
        self._orphaned.set()
        if not self._stopping.is_set():
            log.warning("%s: the first HTTP process is gone; stopping", self.name())
            stop()

    def alive(self) -> bool:
        """For /healthz: in the first process, every other one is still serving; in the others, the first
        is (it runs the daily scheduler), so whichever process answers reports the same checks."""
        if not self.first:
            return not self._orphaned.is_set()
        with self._lock:
            return not self._lost

    def stopping(self) -> None:
        """A stop was asked: what ends from here is expected."""
        self._stopping.set()

    def stop_others(self) -> None:
        """The first process: tell the others to stop (each drains within the same bound)."""
        self._stopping.set()
        for pid in self._running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def wait_others(self, deadline: float) -> str | None:
        """The first process: wait for the others until `deadline` (plus GRACE, their own drains started a
        moment later), then kill those left; what happened, for the stop line."""
        if not self.others:
            return None
        if not self._all_ended.wait(max(0.0, deadline + GRACE - time.monotonic())):
            left = self._running()
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._all_ended.wait(GRACE)
            return f"{len(left)} other HTTP process(es) killed at the deadline"
        with self._lock:
            failed = sum(1 for pid, code in self._ended.items() if code != 0 and pid not in self._lost)
        if failed:
            return f"{len(self.others) - failed} other HTTP process(es) stopped, {failed} with an error"
        return f"{len(self.others)} other HTTP process(es) stopped"

    def _running(self) -> list[int]:
        with self._lock:
            return [pid for pid in self.others if pid not in self._ended]


def fork(count: int) -> Family:
    """Fork `count - 1` more processes of this one (call it before any thread starts); each returns here
    with its own place. A listening socket made before is shared by all of them."""
    if threading.active_count() > 1:
        log.warning("HTTP processes forked with %d threads running", threading.active_count())
    read, write = os.pipe()
    others: list[int] = []
    # The socket already takes requests: a SIGTERM is held, in every process, until it has installed its
    # stop handler (serve_http), which would otherwise not run and leave its drain undone.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    for index in range(1, count):
        pid = os.fork()
        if pid == 0:
            os.close(write)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the first process decides, and tells this one
            return Family(index, count, read)
        others.append(pid)
    os.close(read)
    return Family(0, count, write, others)
