"""Version 5 of the schema: subscriptions and quiz state per (platform, workspace, channel). A version 4
database is upgraded in place, its rows kept; on SQLite, and on PostgreSQL where CI provides one."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.ops.store import MIGRATIONS, Store
from tests.daily_support import database_urls, fresh_database


@pytest.fixture(params=database_urls())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request.param, tmp_path)


def back_to_version_4(url: str) -> None:
    """Turn a fresh database back into what version 4 made, with a subscription, a delivery, an open
    quiz question and a score in channel C1 of workspace T1."""
    engine = sa.create_engine(Store(url).engine.url)
    pg = engine.dialect.name == "postgresql"
    key = "SERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY"
    with engine.begin() as conn:
        for table in ("quiz_tries", "quiz_open", "quiz_scores", "quiz_draws", "deliveries", "subscriptions"):
            conn.execute(sa.text(f"DROP TABLE {table}" + (" CASCADE" if pg else "")))
        conn.execute(sa.text("DELETE FROM maisky_schema WHERE version > 4"))
        for ddl in (
            f"CREATE TABLE subscriptions (id {key}, platform VARCHAR(16) NOT NULL, channel VARCHAR(64) NOT NULL, "
            "workspace VARCHAR(64) NOT NULL, post_time VARCHAR(5) NOT NULL, timezone VARCHAR(64) NOT NULL, "
            "created_by VARCHAR(64) NOT NULL, created_at FLOAT NOT NULL, active BOOLEAN NOT NULL, paused_reason TEXT, "
            "due_at FLOAT NOT NULL DEFAULT 0, due_day VARCHAR(10), "
            "CONSTRAINT uq_subscription_channel UNIQUE (platform, channel))",
            f"CREATE TABLE deliveries (id {key}, subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) "
            "ON DELETE CASCADE, local_date VARCHAR(10) NOT NULL, status VARCHAR(16) NOT NULL, "
            "quote_key VARCHAR(200) NOT NULL, cycle INTEGER NOT NULL, claim_token VARCHAR(36), claimed_at FLOAT, "
            "attempts INTEGER NOT NULL, next_attempt_at FLOAT NOT NULL, posted_at FLOAT, error TEXT, "
            "CONSTRAINT uq_delivery_day UNIQUE (subscription_id, local_date))",
            f"CREATE TABLE quiz_draws (id {key}, platform VARCHAR(16) NOT NULL, channel VARCHAR(64) NOT NULL, "
            "question_key VARCHAR(200) NOT NULL, cycle INTEGER NOT NULL, options TEXT NOT NULL, "
            "asked_by VARCHAR(64) NOT NULL, asked_at FLOAT NOT NULL, outcome VARCHAR(16) NOT NULL, "
            "winner VARCHAR(64), closed_at FLOAT)",
            "CREATE INDEX ix_quiz_draws_channel ON quiz_draws (platform, channel)",
            "CREATE TABLE quiz_open (platform VARCHAR(16) NOT NULL, channel VARCHAR(64) NOT NULL, "
            "draw_id INTEGER NOT NULL REFERENCES quiz_draws(id) ON DELETE CASCADE, "
            "CONSTRAINT uq_quiz_open_channel UNIQUE (platform, channel))",
            "CREATE TABLE quiz_tries (draw_id INTEGER NOT NULL REFERENCES quiz_draws(id) ON DELETE CASCADE, "
            '"user" VARCHAR(64) NOT NULL, CONSTRAINT uq_quiz_try UNIQUE (draw_id, "user"))',
            'CREATE TABLE quiz_scores (platform VARCHAR(16) NOT NULL, channel VARCHAR(64) NOT NULL, "user" VARCHAR(64) '
            "NOT NULL, name VARCHAR(100) NOT NULL, points INTEGER NOT NULL, "
            'CONSTRAINT uq_quiz_score UNIQUE (platform, channel, "user"))',
            "INSERT INTO subscriptions (platform, channel, workspace, post_time, timezone, created_by, created_at, "
            "active, paused_reason) VALUES ('slack', 'C1', 'T1', '07:30', 'UTC', 'U1', 0, true, NULL)",
            "INSERT INTO deliveries (subscription_id, local_date, status, quote_key, cycle, attempts, next_attempt_at,"
            " posted_at) VALUES (1, '2026-01-09', 'posted', 'k#0', 0, 0, 0, 5)",
            "INSERT INTO quiz_draws (platform, channel, question_key, cycle, options, asked_by, asked_at, outcome) "
            """VALUES ('slack', 'C1', 'q1', 0, '["a", "b"]', 'U1', 1, '')""",
            "INSERT INTO quiz_open (platform, channel, draw_id) VALUES ('slack', 'C1', 1)",
            'INSERT INTO quiz_scores (platform, channel, "user", name, points) '
            "VALUES ('slack', 'C1', 'U7', 'Ann', 5)",
        ):
            conn.execute(sa.text(ddl))
    engine.dispose()


def test_a_version_4_database_is_upgraded_keeping_its_rows(url: str) -> None:
    back_to_version_4(url)
    store = Store(url)
    assert store.version == len(MIGRATIONS) >= 5  # version 5 keys channel state by workspace; later ones follow
    mine = store.subscription("slack", "C1", "T1")
    assert mine is not None and mine.id == 1 and mine.post_time == "07:30"
    assert store.counts(mine.id).sent == 1  # its deliveries still belong to it
    # the same channel id in another workspace (Slack Connect) is another subscription
    theirs = store.subscribe("slack", "C1", "T2", "09:00", "Europe/London", "U9", 10.0)
    assert theirs.id != mine.id and store.subscription("slack", "C1", "T2") == theirs
    assert store.subscription("slack", "C1", "T1") == mine
    assert store.unsubscribe("slack", "C1", "T2") and store.subscription("slack", "C1", "T1") == mine
    # quiz rows from before have no workspace: the first workspace to use the channel's quiz takes them
    assert store.quiz_scores("slack", "C1", workspace="T1") == [("Ann", 5)]
    assert store.quiz_scores("slack", "C1", workspace="T2") == []
    draw = store.quiz_current("slack", "C1", "T1")
    assert draw is not None and draw.question_key == "q1" and draw.workspace == "T1"
    assert store.quiz_current("slack", "C1", "T2") is None
    other = store.quiz_start("slack", "C1", "q2", 0, ("x", "y"), "U9", 20.0, "T2")
    assert other is not None and store.quiz_close(other, "answered", 21.0, "U9", "Bo")
    assert store.quiz_scores("slack", "C1", workspace="T2") == [("Bo", 1)]
    assert store.quiz_scores("slack", "C1", workspace="T1") == [("Ann", 5)]
    assert Store(url).version == len(MIGRATIONS)  # opening again changes nothing


def test_a_fresh_database_keeps_workspaces_apart(url: str) -> None:
    store = Store(url)
    a = store.subscribe("discord", "555", "G1", "08:00", "UTC", "U1", 0.0)
    b = store.subscribe("discord", "555", "G2", "08:00", "UTC", "U2", 0.0)
    assert a.id != b.id and len(store.active()) == 2
    assert store.subscribe("discord", "555", "G1", "10:00", "UTC", "U1", 1.0).id == a.id  # moved, not added
