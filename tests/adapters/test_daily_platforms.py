"""Daily posts through both front ends: the subscribe commands with their permission checks, the
posters against local fakes, and `maisky daily run-due` as a real process posting to both."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import discord
import pytest
from slack_sdk import WebClient

from adapters.discord.client import build_client
from adapters.discord.endpoints import Endpoints, RoutedHTTP
from adapters.discord.posting import DiscordPoster, nonce
from adapters.slack.app import build_app
from adapters.slack.posting import SlackPoster
from bot import Maisky, Settings, build
from bot.club.daily import Daily
from bot.errors import ChannelGone, OutcomeUnknown, PostLater, TokenRejected
from bot.ops.bootstrap import build_daily
from bot.ops.settings import DiscordSettings, SlackSettings
from bot.ops.store import Store
from tests.adapters.conftest import desk_for
from tests.adapters.discord_fakes import CHANNEL_ID, TOKEN, FakeDiscord, command
from tests.adapters.slack_fakes import SECRET, FakeSlack, event, served, slash
from tests.conftest import PERSONA, ROOT, SEEDS

DEFAULT_BASE = discord.http.Route.BASE


def make(tmp_path: Path, **env: str) -> tuple[Settings, Maisky, Daily]:
    values = {"DATABASE_URL": f"sqlite:///{tmp_path / 'daily.sqlite3'}", "MAISKY_COOLDOWN": "0", **env}
    settings = Settings.from_env(values, dotenv=None)
    core = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    return settings, core, build_daily(settings, core)


# Slack


def slack_reply(fake: FakeSlack, user: str) -> dict[str, Any]:
    return fake.wait_for(f"/response/{user}")[-1].body


def test_slack_daily_commands_and_who_may_use_them(fake_slack: FakeSlack, tmp_path: Path) -> None:
    _, core, daily = make(tmp_path)
    ss = SlackSettings("xoxb-test", SECRET, "", fake_slack.api_url, 3000, frozenset({"UFRIEND"}))
    app = build_app(desk_for(core, daily=daily), ss, WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    with served(app) as url:
        slash(url, fake_slack, "daily on 18:30 Europe/London", user="UMEMBER")
        refused = slack_reply(fake_slack, "UMEMBER")
        assert "Only those who manage this channel" in json.dumps(refused) and refused["response_type"] == "ephemeral"
        slash(url, fake_slack, "daily on Europe/London 18:30", user="UADMIN")
        ok = json.dumps(slack_reply(fake_slack, "UADMIN"))
        assert "Every day at 18:30 (Europe/London)" in ok
        slash(url, fake_slack, "daily status", user="UMEMBER")
        assert "every day at 18:30 (Europe/London)" in json.dumps(fake_slack.wait_for("/response/UMEMBER", 2)[-1].body)
        slash(url, fake_slack, "daily preview", user="UMEMBER")
        preview = fake_slack.wait_for("/response/UMEMBER", 3)[-1].body
        assert "Ivan Maisky, " in json.dumps(preview, ensure_ascii=False) and preview["response_type"] == "ephemeral"
        slash(url, fake_slack, "daily on 25:99", user="UFRIEND")  # on the allowlist, but a bad time
        assert "for example 09:00" in json.dumps(slack_reply(fake_slack, "UFRIEND"))
        slash(url, fake_slack, "daily off", user="UFRIEND")
        assert "No more daily quotations" in json.dumps(fake_slack.wait_for("/response/UFRIEND", 2)[-1].body)
    sub = daily.store.subscription("slack", "C1")
    assert sub is not None and not sub.active and sub.post_time == "18:30"


def test_slack_poster_posts_and_classifies_errors(fake_slack: FakeSlack, tmp_path: Path) -> None:
    _, core, _ = make(tmp_path)
    poster = SlackPoster(WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    reply = core.quote(dt.date(2026, 1, 10))
    poster.post("C5", reply, "C5:2026-01-10")
    body = fake_slack.wait_for("/chat.postMessage")[0].body
    assert body["channel"] == "C5" and "Maisky as narrator" in body["text"]
    fake_slack.errors["chat.postMessage"] = ["channel_not_found", "ratelimited", "invalid_auth", "fatal_error",
                                             "internal_error", "msg_too_long"]  # fmt: skip
    with pytest.raises(ChannelGone, match="channel_not_found"):
        poster.post("C6", reply, "C6:2026-01-10")
    with pytest.raises(PostLater, match="ratelimited"):
        poster.post("C6", reply, "C6:2026-01-10")
    with pytest.raises(TokenRejected, match="invalid_auth"):  # the bot, not the channel: nothing is paused
        poster.post("C6", reply, "C6:2026-01-10")
    with pytest.raises(OutcomeUnknown, match="fatal_error"):  # Slack may have stored it: never resent
        poster.post("C6", reply, "C6:2026-01-10")
    with pytest.raises(OutcomeUnknown, match="internal_error"):
        poster.post("C6", reply, "C6:2026-01-10")
    with pytest.raises(PostLater, match="msg_too_long"):
        poster.post("C6", reply, "C6:2026-01-10")
    assert fake_slack.count("/chat.postMessage") == 7  # one request each: no library retries


# Discord


def member_command(name: str, options: list[dict[str, Any]], permissions: str, kind: int = 2) -> dict[str, Any]:
    payload = command("daily", kind=kind)
    payload["data"]["options"] = [
        {"type": 2, "name": "daily", "options": [{"type": 1, "name": name, "options": options}]}
    ]
    payload["member"]["permissions"] = permissions
    return payload


async def test_discord_daily_commands_and_who_may_use_them(tmp_path: Path) -> None:
    _, core, daily = make(tmp_path)
    fake = FakeDiscord()
    await fake.start()
    ds = DiscordSettings(TOKEN, None, fake.base, "", None, tmp_path / "state")
    client = build_client(desk_for(core, daily=daily), ds)
    try:
        await client.login(TOKEN)
        state = client._connection
        time_opt = {"type": 3, "name": "time", "value": "07:45"}
        zone_opt = {"type": 3, "name": "timezone", "value": "America/New_York"}
        state.parse_interaction_create(member_command("subscribe", [time_opt, zone_opt], permissions="0"))
        (cb,) = await fake.wait_for(lambda c: c.path.endswith("/callback"))
        assert cb.body["data"]["flags"] == 64 and "Only those who manage" in cb.body["data"]["embeds"][0]["description"]
        manage_channels = str(discord.Permissions(manage_channels=True).value)
        state.parse_interaction_create(member_command("subscribe", [time_opt, zone_opt], permissions=manage_channels))
        done = (await fake.answers(2))[1]
        assert "Every day at 07:45 (America/New_York)" in done["embeds"][0]["description"].replace("\\", "")
        sub = daily.store.subscription("discord", CHANNEL_ID)
        assert sub is not None and sub.active
        complete = member_command(
            "subscribe", [{**zone_opt, "value": "new_y", "focused": True}], manage_channels, kind=4
        )
        state.parse_interaction_create(complete)
        auto = (await fake.wait_for(lambda c: c.path.endswith("/callback"), 3))[2]
        assert auto.body["type"] == 8 and "America/New_York" in [c["name"] for c in auto.body["data"]["choices"]]
    finally:
        await client.close()
        await fake.stop()
        discord.http.Route.BASE = DEFAULT_BASE


async def test_discord_poster_classifies_errors(tmp_path: Path) -> None:
    _, core, _ = make(tmp_path)
    fake = FakeDiscord(fail={"/channels/404/messages": [(404, {"message": "Unknown Channel", "code": 10003})],
                             "/channels/403/messages": [(403, {"message": "Missing Access", "code": 50001})],
                             "/channels/401/messages": [(401, {"message": "401: Unauthorized", "code": 0})],
                             "/channels/429/messages": [(429, {"message": "slow", "retry_after": 2.5})],
                             "/channels/500/messages": [(500, {"message": "oops", "code": 0})] * 5})  # fmt: skip
    await fake.start()
    http = RoutedHTTP(asyncio.get_running_loop(), Endpoints(fake.base))
    await http.static_login(TOKEN)
    poster = DiscordPoster(http, asyncio.get_running_loop(), pause=0.01)
    reply = core.quote(dt.date(2026, 1, 10))
    try:
        await poster.send("777", reply, "777:2026-01-10")
        (sent,) = [c for c in fake.calls if c.path == "/channels/777/messages"]
        assert sent.body["allowed_mentions"] == {"parse": []} and "Ivan Maisky" in sent.body["embeds"][0]["description"]
        assert sent.body["nonce"] == nonce("777:2026-01-10") and sent.body["enforce_nonce"] is True
        assert len(sent.body["nonce"]) <= 25 and nonce("777:2026-01-11") != sent.body["nonce"]
        with pytest.raises(ChannelGone):
            await poster.send("404", reply, "404:2026-01-10")
        with pytest.raises(ChannelGone):
            await poster.send("403", reply, "403:2026-01-10")
        with pytest.raises(TokenRejected):
            await poster.send("401", reply, "401:2026-01-10")
        with pytest.raises(PostLater) as later:
            await poster.send("429", reply, "429:2026-01-10")
        assert later.value.retry_after == 2.5
        assert (
            len([c for c in fake.calls if c.path == "/channels/429/messages"]) == 1
        )  # discord.py did not sleep and retry
        with pytest.raises(OutcomeUnknown):  # three sends, all with the same nonce, then it is in doubt
            await poster.send("500", reply, "500:2026-01-10")
        tries = [c for c in fake.calls if c.path == "/channels/500/messages"]
        assert len(tries) == 3 and len({c.body["nonce"] for c in tries}) == 1
    finally:
        await http.close()
        await fake.stop()
        discord.http.Route.BASE = DEFAULT_BASE


# run-due as a real process, posting to both platforms


async def test_run_due_posts_once_to_both_platforms_and_the_second_run_posts_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    store = Store(db)
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
    store.subscribe("slack", "CSLACK", "T1", "09:00", "Europe/London", "UADMIN", created)
    store.subscribe("discord", "555", "G1", "18:30", "Asia/Tokyo", "42", created)  # 09:30 UTC
    fake_discord = FakeDiscord()
    await fake_discord.start()
    fake_slack = FakeSlack()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env |= {"DATABASE_URL": db, "SLACK_BOT_TOKEN": "xoxb-cron", "SLACK_API_URL": fake_slack.api_url,
            "DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake_discord.base,
            "MAISKY_STATE_DIR": str(tmp_path)}  # fmt: skip
    try:
        outputs = []
        for _ in range(2):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "adapters.cli", "daily", "run-due", "--now", "2026-01-10T10:00:00+00:00",
                cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out = (await asyncio.wait_for(proc.communicate(), 180))[0].decode()
            assert proc.returncode == 0, out
            outputs.append(out)
        assert "posted: slack:CSLACK:2026-01-10" in outputs[0] and "posted: discord:555:2026-01-10" in outputs[0]
        assert "daily posts: posted 0" in outputs[1]
        assert fake_slack.count("/chat.postMessage") == 1
        assert len([c for c in fake_discord.calls if c.path == "/channels/555/messages"]) == 1
        assert not fake_discord.gateway or not fake_discord.identify  # REST only, no gateway
        assert "xoxb-cron" not in outputs[0] and TOKEN not in outputs[0]
    finally:
        fake_slack.close()
        await fake_discord.stop()


def test_run_due_without_any_platform_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    proc = subprocess.run([sys.executable, "-m", "adapters.cli", "daily", "run-due"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=180)  # fmt: skip
    assert proc.returncode == 1 and "neither is set" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_daily_settings_are_named(tmp_path: Path) -> None:
    from bot import ConfigError

    with pytest.raises(ConfigError) as err:
        Settings.from_env({"MAISKY_DAILY_TIME": "7pm", "MAISKY_DAILY_TIMEZONE": "Moon/Base",
                           "MAISKY_DAILY_WINDOW_HOURS": "48", "MAISKY_DAILY_WORKERS": "0",
                           "MAISKY_DAILY_POST_TIMEOUT": "soon"}, dotenv=None)  # fmt: skip
    text = str(err.value)
    assert "MAISKY_DAILY_WORKERS: 0 is not between 1 and 64" in text
    assert "MAISKY_DAILY_POST_TIMEOUT: 'soon' is not a whole number" in text
    assert "MAISKY_DAILY_TIME: '7pm'" in text and "MAISKY_DAILY_TIMEZONE: 'Moon/Base'" in text
    assert "MAISKY_DAILY_WINDOW_HOURS: 48" in text
    assert "postgresql" not in repr(Settings.from_env({"DATABASE_URL": "postgresql://u:secret@h/db"}, dotenv=None))


def due_now(store: Store, platform: str, channel: str) -> None:
    """A subscription whose time was a minute ago (UTC), made yesterday."""
    now = dt.datetime.now(dt.UTC)
    slot = (now - dt.timedelta(minutes=1)).strftime("%H:%M")
    store.subscribe(platform, channel, "W1", slot, "UTC", "U1", (now - dt.timedelta(days=1)).timestamp())


async def test_the_discord_front_end_runs_its_own_scheduler(tmp_path: Path) -> None:
    _, core, daily = make(tmp_path)
    due_now(daily.store, "discord", "888")
    fake = FakeDiscord()
    await fake.start()
    client = build_client(
        desk_for(core, daily=daily), DiscordSettings(TOKEN, None, fake.base, "", None, tmp_path / "state")
    )
    try:
        await client.login(TOKEN)  # setup_hook starts the scheduler; it posts over REST, no gateway needed
        (post,) = await fake.wait_for(lambda c: c.path == "/channels/888/messages")
        assert "Ivan Maisky" in post.body["embeds"][0]["description"] and post.body["allowed_mentions"] == {"parse": []}
    finally:
        await client.close()
        await fake.stop()
        discord.http.Route.BASE = DEFAULT_BASE


def test_the_slack_process_runs_its_own_scheduler(fake_slack: FakeSlack, tmp_path: Path) -> None:
    import socket
    import time

    db = f"sqlite:///{tmp_path / 'slack.sqlite3'}"
    due_now(Store(db), "slack", "CDAILY")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {"SLACK_BOT_TOKEN": "xoxb-sched", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.api_url,
            "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": db}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "slack"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        post = fake_slack.wait_for("/chat.postMessage")[0].body  # a start on a loaded machine
        assert post["channel"] == "CDAILY" and "Maisky as narrator" in post["text"]
        time.sleep(0.5)
        assert fake_slack.count("/chat.postMessage") == 1
    finally:
        proc.terminate()
        proc.communicate(timeout=120)


def test_discord_shards_setting_makes_an_auto_sharded_client(tmp_path: Path) -> None:
    _, core, _ = make(tmp_path)
    auto = build_client(desk_for(core), DiscordSettings(TOKEN, None, DEFAULT_BASE, "", 0, tmp_path))
    fixed = build_client(desk_for(core), DiscordSettings(TOKEN, None, DEFAULT_BASE, "", 4, tmp_path))
    plain = build_client(desk_for(core), DiscordSettings(TOKEN, None, DEFAULT_BASE, "", None, tmp_path))
    assert isinstance(auto, discord.AutoShardedClient) and auto.shard_count is None
    assert isinstance(fixed, discord.AutoShardedClient) and fixed.shard_count == 4
    assert not isinstance(plain, discord.AutoShardedClient)


def test_a_retried_slack_event_is_answered_once_across_processes_and_restarts(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    _, core, daily = make(tmp_path)
    ss = SlackSettings("xoxb-test", SECRET, "", fake_slack.api_url, 3000)
    ev = {"type": "app_mention", "user": "U2", "text": "<@UBOT> Eden", "ts": "1700.5", "channel": "C9"}
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    first = build_app(desk_for(core, daily=daily), ss, WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    with served(first) as url:
        assert event(url, ev, "EvOnce")[0] == 200
        fake_slack.wait_for("/chat.postMessage")
    # another process over the same database (or this one restarted) gets Slack's retry
    _, _, other_daily = make(tmp_path)
    second = build_app(desk_for(core, daily=other_daily), ss, WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    with served(second) as url:
        assert event(url, ev, "EvOnce", headers=retry)[0] == 200
        assert event(url, ev | {"ts": "1700.6"}, "EvOther")[0] == 200  # another message (a message is its ts)
        fake_slack.wait_for("/chat.postMessage", 2)
        time.sleep(0.5)
    assert fake_slack.count("/chat.postMessage") == 2  # EvOnce once, EvOther once


def test_run_due_with_discord_unreachable_still_posts_to_slack_then_exits_non_zero(tmp_path: Path) -> None:
    import socket

    db = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    store = Store(db)
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
    for channel in ("CA", "CB"):
        store.subscribe("slack", channel, "T1", "09:00", "UTC", "UADMIN", created)
    store.subscribe("discord", "555", "G1", "09:00", "UTC", "42", created)
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/api/v10"
    fake_slack = FakeSlack()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env |= {"DATABASE_URL": db, "SLACK_BOT_TOKEN": "xoxb-cron", "SLACK_API_URL": fake_slack.api_url,
            "DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": dead, "MAISKY_STATE_DIR": str(tmp_path)}  # fmt: skip
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "daily", "run-due", "--now", "2026-01-10T09:05:00+00:00"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        out = proc.stdout + proc.stderr
        assert proc.returncode == 3, out
        assert "posted: slack:CA:2026-01-10" in out and "posted: slack:CB:2026-01-10" in out
        assert "stopped: discord: cannot reach Discord" in out and "Traceback" not in out
        assert fake_slack.count("/chat.postMessage") == 2
    finally:
        fake_slack.close()
    sub = store.subscription("discord", "555")
    assert sub is not None and sub.active  # nothing paused: Discord was down, not the channel
