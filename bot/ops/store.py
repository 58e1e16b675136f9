"""The database, on SQLAlchemy Core: daily posts, handled event ids, grants, the quiz, conversation turns and cooldowns.

A SQLite file by default; any SQLAlchemy URL (PostgreSQL for several processes). The schema is
created and upgraded on open, under a lock (a PostgreSQL advisory lock, an immediate transaction
on SQLite), so processes starting together never race. "Exactly once" rests on one unique
constraint, (subscription, local date) in `deliveries`: whichever process inserts the row for a
day owns that day's post, and it inserts it already `sending` (the claim and the start of sending
are one write). Later moves are compare-and-set updates guarded by the claim token.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)

from bot.chat.memory import KEEP, Turn
from bot.errors import ConfigError

__all__ = [
    "Claim", "Confirmation", "Cursor", "Delivery", "QuizDraw", "Settled", "Status", "Store", "Subscription",
    "database_url",
]  # fmt: skip

metadata = sa.MetaData()

schema_table = sa.Table("maisky_schema", metadata, sa.Column("version", sa.Integer, nullable=False))

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("workspace", sa.String(64), nullable=False, default=""),
    sa.Column("post_time", sa.String(5), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("paused_reason", sa.Text, nullable=True),
    # Version 5: per workspace and channel (a Slack Connect channel has one id in several workspaces)
    sa.UniqueConstraint("platform", "workspace", "channel", name="uq_subscription_place"),
)
# Version 2: when to look at a subscription next (UTC seconds; 0 = at the next pass), and for
# which local day, so a pass reads only what is due from one indexed query.
_due_at = sa.Column("due_at", sa.Float, nullable=False, server_default="0")
_due_day = sa.Column("due_day", sa.String(10), nullable=True)
subscriptions.append_column(_due_at)
subscriptions.append_column(_due_day)
# Version 7: which installation of the app serves the subscription, where a workspace can be reached by
# more than one (Slack Enterprise Grid): the organisation's id ("" outside one), and whether the app was
# installed for the whole organisation rather than the workspace alone.
_enterprise = sa.Column("enterprise", sa.String(64), nullable=False, server_default="")
_enterprise_install = sa.Column("enterprise_install", sa.Boolean, nullable=False, server_default=sa.false())
subscriptions.append_column(_enterprise)
subscriptions.append_column(_enterprise_install)
_ix_due = sa.Index("ix_subscriptions_due", subscriptions.c.active, subscriptions.c.due_at)
# Version 8 (quote cursor): where the channel is in its cycle of quotations, so a post chooses its
# quotation from its own row instead of reading the cycle's deliveries. `quote_cycle` -1: not known
# yet (a subscription from before version 8): the first post reads the current cycle once.
_quote_cycle = sa.Column("quote_cycle", sa.Integer, nullable=False, server_default="-1")
_quote_mark = sa.Column("quote_mark", sa.BigInteger, nullable=False, server_default="-1")
_quote_ahead = sa.Column("quote_ahead", sa.Text, nullable=False, server_default="[]")
for _column in (_quote_cycle, _quote_mark, _quote_ahead):
    subscriptions.append_column(_column)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("local_date", sa.String(10), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("quote_key", sa.String(200), nullable=False, default=""),
    sa.Column("cycle", sa.Integer, nullable=False, default=0),
    sa.Column("claim_token", sa.String(36), nullable=True),
    sa.Column("claimed_at", sa.Float, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False, default=0.0),
    sa.Column("posted_at", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.UniqueConstraint("subscription_id", "local_date", name="uq_delivery_day"),
)
# Version 2: the current cycle of a channel is read through (subscription, cycle); rows left
# `sending` are found through status.
_ix_cycle = sa.Index("ix_deliveries_cycle", deliveries.c.subscription_id, deliveries.c.cycle)
_ix_status = sa.Index("ix_deliveries_status", deliveries.c.status)

# Version 2: ids of chat-platform deliveries already handled (Slack's event_id), until they expire.
handled_events = sa.Table(
    "handled_events",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False),
)
_ix_events = sa.Index("ix_handled_events_expiry", handled_events.c.expires_at)

# Version 2: the question behind a button ("Another passage"); unused since conversation turns replaced it,
# kept because a released migration is never edited.
button_questions = sa.Table(
    "button_questions",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
_ix_questions = sa.Index("ix_button_questions_expiry", button_questions.c.expires_at)

# The turns of conversations (bot/chat/memory.py): a button's key finds its turn in any process.
conversation_turns = sa.Table(
    "conversation_turns",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("conversation", sa.String(255), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("passage_id", sa.String(255), nullable=True),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("people", sa.Text, nullable=False),  # a JSON list of people.toml ids
    sa.Column("years", sa.Text, nullable=False),  # a JSON list of years
    sa.Column("at", sa.Float, nullable=False),  # seconds since the epoch, UTC
)
_ix_turns = sa.Index("ix_conversation_turns_latest", conversation_turns.c.conversation, conversation_turns.c.at)
_ix_turns_age = sa.Index("ix_conversation_turns_age", conversation_turns.c.at)

# Version 9: each member's last question that spent the cooldown (bot/chat/cooldown.py), shared by every
# process; a row is useless once its window has passed, and those are deleted now and then.
cooldowns = sa.Table(
    "cooldowns",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),  # platform:workspace:member
    sa.Column("used_at", sa.Float, nullable=False),  # seconds since the epoch, UTC
)
_ix_cooldowns = sa.Index("ix_cooldowns_used_at", cooldowns.c.used_at)

# Who may manage daily posts besides the platform's own admins (Slack: granted by an admin at run time).
managers = sa.Table(
    "daily_managers",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("workspace", sa.String(64), primary_key=True),
    sa.Column("user", sa.String(64), primary_key=True),
    sa.Column("granted_by", sa.String(64), nullable=False),
    sa.Column("granted_at", sa.Float, nullable=False),
)


class Status:
    CLAIMED = "claimed"  # chosen but known not sent (the platform said "later"): safe to send after next_attempt_at
    SENDING = "sending"  # claimed and the platform call started: never sent again (at most once)
    POSTED = "posted"
    UNCONFIRMED = "unconfirmed"  # sent, but the platform never said whether it arrived: counted as sent
    SKIPPED = "skipped"  # missed and past the make-up window
    FAILED = "failed"  # gave up: channel gone, or retries used up

    SENT = (POSTED, UNCONFIRMED, SENDING)  # what counts as posted in a channel
    USED = (POSTED, UNCONFIRMED, SENDING, CLAIMED)  # quotations spent in the current cycle


@dataclass(frozen=True)
class Cursor:
    """Where a channel is in its cycle of quotations: every quotation ranked at or below `mark`
    in the cycle's order has been posted, and so have those in `ahead` (taken out of order, a
    date's own quotation on its day). `cycle` -1: not known yet (read the history once)."""

    cycle: int = 0
    mark: int = -1
    ahead: tuple[str, ...] = ()


@dataclass(frozen=True)
class Subscription:
    id: int
    platform: str
    channel: str
    workspace: str
    post_time: str  # HH:MM, local
    timezone: str  # IANA name
    created_by: str
    created_at: float
    active: bool
    paused_reason: str | None
    due_at: float = 0.0  # UTC seconds when a pass should look at it next; 0: at once
    due_day: str | None = None  # the local date that is due then
    enterprise: str = ""  # the Enterprise Grid organisation whose installation serves it ("" outside one)
    enterprise_install: bool = False  # that installation is the organisation's (org-wide), not the workspace's
    quote_cycle: int = -1  # the quotation cursor's columns (version 8); see `cursor`
    quote_mark: int = -1
    quote_ahead: str = "[]"  # a JSON list of quotation keys

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.quote_cycle, self.quote_mark, tuple(json.loads(self.quote_ahead or "[]")))


def _cursor_values(cursor: Cursor) -> dict[str, Any]:
    return {"quote_cycle": cursor.cycle, "quote_mark": cursor.mark, "quote_ahead": json.dumps(list(cursor.ahead))}


@dataclass(frozen=True)
class Settled:
    """What a post's confirmation also writes on its subscription, in the same transaction: when
    to look at it next, and its quotation cursor moved from `before` (compare-and-set) to `after`."""

    due_at: float
    due_day: str
    before: Cursor
    after: Cursor


@dataclass(frozen=True)
class Delivery:
    id: int
    subscription_id: int
    local_date: str
    status: str
    quote_key: str
    cycle: int
    claim_token: str | None
    claimed_at: float | None
    attempts: int
    next_attempt_at: float
    posted_at: float | None
    error: str | None


@dataclass(frozen=True)
class Claim:
    """A day's post to own and mark as being sent (what `begin_sending` takes)."""

    subscription_id: int
    local_date: str
    quote_key: str
    cycle: int
    now: float


@dataclass(frozen=True)
class Confirmation:
    """A sent post to settle with its subscription's next due time and cursor (what `confirm` takes)."""

    delivery: Delivery
    now: float
    sub: Subscription
    then: Settled
    error: str | None = None


@dataclass(frozen=True)
class Counts:
    """What a channel has had: `sent` includes `unconfirmed`."""

    sent: int
    unconfirmed: int


# The quiz (bot/club/quiz.py): every question drawn in a channel, the one open question per channel
# (its unique row decides who opens or closes it), who has had their try, and the scores.

quiz_draws = sa.Table(
    "quiz_draws",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("workspace", sa.String(64), nullable=False, server_default=""),  # version 5
    sa.Column("question_key", sa.String(200), nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False, default=0),
    sa.Column("options", sa.Text, nullable=False, default="[]"),  # JSON list of the answers offered
    sa.Column("asked_by", sa.String(64), nullable=False, default=""),
    sa.Column("asked_at", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False, default=""),  # "", "answered" or "stopped"
    sa.Column("winner", sa.String(64), nullable=True),
    sa.Column("closed_at", sa.Float, nullable=True),
    sa.Index("ix_quiz_draws_place", "platform", "workspace", "channel"),
)

quiz_open = sa.Table(
    "quiz_open",
    metadata,
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("draw_id", sa.Integer, sa.ForeignKey("quiz_draws.id", ondelete="CASCADE"), nullable=False),
    sa.Column("workspace", sa.String(64), nullable=False, server_default=""),  # version 5
    sa.UniqueConstraint("platform", "workspace", "channel", name="uq_quiz_open_place"),
)

quiz_tries = sa.Table(
    "quiz_tries",
    metadata,
    sa.Column("draw_id", sa.Integer, sa.ForeignKey("quiz_draws.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user", sa.String(64), nullable=False),
    sa.UniqueConstraint("draw_id", "user", name="uq_quiz_try"),
)

quiz_scores = sa.Table(
    "quiz_scores",
    metadata,
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("name", sa.String(100), nullable=False, default=""),
    sa.Column("points", sa.Integer, nullable=False, default=0),
    sa.Column("workspace", sa.String(64), nullable=False, server_default=""),  # version 5
    sa.UniqueConstraint("platform", "workspace", "channel", "user", name="uq_quiz_score_place"),
)


@dataclass(frozen=True)
class QuizDraw:
    id: int
    platform: str
    channel: str
    question_key: str
    cycle: int
    options: tuple[str, ...]
    asked_by: str
    asked_at: float
    outcome: str
    winner: str | None
    closed_at: float | None
    workspace: str = ""


def _draw(row: Any) -> QuizDraw:
    values = dict(row._mapping)
    values["options"] = tuple(json.loads(values["options"]))
    return QuizDraw(**values)


def _turn(row: Any) -> Turn:
    return Turn(
        conversation=row.conversation, question=row.question, passage_id=row.passage_id, rank=row.rank,
        people=tuple(json.loads(row.people)), years=tuple(json.loads(row.years)),
        at=dt.datetime.fromtimestamp(row.at, dt.UTC),
    )  # fmt: skip


def _v1(conn: Connection) -> None:
    subscriptions.create(conn, checkfirst=True)  # today's definitions: version 2 then finds nothing to add
    deliveries.create(conn, checkfirst=True)


def _v_daily(conn: Connection) -> None:
    have = {c["name"] for c in sa.inspect(conn).get_columns("subscriptions")}
    for column in (_due_at, _due_day):
        if column.name not in have:
            kind = column.type.compile(dialect=conn.dialect)
            default = " NOT NULL DEFAULT 0" if column.name == "due_at" else ""
            conn.exec_driver_sql(f"ALTER TABLE subscriptions ADD COLUMN {column.name} {kind}{default}")
    handled_events.create(conn, checkfirst=True)
    button_questions.create(conn, checkfirst=True)
    for index in (_ix_due, _ix_cycle, _ix_status, _ix_events, _ix_questions):
        index.create(conn, checkfirst=True)


def _v_managers(conn: Connection) -> None:
    managers.create(conn, checkfirst=True)


def _quiz(conn: Connection) -> None:
    for table in (quiz_draws, quiz_open, quiz_tries, quiz_scores):
        table.create(conn, checkfirst=True)


def _unique(conn: Connection, table: str, columns: set[str]) -> str | None:
    """The name of `table`'s unique constraint over exactly `columns` ("" if unnamed), None if none."""
    for found in sa.inspect(conn).get_unique_constraints(table):
        if set(found["column_names"]) == columns:
            return found["name"] or ""
    return None


def _rebuild_sqlite(conn: Connection, table: sa.Table) -> None:
    """SQLite cannot drop a constraint: make the table anew from today's definition and copy the rows
    (ids included, so the rows that refer to them still do), as SQLite's ALTER TABLE page says."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    ddl = str(sa.schema.CreateTable(table).compile(dialect=conn.dialect))
    conn.exec_driver_sql(ddl.replace(f"CREATE TABLE {table.name} ", f"CREATE TABLE {table.name}_v5 ", 1))
    columns = ", ".join(c.name for c in table.columns if c.name in have)
    conn.exec_driver_sql(f"INSERT INTO {table.name}_v5 ({columns}) SELECT {columns} FROM {table.name}")
    conn.exec_driver_sql(f"DROP TABLE {table.name}")  # its indexes go with it; made again below
    conn.exec_driver_sql(f"ALTER TABLE {table.name}_v5 RENAME TO {table.name}")


def _v_places(conn: Connection) -> None:
    """Version 5: subscriptions and quiz state per (platform, workspace, channel), not per channel: a
    Slack Connect channel has the same id in every workspace that shares it. Rows are kept; quiz rows
    from before have no workspace, and the first workspace to use the channel's quiz takes them."""
    old = {"subscriptions": {"platform", "channel"}, "quiz_open": {"platform", "channel"},
           "quiz_scores": {"platform", "channel", "user"}}  # fmt: skip
    tables = {t.name: t for t in (subscriptions, quiz_draws, quiz_open, quiz_scores)}
    for name, table in tables.items():
        if "workspace" not in {c["name"] for c in sa.inspect(conn).get_columns(name)}:
            conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN workspace VARCHAR(64) NOT NULL DEFAULT ''")
        before = _unique(conn, name, old[name]) if name in old else None
        if before is None:
            continue
        if conn.dialect.name == "sqlite":
            _rebuild_sqlite(conn, table)
            continue
        conn.exec_driver_sql(f'ALTER TABLE {name} DROP CONSTRAINT "{before}"')
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                conn.execute(sa.schema.AddConstraint(constraint))
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_quiz_draws_channel")
    for table in tables.values():
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def _memory(conn: Connection) -> None:
    conversation_turns.create(conn, checkfirst=True)
    for index in (_ix_turns, _ix_turns_age):
        index.create(conn, checkfirst=True)


def _v_enterprise(conn: Connection) -> None:
    """Version 7: a subscription records the installation that serves it (Slack Enterprise Grid). Rows
    from before keep "" and false: an installation outside any organisation, as they were looked up."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("subscriptions")}
    false = "0" if conn.dialect.name == "sqlite" else "false"
    if _enterprise.name not in have:
        conn.exec_driver_sql("ALTER TABLE subscriptions ADD COLUMN enterprise VARCHAR(64) NOT NULL DEFAULT ''")
    if _enterprise_install.name not in have:
        conn.exec_driver_sql(
            f"ALTER TABLE subscriptions ADD COLUMN enterprise_install BOOLEAN NOT NULL DEFAULT {false}"
        )


def _v8_quote_cursor(conn: Connection) -> None:
    """Version 8: each subscription's quotation cursor. Existing rows get cycle -1 (not known
    yet): their first post reads the current cycle once and writes the cursor. Adds only what is
    missing, so it runs the same after any other step that touched `subscriptions`."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("subscriptions")}
    for column in (_quote_cycle, _quote_mark, _quote_ahead):
        if column.name not in have:
            kind = column.type.compile(dialect=conn.dialect)
            default = "'[]'" if column.name == "quote_ahead" else "-1"
            conn.exec_driver_sql(
                f"ALTER TABLE subscriptions ADD COLUMN {column.name} {kind} NOT NULL DEFAULT {default}"
            )


def _v_cooldowns(conn: Connection) -> None:
    """Version 9: the per-member cooldown, shared by processes (a new table only)."""
    cooldowns.create(conn, checkfirst=True)
    _ix_cooldowns.create(conn, checkfirst=True)


# Each entry upgrades the schema by one version; append, never edit a released one. Order agreed
# on the notice board: daily's step, the managers', then the quiz's (the last two only add tables),
# then channel state per workspace, then the conversation memory, then the installation per subscription
# (version 7), then the quotation cursor (version 8), then the shared cooldown (version 9).
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1, _v_daily, _v_managers, _quiz, _v_places, _memory, _v_enterprise, _v8_quote_cursor, _v_cooldowns,
]  # fmt: skip
_FRESH = 2.0  # seconds since a pooled PostgreSQL connection was last used in which it is not pinged
_LOCK = 0x6D6169736B79  # "maisky": the PostgreSQL advisory lock held while the schema changes


def database_url(url: str) -> str:
    """Accept the URL forms hosts hand out (Heroku's postgres://) and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _fresh_connections(store: weakref.ref[Store]) -> None:
    alive = store()
    if alive is not None:
        alive.engine.dispose(close=False)


def _engine(url: str, connect_timeout: float) -> Engine:
    parsed = sa.engine.make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30}, pool_size=20, max_overflow=20)

        @event.listens_for(engine, "connect")
        def on_connect(dbapi: Any, record: Any) -> None:
            dbapi.isolation_level = None  # transactions are begun below, as SQLite should be told
            try:
                dbapi.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
                dbapi.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, one fsync per checkpoint
            except Exception:  # a read-only file or directory keeps its journal mode
                pass

        @event.listens_for(engine, "begin")
        def on_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock at once, so a write never fails half-way as "locked"
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine
    args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        args["connect_timeout"] = max(1, round(connect_timeout))  # a host that never answers fails in time
    engine = sa.create_engine(parsed, pool_size=20, max_overflow=20, connect_args=args)

    @event.listens_for(engine, "checkin")
    def used(dbapi: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi: Any, record: Any, proxy: Any) -> None:
        # pool_pre_ping's check (a server restarted, a connection dropped by a proxy), for a
        # connection idle a while: a post's claim and confirmation, moments apart, would otherwise
        # pay a round trip each for it. Raising DisconnectionError makes the pool connect afresh.
        if time.monotonic() - record.info.get("used_at", 0.0) < _FRESH:
            return
        try:
            alive = engine.dialect.do_ping(dbapi)
        except Exception as exc:
            raise DisconnectionError("the pooled connection did not answer") from exc
        if not alive:
            raise DisconnectionError("the pooled connection did not answer")

    return engine


def _row_move() -> Any:
    """A delivery row held by the caller (its claim token), moved on from a status (`row_from`)."""
    return deliveries.update().where(
        deliveries.c.id == sa.bindparam("row_id"),
        deliveries.c.status == sa.bindparam("row_from"),
        deliveries.c.claim_token == sa.bindparam("row_token"),
    )


# A post's confirmation, built once: the statements a post runs are the same every time, and
# building them anew costs more CPU than running them.
_SETTLE_ROW = _row_move().values(
    status=sa.bindparam("row_status"), posted_at=sa.bindparam("row_posted_at"), error=sa.bindparam("row_error")
)
_same_time = sa.and_(
    subscriptions.c.post_time == sa.bindparam("sub_time"), subscriptions.c.timezone == sa.bindparam("sub_zone")
)
_SETTLE_SUB = (
    subscriptions.update()
    .where(
        subscriptions.c.id == sa.bindparam("sub_id"),
        subscriptions.c.quote_cycle == sa.bindparam("was_quote_cycle"),
        subscriptions.c.quote_mark == sa.bindparam("was_quote_mark"),
        subscriptions.c.quote_ahead == sa.bindparam("was_quote_ahead"),
    )
    .values(
        due_at=sa.case((_same_time, sa.bindparam("next_at", type_=sa.Float)), else_=subscriptions.c.due_at),
        due_day=sa.case((_same_time, sa.bindparam("next_day", type_=sa.String)), else_=subscriptions.c.due_day),
        quote_cycle=sa.bindparam("new_quote_cycle"),
        quote_mark=sa.bindparam("new_quote_mark"),
        quote_ahead=sa.bindparam("new_quote_ahead"),
    )
)
_CLAIM = deliveries.insert()
# several claims in one statement; a day that already has a row is left out of what comes back
_CLAIM_NEW = {
    name: dialect.insert(deliveries)
    .on_conflict_do_nothing(index_elements=[deliveries.c.subscription_id, deliveries.c.local_date])
    .returning(deliveries.c.id, deliveries.c.subscription_id, deliveries.c.local_date)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _sub_settled(sub: Subscription, then: Settled) -> dict[str, Any]:
    """The parameters of _SETTLE_SUB for `sub`."""
    was, now = _cursor_values(then.before), _cursor_values(then.after)
    return {"sub_id": sub.id, "sub_time": sub.post_time, "sub_zone": sub.timezone, "next_at": then.due_at,
            "next_day": then.due_day, **{f"was_{k}": v for k, v in was.items()},
            **{f"new_{k}": v for k, v in now.items()}}  # fmt: skip


class _Uneven(Exception):
    """Some confirmation of a batch did not move its row or its cursor (see `Store.write_posts`)."""


def _claim_values(claim: Claim) -> dict[str, Any]:
    """A day's row as its claim inserts it: `sending`, with a token of its own."""
    return {
        "subscription_id": claim.subscription_id, "local_date": claim.local_date, "status": Status.SENDING,
        "quote_key": claim.quote_key, "cycle": claim.cycle, "claim_token": str(uuid.uuid4()),
        "claimed_at": claim.now, "attempts": 0, "next_attempt_at": 0.0,
    }  # fmt: skip


def _confirmed(now: float, error: str | None) -> dict[str, Any]:
    """A sent row's settled values: `posted`, or with `error` `unconfirmed`."""
    if error is None:
        return {"status": Status.POSTED, "posted_at": now, "error": None}
    return {"status": Status.UNCONFIRMED, "posted_at": now, "error": error[:500]}


class Store:
    """Subscriptions, deliveries and handled events; safe to share between threads and processes."""

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        try:
            self.engine: Engine = _engine(url, connect_timeout)
            self._upgrade()
        except (ArgumentError, NoSuchModuleError) as exc:
            raise ConfigError([f"DATABASE_URL: {exc}"]) from exc
        except OperationalError as exc:
            raise ConfigError([f"DATABASE_URL: cannot open the database ({exc.orig})"]) from exc
        except DBAPIError as exc:  # e.g. no right to create tables, or no schema to create them in
            first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
            raise ConfigError([f"DATABASE_URL: cannot set up the tables ({first})"]) from exc
        self._events_added = 0
        # A forked child (the answer process, bot/chat/pool.py) must never use the parent's pooled
        # connections: it opens its own (SQLAlchemy's recipe for os.fork, which leaves the parent's alone).
        mine = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _fresh_connections(mine))
        self._turns_added = 0
        self._cooldowns_taken = 0
        with self.engine.connect() as conn:  # quiz rows from before version 5, waiting for a workspace
            self._legacy_quiz = any(
                conn.execute(sa.select(t.c.platform).where(t.c.workspace == "").limit(1)).first()
                for t in (quiz_draws, quiz_open, quiz_scores)
            )

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (IMMEDIATE on SQLite)."""
        with self.engine.connect() as conn:
            conn.execution_options(write=True)
            with conn.begin():
                yield conn

    def _upgrade(self) -> None:
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            schema_table.create(conn, checkfirst=True)
            version = conn.execute(sa.select(sa.func.max(schema_table.c.version))).scalar() or 0
            for number, migrate in enumerate(MIGRATIONS[version:], start=version + 1):
                migrate(conn)
                conn.execute(schema_table.insert().values(version=number))

    def ping(self) -> bool:
        """Whether the database answers now (for health checks); never raises."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    @property
    def version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema_table.c.version))).scalar() or 0)

    # subscriptions

    def subscribe(
        self,
        platform: str,
        channel: str,
        workspace: str,
        post_time: str,
        timezone: str,
        by: str,
        now: float,
        *,
        enterprise: str = "",
        enterprise_install: bool = False,
    ) -> Subscription:
        """Create, or update and reactivate, the channel's subscription; `enterprise` and
        `enterprise_install` name the installation that serves it (Slack Enterprise Grid)."""
        values = {"workspace": workspace, "post_time": post_time, "timezone": timezone, "created_by": by,
                  "active": True, "paused_reason": None, "due_at": 0.0, "due_day": None,
                  "enterprise": enterprise, "enterprise_install": enterprise_install}  # fmt: skip
        update = (
            subscriptions.update()
            .where(
                subscriptions.c.platform == platform,
                subscriptions.c.workspace == workspace,
                subscriptions.c.channel == channel,
            )
            .values(**values)
        )
        with self._write() as conn:
            updated = conn.execute(update).rowcount
        if not updated:
            try:
                with self._write() as conn:
                    conn.execute(
                        subscriptions.insert().values(
                            platform=platform, channel=channel, created_at=now, **values, **_cursor_values(Cursor())
                        )
                    )
            except IntegrityError:  # another process subscribed it in the meantime
                with self._write() as conn:
                    conn.execute(update)
        found = self.subscription(platform, channel, workspace)
        assert found is not None
        return found

    @staticmethod
    def _place(platform: str, channel: str, workspace: str | None) -> list[Any]:
        where = [subscriptions.c.platform == platform, subscriptions.c.channel == channel]
        return where if workspace is None else [*where, subscriptions.c.workspace == workspace]

    def unsubscribe(self, platform: str, channel: str, workspace: str | None = None) -> bool:
        """Turn off the channel's subscription in `workspace` (None: in every workspace, for tools)."""
        with self._write() as conn:
            return bool(
                conn.execute(
                    subscriptions.update()
                    .where(*self._place(platform, channel, workspace), subscriptions.c.active.is_(True))
                    .values(active=False, paused_reason=None)
                ).rowcount
            )

    def subscription(self, platform: str, channel: str, workspace: str | None = None) -> Subscription | None:
        """The channel's subscription in `workspace` (None: the oldest in any workspace, for tools)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                subscriptions.select().where(*self._place(platform, channel, workspace)).order_by(subscriptions.c.id)
            ).first()
        return Subscription(**row._mapping) if row else None

    def active(self) -> list[Subscription]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                subscriptions.select().where(subscriptions.c.active.is_(True)).order_by(subscriptions.c.id)
            ).all()
        return [Subscription(**r._mapping) for r in rows]

    def due(self, now: float, platforms: Iterable[str]) -> list[Subscription]:
        """Active subscriptions of these platforms that a pass should look at now: one query."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                subscriptions.select()
                .where(
                    subscriptions.c.active.is_(True),
                    subscriptions.c.due_at <= now,
                    subscriptions.c.platform.in_(list(platforms)),
                )
                .order_by(subscriptions.c.due_at, subscriptions.c.id)
            ).all()
        return [Subscription(**r._mapping) for r in rows]

    def glance(self, now: float, platforms: Iterable[str], abandoned_before: float) -> tuple[bool, bool]:
        """Whether any subscription of these platforms is due, and whether any row was left
        `sending` since before `abandoned_before`: one read of two indexed probes, all an idle pass costs."""
        due = (
            sa.select(subscriptions.c.id)
            .where(
                subscriptions.c.active == sa.true(),  # "= true", not "IS true": both index columns bound
                subscriptions.c.due_at <= now,
                subscriptions.c.platform.in_(list(platforms)),
            )
            .limit(1)
        )
        left = (
            sa.select(deliveries.c.id)
            .where(deliveries.c.status == Status.SENDING, deliveries.c.claimed_at < abandoned_before)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sa.exists(due), sa.exists(left))).one()
        return bool(row[0]), bool(row[1])

    def lease(self, now: float, until: float, platforms: Iterable[str], limit: int) -> list[Subscription]:
        """Take up to `limit` due subscriptions for this pass, oldest due first, in one write: their
        `due_at` becomes `until`, so other processes' passes skip them (PostgreSQL: rows another
        process is leasing are skipped, not waited for). What a pass leaves unsettled it `release`s;
        a process that dies leaves its lease to run out at `until`."""
        chosen = (
            sa.select(subscriptions.c.id)
            .where(
                subscriptions.c.active == sa.true(),  # "= true", not "IS true": both index columns bound
                subscriptions.c.due_at <= now,
                subscriptions.c.platform.in_(list(platforms)),
            )
            .order_by(subscriptions.c.due_at, subscriptions.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write() as conn:
            rows = conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id.in_(chosen.scalar_subquery()), subscriptions.c.due_at <= now)
                .values(due_at=until)
                .returning(*subscriptions.c)
            ).all()
        return sorted((Subscription(**r._mapping) for r in rows), key=lambda s: s.id)

    def release(self, leased: Iterable[tuple[int, float]], due_at: float) -> None:
        """Give back leased subscriptions (id, the lease's `due_at`) that the pass did not settle:
        due again at `due_at`, unless something else rewrote them meanwhile."""
        params = [{"sid": sid, "leased": until, "due": due_at} for sid, until in leased]
        if not params:
            return
        with self._write() as conn:
            conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == sa.bindparam("sid"), subscriptions.c.due_at == sa.bindparam("leased"))
                .values(due_at=sa.bindparam("due")),
                params,
            )

    def subscription_by_id(self, subscription_id: int) -> Subscription | None:
        with self.engine.connect() as conn:
            row = conn.execute(subscriptions.select().where(subscriptions.c.id == subscription_id)).first()
        return Subscription(**row._mapping) if row else None

    def move_cursor(self, sub: Subscription, before: Cursor, after: Cursor) -> bool:
        """Compare-and-set the subscription's quotation cursor; False if it was moved meanwhile."""
        with self._write() as conn:
            return bool(conn.execute(self._cursor_update(sub, before).values(**_cursor_values(after))).rowcount)

    @staticmethod
    def _cursor_update(sub: Subscription, before: Cursor) -> Any:
        was = _cursor_values(before)
        return subscriptions.update().where(
            subscriptions.c.id == sub.id,
            subscriptions.c.quote_cycle == was["quote_cycle"],
            subscriptions.c.quote_mark == was["quote_mark"],
            subscriptions.c.quote_ahead == was["quote_ahead"],
        )

    def set_due(self, sub: Subscription, due_at: float, due_day: str) -> None:
        """When to look at `sub` next; ignored if it was re-subscribed with another time meanwhile."""
        with self._write() as conn:
            conn.execute(
                subscriptions.update()
                .where(
                    subscriptions.c.id == sub.id,
                    subscriptions.c.post_time == sub.post_time,
                    subscriptions.c.timezone == sub.timezone,
                )
                .values(due_at=due_at, due_day=due_day)
            )

    def pause(self, subscription_id: int, reason: str) -> None:
        with self._write() as conn:
            conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id)
                .values(active=False, paused_reason=reason)
            )

    def pause_installation(self, platform: str, reason: str, *, enterprise: str, workspace: str | None) -> int:
        """Pause the active subscriptions an installation served, now gone: a workspace's (`workspace`,
        within `enterprise` or none: "") or, with `workspace` None, an organisation's org-wide one. How many."""
        c = subscriptions.c
        where = [c.platform == platform, c.active.is_(True), c.enterprise == enterprise]
        if workspace is None:
            where.append(c.enterprise_install.is_(True))
        else:
            where += [c.workspace == workspace, c.enterprise_install.is_(False)]
        with self._write() as conn:
            return int(
                conn.execute(subscriptions.update().where(*where).values(active=False, paused_reason=reason)).rowcount
            )

    def paused(self) -> list[Subscription]:
        """Subscriptions paused by a failure (not those turned off), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                subscriptions.select()
                .where(subscriptions.c.active.is_(False), subscriptions.c.paused_reason.is_not(None))
                .order_by(subscriptions.c.id)
            ).all()
        return [Subscription(**r._mapping) for r in rows]

    # deliveries

    def deliveries(self, subscription_id: int) -> list[Delivery]:
        """A channel's whole record (for status pages and tests; posting reads only `current_cycle`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                deliveries.select().where(deliveries.c.subscription_id == subscription_id).order_by(deliveries.c.id)
            ).all()
        return [Delivery(**r._mapping) for r in rows]

    def current_cycle(self, subscription_id: int) -> list[Delivery]:
        """The deliveries of the channel's latest cycle that spent a quotation: what the next
        choice needs, however long the channel's history."""
        spent = sa.and_(
            deliveries.c.subscription_id == subscription_id,
            deliveries.c.status.in_(Status.USED),
            deliveries.c.quote_key != "",
        )
        # newest first along the (subscription, cycle) index: stops at the first row, however long the history
        latest = (
            sa.select(deliveries.c.cycle).where(spent).order_by(deliveries.c.cycle.desc()).limit(1).scalar_subquery()
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                deliveries.select().where(spent, deliveries.c.cycle == latest).order_by(deliveries.c.id)
            ).all()
        return [Delivery(**r._mapping) for r in rows]

    def counts(self, subscription_id: int) -> Counts:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(deliveries.c.status, sa.func.count())
                .where(deliveries.c.subscription_id == subscription_id, deliveries.c.status.in_(Status.SENT))
                .group_by(deliveries.c.status)
            ).all()
        by = {status: int(n) for status, n in rows}
        return Counts(sum(by.values()), by.get(Status.UNCONFIRMED, 0) + by.get(Status.SENDING, 0))

    def delivery(self, subscription_id: int, local_date: str) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                deliveries.select().where(
                    deliveries.c.subscription_id == subscription_id, deliveries.c.local_date == local_date
                )
            ).first()
        return Delivery(**row._mapping) if row else None

    def begin_sending(
        self, subscription_id: int, local_date: str, quote_key: str, cycle: int, now: float
    ) -> Delivery | None:
        """Own the day's post and mark it as being sent, in one write: insert the day's row as
        `sending`. None if the day already has a row (then see `resume`)."""
        values = _claim_values(Claim(subscription_id, local_date, quote_key, cycle, now))
        try:
            with self._write() as conn:
                new_id = conn.execute(_CLAIM, values).inserted_primary_key
        except IntegrityError:
            return None
        assert new_id is not None
        return Delivery(id=int(new_id[0]), posted_at=None, error=None, **values)

    def write_posts(
        self, claims: Sequence[Claim], confirmations: Sequence[Confirmation]
    ) -> tuple[list[Delivery | None], list[tuple[bool, bool]]]:
        """Several posts' claims and confirmations in one transaction (a pass's group commit): each
        result as `begin_sending` and `confirm` would give it. The claims are inserted together; a day
        that already has a row gets None, and the others are still claimed."""
        try:
            return self._write_posts(claims, confirmations, together=len(confirmations) > 1)
        except _Uneven:  # a row or a cursor did not move: the batch again, each confirmation on its own
            return self._write_posts(claims, confirmations, together=False)

    def _write_posts(
        self, claims: Sequence[Claim], confirmations: Sequence[Confirmation], *, together: bool
    ) -> tuple[list[Delivery | None], list[tuple[bool, bool]]]:
        with self._write() as conn:
            if together and conn.dialect.supports_sane_multi_rowcount:
                settled = self._settle_all(conn, confirmations)
            else:
                settled = [
                    self._settle_on(conn, c.delivery, Status.SENDING, c.sub, c.then, _confirmed(c.now, c.error))
                    for c in confirmations
                ]
            if not claims:
                return [], settled
            values = [_claim_values(c) for c in claims]
            dialect = conn.dialect.name
            if dialect in ("postgresql", "sqlite"):
                rows = conn.execute(_CLAIM_NEW[dialect], values).all()
                ids = {(r.subscription_id, r.local_date): int(r.id) for r in rows}
            else:  # any other database: each insert in a savepoint, so a day already held fails alone
                ids = {}
                for v in values:
                    try:
                        with conn.begin_nested():
                            new_id = conn.execute(_CLAIM, v).inserted_primary_key
                    except IntegrityError:
                        continue
                    assert new_id is not None
                    ids[(v["subscription_id"], v["local_date"])] = int(new_id[0])
        claimed = [
            Delivery(id=ids[key], posted_at=None, error=None, **v)
            if (key := (v["subscription_id"], v["local_date"])) in ids
            else None
            for v in values
        ]
        return claimed, settled

    def resume(self, subscription_id: int, local_date: str, now: float) -> Delivery | None:
        """Take a day that is `claimed` (known not sent, waiting to be retried) whose wait is over,
        and mark it as being sent, in one write. None if there is no such row."""
        token = str(uuid.uuid4())
        with self._write() as conn:
            row = conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.subscription_id == subscription_id,
                    deliveries.c.local_date == local_date,
                    deliveries.c.status == Status.CLAIMED,
                    deliveries.c.next_attempt_at <= now,
                )
                .values(status=Status.SENDING, claim_token=token, claimed_at=now)
                .returning(*deliveries.c)
            ).first()
        return Delivery(**row._mapping) if row else None

    def claim(
        self, subscription_id: int, local_date: str, quote_key: str, cycle: int, now: float, lease: float = 0.0
    ) -> Delivery | None:
        """Record a day as chosen but not sent (`claimed`), free for the next pass to send. For
        tests and tools that set a day up; posting itself uses `begin_sending`."""
        try:
            with self._write() as conn:
                conn.execute(
                    deliveries.insert().values(
                        subscription_id=subscription_id, local_date=local_date, status=Status.CLAIMED,
                        quote_key=quote_key, cycle=cycle, claim_token=None, claimed_at=now, attempts=0,
                        next_attempt_at=0.0,
                    )
                )  # fmt: skip
        except IntegrityError:
            return None
        return self.delivery(subscription_id, local_date)

    def _move(self, delivery: Delivery, frm: str, **values: Any) -> bool:
        return self._settle(delivery, frm, None, None, values)[0]

    def _settle(
        self, delivery: Delivery, frm: str, sub: Subscription | None, then: Settled | None, values: dict[str, Any]
    ) -> tuple[bool, bool]:
        """Move a row this caller holds on from `frm`; with `then`, in the same transaction, write
        when `sub` is next due (unless it was re-subscribed with another time meanwhile) and move
        its quotation cursor, compare-and-set. Returns (row moved, cursor moved)."""
        with self._write() as conn:
            return self._settle_on(conn, delivery, frm, sub, then, values)

    @staticmethod
    def _settle_all(conn: Connection, confirmations: Sequence[Confirmation]) -> list[tuple[bool, bool]]:
        """Confirmations as two statements of many rows each (the rows, then the subscriptions); raises
        _Uneven, so the transaction is rolled back, unless every row and every cursor moved."""
        rows = [
            {"row_id": c.delivery.id, "row_from": Status.SENDING, "row_token": c.delivery.claim_token}
            | {f"row_{k}": v for k, v in _confirmed(c.now, c.error).items()}
            for c in confirmations
        ]
        if conn.execute(_SETTLE_ROW, rows).rowcount != len(rows):
            raise _Uneven
        subs = [_sub_settled(c.sub, c.then) for c in confirmations]
        if conn.execute(_SETTLE_SUB, subs).rowcount != len(subs):
            raise _Uneven
        return [(True, True)] * len(confirmations)

    @staticmethod
    def _settle_on(
        conn: Connection,
        delivery: Delivery,
        frm: str,
        sub: Subscription | None,
        then: Settled | None,
        values: dict[str, Any],
    ) -> tuple[bool, bool]:
        row = {"row_id": delivery.id, "row_from": frm, "row_token": delivery.claim_token}
        if then is None or sub is None:
            return bool(conn.execute(_row_move().values(**values), row).rowcount), False
        moved = bool(conn.execute(_SETTLE_ROW, row | {f"row_{k}": v for k, v in values.items()}).rowcount)
        if not moved:
            return False, False
        return True, bool(conn.execute(_SETTLE_SUB, _sub_settled(sub, then)).rowcount)

    def confirm(
        self, delivery: Delivery, now: float, sub: Subscription, then: Settled, error: str | None = None
    ) -> tuple[bool, bool]:
        """Settle a post that was sent, in one transaction with its subscription's next due time and
        cursor: `posted`, or with `error` `unconfirmed` (sent, fate unknown: counted, never resent).
        Returns (row moved, cursor moved); a cursor moved meanwhile by another process is left as it is."""
        return self._settle(delivery, Status.SENDING, sub, then, _confirmed(now, error))

    def start_sending(self, delivery: Delivery) -> bool:
        """Mark a `claimed` row that this caller holds as being sent; False if it was lost meanwhile."""
        return self._move(delivery, Status.CLAIMED, status=Status.SENDING)

    def posted(self, delivery: Delivery, now: float) -> bool:
        return self._move(delivery, Status.SENDING, status=Status.POSTED, posted_at=now, error=None)

    def unconfirmed(self, delivery: Delivery, now: float, error: str) -> bool:
        """Sent, but the platform never said whether it arrived: counted as sent, never resent."""
        return self._move(delivery, Status.SENDING, status=Status.UNCONFIRMED, posted_at=now, error=error[:500])

    def retry_later(self, delivery: Delivery, next_attempt_at: float, error: str, *, count: bool = True) -> bool:
        """The platform said no without posting: back to `claimed`, free for whoever comes next.
        With `count=False` (the bot itself was refused, not the post) the attempt is not counted."""
        return self._move(
            delivery,
            Status.SENDING,
            status=Status.CLAIMED,
            claim_token=None,
            attempts=delivery.attempts + (1 if count else 0),
            next_attempt_at=next_attempt_at,
            error=error[:500],
        )

    def fail(self, delivery: Delivery, error: str) -> bool:
        return self._move(delivery, Status.SENDING, status=Status.FAILED, error=error[:500])

    def skip(self, subscription_id: int, local_date: str, reason: str) -> bool:
        """Record a missed day once (False if the day already has a row)."""
        try:
            with self._write() as conn:
                conn.execute(
                    deliveries.insert().values(
                        subscription_id=subscription_id, local_date=local_date, status=Status.SKIPPED, quote_key="",
                        cycle=0, attempts=0, next_attempt_at=0.0, error=reason,
                    )
                )  # fmt: skip
        except IntegrityError:
            return False
        return True

    def expire(self, delivery: Delivery, reason: str) -> bool:
        """A claimed day that ran out of its make-up window without being sent."""
        with self._write() as conn:
            return bool(
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id == delivery.id, deliveries.c.status == Status.CLAIMED)
                    .values(status=Status.SKIPPED, error=reason)
                ).rowcount
            )

    def settle_abandoned(self, before: float) -> list[tuple[Subscription, Delivery]]:
        """Rows left `sending` since before `before` by a process that stopped: they may have been
        posted, so they become `unconfirmed` (counted as sent, never resent). Returns them."""
        with self._write() as conn:
            rows = conn.execute(
                deliveries.update()
                .where(deliveries.c.status == Status.SENDING, deliveries.c.claimed_at < before)
                .values(status=Status.UNCONFIRMED, error="the process sending it stopped before the platform answered")
                .returning(*deliveries.c)
            ).all()
            if not rows:
                return []
            ids = {r.subscription_id for r in rows}
            subs = conn.execute(subscriptions.select().where(subscriptions.c.id.in_(ids))).all()
        by_id = {s.id: Subscription(**s._mapping) for s in subs}
        return [(by_id[r.subscription_id], Delivery(**r._mapping)) for r in rows if r.subscription_id in by_id]

    # handled events

    def first_time(self, key: str, now: float, ttl: float = 3600.0) -> bool:
        """True the first time `key` is seen within `ttl` seconds, across processes and restarts."""
        expires = now + ttl
        try:
            with self._write() as conn:
                conn.execute(handled_events.insert().values(key=key[:255], expires_at=expires))
        except IntegrityError:
            with self._write() as conn:  # seen before: first time again only if that has expired
                return bool(
                    conn.execute(
                        handled_events.update()
                        .where(handled_events.c.key == key[:255], handled_events.c.expires_at <= now)
                        .values(expires_at=expires)
                    ).rowcount
                )
        self._events_added += 1
        if self._events_added % 500 == 0:  # keep the table to about a ttl's worth of deliveries
            with self._write() as conn:
                conn.execute(handled_events.delete().where(handled_events.c.expires_at <= now))
        return True

    # conversation turns (bot.chat.memory.ConversationMemory keeps them here)

    def save_turn(self, key: str, turn: Turn) -> None:
        """Keep `turn` under `key`; now and then drop the turns older than memory's KEEP."""
        at = turn.at.timestamp()
        with self._write() as conn:
            conn.execute(
                conversation_turns.insert().values(
                    key=key, conversation=turn.conversation[:255], question=turn.question,
                    passage_id=turn.passage_id, rank=turn.rank, people=json.dumps(list(turn.people)),
                    years=json.dumps(list(turn.years)), at=at,
                )
            )  # fmt: skip
        self._turns_added += 1
        if self._turns_added % 500 == 0:
            with self._write() as conn:
                conn.execute(conversation_turns.delete().where(conversation_turns.c.at < at - KEEP.total_seconds()))

    def load_turn(self, key: str, since: dt.datetime) -> Turn | None:
        """The turn kept under `key`, if it is newer than `since`."""
        with self.engine.connect() as conn:
            row = conn.execute(
                conversation_turns.select().where(
                    conversation_turns.c.key == key, conversation_turns.c.at > since.timestamp()
                )
            ).first()
        return _turn(row) if row else None

    def last_turn(self, conversation: str, since: dt.datetime) -> Turn | None:
        """The conversation's latest turn, if it is newer than `since`."""
        with self.engine.connect() as conn:
            row = conn.execute(
                conversation_turns.select()
                .where(
                    conversation_turns.c.conversation == conversation[:255],
                    conversation_turns.c.at > since.timestamp(),
                )
                .order_by(conversation_turns.c.at.desc())
                .limit(1)
            ).first()
        return _turn(row) if row else None

    def recent_turns(self, conversation: str, since: dt.datetime, limit: int) -> list[Turn]:
        """The conversation's latest `limit` turns newer than `since`, the latest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                conversation_turns.select()
                .where(
                    conversation_turns.c.conversation == conversation[:255],
                    conversation_turns.c.at > since.timestamp(),
                )
                .order_by(conversation_turns.c.at.desc())
                .limit(limit)
            ).all()
        return [_turn(row) for row in rows]

    # the per-member cooldown (bot.chat.cooldown.Cooldown keeps it here)

    def take_cooldown(self, key: str, now: float, seconds: float) -> float:
        """Take `key`'s slot if its last use is `seconds` old (or there is none): 0.0, and the window starts
        at `now`. Otherwise the seconds still to wait, and nothing changes. The decision is one statement
        (an upsert that updates only an expired row), so two processes checking at once never both take it.
        A last use more than a window ahead of `now` can only be another process's clock running ahead, and
        is taken too, so a skewed clock never locks a member out for longer than a window."""
        key = key[:255]
        expired = sa.or_(cooldowns.c.used_at <= now - seconds, cooldowns.c.used_at >= now + seconds)
        with self._write() as conn:
            dialect = conn.dialect.name
            if dialect == "postgresql":  # a window lost in a crash costs nothing: no wait for the disk
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            if dialect in ("postgresql", "sqlite"):
                insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(cooldowns)
                upsert = insert.values(key=key, used_at=now).on_conflict_do_update(
                    index_elements=[cooldowns.c.key], set_={"used_at": now}, where=expired
                )
                taken = conn.execute(upsert.returning(cooldowns.c.key)).first() is not None
            else:  # any other database: the insert, or an update of an expired row, decides
                try:
                    with conn.begin_nested():
                        conn.execute(cooldowns.insert().values(key=key, used_at=now))
                    taken = True
                except IntegrityError:
                    update = cooldowns.update().where(cooldowns.c.key == key, expired).values(used_at=now)
                    taken = bool(conn.execute(update).rowcount)
            if not taken:  # only for the reply's "wait N seconds"
                last = conn.execute(sa.select(cooldowns.c.used_at).where(cooldowns.c.key == key)).scalar()
        if taken:
            self._cooldowns_taken += 1
            if self._cooldowns_taken % 500 == 0:  # keep the table to the members inside their window
                with self._write() as conn:
                    conn.execute(cooldowns.delete().where(cooldowns.c.used_at <= now - seconds))
            return 0.0
        waited = now - float(last) if last is not None else 0.0
        return min(seconds, max(seconds - waited, 0.001))

    # who may manage daily posts, besides the platform's admins

    def grant(self, platform: str, workspace: str, user: str, by: str, now: float) -> bool:
        """Let `user` manage daily posts in the workspace; False if they already may."""
        try:
            with self._write() as conn:
                conn.execute(
                    managers.insert().values(
                        platform=platform, workspace=workspace, user=user, granted_by=by, granted_at=now
                    )
                )
        except IntegrityError:
            return False
        return True

    def revoke(self, platform: str, workspace: str, user: str) -> bool:
        """Take the right back; False if they did not have it."""
        with self._write() as conn:
            return bool(
                conn.execute(
                    managers.delete().where(
                        managers.c.platform == platform, managers.c.workspace == workspace, managers.c.user == user
                    )
                ).rowcount
            )

    def may_manage(self, platform: str, workspace: str, user: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(managers.c.user).where(
                        managers.c.platform == platform, managers.c.workspace == workspace, managers.c.user == user
                    )
                ).first()
                is not None
            )

    def granted(self, platform: str, workspace: str) -> list[str]:
        """Who was granted the right in the workspace, oldest grant first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(managers.c.user)
                .where(managers.c.platform == platform, managers.c.workspace == workspace)
                .order_by(managers.c.granted_at)
            ).all()
        return [str(r[0]) for r in rows]

    # the quiz

    def _adopt_quiz(self, platform: str, channel: str, workspace: str) -> None:
        """Quiz rows from before version 5 have no workspace: the first workspace to use the channel's
        quiz takes them (its scores and open question carry on)."""
        if not workspace or not self._legacy_quiz:
            return
        tables = (quiz_draws, quiz_open, quiz_scores)
        with self.engine.connect() as conn:
            legacy = any(
                conn.execute(
                    sa.select(t.c.platform).where(t.c.platform == platform, t.c.channel == channel, t.c.workspace == "")
                ).first()
                for t in tables
            )
        if not legacy:
            return
        try:
            with self._write() as conn:
                for t in tables:
                    conn.execute(
                        t.update()
                        .where(t.c.platform == platform, t.c.channel == channel, t.c.workspace == "")
                        .values(workspace=workspace)
                    )
        except IntegrityError:  # another workspace took them at the same moment
            pass

    def quiz_history(self, platform: str, channel: str, workspace: str = "") -> list[tuple[str, int]]:
        """(question key, cycle) of every question drawn in the channel, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(quiz_draws.c.question_key, quiz_draws.c.cycle)
                .where(
                    quiz_draws.c.platform == platform,
                    quiz_draws.c.workspace == workspace,
                    quiz_draws.c.channel == channel,
                )
                .order_by(quiz_draws.c.id)
            ).all()
        return [(r.question_key, r.cycle) for r in rows]

    def quiz_current(self, platform: str, channel: str, workspace: str = "") -> QuizDraw | None:
        """The channel's open question, if any."""
        self._adopt_quiz(platform, channel, workspace)
        with self.engine.connect() as conn:
            row = conn.execute(
                quiz_draws.select()
                .join(quiz_open, quiz_open.c.draw_id == quiz_draws.c.id)
                .where(
                    quiz_open.c.platform == platform,
                    quiz_open.c.workspace == workspace,
                    quiz_open.c.channel == channel,
                )
            ).first()
        return _draw(row) if row else None

    def quiz_draw(self, draw_id: int) -> QuizDraw | None:
        with self.engine.connect() as conn:
            row = conn.execute(quiz_draws.select().where(quiz_draws.c.id == draw_id)).first()
        return _draw(row) if row else None

    def quiz_start(
        self,
        platform: str,
        channel: str,
        key: str,
        cycle: int,
        options: tuple[str, ...],
        by: str,
        now: float,
        workspace: str = "",
    ) -> QuizDraw | None:
        """Open a question in the channel; None if one is open there already."""
        try:
            with self.engine.begin() as conn:
                inserted = conn.execute(
                    quiz_draws.insert().values(
                        platform=platform, channel=channel, workspace=workspace, question_key=key, cycle=cycle,
                        options=json.dumps(list(options)), asked_by=by, asked_at=now, outcome="",
                    )
                ).inserted_primary_key  # fmt: skip
                assert inserted is not None
                draw_id = inserted[0]
                conn.execute(
                    quiz_open.insert().values(platform=platform, channel=channel, workspace=workspace, draw_id=draw_id)
                )
        except IntegrityError:
            return None
        return self.quiz_draw(int(draw_id))

    def quiz_try(self, draw_id: int, user: str) -> bool:
        """Record `user`'s one try at a question; False if they have had it."""
        try:
            with self.engine.begin() as conn:
                conn.execute(quiz_tries.insert().values(draw_id=draw_id, user=user))
        except IntegrityError:
            return False
        return True

    def quiz_close(self, draw: QuizDraw, outcome: str, now: float, winner: str = "", name: str = "") -> bool:
        """Close the open question, once: False if it was closed already. A winner scores a point."""
        with self.engine.begin() as conn:
            closed = conn.execute(
                quiz_open.delete().where(
                    quiz_open.c.platform == draw.platform,
                    quiz_open.c.workspace == draw.workspace,
                    quiz_open.c.channel == draw.channel,
                    quiz_open.c.draw_id == draw.id,
                )
            ).rowcount
            if not closed:
                return False
            conn.execute(
                quiz_draws.update()
                .where(quiz_draws.c.id == draw.id)
                .values(outcome=outcome, winner=winner or None, closed_at=now)
            )
        if winner:
            self._score(draw.platform, draw.workspace, draw.channel, winner, name)
        return True

    def _score(self, platform: str, workspace: str, channel: str, user: str, name: str) -> None:
        mine = (
            quiz_scores.c.platform == platform,
            quiz_scores.c.workspace == workspace,
            quiz_scores.c.channel == channel,
            quiz_scores.c.user == user,
        )
        add = quiz_scores.update().where(*mine).values(points=quiz_scores.c.points + 1, name=name)
        with self.engine.begin() as conn:
            if conn.execute(add).rowcount:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    quiz_scores.insert().values(
                        platform=platform, workspace=workspace, channel=channel, user=user, name=name, points=1
                    )
                )
        except IntegrityError:  # the same member scored in another process at the same moment
            with self.engine.begin() as conn:
                conn.execute(add)

    def quiz_scores(self, platform: str, channel: str, limit: int = 10, workspace: str = "") -> list[tuple[str, int]]:
        """(name, points), best first."""
        self._adopt_quiz(platform, channel, workspace)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(quiz_scores.c.name, quiz_scores.c.points)
                .where(
                    quiz_scores.c.platform == platform,
                    quiz_scores.c.workspace == workspace,
                    quiz_scores.c.channel == channel,
                )
                .order_by(quiz_scores.c.points.desc(), quiz_scores.c.name)
                .limit(limit)
            ).all()
        return [(r.name, r.points) for r in rows]
