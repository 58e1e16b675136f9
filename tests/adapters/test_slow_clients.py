"""Slow clients against a real `maisky slack http` process on loopback: a hundred connections that
each trickle a byte a second (half of them their headers, half their body) and come back when
closed. Signed requests are still answered while they trickle, and the server closes the
trickling connections (adapters/slack/deadlines.py: headers within 5 s, a body within 10 s)."""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.adapters.processes import base_env, free_port, wait_for_port
from tests.adapters.slack_fakes import SECRET, FakeSlack
from tests.adapters.test_running import BOT_TOKEN

SLOW = 50  # connections trickling their headers, and as many trickling their body
ASKED = 11  # signed requests sent while they trickle
EVERY = 1.0  # seconds between two bytes of one slow connection: well inside the 15 s idle timeout


class Trickle:
    """`count` connections that each send one more byte every `every` seconds and are opened again
    when the server closes them; `closed` counts the closings, `lived` how long each closed one lived."""

    def __init__(self, port: int, count: int, *, body: bool, every: float = EVERY) -> None:
        self.port = port
        self.body = body
        self.every = every
        self.closed = 0
        self.lived: list[float] = []
        self.opened: dict[int, float] = {}
        self.stop = threading.Event()
        self.socks = [self._open() for _ in range(count)]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self) -> socket.socket | None:
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            return None  # the backlog is full: try again next round
        head = b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if self.body:
            head += b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
        else:
            head += b"X-Slow: "
        try:
            s.sendall(head)
        except OSError:
            s.close()
            return None
        s.setblocking(False)
        self.opened[id(s)] = time.monotonic()
        return s

    def _run(self) -> None:
        while not self.stop.wait(self.every):  # a client's pace, not a wait for the server
            live = [s for s in self.socks if s is not None]
            readable, _, _ = select.select(live, [], [], 0) if live else ([], [], [])
            for n, s in enumerate(self.socks):
                if s is None:
                    self.socks[n] = self._open()
                    continue
                gone = False
                try:
                    if s in readable and not s.recv(4096):
                        gone = True
                    else:
                        s.send(b"a")
                except OSError:
                    gone = True
                if gone:
                    self.closed += 1
                    self.lived.append(time.monotonic() - self.opened.pop(id(s), time.monotonic()))
                    s.close()
                    self.socks[n] = self._open()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        for s in self.socks:
            if s is not None:
                s.close()


def signed(url: str, text: str, user: str) -> int:
    """A /maisky slash command signed as Slack signs it; its status, or 0 if no answer came in 120 s."""
    body = urlencode({"command": "/maisky", "text": text, "team_id": "T1", "channel_id": "C1", "user_id": user,
                      "response_url": "http://127.0.0.1:9/unused", "trigger_id": f"t-{user}"})  # fmt: skip
    stamp = str(int(time.time()))
    req = Request(url, data=body.encode(), method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header("X-Slack-Request-Timestamp", stamp)
    req.add_header("X-Slack-Signature", SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body))
    try:
        with urlopen(req, timeout=120) as resp:
            return int(resp.status)
    except HTTPError as err:
        return err.code
    except OSError:  # timed out: held behind the slow clients
        return 0


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.close()


def test_slow_clients_do_not_hold_the_http_port(fake: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    env = base_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url,
                   HOST="127.0.0.1", PORT=str(port), MAISKY_COOLDOWN="0")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "slack", "http"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    slow: list[Trickle] = []
    try:
        wait_for_port(port, proc)
        slow = [Trickle(port, SLOW, body=False), Trickle(port, SLOW, body=True)]
        url = f"http://127.0.0.1:{port}/slack/events"
        statuses = [signed(url, "Was Eden made of iron?", f"U{n}") for n in range(ASKED)]
        assert statuses == [200] * ASKED, f"answered while {2 * SLOW} trickled: {statuses}"
        deadline = time.monotonic() + 300
        while any(t.closed < SLOW for t in slow):  # every first slow connection closed by the server
            assert time.monotonic() < deadline, f"closed by the server: {[t.closed for t in slow]}"
            assert proc.poll() is None
            slow[0].stop.wait(0.2)
    finally:
        for t in slow:
            t.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert "deadline" in err or "connection limit reached" in err, err[-2000:]
