"""The answer pool: a few low-priority threads that work out answers, with a bounded queue.

Every front end must acknowledge a request within the platform's window (Slack's ack, Discord's
first response) whatever the answers cost. So answers never run where acknowledgements run: they
go to this pool, whose threads lower their own scheduling priority (on Linux each thread has its
own nice value), so that when the CPU is saturated the threads that acknowledge are served first.
The queue is bounded: when it is full, `submit` raises `Busy` at once and the front end tells the
member to ask again in a moment (FrontDesk.busy), instead of letting the backlog grow until even the
acknowledgements wait behind it.

A lower nice value is not enough inside one process: an answer thread holds the GIL while it runs
Python, and when the CPU is saturated (other processes at the front end's own priority) a thread at
nice +10 is rarely scheduled, so the acknowledging thread waits for the GIL behind a thread that
cannot run: the ack p99 was 756 ms at 64 concurrent requests with two CPU hogs. `AnswerProcess` runs
the answers in a worker process of their own, forked once the core is loaded (its memory is shared
copy-on-write) and at lower priority as a whole, so the front end's process keeps its GIL for the
acknowledgements. A job given to a process is named, not a closure: the front end registers its jobs
(`register`) before `start` forks, and `call` sends the job's name and its (picklable) arguments;
its result comes back pickled. `AnswerPool.call` runs the same registered jobs in threads, so a
front end written for `call` runs on either.

A job may have a delivery (`register(..., deliver=...)`): what sends its result to the platform. It runs
where the job ran, in delivery threads of its own (they wait on the platform's API, not the CPU, so the
answer threads go on to the next answer), and the caller gets None back instead of the result. So with
the answers in a worker process, the front end's process does nothing for an answer but hand it over:
delivering an answer there cost it about twice what acknowledging the request did (unpickling the
result, building and posting the message), all of it competing with the acknowledgements for its GIL.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import wait as _wait
from multiprocessing.connection import Connection, Pipe
from typing import Any

from bot.errors import Busy, ServiceError
from bot.ops.logs import request_context, request_id

__all__ = ["DELIVERERS", "NICE", "AnswerPool", "AnswerProcess", "Deliver", "Job", "default_threads", "lower_priority"]

log = logging.getLogger(__name__)

NICE = 10  # added to an answer thread's nice value: acknowledgements (nice 0) go first under load
DELIVERERS = 16  # threads that deliver results (each waits on the platform's API) unless a job asks otherwise

Job = Callable[..., Any]
Deliver = Callable[..., None]  # deliver(result, *the job's arguments)


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
        self._name = name
        self._pending = 0  # submitted and not finished: running or waiting
        self._refused = 0  # refused since the last log line
        self._logged = -60.0
        self._count_lock = threading.Lock()
        self._jobs: dict[str, tuple[Job, Deliver | None]] = {}
        self._deliverers = 0  # the most delivery threads any registered job asked for
        self._deliveries: ThreadPoolExecutor | None = None  # this process's delivery threads, started on first use
        super().__init__(
            max_workers=self.threads, thread_name_prefix=name, initializer=lower_priority, initargs=(nice,)
        )

    @property
    def pending(self) -> int:
        with self._count_lock:
            return self._pending

    def register(self, name: str, fn: Job, *, deliver: Deliver | None = None, deliverers: int = 0) -> None:
        """Make `fn` a job that `call(name, ...)` runs (before `start`, for a pool in a process). With
        `deliver`, a result other than None is handed to `deliver(result, *args)` in a delivery thread
        (`deliverers` of them, the most any job asked for; DELIVERERS when none did), and the caller's
        future gets None once it is handed over."""
        self._jobs[name] = (fn, deliver)
        self._deliverers = max(self._deliverers, deliverers)

    @property
    def deliverers(self) -> int:
        """Delivery threads: the most any registered job asked for; DELIVERERS when none did."""
        return self._deliverers or DELIVERERS

    def start(self) -> None:
        """Nothing to do: the threads start on first use."""

    def alive(self) -> bool:
        return True

    def call(self, name: str, /, *args: Any) -> Future[Any]:
        """Run the registered job `name` with `args`, or raise Busy as `submit` does."""
        fn, deliver = self._jobs[name]
        if deliver is None:
            return self.submit(fn, *args)
        return self.submit(_then_deliver, fn, deliver, self._delivery_threads, args)

    def _delivery_threads(self) -> ThreadPoolExecutor:
        with self._count_lock:
            if self._deliveries is None:
                self._deliveries = ThreadPoolExecutor(self.deliverers, thread_name_prefix=f"{self._name}-send")
            return self._deliveries

    def _admit(self) -> None:
        """Count one more job in hand, or raise Busy when `threads` jobs run and `queue` more already wait."""
        with self._count_lock:
            if self._full():
                self._refuse()
                raise Busy(f"{self._pending} answers in hand")
            self._pending += 1

    def full(self) -> bool:
        """Whether a job called now would be refused (Busy): `threads` run and `queue` more wait."""
        with self._count_lock:
            return self._full()

    def _full(self) -> bool:
        return self._pending >= self.threads + self.queue

    def refused(self) -> None:
        """Count a member told to ask again by a surface that found the pool full before calling it."""
        with self._count_lock:
            self._refuse()

    def _refuse(self) -> None:
        """One more member told to ask again (the count lock held): a line a minute at most, so that an
        overload does not flood the log."""
        self._refused += 1
        now = time.monotonic()
        if now - self._logged >= 60:
            log.warning("answer pool full (%d threads, %d waiting): %d member(s) told to ask again "
                        "since the last such line", self.threads, self.queue, self._refused)  # fmt: skip
            self._logged, self._refused = now, 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue `fn`, or raise Busy when `threads` jobs run and `queue` more already wait."""
        self._admit()
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

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new jobs; with `wait`, the jobs in hand finish and their deliveries are made."""
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        with self._count_lock:
            deliveries = self._deliveries
        if deliveries is not None:
            deliveries.shutdown(wait=wait)


class AnswerProcess(AnswerPool):
    """An answer pool whose registered jobs (`call`) run in one worker process, in `threads` threads at
    lowered priority; `start` forks it. The count of jobs in hand, and so Busy, is kept here, as in
    AnswerPool; `submit` (a closure, which cannot cross) still runs in this process's own threads.

    The worker is forked from the process as it is when `start` is called: call it before any other
    thread starts (a lock another thread held would stay held in the worker). What the jobs share
    must be shared through the store (SQLite or PostgreSQL), never through this process's memory:
    the worker's memory is its own from the fork on. Should the worker die, every job in hand fails
    with ServiceError and so does every later call; `alive` says so (the health check)."""

    def __init__(self, threads: int | None = None, queue: int = 64, *, nice: int = NICE, name: str = "maisky-answer"):
        super().__init__(threads, queue, nice=nice, name=name)
        self._conn: Connection | None = None
        self._pid = 0
        self._send_lock = threading.Lock()
        self._futures: dict[int, Future[Any]] = {}
        self._ids = itertools.count(1)
        self._closing = False
        self._ended = False  # the worker was told there are no more jobs
        self._dead = False
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        """Fork the worker (once); this process reads its results in a thread of its own."""
        if self._conn is not None:
            return
        if threading.active_count() > 1:
            log.warning("answer process forked with %d threads running", threading.active_count())
        mine, theirs = Pipe()
        pid = os.fork()
        if pid == 0:  # the worker: it never returns into the caller's code
            code = 1
            try:
                mine.close()
                _serve(theirs, self._jobs, self.threads, self.nice, self._name, self.deliverers)
                code = 0
            except BaseException:
                log.exception("the answer process failed")
            finally:
                os._exit(code)
        theirs.close()
        self._conn, self._pid = mine, pid
        self._reader = threading.Thread(target=self._read, name="maisky-answer-results", daemon=True)
        self._reader.start()
        log.info("answers run in process %d (%d threads at nice +%d)", pid, self.threads, self.nice)

    def alive(self) -> bool:
        return self._conn is not None and not self._dead

    def call(self, name: str, /, *args: Any) -> Future[Any]:
        """Send the job to the worker; raise Busy when the pool is full, ServiceError when the worker is gone."""
        if self._conn is None:
            raise ServiceError("the answer process was never started")
        if name not in self._jobs:
            raise KeyError(name)
        self._admit()
        future: Future[Any] = Future()
        future.add_done_callback(self._done)
        number = next(self._ids)
        with self._send_lock:
            if self._dead or self._closing:
                future.set_exception(ServiceError("the answer process is gone"))
                return future
            self._futures[number] = future
            try:
                self._conn.send((number, name, args, request_id()))
            except (OSError, ValueError) as exc:  # ValueError: the connection is closed
                self._futures.pop(number, None)
                future.set_exception(ServiceError(f"could not reach the answer process ({exc})"))
            except BaseException:  # an argument that cannot be pickled: the caller's bug
                self._futures.pop(number, None)
                self._done(None)
                raise
        return future

    def _read(self) -> None:
        assert self._conn is not None
        while True:
            try:
                number, ok, value = self._conn.recv()
            except (EOFError, OSError):
                break
            with self._send_lock:
                future = self._futures.pop(number, None)
            if future is None:
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        with self._send_lock:
            self._dead = True
            lost, self._futures = list(self._futures.values()), {}
        if not self._closing:
            log.error("the answer process %d ended: %d answer(s) in hand lost", self._pid, len(lost))
        for future in lost:
            future.set_exception(ServiceError("the answer process ended"))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new jobs; with `wait`, the worker finishes those in hand, then exits."""
        with self._send_lock:
            self._closing = True
            in_hand = list(self._futures.values())
        if wait:
            _wait(in_hand)
        if self._conn is not None and not self._ended:
            self._ended = True
            # The end of the jobs: the worker reads it and exits. A shutdown, not a close: a close would
            # not reach the worker while the results thread is blocked reading the same socket.
            with self._send_lock, socket.fromfd(self._conn.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as end:
                end.shutdown(socket.SHUT_WR)
            if wait:
                os.waitpid(self._pid, 0)
                if self._reader is not None:
                    self._reader.join()
                self._conn.close()
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


def _serve(
    conn: Connection, jobs: dict[str, tuple[Job, Deliver | None]], threads: int, nice: int, name: str, deliverers: int
) -> None:
    """The worker's loop: jobs in, results out (or delivered here), until the front end closes its end of the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C reaches the group: the front end decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # whatever mask the front end had at the fork
    lower_priority(nice)  # this thread's nice value, which the threads below inherit
    send_lock = threading.Lock()
    deliveries = ThreadPoolExecutor(deliverers, thread_name_prefix=f"{name}-send")

    def run(number: int, job: str, args: tuple[Any, ...], rid: str) -> None:
        fn, deliver = jobs[job]
        try:
            with request_context(rid or None):
                if deliver is None:
                    result: tuple[int, bool, Any] = (number, True, _logged(fn, *args))
                else:
                    result = (number, True, _logged(_then_deliver, fn, deliver, lambda: deliveries, args))
        except Exception as exc:
            result = (number, False, exc)
        with send_lock:
            try:
                conn.send(result)
            except OSError:
                return  # the front end is gone
            except Exception as exc:  # a result (or exception) that cannot be pickled
                log.exception("could not send back the result of %s", job)
                conn.send((number, False, ServiceError(f"{job}: its result could not be sent back ({exc})")))

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
    while True:
        try:
            number, job, args, rid = conn.recv()
        except (EOFError, OSError):
            break
        pool.submit(run, number, job, args, rid)
    # A front end that stops waits for the jobs in hand before it ends the jobs; one that was killed
    # has nobody to send the answers: what has not started is dropped.
    pool.shutdown(wait=True, cancel_futures=True)
    deliveries.shutdown(wait=True)  # the answers worked out are sent before the worker ends
    conn.close()


def _then_deliver(fn: Job, deliver: Deliver, deliveries: Callable[[], Executor], args: tuple[Any, ...]) -> None:
    """Run the job (in an answer thread) and hand a result other than None to a delivery thread, in the
    job's own log context."""
    result = fn(*args)
    if result is not None:
        deliveries().submit(contextvars.copy_context().run, _delivered, deliver, result, args)


def _delivered(deliver: Deliver, result: Any, args: tuple[Any, ...]) -> None:
    try:
        deliver(result, *args)
    except Exception:
        log.exception("delivery failed")


def _logged(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception:
        log.exception("answer failed")
        raise
