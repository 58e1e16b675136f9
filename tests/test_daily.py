"""Daily posts in the core: selection, time zones and DST, make-up, exactly once, failures.
Every test runs on SQLite, and on PostgreSQL too where CI provides one."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot import Kind, Maisky, Reply
from bot.club.daily import Daily, DailyConfig, next_quote
from bot.club.schedule import parse_time, parse_zone, scheduled_at
from bot.ops.store import MIGRATIONS, Claim, Confirmation, Cursor, Settled, Status, Store
from bot.sources.quotes import maisky_quotes
from tests.daily_support import (
    ChannelGone,
    OutcomeUnknown,
    PostLater,
    RecordingPoster,
    TokenRejected,
    database_urls,
    fresh_database,
)

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(params=database_urls())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request.param, tmp_path)


def make_daily(core: Maisky, url: str, **config: object) -> Daily:
    return Daily(Store(url), core.corpus, core.voice, DailyConfig(**config))  # type: ignore[arg-type]


def subscribe(
    d: Daily, channel: str = "C1", time: str = "09:00", zone: str = "UTC", now: str = "2026-01-01T00:00"
) -> None:
    reply = d.subscribe("slack", channel, "T1", "U1", time, zone, at(now))
    assert reply.kind is Kind.NOTICE and "Every day at" in reply.narration


# time of day


def test_parse_time_and_zone() -> None:
    assert parse_time("9:00") == "09:00" and parse_time("21h30") == "21:30" and parse_time("18.05") == "18:05"
    assert parse_time("25:00") is None and parse_time("noon") is None
    assert parse_zone("europe/london") == "Europe/London" and parse_zone("Mars/Olympus") is None
    assert parse_zone("../etc/passwd") is None


def test_dst_gap_moves_forward_and_overlap_takes_the_first() -> None:
    # London springs forward at 01:00 GMT on 2026-03-29: 01:30 does not exist that day
    assert scheduled_at(dt.date(2026, 3, 29), "01:30", "Europe/London") == at("2026-03-29T01:30")  # = 02:30 BST
    # New York: 02:30 does not exist on 2026-03-08; it becomes 03:30 EDT = 07:30 UTC
    assert scheduled_at(dt.date(2026, 3, 8), "02:30", "America/New_York") == at("2026-03-08T07:30")
    # London falls back on 2026-10-25: 01:30 happens at 00:30 UTC (BST) and 01:30 UTC (GMT)
    assert scheduled_at(dt.date(2026, 10, 25), "01:30", "Europe/London") == at("2026-10-25T00:30")
    assert scheduled_at(dt.date(2026, 7, 1), "09:00", "Asia/Tokyo") == at("2026-07-01T00:00")


# choosing the quotation


def test_no_repeat_until_all_posted_then_a_new_order(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d)
    poster = RecordingPoster()
    n = len(d.pool)
    day = at("2026-01-10T09:00")
    for i in range(2 * n):
        d.run_due(day + dt.timedelta(days=i), {"slack": poster})
    texts = [r.passage for _, r in poster.posts]
    assert len(texts) == 2 * n
    first, second = texts[:n], texts[n:]
    assert len(set(first)) == n and set(first) == set(second)
    assert first != second  # a new cycle comes in a new order
    sub = d.store.subscription("slack", "C1")
    assert sub is not None
    assert {x.cycle for x in d.store.deliveries(sub.id)} == {0, 1}


def test_on_this_day_goes_first(core: Maisky) -> None:
    pool = maisky_quotes(core.corpus)
    choice, cycle = next_quote(pool, [], "slack:C1", dt.date(2026, 9, 3))
    assert choice.passage.date == "1939-09-03" and cycle == 0
    assert "Looking terribly depressed" in choice.quote.text


def test_selection_is_deterministic_and_differs_between_channels(core: Maisky) -> None:
    pool = maisky_quotes(core.corpus)
    day = dt.date(2026, 1, 10)
    assert next_quote(pool, [], "slack:C1", day) == next_quote(pool, [], "slack:C1", day)
    firsts = {next_quote(pool, [], f"slack:C{i}", day)[0].key for i in range(20)}
    assert len(firsts) > 1


def test_daily_post_is_maiskys_own_words_cited(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d)
    poster = RecordingPoster()
    d.run_due(at("2026-01-10T09:00"), {"slack": poster})
    ((channel, reply),) = poster.posts
    assert channel == "C1" and reply.kind is Kind.QUOTE and reply.label == "Maisky as narrator"
    assert reply.passage_by.startswith("Ivan Maisky, ") and reply.citation is not None
    assert reply.passage in reply.citation.line or reply.passage in core.corpus.passage(reply.citation.passage_id).text


# when and how often


def test_posts_once_at_its_time_and_not_before(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d, time="09:00", zone="Europe/Paris")  # 08:00 UTC in winter
    poster = RecordingPoster()
    assert not d.run_due(at("2026-01-10T07:59"), {"slack": poster}).posted
    assert d.run_due(at("2026-01-10T08:00"), {"slack": poster}).posted == ["slack:C1:2026-01-10"]
    assert not d.run_due(at("2026-01-10T08:01"), {"slack": poster}).posted
    assert len(poster.posts) == 1


def test_a_slot_before_subscribing_is_not_posted(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d, time="09:00", now="2026-01-10T10:00")
    poster = RecordingPoster()
    assert not d.run_due(at("2026-01-10T10:01"), {"slack": poster}).posted
    assert d.run_due(at("2026-01-11T09:00"), {"slack": poster}).posted


def test_ambiguous_time_posts_once(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d, time="01:30", zone="Europe/London")
    poster = RecordingPoster()
    d.run_due(at("2026-10-25T00:31"), {"slack": poster})  # first 01:30 (BST)
    d.run_due(at("2026-10-25T01:31"), {"slack": poster})  # second 01:30 (GMT)
    assert len(poster.posts) == 1


def test_nonexistent_time_still_posts_that_day(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d, time="01:30", zone="Europe/London")
    poster = RecordingPoster()
    assert not d.run_due(at("2026-03-29T01:29"), {"slack": poster}).posted
    assert d.run_due(at("2026-03-29T01:30"), {"slack": poster}).posted == ["slack:C1:2026-03-29"]


def test_missed_post_is_made_up_within_the_window_else_skipped(
    core: Maisky, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    d = make_daily(core, url, window=dt.timedelta(hours=6))
    subscribe(d, "C1", "09:00")
    subscribe(d, "C2", "09:00")
    poster = RecordingPoster()
    assert d.run_due(at("2026-01-10T14:59"), {"slack": poster}).posted == ["slack:C1:2026-01-10", "slack:C2:2026-01-10"]
    caplog.set_level(logging.WARNING)
    report = d.run_due(at("2026-01-11T15:01"), {"slack": poster})  # back after 6 h 1 min
    assert report.skipped == ["slack:C1:2026-01-11", "slack:C2:2026-01-11"] and not report.posted
    assert any("skipped" in r.getMessage() for r in caplog.records)
    assert not d.run_due(at("2026-01-11T16:00"), {"slack": poster}).skipped  # logged once, not every run


def test_made_up_across_midnight(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d, time="23:00")
    poster = RecordingPoster()
    assert d.run_due(at("2026-01-11T01:00"), {"slack": poster}).posted == ["slack:C1:2026-01-10"]


# exactly once


def test_restart_does_not_post_again(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d)
    poster = RecordingPoster()
    d.run_due(at("2026-01-10T09:00"), {"slack": poster})
    again = make_daily(core, url)  # a new process over the same database
    assert again.store.version == len(MIGRATIONS)
    again.run_due(at("2026-01-10T09:05"), {"slack": poster})
    assert len(poster.posts) == 1


def test_a_day_chosen_but_not_sent_is_posted_once_later(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d)
    sub = d.store.subscription("slack", "C1")
    assert sub is not None
    decided = d.store.claim(sub.id, "2026-01-10", d.pool[0].key, 0, at("2026-01-10T09:00").timestamp())
    assert decided is not None and decided.status == Status.CLAIMED  # known not sent
    poster = RecordingPoster()
    report = make_daily(core, url).run_due(at("2026-01-10T09:05"), {"slack": poster})
    assert report.posted == ["slack:C1:2026-01-10"]
    assert poster.posts[0][1].passage == d.pool[0].quote.text  # the decision stands
    make_daily(core, url).run_due(at("2026-01-10T09:30"), {"slack": poster})
    assert len(poster.posts) == 1


def test_crash_while_posting_never_posts_twice_and_counts_as_unconfirmed(core: Maisky, url: str) -> None:
    d = make_daily(core, url, lease=600)
    subscribe(d)
    sub = d.store.subscription("slack", "C1")
    assert sub is not None
    # the claim and the start of sending are one write; then the process died mid-call
    assert d.store.begin_sending(sub.id, "2026-01-10", d.pool[0].key, 0, at("2026-01-10T09:00").timestamp())
    assert "1 posted so far, 1 of them unconfirmed" in d.status("slack", "C1", at("2026-01-10T09:01")).narration
    poster = RecordingPoster()
    assert not make_daily(core, url).run_due(at("2026-01-10T09:05"), {"slack": poster}).unconfirmed  # in flight?
    later = make_daily(core, url).run_due(at("2026-01-10T09:11"), {"slack": poster})
    assert later.unconfirmed == ["slack:C1:2026-01-10"] and not later.posted  # reported once the lease is over
    assert poster.posts == []  # at most once: it may already be in the channel
    assert d.store.delivery(sub.id, "2026-01-10").status == Status.UNCONFIRMED  # type: ignore[union-attr]
    assert not make_daily(core, url).run_due(at("2026-01-10T09:30"), {"slack": poster}).unconfirmed  # reported once
    assert "1 posted so far, 1 of them unconfirmed" in d.status("slack", "C1", at("2026-01-10T09:31")).narration
    d.run_due(at("2026-01-11T09:00"), {"slack": poster})
    assert len(poster.posts) == 1  # the next day goes on as usual, with another quotation
    assert poster.posts[0][1].passage != d.pool[0].quote.text


def test_an_unknown_outcome_is_never_resent_and_is_shown(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d)
    poster = RecordingPoster(fail=[OutcomeUnknown("timed out after sending")])
    report = d.run_due(at("2026-01-10T09:00"), {"slack": poster})
    assert report.unconfirmed == ["slack:C1:2026-01-10"] and not report.ok
    for minute in range(1, 4):
        assert not d.run_due(at(f"2026-01-10T09:0{minute}"), {"slack": poster}).posted
    assert poster.posts == [] and len(poster.keys) == 1
    assert "1 posted so far, 1 of them unconfirmed" in d.status("slack", "C1", at("2026-01-10T10:00")).narration
    assert d.run_due(at("2026-01-11T09:00"), {"slack": poster}).posted  # the next day is posted normally
    assert "2 posted so far, 1 of them unconfirmed" in d.status("slack", "C1", at("2026-01-11T10:00")).narration


def test_every_attempt_at_a_day_carries_the_same_key(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d, "C1")
    subscribe(d, "C2")
    poster = RecordingPoster(fail=[PostLater("busy", retry_after=0.05)])
    d.run_due(at("2026-01-10T09:00"), {"slack": poster})
    d.run_due(at("2026-01-11T09:00"), {"slack": poster})
    expected = ["C1:2026-01-10", "C2:2026-01-10", "C1:2026-01-11", "C2:2026-01-11", poster.keys[0]]
    assert sorted(poster.keys) == sorted(expected)  # the retry of the first post carried its key again
    assert len(poster.posts) == 4


def test_two_schedulers_sharing_one_database(core: Maisky, url: str) -> None:
    first, second = make_daily(core, url), make_daily(core, url)
    for i in range(6):
        subscribe(first, f"C{i}")
    poster = RecordingPoster()
    start = threading.Barrier(2)

    def run(d: Daily) -> None:
        start.wait()
        for minute in range(3):
            d.run_due(at(f"2026-01-10T09:0{minute}"), {"slack": poster})

    threads = [threading.Thread(target=run, args=(d,)) for d in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads)
    assert sorted(c for c, _ in poster.posts) == [f"C{i}" for i in range(6)]


# failures


def test_channel_gone_pauses_the_subscription(core: Maisky, url: str, caplog: pytest.LogCaptureFixture) -> None:
    d = make_daily(core, url)
    subscribe(d)
    poster = RecordingPoster(fail=[ChannelGone("channel_not_found")])
    caplog.set_level(logging.WARNING)
    assert d.run_due(at("2026-01-10T09:00"), {"slack": poster}).paused == ["slack:C1:2026-01-10"]
    assert any("paused" in r.getMessage() for r in caplog.records)
    assert "paused: channel_not_found" in d.status("slack", "C1", at("2026-01-10T09:01")).narration
    assert not d.run_due(at("2026-01-11T09:00"), {"slack": poster}).posted  # no longer tried
    subscribe(d, now="2026-01-11T10:00")  # fixed: subscribe again
    assert d.run_due(at("2026-01-12T09:00"), {"slack": poster}).posted


def test_transient_errors_are_retried_with_backoff_then_given_up(core: Maisky, url: str) -> None:
    d = make_daily(core, url, backoff=60.0, max_attempts=3)
    subscribe(d, "C1")
    poster = RecordingPoster(fail=[PostLater("ratelimited")])
    assert d.run_due(at("2026-01-10T09:00"), {"slack": poster}).retrying == ["slack:C1:2026-01-10"]
    assert not d.run_due(at("2026-01-10T09:00:30"), {"slack": poster}).posted  # backing off
    assert d.run_due(at("2026-01-10T09:01:01"), {"slack": poster}).posted == ["slack:C1:2026-01-10"]
    subscribe(d, "C2")
    d.store.pause(d.store.subscription("slack", "C1").id, "test")  # type: ignore[union-attr]
    stubborn = RecordingPoster(fail=[PostLater("down")] * 3)
    d.run_due(at("2026-01-11T09:00"), {"slack": stubborn})
    d.run_due(at("2026-01-11T09:01:01"), {"slack": stubborn})
    assert d.run_due(at("2026-01-11T09:03:01"), {"slack": stubborn}).failed == ["slack:C2:2026-01-11"]
    assert stubborn.posts == []


def test_an_unknown_error_while_posting_is_not_retried(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d)
    poster = RecordingPoster(fail=[RuntimeError("socket closed mid-request")])
    assert d.run_due(at("2026-01-10T09:00"), {"slack": poster}).unconfirmed == ["slack:C1:2026-01-10"]
    assert not d.run_due(at("2026-01-10T09:30"), {"slack": poster}).posted


# the commands


def test_subscribe_status_preview_unsubscribe(core: Maisky, url: str) -> None:
    d = make_daily(core, url, default_time="08:15", default_timezone="Europe/London")
    now = at("2026-01-10T07:00")
    assert "no daily quotation" in d.status("slack", "C1", now).narration
    reply = d.subscribe("slack", "C1", "T1", "U1", "", "", now)
    assert "08:15 (Europe/London)" in reply.narration and "2026-01-10 08:15 GMT" in reply.narration
    assert "next 2026-01-10 08:15 GMT; 0 posted" in d.status("slack", "C1", now).narration
    preview = d.preview("slack", "C1", now)
    poster = RecordingPoster()
    d.run_due(at("2026-01-10T08:15"), {"slack": poster})
    assert poster.posts[0][1].passage == preview.passage  # preview shows what comes next
    assert "As you wish" in d.unsubscribe("slack", "C1").narration
    assert "no daily quotation" in d.unsubscribe("slack", "C1").narration


@pytest.mark.parametrize(("time", "zone", "expect"), [("25:00", "", "HH:MM"), ("9", "", "for example 09:00"),
                                                      ("", "Mars/Base", "Europe/London")])  # fmt: skip
def test_bad_time_or_zone_gets_an_example(core: Maisky, url: str, time: str, zone: str, expect: str) -> None:
    reply = make_daily(core, url).subscribe("slack", "C1", "T1", "U1", time, zone, at("2026-01-10T07:00"))
    assert expect in reply.narration


def test_bad_database_url_is_a_clear_config_error(tmp_path: Path) -> None:
    from bot import ConfigError

    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Store("nosuchdb://x")
    with pytest.raises(ConfigError, match="DATABASE_URL: cannot open"):
        Store(f"sqlite:///{tmp_path}/missing/dir/x.db")


def test_statuses_are_recorded(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d)
    d.run_due(at("2026-01-10T09:00"), {"slack": RecordingPoster()})
    sub = d.store.subscription("slack", "C1")
    assert sub is not None
    rows = {r.local_date: r for r in d.store.deliveries(sub.id)}
    assert rows["2026-01-10"].status == Status.POSTED and rows["2026-01-10"].posted_at
    assert rows["2026-01-09"].status == Status.SKIPPED  # the day before was missed by far more than the window


def test_the_in_process_scheduler_posts_and_stops(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    # Due a minute ago by the real clock, which serve() reads: any fixed time is outside the
    # make-up window for part of every day.
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).strftime("%H:%M")
    d.subscribe("slack", "C1", "T1", "U1", due, "UTC", at("2000-01-01T00:00"))
    poster = RecordingPoster()
    stop = threading.Event()
    worker = threading.Thread(target=d.serve, args=({"slack": poster}, stop, 0.05))
    worker.start()
    deadline = time.monotonic() + 180
    while not poster.posts and time.monotonic() < deadline:
        stop.wait(0.05)  # a poll interval
    stop.set()
    worker.join(180)  # a pass in progress finishes first
    assert not worker.is_alive()
    assert len(poster.posts) == 1  # today's post, once, though the loop ran many times


def test_ci_runs_the_store_tests_on_postgresql() -> None:
    """On CI the PostgreSQL half of these tests must not silently vanish."""
    import os

    if os.environ.get("CI") != "true":  # .ci/run sets it; elsewhere PostgreSQL is optional
        pytest.skip("PostgreSQL is required only on CI")
    assert database_urls() == ["sqlite", "postgresql"]


# the bot refused, a database gone, many channels at once


def test_a_refused_token_stops_the_run_and_pauses_nothing(
    core: Maisky, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    d = make_daily(core, url, workers=1)
    for i in range(4):
        subscribe(d, f"C{i}")
    caplog.set_level(logging.ERROR)
    refused = RecordingPoster(fail=[TokenRejected("invalid_auth")] * 10)
    report = d.run_due(at("2026-01-10T09:00"), {"slack": refused})
    assert report.stopped == ["slack: invalid_auth"] and not report.posted and not report.paused and not report.ok
    assert len(refused.keys) == 1  # the first refusal stops the platform's run
    assert len([r for r in caplog.records if "stopped" in r.getMessage()]) == 1
    assert all(s.active and not s.paused_reason for s in d.store.active()) and len(d.store.active()) == 4
    fixed = RecordingPoster()
    report = d.run_due(at("2026-01-10T09:10"), {"slack": fixed})  # the token is fixed
    assert report.posted == [f"slack:C{i}:2026-01-10" for i in range(4)] and report.ok
    assert "1 posted so far" in d.status("slack", "C0", at("2026-01-10T10:00")).narration


def test_a_refused_token_with_workers_still_posts_each_channel_once_later(core: Maisky, url: str) -> None:
    d = make_daily(core, url, workers=4)
    for i in range(8):
        subscribe(d, f"C{i}")
    refused = RecordingPoster(fail=[TokenRejected("token_revoked")] * 20)
    assert d.run_due(at("2026-01-10T09:00"), {"slack": refused}).stopped == ["slack: token_revoked"]
    fixed = RecordingPoster()
    d.run_due(at("2026-01-10T09:10"), {"slack": fixed})
    d.run_due(at("2026-01-10T09:20"), {"slack": fixed})
    assert sorted(c for c, _ in fixed.posts) == [f"C{i}" for i in range(8)]


def test_one_platform_refused_does_not_stop_another(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d, "C1")
    d.subscribe("discord", "555", "G1", "U1", "09:00", "UTC", at("2026-01-01T00:00"))
    slack, discord = RecordingPoster(fail=[TokenRejected("invalid_auth")]), RecordingPoster()
    report = d.run_due(at("2026-01-10T09:00"), {"slack": slack, "discord": discord})
    assert report.posted == ["discord:555:2026-01-10"] and report.stopped == ["slack: invalid_auth"]


def test_losing_the_database_mid_run_fails_only_what_it_touches(
    core: Maisky, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlalchemy as sa

    d = make_daily(core, url, workers=1)
    for i in range(4):
        subscribe(d, f"C{i}")
    gone = threading.Event()

    @sa.event.listens_for(d.store.engine, "before_cursor_execute")
    def database_down(*args: object) -> None:
        if gone.is_set():
            raise sa.exc.OperationalError("statement", {}, ConnectionError("server closed the connection"))

    class CutsTheCable(RecordingPoster):
        def post(self, channel: str, reply: object, key: str, workspace: str = "") -> None:
            super().post(channel, reply, key)  # type: ignore[arg-type]
            if channel == "C1":
                gone.set()

    poster = CutsTheCable()
    report = d.run_due(at("2026-01-10T09:00"), {"slack": poster})  # no exception escapes
    assert report.posted == ["slack:C0:2026-01-10"] and not report.ok
    assert report.failed == ["slack:C1", "slack:C2", "slack:C3"]  # tried each, reported each
    failures = [r for r in caplog.records if "failed (OperationalError)" in r.getMessage()]
    assert len(failures) == 3 and [bool(r.exc_info) for r in failures] == [True, False, False]  # one traceback
    gone.clear()
    again = d.run_due(at("2026-01-10T09:20"), {"slack": poster})
    assert again.posted == ["slack:C2:2026-01-10", "slack:C3:2026-01-10"]
    assert again.unconfirmed == ["slack:C1:2026-01-10"]  # it was sent; its row never heard back
    assert sorted(c for c, _ in poster.posts) == ["C0", "C1", "C2", "C3"]


def test_many_channels_with_workers_post_exactly_once(core: Maisky, url: str) -> None:
    first, second = make_daily(core, url, workers=8), make_daily(core, url, workers=8)
    for i in range(40):
        first.subscribe("slack", f"C{i}", f"T{i % 3}", "U1", "09:00", "UTC", at("2026-01-01T00:00"))
    poster = RecordingPoster(fail=[PostLater("ratelimited", retry_after=0.05)] * 3)
    threads = [
        threading.Thread(target=d.run_due, args=(at("2026-01-10T09:00"), {"slack": poster})) for d in (first, second)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads)
    assert sorted(c for c, _ in poster.posts) == sorted(f"C{i}" for i in range(40))


def test_a_pass_with_nothing_due_costs_the_same_few_queries_at_any_size(core: Maisky, url: str) -> None:
    import sqlalchemy as sa

    d = make_daily(core, url, pace={})  # one workspace: unpaced, or 70 posts would take 14 s
    counts = []
    for size in (10, 60):
        for i in range(size):
            d.subscribe("slack", f"C{size}-{i}", "T1", "U1", "09:00", "UTC", at("2026-01-01T00:00"))
        d.run_due(at("2026-01-10T09:00"), {"slack": RecordingPoster()})  # today's posts, and the next ones set
        statements: list[str] = []

        def listener(*args: object, statements: list[str] = statements) -> None:
            statements.append(str(args[2]))

        sa.event.listen(d.store.engine, "before_cursor_execute", listener)
        assert not d.run_due(at("2026-01-10T12:00"), {"slack": RecordingPoster()}).posted
        sa.event.remove(d.store.engine, "before_cursor_execute", listener)
        counts.append(len([s for s in statements if not s.startswith(("BEGIN", "SELECT 1", "select pg_"))]))
    assert counts[0] == counts[1] <= 3


def test_only_the_current_cycle_is_read(core: Maisky, url: str) -> None:
    d = make_daily(core, url)
    subscribe(d)
    poster = RecordingPoster()
    n = len(d.pool)
    for i in range(n + 2):
        d.run_due(at("2026-01-10T09:00") + dt.timedelta(days=i), {"slack": poster})
    sub = d.store.subscription("slack", "C1")
    assert sub is not None
    cycle = d.store.current_cycle(sub.id)
    assert len(d.store.deliveries(sub.id)) > n + 2 and len(cycle) == 2 and {x.cycle for x in cycle} == {1}


def test_a_stop_lets_the_posts_in_flight_finish_and_starts_no_more(core: Maisky, url: str) -> None:
    d = make_daily(core, url, workers=2)
    for i in range(6):
        subscribe(d, f"C{i}")
    stop = threading.Event()

    class StopsAfterOne(RecordingPoster):
        def post(self, channel: str, reply: object, key: str, workspace: str = "") -> None:
            super().post(channel, reply, key)  # type: ignore[arg-type]
            stop.set()  # SIGTERM arrives while this post is in flight

    poster = StopsAfterOne()
    first = d.run_due(at("2026-01-10T09:00"), {"slack": poster}, stop)
    assert 1 <= len(first.posted) <= 2 and not first.failed  # the posts already started finished
    rest = d.run_due(at("2026-01-10T09:01"), {"slack": poster})  # the next pass (or process) does the rest
    assert sorted(first.posted + rest.posted) == [f"slack:C{i}:2026-01-10" for i in range(6)]
    assert len(poster.posts) == 6


def test_a_workspace_whose_own_token_is_refused_stops_alone(core: Maisky, url: str) -> None:
    d = make_daily(core, url, workers=1)
    for team in ("T1", "T2"):
        for i in range(2):
            d.subscribe("slack", f"{team}C{i}", team, "U1", "09:00", "UTC", at("2026-01-01T00:00"))

    class PerWorkspace(RecordingPoster):
        def post(self, channel: str, reply: object, key: str, workspace: str = "") -> None:
            if channel.startswith("T1"):  # that workspace uninstalled the app: its token is revoked
                raise TokenRejected("token_revoked", workspace="T1")
            super().post(channel, reply, key)  # type: ignore[arg-type]

    poster = PerWorkspace()
    report = d.run_due(at("2026-01-10T09:00"), {"slack": poster})
    assert report.stopped == ["slack:T1: token_revoked"]
    assert report.posted == ["slack:T2C0:2026-01-10", "slack:T2C1:2026-01-10"]
    assert all(s.active for s in d.store.active()) and len(d.store.active()) == 4


class _HeldThenRefused:
    """A poster that holds its first post until released, then answers that the token was revoked:
    another process meanwhile finds the day's row `sending`."""

    def __init__(self) -> None:
        self.inside, self.release = threading.Event(), threading.Event()

    def post(self, channel: str, reply: Reply, key: str, workspace: str = "") -> None:
        self.inside.set()
        assert self.release.wait(120)
        raise TokenRejected("token_revoked")


def test_a_day_another_process_was_sending_stays_due_when_that_process_is_refused(core: Maisky, url: str) -> None:
    holder, other = make_daily(core, url, workers=1), make_daily(core, url, workers=1)
    subscribe(holder, "C1")
    held = _HeldThenRefused()
    worker = threading.Thread(target=holder.run_due, args=(at("2026-01-10T09:00"), {"slack": held}))
    worker.start()
    assert held.inside.wait(120)  # the holder's row is `sending` now
    bystander = RecordingPoster()
    other.run_due(at("2026-01-10T09:01"), {"slack": bystander})  # finds the day in flight: not its to settle
    held.release.set()
    worker.join(120)
    assert not bystander.posts
    fixed = RecordingPoster()  # the token is fixed; any process's next pass posts the day
    report = other.run_due(at("2026-01-10T09:10"), {"slack": fixed})
    assert report.posted == ["slack:C1:2026-01-10"] and [c for c, _ in fixed.posts] == ["C1"]
    assert "1 posted so far" in other.status("slack", "C1", at("2026-01-10T10:00")).narration


class _Ledger:
    """Counts the transactions and SQL statements an engine runs (pool pings aside)."""

    def __init__(self, engine: object) -> None:
        import sqlalchemy as sa

        self.engine, self.transactions, self.statements, self.claims = engine, 0, [], 0
        sa.event.listen(engine, "begin", self._begin)
        sa.event.listen(engine, "before_cursor_execute", self._statement)

    def _begin(self, conn: object) -> None:
        self.transactions += 1

    def _statement(
        self, conn: object, cursor: object, statement: str, params: object, context: Any, *a: object
    ) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SELECT 1", "SELECT PG_", "COMMIT", "ROLLBACK")):
            self.statements.append(statement)
        if statement.startswith("INSERT INTO deliveries"):  # the days it tries to claim: one statement may hold several
            self.claims += len(context.compiled_parameters)

    def close(self) -> None:
        import sqlalchemy as sa

        sa.event.remove(self.engine, "begin", self._begin)
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)

    def reads(self) -> int:
        return sum(1 for s in self.statements if s.lstrip().upper().startswith("SELECT"))


def test_a_post_costs_two_transactions_and_reads_nothing_of_the_channel(core: Maisky, url: str) -> None:
    """Claim, then confirm: the quotation comes from the subscription's cursor, not its history."""
    d = make_daily(core, url, pace={})
    costs = []
    for start, total in ((10, 5), (12, 30)):
        while len(d.store.active()) < total:
            d.subscribe("slack", f"C{len(d.store.active())}", "T1", "U1", "09:00", "UTC", at("2026-01-01T00:00"))
        first = at(f"2026-01-{start}T09:00")
        assert len(d.run_due(first, {"slack": RecordingPoster()}).posted) == total  # (new ones: yesterday skipped)
        ledger = _Ledger(d.store.engine)
        report = d.run_due(first + dt.timedelta(days=1), {"slack": RecordingPoster()})  # each as on any day
        ledger.close()
        assert len(report.posted) == total and report.ok
        costs.append((ledger.transactions, len(ledger.statements), ledger.reads()))
    (t5, s5, r5), (t30, s30, r30) = costs
    posts = 30 - 5
    assert (t30 - t5) / posts <= 2  # today's main: 4 (choose, claim, confirm, next due)
    assert (s30 - s5) / posts <= 3  # the claim's insert; the confirmation's two updates
    assert r30 == r5  # no read per post: the pass's own few, whatever the number of channels


def test_a_subscription_from_before_cursors_carries_on_its_cycle(core: Maisky, url: str) -> None:

    from bot.ops.store import subscriptions

    d = make_daily(core, url)
    subscribe(d)
    poster = RecordingPoster()
    n = len(d.pool)
    day = at("2026-01-10T09:00")
    for i in range(n // 2):
        d.run_due(day + dt.timedelta(days=i), {"slack": poster})
    with d.store.engine.begin() as conn:  # as version 8 leaves a subscription made before it
        conn.execute(subscriptions.update().values(quote_cycle=-1, quote_mark=-1, quote_ahead="[]"))
    for i in range(n // 2, 2 * n):
        d.run_due(day + dt.timedelta(days=i), {"slack": poster})
    texts = [r.passage for _, r in poster.posts]
    assert len(texts) == 2 * n and len(set(texts[:n])) == n and set(texts[n:]) == set(texts[:n])
    assert d.store.subscription("slack", "C1").quote_cycle == 1  # type: ignore[union-attr]


def test_a_channel_another_pass_holds_is_not_even_tried(core: Maisky, url: str) -> None:
    """Each pass leases what it posts, so two passes at once never meet on a channel: no claim
    is wasted (today's main: the second pass tries the day the first is sending, and fails)."""
    first, second = make_daily(core, url, workers=2), make_daily(core, url, workers=2)
    for i in range(30):
        first.subscribe("slack", f"C{i}", f"T{i % 3}", "U1", "09:00", "UTC", at("2026-01-09T10:00"))
    inside, release = threading.Event(), threading.Event()

    class Holds(RecordingPoster):
        def post(self, channel: str, reply: Reply, key: str, workspace: str = "") -> None:
            if channel == "C0":
                inside.set()
                assert release.wait(120)
            super().post(channel, reply, key)

    holder, other = Holds(), RecordingPoster()
    ledgers = [_Ledger(d.store.engine) for d in (first, second)]
    reports = []
    worker = threading.Thread(target=lambda: reports.append(first.run_due(at("2026-01-10T09:00"), {"slack": holder})))
    worker.start()
    assert inside.wait(120)  # the first pass is sending C0's post
    reports.append(second.run_due(at("2026-01-10T09:01"), {"slack": other}))
    release.set()
    worker.join(120)
    for ledger in ledgers:
        ledger.close()
    assert sorted(c for c, _ in holder.posts + other.posts) == sorted(f"C{i}" for i in range(30))
    assert not set(reports[0].posted) & set(reports[1].posted)
    assert sum(ledger.claims for ledger in ledgers) == 30


def test_claims_and_confirmations_written_together_each_as_alone(core: Maisky, url: str) -> None:
    """The pass's group commit: several claims and confirmations in one transaction, each with the
    result it would have alone (a day already held refused, a row not ours left as it is)."""
    d = make_daily(core, url)
    channels = ("C1", "C2", "C3", "C4")
    for channel in channels:
        subscribe(d, channel)
    subs = [s for c in channels if (s := d.store.subscription("slack", c)) is not None]
    now, key, day = at("2026-01-10T09:00").timestamp(), d.pool[0].key, "2026-01-10"
    assert len(subs) == 4 and d.store.claim(subs[1].id, day, key, 0, now)  # C2's day is held already
    claimed, _ = d.store.write_posts([Claim(s.id, day, key, 0, now) for s in subs], [])
    assert [c is not None for c in claimed] == [True, False, True, True]
    c1, _, c3, c4 = claimed
    assert c1 and c3 and c4 and d.store.delivery(subs[0].id, day).status == Status.SENDING  # type: ignore[union-attr]

    def confirmation(sub: Any, row: Any) -> Confirmation:
        return Confirmation(row, now, sub, Settled(now + 86_400, "2026-01-11", sub.cursor, Cursor(0, -1, (key,))))

    stranger = confirmation(subs[2], replace(c3, claim_token="not ours"))
    assert d.store.write_posts([], [confirmation(subs[0], c1), stranger])[1] == [(True, True), (False, False)]
    assert d.store.delivery(subs[2].id, day).status == Status.SENDING  # type: ignore[union-attr]
    both = d.store.write_posts([], [confirmation(subs[2], c3), confirmation(subs[3], c4)])[1]
    assert both == [(True, True), (True, True)]
    for sub in (subs[0], subs[2], subs[3]):
        assert d.store.delivery(sub.id, day).status == Status.POSTED  # type: ignore[union-attr]
        after = d.store.subscription_by_id(sub.id)
        assert after is not None and after.due_day == "2026-01-11" and after.cursor.ahead == (key,)


def test_a_bad_write_in_a_shared_transaction_fails_alone() -> None:
    """Claims the writer batched together, one of them refused: each gets its own outcome."""
    from bot.club.daily import _Writes

    gate, batches = threading.Event(), []

    class OneBadDay:
        def write_posts(self, claims: list[Claim], confirmations: list[Confirmation]) -> tuple[list[Any], list[Any]]:
            batches.append(sorted(c.subscription_id for c in claims))
            if claims[0].subscription_id == 0:
                assert gate.wait(60)  # the others queue up meanwhile
            if any(c.subscription_id == 2 for c in claims):
                raise ValueError("the database refuses this one")  # and with it the whole transaction
            return [f"row {c.subscription_id}" for c in claims], []

    writes = _Writes(OneBadDay())  # type: ignore[arg-type]
    results: dict[int, object] = {}

    def claim(sid: int) -> None:
        try:
            results[sid] = writes.claim(Claim(sid, "2026-01-10", "k", 0, 0.0))
        except ValueError as exc:
            results[sid] = exc

    threads = [threading.Thread(target=claim, args=(sid,)) for sid in range(5)]
    threads[0].start()
    deadline = time.monotonic() + 60
    while not batches and time.monotonic() < deadline:
        time.sleep(0.01)
    for t in threads[1:]:
        t.start()
    while len(writes._claims) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.set()
    for t in threads:
        t.join(60)
    writes.close()
    assert [1, 2, 3, 4] in batches  # written together first
    assert [results[s] for s in (0, 1, 3, 4)] == ["row 0", "row 1", "row 3", "row 4"]
    assert isinstance(results[2], ValueError)
