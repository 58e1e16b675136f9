"""Daily posts under faults, end to end: real `maisky daily run-due` processes, the real slack_sdk
and discord.py clients, and fakes that accept a post and then time out, drop the connection or
answer an error (tests/faults/fakes.py). Each test adds a row to the table printed at the end.

What must hold for every fault: no channel-day is posted twice; a channel-day is lost only when
the platform never said whether it arrived and offers no safe check (Slack), and then it is
reported as sent, unconfirmed.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.ops.store import Status, Store
from tests.conftest import ROOT
from tests.daily_support import POSTGRES, fresh_database
from tests.faults.fakes import RESULTS, FaultyDiscord, FaultySlack, Row, _Fake

TOKEN = "MTAwMA.fake.token"
DAY = "2026-01-10"
FIRST = "2026-01-10T09:05:00+00:00"  # the posts are due at 09:00 UTC
LATER = "2026-01-10T09:20:00+00:00"  # a run after a retry's backoff
AFTER_LEASE = "2026-01-10T09:30:00+00:00"  # rows a killed process left `sending` are settled


@dataclass
class Setup:
    url: str
    env: dict[str, str]
    channels: list[str]
    platform: str


def dead_url() -> str:
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def setup(url: str, platform: str, fake_url: str, channels: int, state: Path) -> Setup:
    store = Store(url)
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
    names = [f"C{i}" if platform == "slack" else str(700 + i) for i in range(channels)]
    for n, name in enumerate(names):
        store.subscribe(platform, name, f"W{n % 4}", "09:00", "UTC", "U1", created)
    store.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "MAISKY_", "DATABASE_"))}
    # a post's timeout far above how long the local fake takes to answer on a loaded machine: only a
    # `timeout` fault (which never answers) reaches it
    env |= {"DATABASE_URL": url, "MAISKY_DAILY_POST_TIMEOUT": "10", "MAISKY_STATE_DIR": str(state)}
    if platform == "slack":
        env |= {"SLACK_BOT_TOKEN": "xoxb-faults", "SLACK_API_URL": fake_url + "/api/"}
    else:
        env |= {"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake_url + "/api/v10"}
    return Setup(url, env, names, platform)


def start(s: Setup, now: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "daily", "run-due", "--now", now],
        cwd=ROOT, env=s.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def run(s: Setup, now: str) -> str:
    proc = start(s, now)
    out = proc.communicate(timeout=180)[0]
    assert "Traceback" not in out, out
    assert proc.returncode in (0, 3), out  # 3: something failed or is in doubt, and the run says what
    return out


def record(fault: str, s: Setup, fake: _Fake, database: str = "sqlite") -> Row:
    per = fake.per_channel()
    store = Store(s.url)
    unconfirmed = 0
    for name in s.channels:
        sub = store.subscription(s.platform, name)
        assert sub is not None
        row = store.delivery(sub.id, DAY)
        if row is not None and row.status in (Status.UNCONFIRMED, Status.SENDING):
            unconfirmed += 1
    store.engine.dispose()
    result = Row(
        fault=fault, database=database, channel_days=len(s.channels), posts=sum(per.values()),
        lost=sum(1 for n in s.channels if per.get(n, 0) == 0),
        duplicated=sum(1 for n in s.channels if per.get(n, 0) > 1), unconfirmed=unconfirmed,
    )  # fmt: skip
    RESULTS.append(result)
    return result


@pytest.fixture
def slack() -> Iterator[FaultySlack]:
    fake = FaultySlack()
    fake.start()
    yield fake
    fake.close()


@pytest.fixture
def discord_fake() -> Iterator[FaultyDiscord]:
    fake = FaultyDiscord()
    fake.start()
    yield fake
    fake.close()


def url_of(fake: _Fake) -> str:
    assert fake.server is not None
    return f"http://127.0.0.1:{fake.server.server_address[1]}"


# Slack: no safe check exists, so an unknown outcome is at most once, reported as unconfirmed

UNKNOWN_ON_SLACK = [
    ("timeout", "slack: reply times out after Slack stored the post", False),
    ("drop", "slack: connection dropped after Slack stored it", False),
    ("drop_before", "slack: connection dropped before Slack stored it", True),
    ("fatal_error", "slack: fatal_error after Slack stored it", False),
    ("internal_error", "slack: internal_error after Slack stored it", False),
    ("503", "slack: HTTP 503 after Slack stored it", False),
]


@pytest.mark.parametrize(("fault", "name", "lost"), UNKNOWN_ON_SLACK, ids=[f for f, _, _ in UNKNOWN_ON_SLACK])
def test_slack_unknown_outcome_is_sent_at_most_once(
    slack: FaultySlack, tmp_path: Path, fault: str, name: str, lost: bool
) -> None:
    s = setup(f"sqlite:///{tmp_path / 'db.sqlite3'}", "slack", url_of(slack), 3, tmp_path)
    for c in s.channels:
        slack.faults[c] = [fault]
    out = run(s, FIRST)
    assert "unconfirmed: slack:C0:2026-01-10" in out
    run(s, LATER)  # a later run never resends
    row = record(name, s, slack)
    assert row.duplicated == 0 and row.unconfirmed == 3
    assert row.lost == (3 if lost else 0)  # lost only where the platform never got it, and reported as unconfirmed


def test_slack_rate_limited_waits_and_posts(slack: FaultySlack, tmp_path: Path) -> None:
    s = setup(f"sqlite:///{tmp_path / 'db.sqlite3'}", "slack", url_of(slack), 3, tmp_path)
    for c in s.channels:
        slack.faults[c] = ["ratelimited"]
    run(s, FIRST)
    row = record("slack: 429 ratelimited, Retry-After 1", s, slack)
    assert (row.lost, row.duplicated, row.unconfirmed) == (0, 0, 0)


def test_slack_token_revoked_then_fixed(slack: FaultySlack, tmp_path: Path) -> None:
    s = setup(f"sqlite:///{tmp_path / 'db.sqlite3'}", "slack", url_of(slack), 20, tmp_path)
    slack.always = "invalid_auth"
    s.env["MAISKY_DAILY_WORKERS"] = "4"
    out = run(s, FIRST)
    assert "stopped: slack: invalid_auth" in out and "paused 0" in out
    assert out.count("daily posts to slack stopped") == 1  # one clear line
    assert slack.requests <= 4  # only the posts already in flight (one per worker) were tried
    slack.always = ""  # the token is fixed
    run(s, LATER)
    row = record("slack: invalid_auth, then the token fixed", s, slack)
    assert (row.lost, row.duplicated, row.unconfirmed) == (0, 0, 0)


def test_slack_unreachable_then_back(slack: FaultySlack, tmp_path: Path) -> None:
    s = setup(f"sqlite:///{tmp_path / 'db.sqlite3'}", "slack", url_of(slack), 3, tmp_path)
    up = s.env["SLACK_API_URL"]
    s.env["SLACK_API_URL"] = dead_url() + "/api/"
    out = run(s, FIRST)
    assert "retrying: slack:C0:2026-01-10" in out
    s.env["SLACK_API_URL"] = up
    run(s, LATER)
    row = record("slack: API unreachable (refused), then back", s, slack)
    assert (row.lost, row.duplicated, row.unconfirmed) == (0, 0, 0)


# Discord: the nonce makes a resend harmless, so an unknown outcome is resolved, not lost

SAFE_ON_DISCORD = [
    (["500"], "discord: 500 after Discord stored the post"),
    (["502"], "discord: 502 after Discord stored it"),
    (["504"], "discord: 504 after Discord stored it"),
    (["timeout"], "discord: reply times out after Discord stored it"),
    (["drop"], "discord: connection dropped after Discord stored it"),
    (["drop_before"], "discord: connection dropped before Discord stored it"),
    (["429"], "discord: 429, Retry-After 1"),
]


@pytest.mark.parametrize(("faults", "name"), SAFE_ON_DISCORD, ids=[f[0] for f, _ in SAFE_ON_DISCORD])
def test_discord_resends_under_its_nonce(
    discord_fake: FaultyDiscord, tmp_path: Path, faults: list[str], name: str
) -> None:
    s = setup(f"sqlite:///{tmp_path / 'db.sqlite3'}", "discord", url_of(discord_fake), 3, tmp_path)
    for c in s.channels:
        discord_fake.faults[c] = list(faults)
    run(s, FIRST)
    run(s, LATER)
    row = record(name, s, discord_fake)
    assert (row.lost, row.duplicated, row.unconfirmed) == (0, 0, 0)
    assert discord_fake.requests > 3  # each was sent more than once, and shown once


def test_discord_failing_every_try_is_unconfirmed_not_repeated(discord_fake: FaultyDiscord, tmp_path: Path) -> None:
    s = setup(f"sqlite:///{tmp_path / 'db.sqlite3'}", "discord", url_of(discord_fake), 3, tmp_path)
    for c in s.channels:
        discord_fake.faults[c] = ["500"] * 10
    run(s, FIRST)
    run(s, LATER)
    row = record("discord: 500 on every try (stored on the first)", s, discord_fake)
    assert (row.lost, row.duplicated, row.unconfirmed) == (0, 0, 3)


def test_discord_token_rejected_then_fixed(discord_fake: FaultyDiscord, tmp_path: Path) -> None:
    s = setup(f"sqlite:///{tmp_path / 'db.sqlite3'}", "discord", url_of(discord_fake), 3, tmp_path)
    discord_fake.always = "401"
    out = run(s, FIRST)
    assert "stopped: discord: DISCORD_TOKEN was rejected" in out
    discord_fake.always = ""
    run(s, LATER)
    row = record("discord: token rejected, then fixed", s, discord_fake)
    assert (row.lost, row.duplicated, row.unconfirmed) == (0, 0, 0)


# processes: several at once, and killed in the middle


def databases() -> list[str]:
    return ["sqlite", "postgresql"] if POSTGRES else ["sqlite"]


@pytest.mark.parametrize("database", databases())
def test_four_run_due_processes_at_once(slack: FaultySlack, tmp_path: Path, database: str) -> None:
    s = setup(fresh_database(database, tmp_path), "slack", url_of(slack), 24, tmp_path)
    slack.delay = 0.05
    procs = [start(s, FIRST) for _ in range(4)]
    for p in procs:
        out = p.communicate(timeout=180)[0]
        assert p.returncode == 0 and "Traceback" not in out, out
    row = record("4 run-due processes at once", s, slack, database)
    assert (row.lost, row.duplicated, row.unconfirmed) == (0, 0, 0)


@pytest.mark.parametrize("database", databases())
def test_run_due_processes_killed_mid_run(slack: FaultySlack, tmp_path: Path, database: str) -> None:
    s = setup(fresh_database(database, tmp_path), "slack", url_of(slack), 24, tmp_path)
    slack.delay = 0.4
    procs = [start(s, FIRST) for _ in range(3)]
    deadline = time.monotonic() + 180
    while slack.requests < 4 and time.monotonic() < deadline:
        time.sleep(0.02)  # a poll interval
    for p in procs:
        p.send_signal(signal.SIGKILL)  # kill -9, posts in flight
        p.communicate(timeout=60)
    assert slack.wait_idle()  # the requests that were in flight have landed
    run(s, AFTER_LEASE)
    row = record("3 run-due processes killed (-9) mid-run", s, slack, database)
    assert row.duplicated == 0 and row.lost <= row.unconfirmed
    assert row.posts + row.lost == row.channel_days
