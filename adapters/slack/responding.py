"""Replies to Slack's `response_url`, over kept-alive connections, with rate limits honoured.

bolt's `respond` opens a new HTTPS connection for every reply and gives up on a 429. Under load the
TLS handshakes cost more than the replies, so here one small pool of keep-alive connections serves
every reply to the same host, and slack_sdk's own `RateLimitErrorRetryHandler` waits out a 429's
Retry-After before trying again (its `ConnectionErrorRetryHandler` covers a dropped connection).
"""

from __future__ import annotations

import http.client
import io
import logging
import threading
from collections import defaultdict
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.webhook import WebhookClient, WebhookResponse

__all__ = ["ConnectionPool", "Responder", "interactive_retries"]

log = logging.getLogger(__name__)

_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)


def interactive_retries(rate_limited: int = 2) -> list[RetryHandler]:
    """Retry handlers for replies someone is waiting for: a 429 is retried after its Retry-After."""
    return [ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=rate_limited)]


class ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port), shared by every thread."""

    def __init__(self, size: int = 32, timeout: float = 10.0) -> None:
        self.size = size
        self.timeout = timeout
        self.opened = 0  # connections opened so far (the load script reports it)
        self._idle: defaultdict[tuple[str, str, int], list[http.client.HTTPConnection]] = defaultdict(list)
        self._lock = threading.Lock()

    def _take(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle[key]
            return idle.pop() if idle else None

    def _give(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle[key]) < self.size:
                self._idle[key].append(conn)
                return
        conn.close()

    def _open(self, key: tuple[str, str, int]) -> http.client.HTTPConnection:
        scheme, host, port = key
        with self._lock:
            self.opened += 1
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        """POST and read the whole answer. A kept connection the server closed meanwhile is replaced
        once (nothing was received on it, so nothing was processed)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        while True:
            conn = self._take(key)
            reused = conn is not None
            conn = conn or self._open(key)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _STALE:
                conn.close()
                if reused:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._give(key, conn)
            return response, data

    def close(self) -> None:
        with self._lock:
            idle = [c for conns in self._idle.values() for c in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()


class _PooledWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient (its retry loop and handlers) sending through a shared pool."""

    def __init__(self, url: str, pool: ConnectionPool, retry_handlers: list[RetryHandler]) -> None:
        super().__init__(url=url, timeout=int(pool.timeout), retry_handlers=retry_handlers)
        self.pool = pool

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        data = req.data if isinstance(req.data, bytes) else b""
        response, body = self.pool.post(url, data, dict(req.header_items()))
        if response.status >= 400:  # the retry loop above handles HTTPError (a 429 among them)
            raise HTTPError(url, response.status, response.reason, response.headers, io.BytesIO(body))
        charset = response.headers.get_content_charset() or "utf-8"
        return WebhookResponse(
            url=url, status_code=response.status, body=body.decode(charset), headers=dict(response.headers)
        )


class Responder:
    """Sends a reply to a `response_url`; one per app, shared by its listener threads."""

    def __init__(self, pool: ConnectionPool | None = None, retry_handlers: list[RetryHandler] | None = None) -> None:
        self.pool = pool or ConnectionPool()
        self.retry_handlers = interactive_retries() if retry_handlers is None else retry_handlers

    def __call__(self, response_url: str, **message: Any) -> WebhookResponse:
        client = _PooledWebhookClient(response_url, self.pool, self.retry_handlers)
        answer = client.send_dict({k: v for k, v in message.items() if v is not None})
        if answer.status_code >= 300:
            log.warning("Slack answered %s to a reply: %s", answer.status_code, answer.body[:200])
        return answer

    def close(self) -> None:
        self.pool.close()
