"""Daily quotation posts: subscriptions, when a post is due, which quotation, and exactly once.

Platform-free: a front end hands `run_due` a Poster per platform; the store's unique (channel,
local date) row decides who posts, so restarts, crashes and several processes never double-post.
A post whose fate the platform never told us (a timeout or dropped connection after sending) is
recorded as sent, unconfirmed, and never sent again: a poster that can make a resend harmless
(Discord's message nonce) retries by itself before giving up and saying so.

A pass with nothing due costs one read. Otherwise it leases the due subscriptions in batches (so
several processes share the work without meeting on the same channel) and posts them from a
bounded pool of worker threads, paced as each platform's poster says (per workspace or per bot),
honouring Retry-After. A post needs two writes, its claim (committed before it is sent) and its
confirmation; the workers' writes share transactions (a group commit), so a post costs a fraction
of a transaction. The quotation comes from the subscription's own cursor, never from a scan of
what the channel had before.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.chat.reply import Reply
from bot.chat.voice import Voice
from bot.club.schedule import parse_time, parse_zone, scheduled_at
from bot.errors import ChannelGone, OutcomeUnknown, PostLater, TokenRejected
from bot.ops.store import Claim, Confirmation, Cursor, Delivery, Settled, Status, Store, Subscription
from bot.sources.corpus import Corpus
from bot.sources.quotes import QuoteChoice, maisky_quotes

__all__ = ["Daily", "DailyConfig", "Poster", "RunReport", "choose", "next_quote", "take"]

log = logging.getLogger(__name__)
_ISO_DAY = re.compile(r"^\d{4}-(\d{2})-(\d{2})$")
_DAY = dt.timedelta(days=1)


class Poster(Protocol):
    """Posts a reply to a channel of one platform. `key` names the channel's day (the same for
    every attempt at it), for platforms that can make a repeated send harmless; `workspace` is the
    subscription's (where each workspace has its own token). Raises ChannelGone, PostLater,
    OutcomeUnknown or TokenRejected."""

    def post(self, channel: str, reply: Reply, key: str, workspace: str = "") -> None: ...


@dataclass(frozen=True)
class Pace:
    """How fast a platform takes posts, as its poster says (a `pace` attribute; none: unpaced)."""

    rate: float = 0.0  # post starts a second; 0: no spacing
    per_workspace: bool = False  # spaced per workspace of the platform, else per bot


def _pace_of(poster: Poster) -> Pace:
    pace = getattr(poster, "pace", None)
    return pace if isinstance(pace, Pace) else Pace()


@dataclass(frozen=True)
class DailyConfig:
    default_time: str = "09:00"
    default_timezone: str = "UTC"
    window: dt.timedelta = dt.timedelta(hours=6)  # a missed post is made up within this
    lease: float = 600.0  # seconds after which a row still `sending` is taken as sent, unconfirmed
    max_attempts: int = 5
    backoff: float = 60.0  # seconds before the first retry; doubles each time
    workers: int = 64  # posts in flight at once (their writes share transactions: more is cheaper)
    pace: Mapping[str, float] = field(default_factory=dict)  # posts a second by platform, over its poster's pace
    max_wait: float = 60.0  # a Retry-After up to this long is waited out within the pass
    post_timeout: float = 20.0  # seconds a platform may take to answer one post


@dataclass
class RunReport:
    posted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # sent, fate unknown: not sent again
    failed: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)  # platforms that refused the bot: "slack: invalid_auth"

    def summary(self) -> str:
        text = (
            f"posted {len(self.posted)}, skipped {len(self.skipped)}, retrying {len(self.retrying)}, "
            f"paused {len(self.paused)}, unconfirmed {len(self.unconfirmed)}, failed {len(self.failed)}"
        )
        return text + "".join(f"; stopped {s}" for s in self.stopped)

    @property
    def ok(self) -> bool:
        """Nothing failed, nothing is in doubt, and every platform took the bot's token."""
        return not (self.failed or self.unconfirmed or self.stopped)

    def sort(self) -> None:
        for items in (self.posted, self.skipped, self.retrying, self.paused, self.unconfirmed, self.failed):
            items.sort()


def _on_this_day(choice: QuoteChoice, day: dt.date) -> bool:
    m = _ISO_DAY.match(choice.passage.date)
    return m is not None and (int(m[1]), int(m[2])) == (day.month, day.day)


def _ranks(pool: Sequence[QuoteChoice], channel_key: str, cycle: int, seed: int) -> dict[str, int]:
    """The cycle's order of the channel's quotations, as ranks (63-bit, lowest first): the same in
    every process, different in every channel and cycle."""
    return _ranked(_keys(pool), channel_key, cycle, seed)


@functools.lru_cache(maxsize=256)  # a post chooses, then confirms, from the same ranks
def _ranked(keys: tuple[str, ...], channel_key: str, cycle: int, seed: int) -> dict[str, int]:
    salt = hashlib.blake2b(f"{seed}:{channel_key}:{cycle}".encode(), digest_size=16).digest()
    digest = functools.partial(hashlib.blake2b, digest_size=8, key=salt)
    return {key: int.from_bytes(digest(key.encode()).digest(), "big") >> 1 for key in keys}


def _keys(pool: Sequence[QuoteChoice]) -> tuple[str, ...]:
    return pool.quote_keys if isinstance(pool, Pool) else tuple(q.key for q in pool)


class Pool(tuple[QuoteChoice, ...]):
    """The quotations that may be posted, with their keys worked out once."""

    quote_keys: tuple[str, ...]

    def __new__(cls, choices: Sequence[QuoteChoice]) -> Pool:
        pool = super().__new__(cls, choices)
        pool.quote_keys = tuple(q.key for q in choices)
        return pool


def choose(
    pool: Sequence[QuoteChoice], cursor: Cursor, channel_key: str, day: dt.date, seed: int = 0
) -> tuple[QuoteChoice, int]:
    """The quotation for a channel's next post and its cycle, from the channel's cursor alone.

    No repeat in a channel until every quotation has been posted there; then a new cycle in a new
    order. A quotation whose passage's date falls on today's month and day goes first."""
    cycle = max(0, cursor.cycle)
    ranks = _ranks(pool, channel_key, cycle, seed)
    ahead = set(cursor.ahead)
    remaining = [(q, k) for q, k in zip(pool, _keys(pool), strict=True) if ranks[k] > cursor.mark and k not in ahead]
    if not remaining:
        cycle, remaining = cycle + 1, list(zip(pool, _keys(pool), strict=True))
        ranks = _ranks(pool, channel_key, cycle, seed)
    today = [q for q, _ in remaining if _on_this_day(q, day)]
    if today:
        return today[0], cycle
    return min(remaining, key=lambda pair: ranks[pair[1]])[0], cycle


def take(pool: Sequence[QuoteChoice], cursor: Cursor, key: str, cycle: int, channel_key: str, seed: int = 0) -> Cursor:
    """The cursor once quotation `key` of `cycle` has been posted."""
    if cycle < cursor.cycle:
        return cursor  # a quotation of a cycle already over
    if cycle > cursor.cycle:
        cursor = Cursor(cycle)
    ranks = _ranks(pool, channel_key, cycle, seed)
    if key not in ranks or ranks[key] <= cursor.mark or key in cursor.ahead:
        return cursor  # gone from the corpus, or already counted
    return _compact(ranks, Cursor(cycle, cursor.mark, (*cursor.ahead, key)))


def _compact(ranks: Mapping[str, int], cursor: Cursor) -> Cursor:
    """Move the mark past every quotation taken ahead that is next in order, so `ahead` stays short."""
    ahead = {k for k in cursor.ahead if k in ranks and ranks[k] > cursor.mark}
    mark = cursor.mark
    for key in sorted((k for k, r in ranks.items() if r > mark), key=ranks.__getitem__):
        if key not in ahead:
            break
        mark = ranks[key]
        ahead.discard(key)
    return Cursor(cursor.cycle, mark, tuple(sorted(ahead, key=ranks.__getitem__)))


def cursor_of(history: Sequence[Delivery], pool: Sequence[QuoteChoice], channel_key: str, seed: int = 0) -> Cursor:
    """A channel's cursor from its current cycle's deliveries (a subscription from before cursors)."""
    counted = [d for d in history if d.status in Status.USED and d.quote_key]
    cycle = max((d.cycle for d in counted), default=0)
    ranks = _ranks(pool, channel_key, cycle, seed)
    used = tuple(dict.fromkeys(d.quote_key for d in counted if d.cycle == cycle))
    return _compact(ranks, Cursor(cycle, -1, used))


def next_quote(
    pool: Sequence[QuoteChoice], history: Sequence[Delivery], channel_key: str, day: dt.date, seed: int = 0
) -> tuple[QuoteChoice, int]:
    """The quotation for a channel's next post given its current cycle's deliveries (see `choose`)."""
    return choose(pool, cursor_of(history, pool, channel_key, seed), channel_key, day, seed)


class Daily:
    """Subscribing channels, and posting what is due."""

    def __init__(
        self,
        store: Store,
        corpus: Corpus,
        voice: Voice,
        config: DailyConfig,
        seed: int = 0,
        pool: Sequence[QuoteChoice] | None = None,
    ) -> None:
        """`pool`: the corpus's quotations worth posting, when already known (read from a cache)."""
        self.store = store
        self.corpus = corpus
        self.voice = voice
        self.config = config
        self.seed = seed
        self.pool = Pool(list(pool) if pool is not None else maisky_quotes(corpus))
        self._by_key = dict(zip(self.pool.quote_keys, self.pool, strict=True))

    # the commands

    def subscribe(
        self,
        platform: str,
        channel: str,
        workspace: str,
        by: str,
        time_text: str,
        zone_text: str,
        now: dt.datetime,
        *,
        enterprise: str = "",
        enterprise_install: bool = False,
    ) -> Reply:
        """Start (or change) the channel's daily post; `enterprise` and `enterprise_install` record the
        installation that serves the workspace, so the post is sent with its token (Slack Enterprise Grid)."""
        post_time = parse_time(time_text) if time_text.strip() else self.config.default_time
        zone = parse_zone(zone_text) if zone_text.strip() else self.config.default_timezone
        if post_time is None:
            return self.voice.notice("daily_bad_time", typed=time_text.strip()[:20])
        if zone is None:
            return self.voice.notice("daily_bad_zone", typed=zone_text.strip()[:40])
        sub = self.store.subscribe(
            platform, channel, workspace, post_time, zone, by, now.timestamp(),
            enterprise=enterprise, enterprise_install=enterprise_install,
        )  # fmt: skip
        return self.voice.notice(
            "daily_subscribed", time=sub.post_time, zone=sub.timezone, next=self._next_text(sub, now)
        )

    # who may manage daily posts besides the platform's admins: stored grants

    def granted(self, platform: str, workspace: str, user: str) -> bool:
        return self.store.may_manage(platform, workspace, user)

    def grant(self, platform: str, workspace: str, user: str, by: str, now: dt.datetime) -> bool:
        return self.store.grant(platform, workspace, user, by, now.timestamp())

    def revoke(self, platform: str, workspace: str, user: str) -> bool:
        return self.store.revoke(platform, workspace, user)

    # `workspace`: the caller's (a Slack Connect channel has one id in several workspaces); None, any
    # workspace's (for tools and tests of one workspace)

    def unsubscribe(self, platform: str, channel: str, workspace: str | None = None) -> Reply:
        done = self.store.unsubscribe(platform, channel, workspace)
        return self.voice.notice("daily_unsubscribed" if done else "daily_not_subscribed")

    def status(self, platform: str, channel: str, now: dt.datetime, workspace: str | None = None) -> Reply:
        sub = self.store.subscription(platform, channel, workspace)
        if sub is None or (not sub.active and not sub.paused_reason):
            return self.voice.notice("daily_not_subscribed")
        if not sub.active:
            return self.voice.notice("daily_paused", reason=sub.paused_reason or "")
        counts = self.store.counts(sub.id)
        return self.voice.notice(
            "daily_status_unconfirmed" if counts.unconfirmed else "daily_status",
            time=sub.post_time, zone=sub.timezone, next=self._next_text(sub, now), posted=counts.sent,
            unconfirmed=counts.unconfirmed,
        )  # fmt: skip

    def preview(self, platform: str, channel: str, now: dt.datetime, workspace: str | None = None) -> Reply:
        """The quotation this channel would get next (or gets today), without posting it."""
        sub = self.store.subscription(platform, channel, workspace)
        zone = sub.timezone if sub else self.config.default_timezone
        day = now.astimezone(ZoneInfo(zone)).date()
        cursor = self.cursor(sub) if sub else Cursor()
        choice, _ = choose(self.pool, cursor, f"{platform}:{channel}", day, self.seed)
        return self.voice.quote(choice.passage, choice.quote, day.isoformat(), daily=True)

    def cursor(self, sub: Subscription) -> Cursor:
        """The subscription's quotation cursor; for one from before cursors, read from its current
        cycle (once: its next post writes the cursor)."""
        if sub.quote_cycle >= 0:
            return sub.cursor
        return cursor_of(self.store.current_cycle(sub.id), self.pool, f"{sub.platform}:{sub.channel}", self.seed)

    def spend(self, sub: Subscription, key: str, cycle: int) -> None:
        """Count quotation `key` as posted in the channel, outside a post's own confirmation (a row
        settled after its process stopped, or a cursor another process moved meanwhile)."""
        for _ in range(5):
            current = self.store.subscription_by_id(sub.id)
            if current is None:
                return
            before = self.cursor(current)
            after = take(self.pool, before, key, cycle, f"{sub.platform}:{sub.channel}", self.seed)
            if after == before or self.store.move_cursor(current, current.cursor, after):
                return
        log.warning("daily posts to %s:%s: the quotation cursor kept moving; left as it is", sub.platform, sub.channel)

    def _next_text(self, sub: Subscription, now: dt.datetime) -> str:
        zone = ZoneInfo(sub.timezone)
        day = now.astimezone(zone).date()
        for d in (day, day + _DAY):
            at = scheduled_at(d, sub.post_time, sub.timezone)
            if at > now and not self.store.delivery(sub.id, d.isoformat()):
                return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        return scheduled_at(day + _DAY, sub.post_time, sub.timezone).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    # posting

    def serve(self, posters: Mapping[str, Poster], stop: threading.Event, every: float = 60.0) -> None:
        """The in-process scheduler: run what is due every `every` seconds until `stop` is set.
        Each front end runs this in a thread; several processes may run it on one database."""
        log.info("daily posts: checking every %.0f s for %s", every, ", ".join(sorted(posters)))
        while not stop.is_set():
            try:
                self.run_due(dt.datetime.now(dt.UTC), posters, stop)
            except Exception:
                log.exception("daily posts: a scheduler pass failed; trying again next time")
            stop.wait(every)

    def run_due(
        self, now: dt.datetime, posters: Mapping[str, Poster], stop: threading.Event | None = None
    ) -> RunReport:
        """Post whatever is due at `now`, once. Safe to call from several processes at once.
        Each channel is tried on its own: one failing never stops the others. Once `stop` is set,
        no new channel is started (the posts in flight finish); the rest wait for the next pass."""
        report = RunReport()
        if not self.pool:
            log.warning("daily posts: the corpus holds no quotations of Maisky's own")
            return report
        if not posters:
            return report
        due, abandoned = self.store.glance(now.timestamp(), posters, now.timestamp() - self.config.lease)
        if abandoned:
            for sub, row in self.store.settle_abandoned(now.timestamp() - self.config.lease):
                label = f"{sub.platform}:{sub.channel}:{row.local_date}"
                log.warning(
                    "daily post %s was left sending by a process that stopped: counted as sent, unconfirmed", label
                )
                report.unconfirmed.append(label)
                self.spend(sub, row.quote_key, row.cycle)
        if due:
            _Pass(self, now, posters, report, stop or threading.Event()).run()
        report.sort()
        if any((report.posted, report.skipped, report.paused, report.failed, report.unconfirmed, report.stopped)):
            log.info("daily posts: %s", report.summary())
        return report


_STOPPED = -1.0  # the platform refused the bot: leave the subscription as it is


class _Pacer:
    """Spaces the starts of posts per workspace or per bot, at each poster's pace, and holds a whole
    workspace back when the platform says Retry-After."""

    def __init__(self, posters: Mapping[str, Poster], rates: Mapping[str, float]) -> None:
        self.paces = {name: _pace_of(poster) for name, poster in posters.items()}
        self.rates = {name: rates.get(name, pace.rate) for name, pace in self.paces.items()}
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def key(self, sub: Subscription) -> str:
        """Whose posts are spaced together: the workspace's or the whole bot's, as the poster says."""
        pace = self.paces.get(sub.platform, Pace())
        return f"{sub.platform}:{sub.workspace}" if pace.per_workspace else sub.platform

    def wait(self, key: str, platform: str) -> None:
        rate = self.rates.get(platform, 0.0)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(key, now))
            self._next[key] = start + (1.0 / rate if rate > 0 else 0.0)
        if start > now:
            time.sleep(start - now)

    def hold(self, key: str, seconds: float) -> None:
        with self._lock:
            self._next[key] = max(self._next.get(key, 0.0), time.monotonic() + seconds)


class _Writes:
    """A pass's group commit: the workers' claims and confirmations, written by one thread, each
    batch in one transaction (all that arrived while the last one was being written). A worker
    waits for its own result, so a claim is committed before its post is sent, as when it writes alone."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ready = threading.Condition()
        self._claims: list[tuple[Claim, Future[Delivery | None]]] = []
        self._confirmations: list[tuple[Confirmation, Future[tuple[bool, bool]]]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="daily-writes", daemon=True)
        self._thread.start()

    def claim(self, claim: Claim) -> Delivery | None:
        """`Store.begin_sending`, in the next batch."""
        done: Future[Delivery | None] = Future()
        with self._ready:
            self._claims.append((claim, done))
            self._ready.notify()
        return done.result()

    def confirm(self, confirmation: Confirmation) -> tuple[bool, bool]:
        """`Store.confirm`, in the next batch."""
        done: Future[tuple[bool, bool]] = Future()
        with self._ready:
            self._confirmations.append((confirmation, done))
            self._ready.notify()
        return done.result()

    def close(self) -> None:
        """Write what is waiting, then stop."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not (self._claims or self._confirmations or self._closed):
                    self._ready.wait()
                claims, self._claims = self._claims, []
                confirmations, self._confirmations = self._confirmations, []
                if not (claims or confirmations):
                    return
            try:
                self._write(claims, confirmations)
            except BaseException as exc:  # never leave a worker waiting on a writer that is gone
                for _, claimed_ in claims:
                    if not claimed_.done():
                        claimed_.set_exception(exc)
                for _, settled_ in confirmations:
                    if not settled_.done():
                        settled_.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise

    def _write(
        self,
        claims: list[tuple[Claim, Future[Delivery | None]]],
        confirmations: list[tuple[Confirmation, Future[tuple[bool, bool]]]],
    ) -> None:
        try:
            claimed, settled = self.store.write_posts([c for c, _ in claims], [c for c, _ in confirmations])
        except Exception as exc:
            if len(claims) + len(confirmations) == 1:
                for _, claimed_ in claims:
                    claimed_.set_exception(exc)
                for _, settled_ in confirmations:
                    settled_.set_exception(exc)
                return
            # nothing of the batch was written: each request on its own, so one bad one fails alone
            for claim in claims:
                self._write([claim], [])
            for confirmation in confirmations:
                self._write([], [confirmation])
            return
        for (_, claimed_), delivery in zip(claims, claimed, strict=True):
            claimed_.set_result(delivery)
        for (_, settled_), moved in zip(confirmations, settled, strict=True):
            settled_.set_result(moved)


class _Pass:
    """One run over the due subscriptions: `run` leases them in batches and hands each to a worker
    thread (`subscription`).

    A post needs two writes: the claim (the day's row, inserted `sending`, with the quotation
    chosen from the subscription's cursor) and the confirmation (the row `posted`, the subscription's
    next due time and its cursor, together). The workers' writes go through one group commit
    (`_Writes`), so many posts share a transaction. Leasing a batch adds one write per batch."""

    def __init__(
        self, daily: Daily, now: dt.datetime, posters: Mapping[str, Poster], report: RunReport, stop: threading.Event
    ) -> None:
        self.daily = daily
        self.stop = stop
        self.store = daily.store
        self.config = daily.config
        self.now = now
        self.posters = posters
        self.report = report
        self.pacer = _Pacer(posters, daily.config.pace)
        self.stopped: set[str] = set()
        self._lock = threading.Lock()
        self.leased: dict[int, float] = {}  # subscription id -> its lease, until the pass writes its due time
        self.replies: dict[tuple[int, dt.date], Reply] = {}

    def run(self) -> None:
        workers = max(1, self.config.workers)
        batch = 4 * workers
        started, now = time.monotonic(), self.now.timestamp()
        self.writes = _Writes(self.store)
        try:
            self._run(workers, batch, started, now)
        finally:
            self.writes.close()
        self._release()

    def _run(self, workers: int, batch: int, started: float, now: float) -> None:
        with ThreadPoolExecutor(workers, thread_name_prefix="daily-post") as pool:
            in_flight: set[Future[None]] = set()
            while not self.stop.is_set():
                platforms = [p for p in self.posters if p not in self.stopped]
                if not platforms:
                    break
                # the lease runs from the pass's clock moved on by the time the pass has taken
                until = now + (time.monotonic() - started) + self.config.lease
                try:
                    subs = self.store.lease(now, until, platforms, batch)
                except Exception:  # the database is gone: finish what is in flight; the next pass goes on
                    log.exception("daily posts: could not take more channels for this pass; the next pass will")
                    break
                if not subs:
                    break
                with self._lock:
                    self.leased.update((sub.id, sub.due_at) for sub in subs)
                in_flight |= {pool.submit(self.subscription, sub) for sub in subs}
                while len(in_flight) > batch:  # lease the next batch while this one finishes
                    _, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            wait(in_flight)

    def _release(self) -> None:
        """What the pass leased and did not settle (stopped, refused, or failed) is due again now."""
        with self._lock:
            left = sorted(self.leased.items())
        if not left:
            return
        try:
            self.store.release(left, self.now.timestamp())
        except Exception:
            log.exception("daily posts: %d channels not settled in this pass stay held until their lease runs out",
                          len(left))  # fmt: skip

    def _settled(self, sub: Subscription) -> None:
        with self._lock:
            self.leased.pop(sub.id, None)

    def subscription(self, sub: Subscription) -> None:
        try:
            self._subscription(sub)
        except Exception as exc:
            with self._lock:
                first = not self.report.failed
                self.report.failed.append(f"{sub.platform}:{sub.channel}")
            # the first failure with its traceback; a database gone would otherwise print one per channel
            log.error(
                "daily posts to %s:%s failed (%s); the other channels go on",
                sub.platform, sub.channel, type(exc).__name__, exc_info=first,
            )  # fmt: skip

    def _refused(self, sub: Subscription) -> bool:
        """Whether the platform, or the subscription's workspace, refused the bot in this pass."""
        return sub.platform in self.stopped or f"{sub.platform}:{sub.workspace}" in self.stopped

    def _subscription(self, sub: Subscription) -> None:
        if self._refused(sub) or self.stop.is_set():
            return
        local_today = self.now.astimezone(ZoneInfo(sub.timezone)).date()
        day = local_today - _DAY  # yesterday's post may still be made up; older ones are long past
        if sub.due_day:
            day = max(day, dt.date.fromisoformat(sub.due_day))
        while True:
            at = scheduled_at(day, sub.post_time, sub.timezone)
            if self.now < at:
                break
            if at.timestamp() >= sub.created_at:  # else the slot was before the channel subscribed
                back, sub = self._day(sub, day, at)
                if back == _STOPPED:
                    return
                if back is not None:
                    self.store.set_due(sub, back, day.isoformat())
                    self._settled(sub)
                    return
            day += _DAY
        if (sub.due_day, sub.due_at) != (day.isoformat(), at.timestamp()):
            self.store.set_due(sub, at.timestamp(), day.isoformat())
        self._settled(sub)

    def _day(self, sub: Subscription, day: dt.date, at: dt.datetime) -> tuple[float | None, Subscription]:
        """Settle one due day: (None when it is settled, else when to look at it again; the
        subscription as it stands now)."""
        key, label = day.isoformat(), f"{sub.platform}:{sub.channel}:{day.isoformat()}"
        if self.now - at > self.config.window:
            reason = f"missed: more than {self.config.window} late"
            if self.store.skip(sub.id, key, reason):
                log.warning("daily post %s skipped (%s)", label, reason)
                self.report.skipped.append(label)
            else:
                existing = self.store.delivery(sub.id, key)
                if existing is not None and existing.status == Status.CLAIMED and self.store.expire(existing, reason):
                    log.warning("daily post %s skipped after failed attempts (%s)", label, reason)
                    self.report.skipped.append(label)
            return None, sub
        daily = self.daily
        self.pacer.wait(
            self.pacer.key(sub), sub.platform
        )  # before claiming: a row waits `sending` only while it is sent
        channel_key = f"{sub.platform}:{sub.channel}"
        choice, cycle = choose(daily.pool, daily.cursor(sub), channel_key, day, daily.seed)
        now = self.now.timestamp()
        claim = self.writes.claim(Claim(sub.id, key, choice.key, cycle, now))
        if claim is None:  # the day has a row: a retry whose wait is over is ours to send
            # another process may have moved the subscription on meanwhile: read it again
            sub = self.store.subscription_by_id(sub.id) or sub
            claim = self.store.resume(sub.id, key, now)
            if claim is None:
                existing = self.store.delivery(sub.id, key)
                if existing is not None and existing.status == Status.CLAIMED:
                    return max(existing.next_attempt_at, now + 1.0), sub
                if existing is not None and existing.status == Status.SENDING:
                    # Another process is sending it now. The day stays due here until that process
                    # settles it: if the platform refuses it, it puts the row back `claimed`, and a
                    # day moved on from here would never be looked at again.
                    return now + 1.0, sub
                return None, sub  # settled
            # the quotation was chosen when the day was first tried; it may since have left the corpus
            choice = daily._by_key.get(claim.quote_key) or choice
        return self._send(sub, day, claim, choice, label)

    def _confirm(
        self, sub: Subscription, day: dt.date, claim: Delivery, clock: float, error: str | None = None
    ) -> Subscription:
        """Settle a sent post in one transaction with the subscription's next due time (the next
        day's slot; a pass still looks at that day if it is due already) and its quotation cursor."""
        daily, nxt = self.daily, day + _DAY
        before = daily.cursor(sub)
        after = take(daily.pool, before, claim.quote_key, claim.cycle, f"{sub.platform}:{sub.channel}", daily.seed)
        then = Settled(scheduled_at(nxt, sub.post_time, sub.timezone).timestamp(), nxt.isoformat(), sub.cursor, after)
        settled, moved = self.writes.confirm(Confirmation(claim, clock, sub, then, error))
        if not settled:
            return sub  # not ours any more (it cannot happen while the claim token is ours)
        if moved:
            return replace(
                sub, due_at=then.due_at, due_day=then.due_day, quote_cycle=after.cycle, quote_mark=after.mark,
                quote_ahead=json.dumps(list(after.ahead)),
            )  # fmt: skip
        # another process moved the cursor meanwhile (a rare race): count the quotation on what it wrote
        daily.spend(sub, claim.quote_key, claim.cycle)
        return self.store.subscription_by_id(sub.id) or sub

    def _send(
        self, sub: Subscription, day: dt.date, claim: Delivery, choice: QuoteChoice, label: str
    ) -> tuple[float | None, Subscription]:
        daily, poster, pace = self.daily, self.posters[sub.platform], self.pacer.key(sub)
        reply = self.replies.get((id(choice), day))
        if reply is None:  # the same quotation on the same day reads the same in every channel
            reply = daily.voice.quote(choice.passage, choice.quote, day.isoformat(), daily=True)
            self.replies[(id(choice), day)] = reply  # the pool holds every choice for the pass
        clock = self.now.timestamp()  # moves on only by a Retry-After waited out in this pass
        while True:
            if self._refused(sub):
                self.store.retry_later(claim, 0.0, "not sent: the platform refused the bot", count=False)
                return _STOPPED, sub
            try:
                poster.post(sub.channel, reply, f"{sub.channel}:{day.isoformat()}", workspace=sub.workspace)
            except ChannelGone as exc:
                self.store.fail(claim, str(exc))
                self.store.pause(sub.id, str(exc))
                log.warning("daily posts to %s:%s paused: %s", sub.platform, sub.channel, exc)
                self.report.paused.append(label)
                return None, sub
            except TokenRejected as exc:
                self.store.retry_later(claim, 0.0, str(exc), count=False)  # nothing was posted; nobody's fault here
                self._stop(sub.platform if exc.workspace is None else f"{sub.platform}:{exc.workspace}", str(exc))
                return _STOPPED, sub
            except PostLater as exc:
                tries = claim.attempts + 1
                if tries >= self.config.max_attempts:
                    self.store.fail(claim, f"gave up after {tries} attempts: {exc}")
                    log.error("daily post %s failed after %d attempts: %s", label, tries, exc)
                    self.report.failed.append(label)
                    return None, sub
                told = exc.retry_after is not None
                wait = exc.retry_after if exc.retry_after is not None else self.config.backoff * 2**claim.attempts
                if told:
                    self.pacer.hold(pace, wait)  # the whole workspace waits, not just this channel
                again = clock + wait
                self.store.retry_later(claim, again, str(exc))
                if told and wait <= self.config.max_wait:
                    self.pacer.wait(pace, sub.platform)  # returns once the hold is over
                    clock = again
                    resumed = self.store.resume(sub.id, day.isoformat(), clock)
                    if resumed is None:
                        return None, sub  # another process took it meanwhile
                    claim = resumed
                    continue
                log.warning("daily post %s will be retried in %.0f s: %s", label, wait, exc)
                self.report.retrying.append(label)
                return again, sub
            except OutcomeUnknown as exc:
                sub = self._confirm(sub, day, claim, clock, str(exc))
                log.warning("daily post %s may or may not have arrived (%s): counted as sent, not resent", label, exc)
                self.report.unconfirmed.append(label)
                return None, sub
            except Exception as exc:
                # Unknown failure after the call began: it may have posted. Never send twice.
                log.exception("daily post %s failed while sending; counted as sent, unconfirmed, not resent", label)
                sub = self._confirm(sub, day, claim, clock, f"unexpected error while sending: {type(exc).__name__}")
                self.report.unconfirmed.append(label)
                return None, sub
            sub = self._confirm(sub, day, claim, clock)
            self.report.posted.append(label)
            return None, sub

    def _stop(self, platform: str, reason: str) -> None:
        with self._lock:
            if platform in self.stopped:
                return
            self.stopped.add(platform)
            self.report.stopped.append(f"{platform}: {reason}")
        log.error(
            "daily posts to %s stopped: the platform refused the bot (%s); every subscription is left as it was",
            platform,
            reason,
        )
