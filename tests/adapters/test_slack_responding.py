"""Replies to response_url: kept-alive connections, and 429s retried after Retry-After by slack_sdk's handler."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapters.slack.responding import ConnectionPool, Responder


class ResponseURL:
    """A local response_url endpoint speaking HTTP/1.1 keep-alive; `statuses` are answered first, in order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.connections = 0
        self.statuses: list[tuple[int, dict[str, str]]] = []
        self.drop_idle = False  # close each connection after one answer, without saying so
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                fake.connections += 1

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers = fake.statuses.pop(0) if fake.statuses else (200, {})
                if status == 200:
                    fake.bodies.append(json.loads(raw))
                data = b"ok" if status == 200 else b"rate_limited"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = fake.drop_idle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/commands/T1/123/abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[ResponseURL]:
    e = ResponseURL()
    yield e
    e.close()


def test_replies_reuse_one_connection(endpoint: ResponseURL) -> None:
    respond = Responder()
    for n in range(5):
        assert respond(endpoint.url, text=f"reply {n}", response_type="ephemeral").status_code == 200
    assert [b["text"] for b in endpoint.bodies] == [f"reply {n}" for n in range(5)]
    assert endpoint.bodies[0]["response_type"] == "ephemeral"
    assert respond.pool.opened == 1 and endpoint.connections == 1
    respond.close()


def test_a_rate_limited_reply_is_sent_after_retry_after(endpoint: ResponseURL) -> None:
    endpoint.statuses = [(429, {"Retry-After": "0"})]
    answer = Responder()(endpoint.url, text="patience")
    assert answer.status_code == 200
    assert [b["text"] for b in endpoint.bodies] == ["patience"]  # once, after the 429


def test_rate_limits_past_the_retries_give_the_429_back(endpoint: ResponseURL) -> None:
    endpoint.statuses = [(429, {"Retry-After": "0"})] * 2
    respond = Responder(retry_handlers=[])
    assert respond(endpoint.url, text="no retries").status_code == 429
    assert endpoint.bodies == []


def test_a_connection_the_server_dropped_is_replaced(endpoint: ResponseURL) -> None:
    endpoint.drop_idle = True
    respond = Responder(ConnectionPool(), retry_handlers=[])  # the pool itself replaces the stale connection
    for text in ("one", "two", "three"):
        assert respond(endpoint.url, text=text).status_code == 200
    assert [b["text"] for b in endpoint.bodies] == ["one", "two", "three"]
    assert endpoint.connections == 3
