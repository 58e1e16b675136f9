"""Storage for daily-post subscriptions and the record of deliveries, on SQLAlchemy Core.

A SQLite file by default; any SQLAlchemy URL (PostgreSQL for several processes). The schema is
created and upgraded on open. "Exactly once" rests on one unique constraint, (subscription,
local date) in `deliveries`, and on compare-and-set updates guarded by a claim token: whichever
process inserts the row for a day owns that day's post.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError

from bot.errors import ConfigError

__all__ = ["Delivery", "QuizDraw", "Status", "Store", "Subscription", "database_url"]

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
    sa.UniqueConstraint("platform", "channel", name="uq_subscription_channel"),
)

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
    CLAIMED = "claimed"  # decided (quote chosen), not sent: safe to send, by whoever holds the claim
    SENDING = "sending"  # the platform call was started: never sent again (at most once)
    POSTED = "posted"
    SKIPPED = "skipped"  # missed and past the make-up window
    FAILED = "failed"  # gave up: channel gone, or retries used up


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


# The quiz (bot/quiz.py): every question drawn in a channel, the one open question per channel
# (its unique row decides who opens or closes it), who has had their try, and the scores.

quiz_draws = sa.Table(
    "quiz_draws",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("question_key", sa.String(200), nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False, default=0),
    sa.Column("options", sa.Text, nullable=False, default="[]"),  # JSON list of the answers offered
    sa.Column("asked_by", sa.String(64), nullable=False, default=""),
    sa.Column("asked_at", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False, default=""),  # "", "answered" or "stopped"
    sa.Column("winner", sa.String(64), nullable=True),
    sa.Column("closed_at", sa.Float, nullable=True),
    sa.Index("ix_quiz_draws_channel", "platform", "channel"),
)

quiz_open = sa.Table(
    "quiz_open",
    metadata,
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("draw_id", sa.Integer, sa.ForeignKey("quiz_draws.id", ondelete="CASCADE"), nullable=False),
    sa.UniqueConstraint("platform", "channel", name="uq_quiz_open_channel"),
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
    sa.UniqueConstraint("platform", "channel", "user", name="uq_quiz_score"),
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


def _draw(row: Any) -> QuizDraw:
    values = dict(row._mapping)
    values["options"] = tuple(json.loads(values["options"]))
    return QuizDraw(**values)


def _v1(conn: Connection) -> None:
    subscriptions.create(conn, checkfirst=True)
    deliveries.create(conn, checkfirst=True)


def _v_managers(conn: Connection) -> None:
    managers.create(conn, checkfirst=True)


def _quiz(conn: Connection) -> None:
    for table in (quiz_draws, quiz_open, quiz_tries, quiz_scores):
        table.create(conn, checkfirst=True)


# Each entry upgrades the schema by one version; append, never edit a released one. Order agreed
# on the notice board: daily's step, the managers', then the quiz's (the last two only add tables).
MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v_managers, _quiz]


def database_url(url: str) -> str:
    """Accept the URL forms hosts hand out (Heroku's postgres://) and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class Store:
    """Subscriptions and deliveries; safe to share between threads and processes."""

    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = sa.create_engine(
                database_url(url),
                pool_pre_ping=True,
                connect_args={"timeout": 30} if url.startswith("sqlite") else {},
            )
            self._upgrade()
        except (ArgumentError, NoSuchModuleError) as exc:
            raise ConfigError([f"DATABASE_URL: {exc}"]) from exc
        except OperationalError as exc:
            raise ConfigError([f"DATABASE_URL: cannot open the database ({exc.orig})"]) from exc

    def _upgrade(self) -> None:
        with self.engine.begin() as conn:
            schema_table.create(conn, checkfirst=True)
            version = conn.execute(sa.select(sa.func.max(schema_table.c.version))).scalar() or 0
            for number, migrate in enumerate(MIGRATIONS[version:], start=version + 1):
                migrate(conn)
                conn.execute(schema_table.insert().values(version=number))

    @property
    def version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema_table.c.version))).scalar() or 0)

    # subscriptions

    def subscribe(
        self, platform: str, channel: str, workspace: str, post_time: str, timezone: str, by: str, now: float
    ) -> Subscription:
        """Create, or update and reactivate, the channel's subscription."""
        values = {"workspace": workspace, "post_time": post_time, "timezone": timezone, "created_by": by,
                  "active": True, "paused_reason": None}  # fmt: skip
        update = (
            subscriptions.update()
            .where(subscriptions.c.platform == platform, subscriptions.c.channel == channel)
            .values(**values)
        )
        with self.engine.begin() as conn:
            updated = conn.execute(update).rowcount
        if not updated:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        subscriptions.insert().values(platform=platform, channel=channel, created_at=now, **values)
                    )
            except IntegrityError:  # another process subscribed it in the meantime
                with self.engine.begin() as conn:
                    conn.execute(update)
        found = self.subscription(platform, channel)
        assert found is not None
        return found

    def unsubscribe(self, platform: str, channel: str) -> bool:
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    subscriptions.update()
                    .where(
                        subscriptions.c.platform == platform,
                        subscriptions.c.channel == channel,
                        subscriptions.c.active.is_(True),
                    )
                    .values(active=False, paused_reason=None)
                ).rowcount
            )

    def subscription(self, platform: str, channel: str) -> Subscription | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                subscriptions.select().where(subscriptions.c.platform == platform, subscriptions.c.channel == channel)
            ).first()
        return Subscription(**row._mapping) if row else None

    def active(self) -> list[Subscription]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                subscriptions.select().where(subscriptions.c.active.is_(True)).order_by(subscriptions.c.id)
            ).all()
        return [Subscription(**r._mapping) for r in rows]

    def pause(self, subscription_id: int, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id)
                .values(active=False, paused_reason=reason)
            )

    # deliveries

    def deliveries(self, subscription_id: int) -> list[Delivery]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                deliveries.select().where(deliveries.c.subscription_id == subscription_id).order_by(deliveries.c.id)
            ).all()
        return [Delivery(**r._mapping) for r in rows]

    def delivery(self, subscription_id: int, local_date: str) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                deliveries.select().where(
                    deliveries.c.subscription_id == subscription_id, deliveries.c.local_date == local_date
                )
            ).first()
        return Delivery(**row._mapping) if row else None

    def claim(
        self, subscription_id: int, local_date: str, quote_key: str, cycle: int, now: float, lease: float
    ) -> Delivery | None:
        """Own the day's post: insert its row, or take over a claimed row whose owner released it
        or went silent for `lease` seconds. None if another process owns it, or it is settled."""
        token = str(uuid.uuid4())
        fields = {"quote_key": quote_key, "cycle": cycle, "claim_token": token, "claimed_at": now}
        if not self._new_day(subscription_id, local_date, Status.CLAIMED, **fields):
            with self.engine.begin() as conn:
                taken = conn.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.subscription_id == subscription_id,
                        deliveries.c.local_date == local_date,
                        deliveries.c.status == Status.CLAIMED,
                        deliveries.c.next_attempt_at <= now,
                        sa.or_(deliveries.c.claim_token.is_(None), deliveries.c.claimed_at < now - lease),
                    )
                    .values(claim_token=token, claimed_at=now)
                ).rowcount
                if not taken:
                    return None
        found = self.delivery(subscription_id, local_date)
        return found if found and found.claim_token == token else None

    def _move(self, delivery: Delivery, frm: str, **values: Any) -> bool:
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.id == delivery.id,
                        deliveries.c.status == frm,
                        deliveries.c.claim_token == delivery.claim_token,
                    )
                    .values(**values)
                ).rowcount
            )

    def start_sending(self, delivery: Delivery) -> bool:
        """The last step before the platform call; False if the claim was lost meanwhile."""
        return self._move(delivery, Status.CLAIMED, status=Status.SENDING)

    def posted(self, delivery: Delivery, now: float) -> None:
        self._move(delivery, Status.SENDING, status=Status.POSTED, posted_at=now, error=None)

    def retry_later(self, delivery: Delivery, next_attempt_at: float, error: str) -> None:
        """The platform said no without posting: back to claimed, free for whoever comes next."""
        self._move(
            delivery,
            Status.SENDING,
            status=Status.CLAIMED,
            claim_token=None,
            attempts=delivery.attempts + 1,
            next_attempt_at=next_attempt_at,
            error=error,
        )

    def fail(self, delivery: Delivery, error: str) -> None:
        self._move(delivery, Status.SENDING, status=Status.FAILED, error=error)

    def skip(self, subscription_id: int, local_date: str, reason: str) -> bool:
        """Record a missed day once (False if the day already has a row)."""
        return self._new_day(subscription_id, local_date, Status.SKIPPED, error=reason)

    def _new_day(self, subscription_id: int, local_date: str, status: str, **values: Any) -> bool:
        """Insert the day's row; False if it exists already (the unique constraint decides)."""
        row = {"quote_key": "", "cycle": 0, "attempts": 0, "next_attempt_at": 0.0, **values}
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    deliveries.insert().values(
                        subscription_id=subscription_id, local_date=local_date, status=status, **row
                    )
                )
        except IntegrityError:
            return False
        return True

    def expire(self, delivery: Delivery, reason: str) -> bool:
        """A claimed day that ran out of its make-up window without being sent."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id == delivery.id, deliveries.c.status == Status.CLAIMED)
                    .values(status=Status.SKIPPED, error=reason)
                ).rowcount
            )

    # who may manage daily posts, besides the platform's admins

    def grant(self, platform: str, workspace: str, user: str, by: str, now: float) -> bool:
        """Let `user` manage daily posts in the workspace; False if they already may."""
        try:
            with self.engine.begin() as conn:
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
        with self.engine.begin() as conn:
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

    def quiz_history(self, platform: str, channel: str) -> list[tuple[str, int]]:
        """(question key, cycle) of every question drawn in the channel, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(quiz_draws.c.question_key, quiz_draws.c.cycle)
                .where(quiz_draws.c.platform == platform, quiz_draws.c.channel == channel)
                .order_by(quiz_draws.c.id)
            ).all()
        return [(r.question_key, r.cycle) for r in rows]

    def quiz_current(self, platform: str, channel: str) -> QuizDraw | None:
        """The channel's open question, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                quiz_draws.select()
                .join(quiz_open, quiz_open.c.draw_id == quiz_draws.c.id)
                .where(quiz_open.c.platform == platform, quiz_open.c.channel == channel)
            ).first()
        return _draw(row) if row else None

    def quiz_draw(self, draw_id: int) -> QuizDraw | None:
        with self.engine.connect() as conn:
            row = conn.execute(quiz_draws.select().where(quiz_draws.c.id == draw_id)).first()
        return _draw(row) if row else None

    def quiz_start(
        self, platform: str, channel: str, key: str, cycle: int, options: tuple[str, ...], by: str, now: float
    ) -> QuizDraw | None:
        """Open a question in the channel; None if one is open there already."""
        try:
            with self.engine.begin() as conn:
                inserted = conn.execute(
                    quiz_draws.insert().values(
                        platform=platform, channel=channel, question_key=key, cycle=cycle,
                        options=json.dumps(list(options)), asked_by=by, asked_at=now, outcome="",
                    )
                ).inserted_primary_key  # fmt: skip
                assert inserted is not None
                draw_id = inserted[0]
                conn.execute(quiz_open.insert().values(platform=platform, channel=channel, draw_id=draw_id))
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
            self._score(draw.platform, draw.channel, winner, name)
        return True

    def _score(self, platform: str, channel: str, user: str, name: str) -> None:
        mine = (quiz_scores.c.platform == platform, quiz_scores.c.channel == channel, quiz_scores.c.user == user)
        add = quiz_scores.update().where(*mine).values(points=quiz_scores.c.points + 1, name=name)
        with self.engine.begin() as conn:
            if conn.execute(add).rowcount:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    quiz_scores.insert().values(platform=platform, channel=channel, user=user, name=name, points=1)
                )
        except IntegrityError:  # the same member scored in another process at the same moment
            with self.engine.begin() as conn:
                conn.execute(add)

    def quiz_scores(self, platform: str, channel: str, limit: int = 10) -> list[tuple[str, int]]:
        """(name, points), best first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(quiz_scores.c.name, quiz_scores.c.points)
                .where(quiz_scores.c.platform == platform, quiz_scores.c.channel == channel)
                .order_by(quiz_scores.c.points.desc(), quiz_scores.c.name)
                .limit(limit)
            ).all()
        return [(r.name, r.points) for r in rows]
