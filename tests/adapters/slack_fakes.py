"""A local fake of Slack's Web API (and of response_url), and signed requests to a served bolt app."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlencode
from urllib.request import Request, urlopen
from wsgiref.simple_server import WSGIRequestHandler, make_server

import waitress.wasyncore
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from adapters.slack.app import acknowledger
from adapters.slack.http import Health
from adapters.slack.serve import make_server as guarded_server
from bot.ops.settings import SlackSettings

T = TypeVar("T")

SECRET = "test-signing-secret"


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeSlack:
    """Records every call; answers the Web API methods the bot uses with ok: true."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.ws_url = ""
        self.admins: set[str] = {"UADMIN"}
        # method -> Slack error codes (or whole answers: missing_scope with its `needed`) to answer, once each
        self.errors: dict[str, list[str | dict[str, Any]]] = {}
        self.delays: dict[str, float] = {}  # method -> seconds to wait before answering (a slow Slack)
        self.scopes: str | None = None  # the x-oauth-scopes header Slack sends on every answer, when set
        # conversations.info answers; None: channel_not_found; a channel not listed has the bot in it
        self.channels: dict[str, dict[str, Any] | None] = {}
        self.installs: dict[str, str] = {}  # oauth.v2.access: code -> the workspace it installs the app in
        self.accesses: dict[str, dict[str, Any]] = {}  # oauth.v2.access: code -> its whole answer (Grid installs)
        self.members: list[dict[str, Any]] = []  # users.list: the workspace's members, `limit` a page
        self.rate_limit_replies = 0  # answer this many response_url posts with 429 (Retry-After: 0) first
        self.rate_limited = 0
        self._cond = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                if self.path.startswith("/response/") and fake.rate_limit_replies > 0:
                    fake.rate_limit_replies -= 1
                    fake.rate_limited += 1
                    self.send_response(429)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with fake._cond:
                    fake.calls.append(Call(self.path, dict(self.headers), body))
                    fake._cond.notify_all()
                answer: dict[str, Any] = {"ok": True}
                method = self.path.rsplit("/", 1)[-1]
                time.sleep(fake.delays.get(method, 0))
                if fake.errors.get(method):
                    error = fake.errors[method].pop(0)
                    answer = error if isinstance(error, dict) else {"ok": False, "error": error}
                elif self.path.endswith("/users.info"):
                    uid = body.get("user", "")
                    answer |= {"user": {"id": uid, "is_admin": uid in fake.admins, "is_owner": False}}
                elif self.path.endswith("/auth.test"):
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    team = (
                        token.removeprefix("xoxb-") if token.removeprefix("xoxb-") in fake.installs.values() else "T1"
                    )
                    answer |= {"user_id": "UBOT", "bot_id": "BBOT", "team_id": team, "user": "maisky", "team": "club"}
                    for grid in fake.accesses.values():  # an install in a Grid organisation, or the org's own
                        if grid.get("access_token") == token:
                            org = grid["enterprise"]["id"]
                            answer |= {"team_id": (grid.get("team") or {}).get("id") or org, "enterprise_id": org,
                                       "is_enterprise_install": bool(grid.get("is_enterprise_install"))}  # fmt: skip
                elif self.path.endswith("/oauth.v2.access") and body.get("code", "") in fake.accesses:
                    answer = fake.accesses[body["code"]]
                elif self.path.endswith("/oauth.v2.access"):
                    team = fake.installs.get(body.get("code", ""))
                    answer = {"ok": False, "error": "invalid_code"} if team is None else {
                        "ok": True, "app_id": "A1", "authed_user": {"id": "UINSTALLER"}, "scope": "commands,chat:write",
                        "token_type": "bot", "access_token": f"xoxb-{team}", "bot_user_id": "UBOT",
                        "team": {"id": team, "name": f"club {team}"}, "enterprise": None,
                        "is_enterprise_install": False,
                    }  # fmt: skip
                elif self.path.endswith("/chat.postMessage"):
                    answer |= {"channel": body.get("channel"), "ts": "1700000000.000100"}
                elif self.path.endswith("/apps.connections.open"):
                    answer |= {"url": fake.ws_url}
                elif self.path.endswith("/users.list"):  # paged with a cursor (here: the next index)
                    start, limit = int(body.get("cursor") or 0), int(body.get("limit") or 100)
                    more = start + limit < len(fake.members)
                    answer |= {"members": fake.members[start : start + limit], "cache_ts": 1498777272,
                               "response_metadata": {"next_cursor": str(start + limit) if more else ""}}  # fmt: skip
                elif self.path.endswith("/conversations.info"):
                    ch = body.get("channel", "")
                    found = fake.channels.get(ch, {"id": ch, "is_member": True})
                    answer = {"ok": True, "channel": found} if found else {"ok": False, "error": "channel_not_found"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if fake.scopes is not None:
                    self.send_header("x-oauth-scopes", fake.scopes)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url = self.url + "/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, suffix: str, count: int = 1, timeout: float = 600) -> list[Call]:
        """The calls whose path ends with `suffix`, once there are `count` of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if c.path.endswith(suffix) or c.path.startswith(suffix)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {count} call(s) to {suffix}; got {[c.path for c in self.calls]}")
                self._cond.wait(left)

    def wait_until(self, found: Callable[[list[Call]], T | None], timeout: float = 600) -> T:
        """What `found` returns from the calls so far, once it returns something (woken by each call)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (result := found(list(self.calls))) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not found in {[c.path for c in self.calls]}")
                self._cond.wait(left)
            return result

    def count(self, suffix: str) -> int:
        with self._cond:
            return sum(1 for c in self.calls if c.path.endswith(suffix) or c.path.startswith(suffix))


def settings(fake: FakeSlack, app_token: str = "", allow: frozenset[str] = frozenset()) -> SlackSettings:
    """The Slack front end's settings, its Web API pointed at the fake."""
    return SlackSettings("xoxb-test", SECRET, app_token, fake.api_url, 3000, allow)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def served(app: App) -> Iterator[str]:
    """The real bolt app behind bolt's WSGI adapter on 127.0.0.1; yields its /slack/events URL."""
    server = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def ticking(server: Any) -> Iterator[None]:
    """waitress's own loop for `server`, a tick at a time in a thread, so a test can stop it between ticks."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            waitress.wasyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        server.task_dispatcher.shutdown()
        waitress.wasyncore.close_all(server._map)


@contextmanager
def guarded(app: App, ss: SlackSettings) -> Iterator[str]:
    """The app as `maisky slack http` serves it: behind the guard, with the hand-over before bolt where the
    app has one, in waitress, on 127.0.0.1; yields the server's base URL."""
    server, _ = guarded_server(app, replace(ss, host="127.0.0.1", port=0), Health(), early=acknowledger(app))
    with ticking(server):
        yield f"http://127.0.0.1:{server.effective_port}"


def post(url: str, body: str, content_type: str, *, secret: str = SECRET, timestamp: int | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, str]:  # fmt: skip
    """A request signed the way Slack signs it (X-Slack-Signature over v0:timestamp:body)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    req = Request(url, data=body.encode(), method="POST")
    req.add_header("Content-Type", content_type)
    req.add_header("X-Slack-Request-Timestamp", ts)
    req.add_header("X-Slack-Signature", signature)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urlopen(req, timeout=180) as resp:
            return resp.status, resp.read().decode()
    except HTTPError as err:
        return err.code, err.read().decode()


def slash(
    url: str,
    fake: FakeSlack,
    text: str,
    user: str = "U1",
    team: str = "T1",
    fields: dict[str, str] | None = None,
    **kw: Any,
) -> tuple[int, str]:
    """/maisky `text` as Slack posts it; `fields` adds or replaces form fields (a Grid org's enterprise_id)."""
    form = {
        "token": "legacy", "team_id": team, "team_domain": "club", "channel_id": "C1", "channel_name": "history",
        "user_id": user, "user_name": "member", "command": "/maisky", "text": text, "api_app_id": "A1",
        "response_url": f"{fake.url}/response/{user}", "trigger_id": f"trig-{time.monotonic_ns()}",
        **(fields or {}),
    }  # fmt: skip
    return post(url, urlencode(form), "application/x-www-form-urlencoded", **kw)


def event(url: str, ev: dict[str, Any], event_id: str, **kw: Any) -> tuple[int, str]:
    body = {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": event_id,
            "event_time": int(time.time()), "event": ev,
            "authorizations": [{"user_id": "UBOT", "is_bot": True}]}  # fmt: skip
    return post(url, json.dumps(body), "application/json", **kw)


def click(url: str, fake: FakeSlack, action: dict[str, Any], user: str = "U1") -> tuple[int, str]:
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A1",
               "channel": {"id": "C1"}, "trigger_id": f"trig-{time.monotonic_ns()}", "container": {"type": "message"},
               "response_url": f"{fake.url}/response/click-{user}", "actions": [action]}  # fmt: skip
    return post(url, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
