"""Slack's HTTP mode under hostile requests: the real bolt app behind the guard, served by waitress
with the settings `maisky slack http` uses, sent real signed and unsigned requests over TCP."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from adapters.slack.app import acknowledger, build_app
from adapters.slack.http import Health
from adapters.slack.serve import make_server
from bot import Settings, build
from bot.ops.settings import SlackSettings
from tests.adapters.conftest import desk_for
from tests.adapters.slack_fakes import SECRET, FakeSlack, slash, ticking
from tests.conftest import PERSONA, SEEDS

MARK = "BODY-MARKER-7f3a"  # in every hostile body: it must never appear in a log line


@dataclass
class Served:
    fake: FakeSlack
    port: int
    health: Health

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def send(
        self, body: bytes, headers: dict[str, str], *, method: str = "POST", path: str = "/slack/events"
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def signed(body: bytes, content_type: str, *, ts: str | None = None) -> dict[str, str]:
    """Signed as Slack signs: HMAC-SHA256 of v0:timestamp:body with the signing secret, over the raw bytes."""
    stamp = ts or str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if body.isascii():  # the same as slack_sdk's own signer, where it can sign at all
        assert sig == SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig}


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def serve(fake: FakeSlack, **limits: Any) -> Iterator[Served]:
    slack = SlackSettings("xoxb-test", SECRET, "", fake.api_url, 0, host="127.0.0.1", mode="http", **limits)
    core = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    app = build_app(desk_for(core), slack, WebClient(token="xoxb-test", base_url=fake.api_url))
    health = Health({"database": lambda: True})
    server, _ = make_server(app, slack, health, early=acknowledger(app))  # as `maisky slack http` serves it
    with ticking(server):
        yield Served(fake, server.effective_port, health)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL"):
            env.delenv(name, raising=False)
        f = FakeSlack()
        yield f
        f.close()


@pytest.fixture(scope="module")
def served_once(fake: FakeSlack) -> Iterator[Served]:
    yield from serve(fake)


@pytest.fixture
def served(served_once: Served) -> Iterator[Served]:
    """One server for the module; each test starts with healthy checks."""
    served_once.health.checks = {"database": lambda: True}
    served_once.health.stopping.clear()
    yield served_once
    served_once.health.stopping.clear()


def deep(n: int) -> str:
    return "[" * n + "]" * n


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


def now() -> str:
    return str(int(time.time()))


def stamped(sig: str, ts: str | None = None) -> dict[str, str]:
    return {"Content-Type": FORM, "X-Slack-Request-Timestamp": ts or now(), "X-Slack-Signature": sig}


def unsigned_cases() -> list[tuple[str, bytes, dict[str, str], int]]:
    body = form(text=MARK, command="/maisky")
    sig = signed(body, FORM)["X-Slack-Signature"]
    bad_utf8 = b"text=\xff\xfe" + MARK.encode()
    return [
        ("no signature headers", body, {"Content-Type": FORM}, 401),
        ("non-numeric timestamp", body, stamped(sig, "abc"), 401),
        ("float timestamp", body, stamped(sig, "1.5e9"), 401),
        ("negative timestamp", body, stamped(sig, "-1"), 401),
        ("huge timestamp", body, stamped(sig, "9" * 400), 401),
        ("stale timestamp", body, signed(body, FORM, ts=str(int(time.time()) - 600)), 401),
        ("timestamp but no signature", body, {"Content-Type": FORM, "X-Slack-Request-Timestamp": now()}, 401),
        ("wrong signature", body, stamped("v0=" + "0" * 64), 401),
        ("signature not v0", body, stamped("garbage"), 401),
        ("non-ASCII signature", body, stamped("v0=é"), 401),
        ("invalid JSON, unsigned", b'{"' + MARK.encode() + b'": ', {"Content-Type": JSON}, 401),
        ("payload not JSON, unsigned", form(payload=MARK), {"Content-Type": FORM}, 401),
        ("invalid UTF-8, unsigned", bad_utf8, {"Content-Type": FORM}, 401),
        ("invalid UTF-8, wrongly signed", bad_utf8, stamped("v0=" + "1" * 64), 401),
        ("JSON nested 100,000 deep, unsigned", deep(100_000).encode(), {"Content-Type": JSON}, 401),
        ("signature for another body", form(text="other"), {**signed(body, FORM)}, 401),
    ]


def signed_cases() -> list[tuple[str, bytes, str, int]]:
    return [
        ("invalid JSON", b'{"' + MARK.encode() + b'": ', JSON, 400),
        ("JSON that is a list", b'["' + MARK.encode() + b'"]', JSON, 400),
        ("JSON nested 100,000 deep", ('{"a":' + deep(100_000) + "}").encode(), JSON, 400),
        ("payload not JSON", form(payload=MARK), FORM, 400),
        ("payload a JSON list", form(payload=json.dumps([MARK])), FORM, 400),
        ("payload nested 100,000 deep", form(payload=deep(100_000)), FORM, 400),
        ("invalid UTF-8", b"text=\xff\xfe" + MARK.encode(), FORM, 400),
        ("invalid UTF-8 in JSON", b'{"text": "\xff' + MARK.encode() + b'"}', JSON, 400),
        ("a form body that starts like JSON", b"{" + MARK.encode(), FORM, 400),
        ("an event whose fields have the wrong types", json.dumps(
            {"type": "event_callback", "event": MARK, "team_id": 5, "authorizations": MARK}).encode(), JSON, 400),
    ]  # fmt: skip


def lines_about(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.INFO]


@pytest.mark.parametrize(("name", "body", "headers", "status"), unsigned_cases(), ids=[c[0] for c in unsigned_cases()])
def test_unsigned_or_badly_signed_requests_get_401_and_one_line(
    served: Served, caplog: pytest.LogCaptureFixture, name: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    caplog.set_level(logging.DEBUG)
    got, answer = served.send(body, headers)
    assert got == status, name
    records = lines_about(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]  # one line, whatever was sent
    assert records[0].levelno == logging.WARNING and "refused a Slack request" in records[0].getMessage()
    assert all(MARK not in r.getMessage() for r in caplog.records)
    assert MARK.encode() not in answer


@pytest.mark.parametrize(("name", "body", "content_type", "status"), signed_cases(), ids=[c[0] for c in signed_cases()])
def test_malformed_signed_requests_get_400_and_one_line(
    served: Served, caplog: pytest.LogCaptureFixture, name: str, body: bytes, content_type: str, status: int
) -> None:
    caplog.set_level(logging.DEBUG)
    got, answer = served.send(body, signed(body, content_type))
    assert got == status, name
    records = lines_about(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert all(MARK not in r.getMessage() for r in caplog.records)
    assert MARK.encode() not in answer


def test_a_good_request_still_works_behind_the_guard(served: Served) -> None:
    status, _ = slash(served.url, served.fake, "Was Eden made of iron?", user="UEDEN")
    assert status == 200
    assert "soft clay" in json.dumps(served.fake.wait_for("/response/UEDEN")[0].body)


def test_url_verification_and_ssl_check_are_answered(served: Served) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}).encode()
    status, answer = served.send(body, signed(body, JSON))
    assert status == 200 and b"c-123" in answer
    assert served.send(b"ssl_check=1&token=x", {"Content-Type": FORM})[0] == 200  # Slack sends it unsigned
    assert served.send(b"ssl_check=0&token=x&command=%2Fmaisky", {"Content-Type": FORM})[0] == 401


def test_other_paths_and_methods(served: Served) -> None:
    assert served.send(b"", {}, method="GET")[0] == 405
    assert served.send(b"x", {"Content-Type": FORM}, path="/elsewhere")[0] == 404
    assert served.send(b"", {}, method="GET", path="/")[0] == 404


def test_an_oversized_body_is_refused_unread(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    """10 MB against a 1 MB cap: 413 at once, nothing logged with it, and the server still answers."""
    caplog.set_level(logging.DEBUG)
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as sock:
        head = (f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
                f"Content-Length: {10 * 1024 * 1024}\r\n\r\n")  # fmt: skip
        sock.sendall(head.encode() + MARK.encode() * 1000)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    assert all(MARK not in r.getMessage() for r in caplog.records)
    assert slash(served.url, served.fake, "quote")[0] == 200
    assert_one_refusal(caplog, "body over the 1048576-byte limit")


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused a Slack request")]


def assert_one_refusal(caplog: pytest.LogCaptureFixture, reason: str) -> None:
    """waitress refuses a body over the limit before the guard sees it; the line is the guard's own, once,
    never the body (issue 24, item 8). It is written before the answer is, so it is there by now."""
    lines = [r for r in caplog.records if r.getMessage().startswith("refused a Slack request")]
    assert len(lines) == 1, refusals(caplog)
    assert reason in lines[0].getMessage() and "413" in lines[0].getMessage(), lines[0].getMessage()
    assert lines[0].levelno == logging.WARNING and MARK not in lines[0].getMessage()


def test_a_chunked_body_over_the_cap_is_refused(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as sock:
        sock.sendall(f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())  # fmt: skip
        chunk = b"a" * 65536
        try:
            for _ in range(40):  # 2.5 MB
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may close the connection once the cap is passed
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    assert_one_refusal(caplog, "body over the 1048576-byte limit")


def test_idle_connections_are_closed_so_requests_get_through(fake: FakeSlack) -> None:
    """More idle (half-open) connections than the limit: they are dropped after the idle timeout,
    and a real request is served rather than waiting for minutes."""
    for served in serve(fake, connection_limit=5, idle_timeout=1):
        idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(8)]
        try:
            for sock in idle:
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            status, _ = slash(served.url, fake, "quote")  # times out (fails) if it waited for them
            assert status == 200
            closed = 0
            for sock in idle:
                sock.settimeout(60)  # a socket.timeout (an OSError too) is a connection left open: the test fails
                try:
                    closed += sock.recv(1) == b""
                except ConnectionResetError:
                    closed += 1
            assert closed == len(idle)
        finally:
            for sock in idle:
                sock.close()


def test_health_reports_checks_and_shutdown(served: Served) -> None:
    status, body = served.send(b"", {}, method="GET", path="/healthz")
    assert status == 200 and json.loads(body) == {"database": "ok"}
    served.health.checks = {"database": lambda: True, "scheduler": lambda: False}
    status, body = served.send(b"", {}, method="GET", path="/healthz")
    assert status == 503 and json.loads(body)["scheduler"] == "failing"

    def broken() -> bool:
        raise ConnectionError("database gone")

    served.health.checks = {"database": broken}
    status, body = served.send(b"", {}, method="GET", path="/healthz")
    assert status == 503 and json.loads(body) == {"database": "failing (ConnectionError)"}
    served.health.checks = {}
    served.health.stopping.set()
    assert served.send(b"", {}, method="GET", path="/healthz")[0] == 503
    assert slash(served.url, served.fake, "quote")[0] == 503  # no new work once stopping


def test_oauth_pages_a_browser_opens_reach_bolt_unsigned() -> None:
    """With OAuth on, GET /slack/install and /slack/oauth_redirect are a person's browser, not Slack."""
    from wsgiref.util import setup_testing_defaults

    from adapters.slack.http import Guard

    seen: list[str] = []

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<a href='https://slack.com/oauth/v2/authorize'>Add to Slack</a>"]

    guard = Guard(inner, SECRET, max_body=1024, browser_paths=frozenset({"/slack/install", "/slack/oauth_redirect"}))

    def call(method: str, path: str) -> str:
        environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path}
        setup_testing_defaults(environ)
        status: list[str] = []
        b"".join(guard(environ, lambda s, h, e=None: status.append(s)))  # type: ignore[arg-type]
        return status[0]

    assert call("GET", "/slack/install").startswith("200") and call("GET", "/slack/oauth_redirect").startswith("200")
    assert call("POST", "/slack/install").startswith("404")
    assert call("GET", "/slack/other").startswith("404")
    assert seen == ["/slack/install", "/slack/oauth_redirect"]


class _Held:
    """A waitress task that holds its HTTP thread until released."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def service(self) -> None:
        self.release.wait(60)

    def cancel(self) -> None:
        pass


def test_waitress_queue_warning_is_one_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    """waitress warns for every request that finds no HTTP thread idle; our server keeps one line."""
    from adapters.slack.deadlines import OncePerMinute, create_server

    queue_log = logging.getLogger("waitress.queue")
    earlier = [f for f in queue_log.filters if isinstance(f, OncePerMinute)]  # another server's, this minute's
    for f in earlier:
        queue_log.removeFilter(f)
    server = create_server(lambda environ, start_response: [], host="127.0.0.1", port=0, threads=1)
    dispatcher = server.task_dispatcher
    release = threading.Event()
    try:
        with caplog.at_level(logging.WARNING, logger="waitress.queue"):
            for _ in range(4):  # one thread: at least three of these find it busy, and waitress warns
                dispatcher.add_task(_Held(release))
        queued = [r for r in caplog.records if r.name == "waitress.queue"]
        assert len(queued) == 1
        assert queued[0].getMessage().startswith("Task queue depth is ")
        assert "more in the next minute are not logged" in queued[0].getMessage()
    finally:
        release.set()
        dispatcher.shutdown()
        server.close()
        for f in [f for f in queue_log.filters if isinstance(f, OncePerMinute)]:
            queue_log.removeFilter(f)
        for f in earlier:
            queue_log.addFilter(f)


def test_once_per_minute_lets_a_line_through_again_after_a_minute() -> None:
    from adapters.slack.deadlines import OncePerMinute

    now = [1000.0]
    once = OncePerMinute(clock=lambda: now[0])

    def record() -> logging.LogRecord:
        return logging.LogRecord("waitress.queue", logging.WARNING, __file__, 1, "Task queue depth is %d", (3,), None)

    assert once.filter(record())
    now[0] += 59.9
    assert not once.filter(record())
    now[0] += 0.2
    assert once.filter(record())
