"""The answer pool: bounded, refusing at once when full, its threads below the acknowledging ones."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.chat.core import Maisky
from bot.chat.desk import FrontDesk, Visibility
from bot.chat.pool import AnswerPool, AnswerProcess
from bot.chat.reply import Kind
from bot.errors import Busy, ServiceError
from bot.ops.logs import request_context, request_id
from bot.ops.store import Store


def _priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_full_pool_refuses_at_once_and_takes_work_again_once_freed() -> None:
    pool = AnswerPool(threads=2, queue=3)
    release = threading.Event()
    try:
        held = [pool.submit(release.wait, 120) for _ in range(5)]  # two running, three waiting
        assert pool.pending == 5
        with pytest.raises(Busy):
            pool.submit(lambda: "late")
        release.set()
        assert all(f.result(timeout=120) for f in held)
        assert pool.submit(lambda: "again").result(timeout=120) == "again"
    finally:
        release.set()
        pool.shutdown(wait=True)
    assert pool.pending == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_answer_threads_run_below_the_thread_that_submits() -> None:
    mine = _priority()
    pool = AnswerPool(threads=1, queue=0)
    try:
        theirs = pool.submit(_priority).result(timeout=120)
    finally:
        pool.shutdown(wait=True)
    assert theirs == min(19, mine + 10)
    assert _priority() == mine  # only the answer threads were lowered, not the caller's


def test_work_runs_in_the_submitting_request_context_and_its_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = AnswerPool(threads=1, queue=0)

    def boom() -> None:
        raise ValueError("broken")

    try:
        with request_context() as rid:
            seen = pool.submit(request_id).result(timeout=120)
        assert seen == rid
        with caplog.at_level(logging.ERROR), pytest.raises(ValueError):
            pool.submit(boom).result(timeout=120)
    finally:
        pool.shutdown(wait=True)
    assert any(r.exc_info and "answer failed" in r.getMessage() for r in caplog.records)


def test_busy_outcome_is_private_in_the_persona_words(core: Maisky) -> None:
    from bot.chat.commands import Ask

    desk = FrontDesk(core)
    outcome = desk.busy(Ask("Who was Eden?"))
    assert outcome.visibility is Visibility.PRIVATE
    assert outcome.reply.kind is Kind.COOLDOWN
    assert outcome.reply.narration == desk.core.voice.persona["busy"]


def _boom() -> None:
    raise ValueError("broken")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the answer process is forked")
def test_answer_process_runs_registered_jobs_in_another_process_bounded_as_the_pool() -> None:
    gate = multiprocessing.get_context("fork").Event()
    pool = AnswerProcess(threads=1, queue=1)
    pool.register("hold", lambda: gate.wait(120) and os.getpid())
    pool.register("request", request_id)
    pool.register("boom", _boom)
    pool.register("priority", _priority)
    mine = _priority()
    pool.start()
    try:
        assert pool.alive()
        held = [pool.call("hold"), pool.call("hold")]  # one running, one waiting
        with pytest.raises(Busy):
            pool.call("hold")
        gate.set()
        assert {f.result(timeout=120) for f in held} - {os.getpid()}  # the answers ran elsewhere
        with request_context() as rid:
            assert pool.call("request").result(timeout=120) == rid  # and in the request's log context
        with pytest.raises(ValueError, match="broken"):
            pool.call("boom").result(timeout=120)
        if sys.platform.startswith("linux"):
            assert pool.call("priority").result(timeout=120) == min(19, mine + 10)
        assert _priority() == mine
    finally:
        gate.set()
        pool.shutdown(wait=True)
    assert pool.pending == 0 and not pool.alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the answer process is forked")
def test_answer_process_shares_the_store_and_a_dead_one_fails_what_it_held(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'shared.db'}")
    assert store.first_time("before", time.time())  # a pooled connection the worker must not reuse
    gate = multiprocessing.get_context("fork").Event()
    pool = AnswerProcess(threads=2, queue=2)
    pool.register("claim", lambda key: store.first_time(key, time.time()))
    pool.register("die", lambda: gate.wait(120) and os._exit(3))
    pool.register("wait", lambda: gate.wait(120))
    pool.start()
    try:
        assert pool.call("claim", "turn").result(timeout=120)  # claimed in the worker's own connection
        assert not store.first_time("turn", time.time())  # and seen here
        assert not pool.call("claim", "before").result(timeout=120)
        waiting, dying = pool.call("wait"), pool.call("die")
        gate.set()
        with pytest.raises(ServiceError):
            dying.result(timeout=120)
        assert waiting.done()
        assert not pool.alive()  # the health check says so
    finally:
        gate.set()
        pool.shutdown(wait=True)
    assert pool.pending == 0


def _write_where(result: str, path: str) -> None:
    """A delivery: writes the result, the process and the thread that delivered it, and the log context."""
    Path(path).write_text(f"{result} {os.getpid()} {threading.get_ident()} {request_id()}")


def test_a_delivery_gets_the_result_in_its_own_thread_and_the_caller_gets_none(tmp_path: Path) -> None:
    pool = AnswerPool(threads=1, queue=2)
    release = threading.Event()
    delivered: list[tuple[str, str, int, str]] = []
    done = threading.Event()

    def deliver(result: str, where: str) -> None:
        release.wait(120)  # a slow platform: the answer thread must not wait for it
        delivered.append((result, where, threading.get_ident(), request_id()))
        done.set()

    def work(where: str) -> str | None:
        return None if where == "nowhere" else f"answer for {where}"

    pool.register("answer", work, deliver=deliver, deliverers=2)
    answer_threads: list[int] = []
    try:
        with request_context() as rid:
            assert pool.call("answer", "C1").result(timeout=120) is None  # handed over, not returned
        # the answer thread is free while the delivery waits on the platform
        answer_threads.append(pool.submit(threading.get_ident).result(timeout=120))
        assert pool.call("answer", "nowhere").result(timeout=120) is None  # nothing to send: no delivery
        release.set()
        assert done.wait(120)
    finally:
        release.set()
        pool.shutdown(wait=True)
    (result, where, thread, seen_rid) = delivered[0]
    assert len(delivered) == 1 and (result, where) == ("answer for C1", "C1")
    assert thread not in answer_threads and thread != threading.get_ident()
    assert seen_rid == rid  # the delivery's lines carry the request's id


def test_a_failed_delivery_is_logged_and_the_pool_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    pool = AnswerPool(threads=1, queue=0)
    sent = threading.Event()

    def deliver(result: str, what: str) -> None:
        if result == "bad":
            raise OSError("Slack is down")
        sent.set()

    pool.register("answer", lambda what: what, deliver=deliver)
    try:
        with caplog.at_level(logging.ERROR):
            pool.call("answer", "bad").result(timeout=120)
            pool.call("answer", "good").result(timeout=120)
            assert sent.wait(120)
    finally:
        pool.shutdown(wait=True)
    assert any(r.exc_info and "delivery failed" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the answer process is forked")
def test_answer_process_delivers_where_it_worked_and_before_it_ends(tmp_path: Path) -> None:
    """The answer is sent from the answer process, not handed back; a shutdown with answers in hand ends
    only once they are delivered."""
    gate = multiprocessing.get_context("fork").Event()
    pool = AnswerProcess(threads=1, queue=2)
    out = tmp_path / "delivered"

    def work(path: str) -> str:
        gate.wait(120)
        return "answer"

    pool.register("answer", work, deliver=_write_where)
    pool.start()
    try:
        with request_context() as rid:
            future = pool.call("answer", str(out))
        gate.set()
        assert future.result(timeout=120) is None
    finally:
        gate.set()
        pool.shutdown(wait=True)  # the worker ends only after its deliveries
    result, pid, _, seen_rid = out.read_text().split()
    assert result == "answer" and int(pid) != os.getpid() and seen_rid == rid
