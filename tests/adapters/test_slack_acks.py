"""Acks never wait for answers: with every sending or answering thread busy, a new request is still
acknowledged; with the answer pool full, the ack itself (or an ephemeral note) says to ask again."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from adapters.slack.app import build_app
from bot import Maisky, Settings, build
from bot.chat.desk import FrontDesk
from bot.chat.pool import AnswerPool, AnswerProcess
from bot.ops.settings import SlackSettings
from tests.adapters.conftest import Blocked, MakeCore, desk_for
from tests.adapters.slack_fakes import SECRET, FakeSlack, event, guarded, post, served, settings, slash
from tests.adapters.test_slack import all_text
from tests.conftest import PERSONA, SEEDS


class HeldReplies:
    """A response_url that holds every reply until released, and counts the replies that came."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = 0
        self._cond = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with fake._cond:
                    fake.arrived += 1
                    fake._cond.notify_all()
                fake.release.wait(300)  # until released (or the test is long over)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_arrived(self, count: int, timeout: float = 180) -> int:
        """How many replies have arrived, once `count` have (or the timeout passed)."""
        with self._cond:
            self._cond.wait_for(lambda: self.arrived >= count, timeout)
            return self.arrived

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def held() -> Iterator[HeldReplies]:
    h = HeldReplies()
    yield h
    h.close()


def command(url: str, response_url: str, n: int) -> int:
    form = {"token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": f"U{n}", "user_name": "member",
            "command": "/maisky", "text": "sources", "response_url": f"{response_url}/{n}",
            "trigger_id": f"trig-{n}-{time.monotonic_ns()}", "api_app_id": "A1"}  # fmt: skip
    status, _ = post(url, urlencode(form), "application/x-www-form-urlencoded")
    return status


def test_acks_do_not_queue_behind_busy_answers(held: HeldReplies) -> None:
    core: Maisky = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    fake = FakeSlack()
    ss = SlackSettings("xoxb-test", SECRET, "", fake.api_url, 3000, workers=1)
    try:
        with served(build_app(desk_for(core), ss, WebClient(token="xoxb-test", base_url=fake.api_url))) as url:
            assert command(url, held.url, 1) == 200
            assert held.wait_arrived(1) == 1  # the only worker is now stuck replying
            assert [command(url, held.url, n) for n in (2, 3, 4)] == [200, 200, 200]  # acked all the same
            assert held.arrived == 1  # their answers wait for the worker
            held.release.set()
            assert held.wait_arrived(4) == 4  # and every one is answered once it is free
    finally:
        fake.close()


def busy_desk(core: Maisky, threads: int = 1, queue: int = 1) -> FrontDesk:
    desk = desk_for(core)
    desk.pool = AnswerPool(threads, queue)
    return desk


def test_full_answer_pool_acks_at_once_with_the_busy_reply_and_answers_once_it_has_room(
    fake_slack: FakeSlack, make_core: MakeCore
) -> None:
    desk = busy_desk(make_core())
    busy = desk.core.voice.persona["busy"]
    blocked = Blocked(desk.pool)
    try:
        with served(
            build_app(desk, settings(fake_slack), WebClient(token="xoxb-test", base_url=fake_slack.api_url))
        ) as url:
            status, body = slash(url, fake_slack, "What did you think of Eden?", user="ULATE")
            assert status == 200  # acknowledged while other members' answers hold every thread and place
            ack = json.loads(body)
            assert ack["response_type"] == "ephemeral" and busy in ack["text"]  # the ack itself says so
            ev = {"type": "app_mention", "user": "U7", "text": "<@UBOT> Eden", "ts": "1700.9", "channel": "C9"}
            assert event(url, ev, "EvBusy")[0] == 200
            note = fake_slack.wait_for("/chat.postEphemeral")[0].body
            assert note["user"] == "U7" and busy in all_text(note)  # only the asker sees it
            assert fake_slack.count("/response/") == 0  # nothing answered: the work never ran
            blocked.open()
            status, body = slash(url, fake_slack, "What did you think of Eden?", user="UNEXT")
            assert status == 200 and not body  # taken: a plain ack, the answer follows
            reply = fake_slack.wait_for("/response/UNEXT")[0].body
            assert "Maisky as narrator" in reply["text"] and busy not in all_text(reply)
    finally:
        blocked.open()
        desk.pool.shutdown(wait=True)


def test_request_waiting_for_a_thread_is_acked_and_answered_once_the_threads_are_free(
    fake_slack: FakeSlack, make_core: MakeCore
) -> None:
    desk = busy_desk(make_core(), threads=1, queue=2)
    blocked = Blocked(desk.pool, room=1)  # the only thread held, one queue place free
    try:
        with served(
            build_app(desk, settings(fake_slack), WebClient(token="xoxb-test", base_url=fake_slack.api_url))
        ) as url:
            assert slash(url, fake_slack, "What did you think of Eden?", user="UWAIT") == (200, "")
            assert fake_slack.count("/response/") == 0  # queued behind the held work, not answered yet
            blocked.open()
            reply = fake_slack.wait_for("/response/UWAIT")[0].body
            assert "Maisky as narrator" in reply["text"]
    finally:
        blocked.open()
        desk.pool.shutdown(wait=True)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the answer process is forked")
def test_acks_are_sent_while_the_answer_process_is_busy_and_its_answers_follow(
    fake_slack: FakeSlack, make_core: MakeCore
) -> None:
    """With the answers in their own process (`maisky slack http`'s default), a request is acknowledged
    while every answer thread there is busy; its answer, worked out there, is sent from here."""
    desk = desk_for(make_core())
    desk.pool = pool = AnswerProcess(threads=1, queue=4)
    fork = multiprocessing.get_context("fork")
    started, gate = fork.Event(), fork.Event()
    pool.register("hold", lambda: started.set() or gate.wait(120))
    app = build_app(desk, settings(fake_slack), WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    pool.start()  # as `run` does: once the app registered its job
    try:
        held = pool.call("hold")
        assert started.wait(120)  # the answer process's only thread is taken
        with served(app) as url:
            for user in ("UA", "UB"):
                assert slash(url, fake_slack, "What did you think of Eden?", user=user) == (200, "")  # a plain ack
            assert fake_slack.count("/response/") == 0  # their answers wait for the thread
            gate.set()
            assert held.result(timeout=120)
            for user in ("UA", "UB"):
                reply = fake_slack.wait_for(f"/response/{user}")[0].body
                assert "Maisky as narrator" in reply["text"]
    finally:
        gate.set()
        pool.shutdown(wait=True)


def test_behind_the_guard_the_ack_comes_before_bolt_which_runs_in_the_answer_pool(
    fake_slack: FakeSlack, make_core: MakeCore
) -> None:
    desk = busy_desk(make_core())  # one answer thread, one queue place
    busy = desk.core.voice.persona["busy"]
    app = build_app(desk, settings(fake_slack), WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    dispatched: list[str] = []  # the thread each request met bolt's middleware in

    def record(next: Callable[[], Any]) -> Any:
        dispatched.append(threading.current_thread().name)
        return next()

    app.use(record)
    blocked = Blocked(desk.pool, room=1)  # the only thread held, the one queue place free
    try:
        with guarded(app, settings(fake_slack)) as base:
            url = f"{base}/slack/events"
            assert slash(url, fake_slack, "What did you think of Eden?", user="UFIRST") == (200, "")
            assert dispatched == []  # acknowledged, and bolt has not even seen it: it waits in the pool
            status, body = slash(url, fake_slack, "What did you think of Eden?", user="UBUSY")
            ack = json.loads(body)  # the pool is full: the ack itself says so, as bolt's listener would
            assert status == 200 and ack["response_type"] == "ephemeral" and busy in ack["text"]
            assert dispatched == []
            ev = {"type": "app_mention", "user": "U7", "text": "<@UBOT> Eden", "ts": "1700.9", "channel": "C9"}
            assert event(url, ev, "EvFull")[0] == 200  # a mention's busy reply is a message: bolt, here
            note = fake_slack.wait_for("/chat.postEphemeral")[0].body
            assert note["user"] == "U7" and busy in all_text(note)
            assert len(dispatched) == 1 and not dispatched[0].startswith("maisky-answer")
            blocked.open()
            reply = fake_slack.wait_for("/response/UFIRST")[0].body
            assert "Maisky as narrator" in reply["text"] and "soft clay" in all_text(reply)
            assert dispatched[1].startswith("maisky-answer")  # bolt ran in the answer thread
            assert fake_slack.count("/response/UBUSY") == 0
    finally:
        blocked.open()
        desk.pool.shutdown(wait=True)


def test_url_verification_is_answered_by_bolt_at_once_behind_the_guard(
    fake_slack: FakeSlack, make_core: MakeCore
) -> None:
    desk = busy_desk(make_core())
    app = build_app(desk, settings(fake_slack), WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    try:
        with guarded(app, settings(fake_slack)) as base:
            url = f"{base}/slack/events"
            body = json.dumps({"type": "url_verification", "challenge": "c-42", "token": "t"})
            assert post(url, body, "application/json") == (200, json.dumps({"challenge": "c-42"}))
    finally:
        desk.pool.shutdown(wait=True)
