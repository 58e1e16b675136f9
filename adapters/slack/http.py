"""Slack's HTTP mode, hardened: a WSGI guard in front of bolt, a health endpoint, and waitress.

Bolt parses a request before it checks its signature and logs the whole body of a request whose
signature is wrong. So the guard checks everything first and alone: size, signature headers,
signature, UTF-8, JSON, and the types of the fields bolt reads (adapters/slack/shapes.py). A request
that fails gets 400, 401, 411 or 413 and one log line without its body, and never reaches bolt; one
that passes reaches bolt exactly as it came.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import io
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from adapters.slack import shapes
from bot.ops.logs import request_context

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["EVENTS_PATH", "HEALTH_PATH", "Guard", "Health", "Throttle", "carry_request_ids", "log_refusal"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_AGE = 60 * 5  # seconds: Slack's own limit on a request's timestamp
_JSON = "application/json"


@dataclass
class Health:
    """What GET /healthz reports: each check is a name and a call that says whether it is well."""

    checks: Mapping[str, Callable[[], bool]] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def report(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                results[name] = "ok" if check() else "failing"
            except Exception as exc:  # a check that cannot even run is failing, not a crash of the endpoint
                results[name] = f"failing ({type(exc).__name__})"
        if self.stopping.is_set():
            results["process"] = "stopping"
        return all(v == "ok" for v in results.values()), results


def log_refusal(reason: str, status: str) -> None:
    """The one line for a refused request: the guard's, and waitress's own (adapters/slack/deadlines.py)."""
    log.warning("refused a Slack request: %s (%s)", reason, status)


class _SslCheck(Exception):
    """Slack's periodic certificate check: unsigned by design, answered 200 and not passed on."""


class _Refused(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _json_object(text: str, what: str) -> None:
    """Refuses `text` unless it is a JSON object whose fields have the types bolt relies on."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _Refused("400 Bad Request", f"{what} is nested too deeply") from None
    except ValueError:
        raise _Refused("400 Bad Request", f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise _Refused("400 Bad Request", f"{what} is not a JSON object")
    wrong = shapes.problem(value)
    if wrong:
        raise _Refused("400 Bad Request", f"{what}: {wrong}")


def _form_fields(fields: dict[str, str]) -> None:
    wrong = shapes.problem(fields)
    if wrong:
        raise _Refused("400 Bad Request", f"form fields: {wrong}")


class Throttle:
    """Token buckets: one per client address and one for all addresses together, so anonymous pages
    (each install page adds a row to the database) cannot be asked for faster than a person would."""

    def __init__(
        self,
        per_minute: float = 10,
        burst: int = 10,
        overall_per_minute: float = 120,
        overall_burst: int = 120,
        *,
        clock: Callable[[], float] = time.monotonic,
        addresses: int = 10_000,
    ) -> None:
        self.rate, self.burst = per_minute / 60, float(burst)
        self.overall_rate, self.overall_burst = overall_per_minute / 60, float(overall_burst)
        self.clock = clock
        self.addresses = addresses
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, at)
        self._overall = (self.overall_burst, clock())
        self._logged: OrderedDict[str, float] = OrderedDict()  # address -> when its limiting was last logged

    def _take(self, bucket: tuple[float, float], rate: float, burst: float, now: float) -> tuple[float, float, bool]:
        tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
        return (tokens - 1, now, True) if tokens >= 1 else (tokens, now, False)

    def allow(self, address: str) -> tuple[bool, bool]:
        """(whether the request may go on, whether to log its refusal: once a minute per address)."""
        with self._lock:
            now = self.clock()
            mine = self._buckets.pop(address, (self.burst, now))
            tokens, at, ok = self._take(mine, self.rate, self.burst, now)
            if ok:
                overall, overall_at, ok = self._take(self._overall, self.overall_rate, self.overall_burst, now)
                self._overall = (overall, overall_at)
                if not ok:
                    tokens += 1  # not spent: the address was within its own share
            self._buckets[address] = (tokens, at)
            while len(self._buckets) > self.addresses:
                self._buckets.popitem(last=False)
            if ok:
                return True, False
            last = self._logged.get(address)
            if last is not None and now - last < 60:
                return False, False
            self._logged.pop(address, None)
            self._logged[address] = now
            while len(self._logged) > self.addresses:
                self._logged.popitem(last=False)
            return False, True


class Guard:
    """WSGI middleware: answers /healthz itself and lets only well-formed, signed requests reach `app`."""

    def __init__(
        self,
        app: WSGIApplication,
        signing_secret: str,
        *,
        max_body: int,
        health: Health | None = None,
        clock: Callable[[], float] = time.time,
        browser_paths: frozenset[str] = frozenset(),
        throttle: Throttle | None = None,
        early: Callable[[bytes, WSGIEnvironment], bytes | None] | None = None,
    ) -> None:
        self.app = app
        self.early = early  # takes a checked request off bolt's path: the ack's body (JSON, or b""), or None
        self._secret = signing_secret.encode()
        self.max_body = max_body
        self.health = health or Health()
        self.clock = clock
        # GET pages a person's browser opens (the OAuth install and redirect): unsigned by nature, bodiless.
        self.browser_paths = browser_paths
        self.throttle = throttle or Throttle()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)

    def _signature(self, timestamp: str, body: bytes) -> str:
        """Slack's v0 signature over the raw bytes (slack_sdk's verifier decodes them first, and raises
        on a body that is not UTF-8)."""
        digest = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        return "v0=" + digest

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False if some still are after `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return self._health(start_response)
        if path in self.browser_paths and method == "GET":
            address = str(environ.get("REMOTE_ADDR") or "?")
            allowed, first = self.throttle.allow(address)
            if not allowed:
                if first:
                    log.warning("limited %s requests from %s: faster than a person asks (429)", path, address)
                retry = [("Retry-After", str(math.ceil(1 / self.throttle.rate)))]
                return self._answer(start_response, "429 Too Many Requests", {"error": "too many requests"}, retry)
            with request_context() as request_id:
                return self._forward(environ, start_response, b"", request_id)
        if path != EVENTS_PATH:
            return self._answer(start_response, "404 Not Found", {"error": "not found"})
        if method != "POST":
            return self._answer(start_response, "405 Method Not Allowed", {"error": "POST only"}, [("Allow", "POST")])
        with request_context() as request_id:
            if self.health.stopping.is_set():
                log.info("refused a request: shutting down")
                return self._answer(start_response, "503 Service Unavailable", {"error": "shutting down"})
            try:
                body = self._check(environ)
            except _SslCheck:
                return self._answer(start_response, "200 OK", {})
            except _Refused as refused:
                log_refusal(refused.reason, refused.status)
                return self._answer(start_response, refused.status, {"error": refused.reason})
            with self._lock:
                self._in_flight += 1
            try:
                ack = self.early(body, environ) if self.early is not None else None
                if ack is not None:  # acknowledged as bolt acknowledges: empty, or a message in JSON
                    kind = "application/json;charset=utf-8" if ack else "text/plain;charset=utf-8"
                    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(ack)))])
                    return [ack]
                return self._forward(environ, start_response, body, request_id)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

    def _check(self, environ: WSGIEnvironment) -> bytes:
        """The body of a request fit for bolt, or _Refused saying why not (never echoing the body)."""
        raw_length = environ.get("CONTENT_LENGTH") or ""
        if not raw_length.isascii() or not raw_length.isdigit():
            raise _Refused("411 Length Required", "no valid Content-Length")
        length = int(raw_length)
        if length > self.max_body:
            raise _Refused("413 Content Too Large", f"body of {length} bytes is over the {self.max_body}-byte limit")
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not signature:
            if 0 < length <= 512 and _is_ssl_check(environ["wsgi.input"].read(length)):
                raise _SslCheck
            raise _Refused("401 Unauthorized", "no X-Slack-Signature")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise _Refused("401 Unauthorized", "X-Slack-Request-Timestamp is not a Unix time")
        if abs(self.clock() - int(timestamp)) > MAX_AGE:
            raise _Refused("401 Unauthorized", "X-Slack-Request-Timestamp is more than 5 minutes away")
        body = environ["wsgi.input"].read(length) if length else b""
        if len(body) != length:
            raise _Refused("400 Bad Request", "body shorter than its Content-Length")
        if not _same(self._signature(timestamp, body), signature):
            raise _Refused("401 Unauthorized", "signature does not match")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused("400 Bad Request", "body is not UTF-8") from None
        # Bolt's own rule for reading a body (slack_bolt.request.internals.parse_body), checked here.
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if content_type == _JSON or text.startswith("{"):
            _json_object(text, "JSON body")
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            payload = fields.get("payload") if "payload" in text else None
            if payload is not None:
                _json_object(payload, "payload field")
            elif "payload" not in text:  # bolt reads such a body as its form fields (a slash command)
                _form_fields(fields)
        return body

    def _forward(
        self, environ: WSGIEnvironment, start_response: StartResponse, body: bytes, request_id: str
    ) -> Iterable[bytes]:
        inner = dict(environ)
        inner["wsgi.input"] = io.BytesIO(body)
        inner["CONTENT_LENGTH"] = str(len(body))
        try:
            # Drain bolt's iterable here, inside the request's log context and the in-flight count.
            return [b"".join(self.app(inner, start_response))]
        except Exception as exc:
            # Bolt builds its request object outside its own error handling: a signed body it cannot
            # read (a JSON field of an unexpected type) lands here. Its message may quote the body.
            log.warning("refused a Slack request bolt could not read (%s, request %s)", type(exc).__name__, request_id)
            return self._answer(start_response, "400 Bad Request", {"error": "malformed request"})

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        well, results = self.health.report()
        return self._answer(start_response, "200 OK" if well else "503 Service Unavailable", results)

    @staticmethod
    def _answer(
        start_response: StartResponse, status: str, data: Mapping[str, Any], extra: list[tuple[str, str]] | None = None
    ) -> Iterable[bytes]:
        body = json.dumps(data).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *(extra or [])]
        start_response(status, headers)
        return [body]


def carry_request_ids(executor: Executor) -> None:
    """Run bolt's lazy listeners (the answers, after the acknowledgement) in the context of the request
    that queued them, so their log lines carry its request id too."""
    submit = executor.submit

    def submit_in_context(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return submit(contextvars.copy_context().run, fn, *args, **kwargs)

    executor.submit = submit_in_context  # type: ignore[method-assign]


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _is_ssl_check(body: bytes) -> bool:
    """ssl_check=1 exactly (bolt-js #2899: a looser test let crafted bodies skip verification)."""
    try:
        fields = parse_qsl(body.decode("ascii"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return False
    return ("ssl_check", "1") in fields
