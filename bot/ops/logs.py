"""Logging for the long-running processes: level and format from settings, a request id, no secrets.

`setup` installs one handler on the root logger: plain text, or one JSON object a line
(`LOG_FORMAT=json`) for log collectors. Every line passes two filters on its way out: secrets (the
configured values, and anything shaped like a Slack token) become `[redacted]`, and a third-party
message known to carry a request body or a needless start-up warning is shortened or dropped.
`request_context` tags every line logged while one request is handled with that request's id.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import secrets
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

__all__ = ["FORMATS", "LEVELS", "Rewrite", "request_context", "request_id", "setup"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
REDACTED = "[redacted]"

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("maisky_request_id", default="")
# Slack tokens (bot, user, app-level, refresh, config) and Discord bot tokens, whoever's they are.
_TOKEN_SHAPES = re.compile(
    r"\bxox[abeoprs]-[A-Za-z0-9-]{8,}|\bxapp-[A-Za-z0-9-]{8,}|\bxoxe\.xox[bp]-[A-Za-z0-9-]{8,}"
    r"|\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}\b"
)
# A password inside a URL: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@", re.IGNORECASE)


def request_id() -> str:
    """The id of the request being handled in this context, or ''."""
    return _request_id.get()


@contextlib.contextmanager
def request_context(value: str | None = None) -> Iterator[str]:
    """Tag every line logged inside with a request id (a fresh one unless given)."""
    rid = value or secrets.token_hex(6)
    token = _request_id.set(rid)
    try:
        yield rid
    finally:
        _request_id.reset(token)


@dataclass(frozen=True)
class Rewrite:
    """A library's message to shorten (or drop, with `replacement=None`): matched by logger name prefix
    and message prefix, so the rest of the message (a request body) is never formatted into a line."""

    logger: str
    starts: str
    replacement: str | None


class _Scrub(logging.Filter):
    """Adds the request id; rewrites known noisy or body-carrying messages; redacts secrets."""

    def __init__(self, secret_values: Iterable[str], rewrites: Iterable[Rewrite]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secret_values if len(s) >= 6}, key=len, reverse=True)
        self.rewrites = tuple(rewrites)

    def redact(self, text: str) -> str:
        for value in self.secrets:
            text = text.replace(value, REDACTED)
        text = _URL_PASSWORD.sub(lambda m: m[1] + REDACTED + "@", text)
        return _TOKEN_SHAPES.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        if isinstance(record.msg, str):
            for rule in self.rewrites:
                if record.name.startswith(rule.logger) and record.msg.startswith(rule.starts):
                    if rule.replacement is None:
                        return False
                    record.msg, record.args = rule.replacement, None
                    break
        message = self.redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class _Text(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", "")
        if rid:
            first, newline, rest = line.partition("\n")
            line = f"{first} [request {rid}]{newline}{rest}"
        return line


class _Json(logging.Formatter):
    """One JSON object a line; a traceback goes inside it, so a collector never splits an entry."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", "")
        if rid:
            entry["request_id"] = rid
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def setup(
    level: str = "INFO",
    fmt: str = "text",
    *,
    secret_values: Iterable[str] = (),
    rewrites: Iterable[Rewrite] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record at `level` or above to `stream` (stderr) as text or JSON lines.
    Replaces the root logger's handlers, so calling it twice does not double the lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_Scrub(secret_values, rewrites))
    handler.setFormatter(_Json() if fmt == "json" else _Text())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler
