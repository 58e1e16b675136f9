"""Fakes of Slack's and Discord's posting APIs that misbehave on purpose, and the fault table.

Each fake keeps the messages it *stored*, which is what a channel would show, separately from
the requests it received. A fault is queued per channel and applies to that channel's next
request: `timeout` (store, then never answer), `drop` (store, then close the connection),
`drop_before` (close the connection without storing), `fatal_error` / `internal_error` (Slack:
store, then say so), `500`/`502`/`504` (Discord and Slack: store, then answer that status),
`ratelimited` (store nothing, 429 with Retry-After), `invalid_auth` / `401` (the bot is refused),
`channel_not_found` / `404`. The Discord fake honours `nonce` + `enforce_nonce` as Discord does:
a repeat returns the message already created.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_USER = {"id": "1000", "username": "Maisky", "discriminator": "0", "avatar": None, "bot": True}


@dataclass
class Row:
    fault: str
    database: str
    channel_days: int
    posts: int
    lost: int
    duplicated: int
    unconfirmed: int


RESULTS: list[Row] = []  # printed as a table at the end of the run (see conftest.py)


def table(rows: list[Row]) -> str:
    head = (
        f"{'fault':<52} {'db':<10} {'channel-days':>12} {'posts':>6} {'lost':>5} {'duplicated':>10} {'unconfirmed':>11}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.fault:<52} {r.database:<10} {r.channel_days:>12} {r.posts:>6} {r.lost:>5} {r.duplicated:>10} "
            f"{r.unconfirmed:>11}"
        )
    return "\n".join(lines)


@dataclass
class _Fake:
    """The shared part: a threaded HTTP server on 127.0.0.1, faults queued per channel."""

    # the longest a `timeout` fault keeps the connection open without answering; it ends sooner, when the
    # client gives up and closes it (or its process exits): the client's own timeout is the only clock
    hang: float = 300.0
    delay: float = 0.0  # seconds before every answer (a slow platform)
    faults: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    always: str = ""  # a fault applied to every request (a revoked token)
    stored: list[tuple[str, str]] = field(default_factory=list)  # (channel, text) as the channel shows it
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    in_flight: int = 0  # requests being handled now
    _idle: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with fake.handling():
                    fake.get(self)

            def do_POST(self) -> None:
                with fake.handling():
                    fake.post(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        with self._idle:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self.in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 180) -> bool:
        """Wait until no request is being handled (those of a killed sender have landed or given up)."""
        with self._idle:
            return self._idle.wait_for(lambda: self.in_flight == 0, timeout)

    def close(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def per_channel(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for channel, _ in self.stored:
            counts[channel] += 1
        return counts

    def next_fault(self, channel: str) -> str:
        with self.lock:
            self.requests += 1
            if self.always:
                return self.always
            queue = self.faults.get(channel)
            return queue.pop(0) if queue else ""

    def get(self, h: BaseHTTPRequestHandler) -> None:
        self.answer(h, 404, {"message": "not here"})

    def post(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def answer(h: BaseHTTPRequestHandler, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode() if not isinstance(data, bytes) else data
        h.send_response(status)
        h.send_header("Content-Type", "application/json" if not isinstance(data, bytes) else "text/html")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def misbehave(self, h: BaseHTTPRequestHandler, fault: str) -> bool:
        """The faults that break the connection; True if the request was dealt with."""
        if fault == "timeout":
            h.close_connection = True
            h.connection.settimeout(self.hang)
            with contextlib.suppress(OSError):
                while h.connection.recv(65536):  # until the client gives up and closes the connection
                    pass
            return True
        if fault in ("drop", "drop_before"):
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return True
        return False


@dataclass
class FaultySlack(_Fake):
    def post(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", 0))
        data = h.rfile.read(length)
        if len(data) < length:  # the sender died mid-request (kill -9): Slack would store nothing either
            h.close_connection = True
            return
        raw = data.decode()
        if h.headers.get("Content-Type", "").startswith("application/json"):
            body = json.loads(raw or "{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw).items()}
        if not h.path.endswith("/chat.postMessage"):
            self.answer(h, 200, {"ok": True})
            return
        channel = str(body.get("channel", ""))
        fault = self.next_fault(channel)
        if self.delay:
            time.sleep(self.delay)
        if fault in ("invalid_auth", "token_revoked", "channel_not_found"):
            self.answer(h, 200, {"ok": False, "error": fault})
            return
        if fault == "ratelimited":
            self.answer(h, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            return
        if fault == "drop_before":
            self.misbehave(h, fault)
            return
        with self.lock:
            self.stored.append((channel, str(body.get("text", ""))))
        if self.misbehave(h, fault):
            return
        if fault in ("fatal_error", "internal_error"):
            self.answer(h, 200, {"ok": False, "error": fault})
        elif fault in ("500", "502", "503", "504"):
            self.answer(h, int(fault), b"<html>upstream error</html>")
        else:
            self.answer(h, 200, {"ok": True, "channel": channel, "ts": f"{time.time():.6f}"})


@dataclass
class FaultyDiscord(_Fake):
    nonces: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def get(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.endswith("/users/@me"):
            if self.always == "401":
                self.answer(h, 401, {"message": "401: Unauthorized", "code": 0})
            else:
                self.answer(h, 200, BOT_USER)
            return
        self.answer(h, 404, {"message": "404: Not Found", "code": 0})

    def post(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        body = json.loads(raw or b"{}")
        parts = h.path.split("/")
        if "channels" not in parts or not h.path.endswith("/messages"):
            self.answer(h, 404, {"message": "404: Not Found", "code": 0})
            return
        channel = parts[parts.index("channels") + 1]
        fault = self.next_fault(channel)
        if self.delay:
            time.sleep(self.delay)
        if fault == "401":
            self.answer(h, 401, {"message": "401: Unauthorized", "code": 0})
            return
        if fault == "404":
            self.answer(h, 404, {"message": "Unknown Channel", "code": 10003})
            return
        if fault == "429":
            self.answer(h, 429, {"message": "You are being rate limited.", "retry_after": 1.0, "global": False},
                        {"Retry-After": "1", "Via": "1.1 google"})  # fmt: skip
            return
        if fault == "drop_before":
            self.misbehave(h, fault)
            return
        nonce = str(body.get("nonce", ""))
        with self.lock:
            message = self.nonces.get((channel, nonce)) if nonce and body.get("enforce_nonce") else None
            if message is None:  # what Discord does: a repeated nonce returns the first message
                message = {"id": str(len(self.stored) + 1), "channel_id": channel, "content": body.get("content", "")}
                self.stored.append((channel, json.dumps(body.get("embeds", []))))
                if nonce:
                    self.nonces[(channel, nonce)] = message
        if self.misbehave(h, fault):
            return
        if fault in ("500", "502", "504"):
            self.answer(h, int(fault), {"message": "Internal Server Error", "code": 0})
        else:
            self.answer(h, 200, message)
