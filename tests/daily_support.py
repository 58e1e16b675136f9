"""Shared pieces for daily-post tests: database URLs to run against, and a recording poster."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bot import Reply
from bot.errors import ChannelGone, OutcomeUnknown, PostLater, TokenRejected
from bot.ops.store import database_url

# CI sets this to a real PostgreSQL server it started; every store test then runs on both.
POSTGRES = os.environ.get("MAISKY_TEST_POSTGRES_URL", "")


def database_urls() -> list[str]:
    return ["sqlite", "postgresql"] if POSTGRES else ["sqlite"]


def fresh_database(kind: str, tmp_path: Path) -> str:
    """A URL to an empty database of `kind`. On PostgreSQL, a schema of this test process's own,
    so test runs sharing one server (several checkouts, several processes) never meet."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'daily.sqlite3'}"
    schema = f"maisky_test_{os.getpid()}"
    engine = sa.create_engine(database_url(POSTGRES))
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    joiner = "&" if "?" in POSTGRES else "?"
    return f"{POSTGRES}{joiner}options=-csearch_path%3D{schema}"


@dataclass
class RecordingPoster:
    """Records what it posts; `fail` holds exceptions to raise, one per call, before succeeding."""

    posts: list[tuple[str, Reply]] = field(default_factory=list)
    fail: list[Exception] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: list[str] = field(default_factory=list)

    def post(self, channel: str, reply: Reply, key: str) -> None:
        with self.lock:
            self.keys.append(key)
            if self.fail:
                raise self.fail.pop(0)
            self.posts.append((channel, reply))


__all__ = [
    "POSTGRES",
    "ChannelGone",
    "OutcomeUnknown",
    "PostLater",
    "RecordingPoster",
    "TokenRejected",
    "database_urls",
    "fresh_database",
]
