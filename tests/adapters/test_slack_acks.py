"""Acks never wait for answers: with every answering thread busy, a new slash command is still acknowledged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from adapters.slack.app import build_app
from bot import Maisky, Settings, build
from bot.ops.settings import SlackSettings
from tests.adapters.slack_fakes import SECRET, FakeSlack, post, served
from tests.conftest import PERSONA, SEEDS


class HeldReplies:
    """A response_url that holds every reply until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.arrived += 1
                fake.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

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
        with served(build_app(core, ss, WebClient(token="xoxb-test", base_url=fake.api_url))) as url:
            assert command(url, held.url, 1) == 200
            deadline = time.monotonic() + 10
            while held.arrived < 1 and time.monotonic() < deadline:  # the only worker is now stuck replying
                time.sleep(0.01)
            assert held.arrived == 1
            assert [command(url, held.url, n) for n in (2, 3, 4)] == [200, 200, 200]  # acked all the same
            assert held.arrived == 1  # their answers wait for the worker
            held.release.set()
            deadline = time.monotonic() + 10
            while held.arrived < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert held.arrived == 4  # and every one is answered once it is free
    finally:
        fake.close()
