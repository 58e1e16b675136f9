"""Daily quotation posts: subscriptions, when a post is due, which quotation, and exactly once.

Platform-free: a front end hands `run_due` a Poster per platform; the store's unique (channel,
local date) row decides who posts, so restarts, crashes and several processes never double-post.
A post whose fate the platform never told us (a timeout or dropped connection after sending) is
recorded as sent, unconfirmed, and never sent again: a poster that can make a resend harmless
(Discord's message nonce) retries by itself before giving up and saying so.

One pass reads the due subscriptions with one query and posts them from a bounded pool of
worker threads, paced as each platform's poster says (per workspace or per bot), honouring Retry-After.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.chat.reply import Reply
from bot.chat.voice import Voice
from bot.club.schedule import parse_time, parse_zone, scheduled_at
from bot.errors import ChannelGone, OutcomeUnknown, PostLater, TokenRejected
from bot.ops.store import Delivery, Status, Store, Subscription
from bot.sources.corpus import Corpus
from bot.sources.quotes import QuoteChoice, maisky_quotes

__all__ = ["Daily", "DailyConfig", "Poster", "RunReport", "next_quote"]

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
    workers: int = 16  # posts in flight at once
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


def next_quote(
    pool: Sequence[QuoteChoice], history: Sequence[Delivery], channel_key: str, day: dt.date, seed: int = 0
) -> tuple[QuoteChoice, int]:
    """The quotation for a channel's next post, and its cycle number.

    No repeat in a channel until every quotation has been posted there; then a new cycle in a new
    order. A quotation whose passage's date falls on today's month and day goes first."""
    counted = [d for d in history if d.status in Status.USED and d.quote_key]
    cycle = max((d.cycle for d in counted), default=0)
    used = {d.quote_key for d in counted if d.cycle == cycle}
    remaining = [q for q in pool if q.key not in used]
    if not remaining:
        cycle, remaining = cycle + 1, list(pool)
    today = [q for q in remaining if _on_this_day(q, day)]
    if today:
        return today[0], cycle
    order = sorted(remaining, key=lambda q: random.Random(f"{seed}:{channel_key}:{cycle}:{q.key}").random())
    return order[0], cycle


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
        self.pool = list(pool) if pool is not None else maisky_quotes(corpus)
        self._by_key = {q.key: q for q in self.pool}

    # the commands

    def subscribe(
        self, platform: str, channel: str, workspace: str, by: str, time_text: str, zone_text: str, now: dt.datetime
    ) -> Reply:
        post_time = parse_time(time_text) if time_text.strip() else self.config.default_time
        zone = parse_zone(zone_text) if zone_text.strip() else self.config.default_timezone
        if post_time is None:
            return self.voice.notice("daily_bad_time", typed=time_text.strip()[:20])
        if zone is None:
            return self.voice.notice("daily_bad_zone", typed=zone_text.strip()[:40])
        sub = self.store.subscribe(platform, channel, workspace, post_time, zone, by, now.timestamp())
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
        history = self.store.current_cycle(sub.id) if sub else []
        choice, _ = next_quote(self.pool, history, f"{platform}:{channel}", day, self.seed)
        return self.voice.quote(choice.passage, choice.quote, day.isoformat(), daily=True)

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
        for sub, row in self.store.settle_abandoned(now.timestamp() - self.config.lease):
            label = f"{sub.platform}:{sub.channel}:{row.local_date}"
            log.warning("daily post %s was left sending by a process that stopped: counted as sent, unconfirmed", label)
            report.unconfirmed.append(label)
        due = self.store.due(now.timestamp(), posters)
        if due:
            one_pass = _Pass(self, now, posters, report, stop or threading.Event())
            workers = max(1, min(self.config.workers, len(due)))
            if workers == 1:
                for sub in due:
                    one_pass.subscription(sub)
            else:
                with ThreadPoolExecutor(workers, thread_name_prefix="daily-post") as pool:
                    for _ in pool.map(one_pass.subscription, due):
                        pass
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


class _Pass:
    """One run over the due subscriptions; `subscription` is called from the worker threads."""

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
                back = self._day(sub, day, at)
                if back == _STOPPED:
                    return
                if back is not None:
                    self.store.set_due(sub, back, day.isoformat())
                    return
            day += _DAY
        if (sub.due_day, sub.due_at) != (day.isoformat(), at.timestamp()):
            self.store.set_due(sub, at.timestamp(), day.isoformat())

    def _day(self, sub: Subscription, day: dt.date, at: dt.datetime) -> float | None:
        """Settle one due day; None when it is settled, else when to look at it again."""
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
            return None
        daily = self.daily
        self.pacer.wait(
            self.pacer.key(sub), sub.platform
        )  # before claiming: a row waits `sending` only while it is sent
        choice, cycle = next_quote(
            daily.pool, self.store.current_cycle(sub.id), f"{sub.platform}:{sub.channel}", day, daily.seed
        )
        now = self.now.timestamp()
        claim = self.store.begin_sending(sub.id, key, choice.key, cycle, now)
        if claim is None:  # the day has a row: a retry whose wait is over is ours to send
            claim = self.store.resume(sub.id, key, now)
            if claim is None:
                existing = self.store.delivery(sub.id, key)
                if existing is not None and existing.status == Status.CLAIMED:
                    return max(existing.next_attempt_at, now + 1.0)
                if existing is not None and existing.status == Status.SENDING:
                    # Another process is sending it now. The day stays due here until that process
                    # settles it: if the platform refuses it, it puts the row back `claimed`, and a
                    # day moved on from here would never be looked at again.
                    return now + 1.0
                return None  # settled
            # the quotation was chosen when the day was first tried; it may since have left the corpus
            choice = daily._by_key.get(claim.quote_key) or choice
        return self._send(sub, day, claim, choice, label)

    def _send(self, sub: Subscription, day: dt.date, claim: Delivery, choice: QuoteChoice, label: str) -> float | None:
        daily, poster, pace = self.daily, self.posters[sub.platform], self.pacer.key(sub)
        reply = daily.voice.quote(choice.passage, choice.quote, day.isoformat(), daily=True)
        clock = self.now.timestamp()  # moves on only by a Retry-After waited out in this pass
        while True:
            if self._refused(sub):
                self.store.retry_later(claim, 0.0, "not sent: the platform refused the bot", count=False)
                return _STOPPED
            try:
                poster.post(sub.channel, reply, f"{sub.channel}:{day.isoformat()}", workspace=sub.workspace)
            except ChannelGone as exc:
                self.store.fail(claim, str(exc))
                self.store.pause(sub.id, str(exc))
                log.warning("daily posts to %s:%s paused: %s", sub.platform, sub.channel, exc)
                self.report.paused.append(label)
                return None
            except TokenRejected as exc:
                self.store.retry_later(claim, 0.0, str(exc), count=False)  # nothing was posted; nobody's fault here
                self._stop(sub.platform if exc.workspace is None else f"{sub.platform}:{exc.workspace}", str(exc))
                return _STOPPED
            except PostLater as exc:
                tries = claim.attempts + 1
                if tries >= self.config.max_attempts:
                    self.store.fail(claim, f"gave up after {tries} attempts: {exc}")
                    log.error("daily post %s failed after %d attempts: %s", label, tries, exc)
                    self.report.failed.append(label)
                    return None
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
                        return None  # another process took it meanwhile
                    claim = resumed
                    continue
                log.warning("daily post %s will be retried in %.0f s: %s", label, wait, exc)
                self.report.retrying.append(label)
                return again
            except OutcomeUnknown as exc:
                self.store.unconfirmed(claim, clock, str(exc))
                log.warning("daily post %s may or may not have arrived (%s): counted as sent, not resent", label, exc)
                self.report.unconfirmed.append(label)
                return None
            except Exception as exc:
                # Unknown failure after the call began: it may have posted. Never send twice.
                log.exception("daily post %s failed while sending; counted as sent, unconfirmed, not resent", label)
                self.store.unconfirmed(claim, clock, f"unexpected error while sending: {type(exc).__name__}")
                self.report.unconfirmed.append(label)
                return None
            self.store.posted(claim, clock)
            self.report.posted.append(label)
            return None

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
