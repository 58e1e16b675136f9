"""Daily quotation posts: subscriptions, when a post is due, which quotation, and exactly once.

Platform-free: a front end hands `run_due` a Poster per platform; the store's unique (channel,
local date) row decides who posts, so restarts, crashes and several processes never double-post.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.corpus import Corpus
from bot.errors import ChannelGone, PostLater
from bot.quotes import QuoteChoice, maisky_quotes
from bot.reply import Reply
from bot.schedule import parse_time, parse_zone, scheduled_at
from bot.store import Delivery, Status, Store, Subscription
from bot.voice import Voice

__all__ = ["Daily", "DailyConfig", "Poster", "RunReport", "next_quote"]

log = logging.getLogger(__name__)
_ISO_DAY = re.compile(r"^\d{4}-(\d{2})-(\d{2})$")


class Poster(Protocol):
    """Posts a reply to a channel of one platform; raises ChannelGone or PostLater."""

    def post(self, channel: str, reply: Reply) -> None: ...


@dataclass(frozen=True)
class DailyConfig:
    default_time: str = "09:00"
    default_timezone: str = "UTC"
    window: dt.timedelta = dt.timedelta(hours=6)  # a missed post is made up within this
    lease: float = 600.0  # seconds after which a silent claim may be taken over
    max_attempts: int = 5
    backoff: float = 60.0  # seconds before the first retry; doubles each time


@dataclass
class RunReport:
    posted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"posted {len(self.posted)}, skipped {len(self.skipped)}, retrying {len(self.retrying)}, "
            f"paused {len(self.paused)}, failed {len(self.failed)}"
        )


def _on_this_day(choice: QuoteChoice, day: dt.date) -> bool:
    m = _ISO_DAY.match(choice.passage.date)
    return m is not None and (int(m[1]), int(m[2])) == (day.month, day.day)


def next_quote(
    pool: Sequence[QuoteChoice], history: Sequence[Delivery], channel_key: str, day: dt.date, seed: int = 0
) -> tuple[QuoteChoice, int]:
    """The quotation for a channel's next post, and its cycle number.

    No repeat in a channel until every quotation has been posted there; then a new cycle in a new
    order. A quotation whose passage's date falls on today's month and day goes first."""
    counted = [d for d in history if d.status in (Status.POSTED, Status.SENDING, Status.CLAIMED) and d.quote_key]
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

    def __init__(self, store: Store, corpus: Corpus, voice: Voice, config: DailyConfig, seed: int = 0) -> None:
        self.store = store
        self.corpus = corpus
        self.voice = voice
        self.config = config
        self.seed = seed
        self.pool = maisky_quotes(corpus)
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

    def unsubscribe(self, platform: str, channel: str) -> Reply:
        done = self.store.unsubscribe(platform, channel)
        return self.voice.notice("daily_unsubscribed" if done else "daily_not_subscribed")

    def status(self, platform: str, channel: str, now: dt.datetime) -> Reply:
        sub = self.store.subscription(platform, channel)
        if sub is None or (not sub.active and not sub.paused_reason):
            return self.voice.notice("daily_not_subscribed")
        if not sub.active:
            return self.voice.notice("daily_paused", reason=sub.paused_reason or "")
        posted = sum(1 for d in self.store.deliveries(sub.id) if d.status == Status.POSTED)
        return self.voice.notice(
            "daily_status", time=sub.post_time, zone=sub.timezone, next=self._next_text(sub, now), posted=posted
        )

    def preview(self, platform: str, channel: str, now: dt.datetime) -> Reply:
        """The quotation this channel would get next (or gets today), without posting it."""
        sub = self.store.subscription(platform, channel)
        zone = sub.timezone if sub else self.config.default_timezone
        day = now.astimezone(ZoneInfo(zone)).date()
        history = self.store.deliveries(sub.id) if sub else []
        choice, _ = next_quote(self.pool, history, f"{platform}:{channel}", day, self.seed)
        return self.voice.quote(choice.passage, choice.quote, day.isoformat(), daily=True)

    def _next_text(self, sub: Subscription, now: dt.datetime) -> str:
        zone = ZoneInfo(sub.timezone)
        day = now.astimezone(zone).date()
        for d in (day, day + dt.timedelta(days=1)):
            at = scheduled_at(d, sub.post_time, sub.timezone)
            if at > now and not self.store.delivery(sub.id, d.isoformat()):
                return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        return (
            scheduled_at(day + dt.timedelta(days=1), sub.post_time, sub.timezone)
            .astimezone(zone)
            .strftime("%Y-%m-%d %H:%M %Z")
        )

    # posting

    def serve(self, posters: Mapping[str, Poster], stop: threading.Event, every: float = 60.0) -> None:
        """The in-process scheduler: run what is due every `every` seconds until `stop` is set.
        Each front end runs this in a thread; several processes may run it on one database."""
        log.info("daily posts: checking every %.0f s for %s", every, ", ".join(sorted(posters)))
        while not stop.is_set():
            try:
                self.run_due(dt.datetime.now(dt.UTC), posters)
            except Exception:
                log.exception("daily posts: a scheduler pass failed; trying again next time")
            stop.wait(every)

    def run_due(self, now: dt.datetime, posters: Mapping[str, Poster]) -> RunReport:
        """Post whatever is due at `now`, once. Safe to call from several processes at once."""
        report = RunReport()
        if not self.pool:
            log.warning("daily posts: the corpus holds no quotations of Maisky's own")
            return report
        for sub in self.store.active():
            poster = posters.get(sub.platform)
            if poster is None:
                continue  # that platform is not configured in this process
            local_today = now.astimezone(ZoneInfo(sub.timezone)).date()
            for day in (local_today - dt.timedelta(days=1), local_today):
                self._one(sub, day, now, poster, report)
        if any((report.posted, report.skipped, report.paused, report.failed)):
            log.info("daily posts: %s", report.summary())
        return report

    def _one(self, sub: Subscription, day: dt.date, now: dt.datetime, poster: Poster, report: RunReport) -> None:
        at = scheduled_at(day, sub.post_time, sub.timezone)
        label = f"{sub.platform}:{sub.channel}:{day.isoformat()}"
        if now < at or at.timestamp() < sub.created_at:
            return  # not yet, or the slot was before the channel subscribed
        existing = self.store.delivery(sub.id, day.isoformat())
        if existing and existing.status != Status.CLAIMED:
            return
        if now - at > self.config.window:
            reason = f"missed: more than {self.config.window} late"
            if existing is None and self.store.skip(sub.id, day.isoformat(), reason):
                log.warning("daily post %s skipped (%s)", label, reason)
                report.skipped.append(label)
            elif existing is not None and self.store.expire(existing, reason):
                log.warning("daily post %s skipped after failed attempts (%s)", label, reason)
                report.skipped.append(label)
            return
        if existing:
            choice = self._by_key.get(existing.quote_key)
            cycle = existing.cycle
        else:
            choice, cycle = next_quote(
                self.pool, self.store.deliveries(sub.id), f"{sub.platform}:{sub.channel}", day, self.seed
            )
        if choice is None:  # the quotation was removed from the corpus since it was chosen
            choice, cycle = next_quote(self.pool, [], f"{sub.platform}:{sub.channel}", day, self.seed)
        claim = self.store.claim(sub.id, day.isoformat(), choice.key, cycle, now.timestamp(), self.config.lease)
        if claim is None or not self.store.start_sending(claim):
            return  # another process owns this day's post
        choice = self._by_key.get(claim.quote_key, choice)
        reply = self.voice.quote(choice.passage, choice.quote, day.isoformat(), daily=True)
        try:
            poster.post(sub.channel, reply)
        except ChannelGone as exc:
            self.store.fail(claim, str(exc))
            self.store.pause(sub.id, str(exc))
            log.warning("daily posts to %s:%s paused: %s", sub.platform, sub.channel, exc)
            report.paused.append(label)
        except PostLater as exc:
            if claim.attempts + 1 >= self.config.max_attempts:
                self.store.fail(claim, f"gave up after {claim.attempts + 1} attempts: {exc}")
                log.error("daily post %s failed: %s", label, exc)
                report.failed.append(label)
            else:
                wait = self.config.backoff * 2**claim.attempts
                self.store.retry_later(claim, now.timestamp() + wait, str(exc))
                log.warning("daily post %s will be retried in %.0f s: %s", label, wait, exc)
                report.retrying.append(label)
        except Exception:
            # Unknown failure after the call began: it may have posted. Never send twice.
            log.exception("daily post %s failed; not retried, it may have been posted", label)
            self.store.fail(claim, "unexpected error during posting")
            report.failed.append(label)
        else:
            self.store.posted(claim, now.timestamp())
            report.posted.append(label)
