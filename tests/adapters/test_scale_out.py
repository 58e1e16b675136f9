"""Several processes on one PostgreSQL, started as a club starts them (docs/deployment.md): two
`maisky slack http` behind one address (a round-robin proxy, as a load balancer), two `maisky discord`
that split two shards between them, and every process sharing the daily posts. Each question is
answered once, each daily post made once, and buttons, follow-ups and the quiz work whichever process gets them.

The processes are real; Slack's Web API and Discord's REST API and gateway are the local fakes. Every
wait is on an event with a generous timeout; what must never happen twice is counted after every
process has stopped (a stop lets answers and sends in flight finish), so a late duplicate is counted too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from adapters.slack.rendering import ANOTHER
from bot import Maisky
from bot.club.quiz import Quiz
from bot.ops.settings import default_http_processes
from bot.ops.store import Store
from tests.adapters.discord_fakes import APP_ID, TOKEN, command, component
from tests.adapters.processes import (
    START,
    Process,
    base_env,
    free_port,
    kill,
    launch,
    stop,
    wait_for_line,
    wait_for_port,
)
from tests.adapters.scale_support import RoundRobinProxy, ShardedFakeDiscord, guild_on, in_guild
from tests.adapters.slack_fakes import SECRET, Call, FakeSlack, click, event, slash
from tests.daily_support import POSTGRES, fresh_database

SLACK_DAILY = [f"CD{i}" for i in range(6)]
DISCORD_DAILY = [str(8100 + i) for i in range(6)]
SHARDS = 2
EXPIRED = "outlived my memory"  # the persona's words for a button whose question is gone
# `maisky` as a club runs it: the installed command, else the same entry point from this checkout
MAISKY = (
    [str(Path(sys.executable).parent / "maisky")]
    if (Path(sys.executable).parent / "maisky").exists()
    else [sys.executable, "-m", "adapters.cli"]
)


def stop_all(processes: list[Process]) -> None:
    """SIGTERM every process at once; each drains (answers in flight, a daily send) and exits 0."""
    for p in processes:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in processes:
        stop(p, timeout=120)


def health(port: int) -> Any:
    """The process's own /healthz, beside the proxy (not through it, so the proxy's turns stay the test's)."""
    with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as resp:
        return json.loads(resp.read())


@pytest.fixture
def database(tmp_path: Path) -> str:
    if not POSTGRES:
        if os.environ.get("CI") == "true":  # .ci/run starts PostgreSQL: the test must not vanish there
            pytest.fail("MAISKY_TEST_POSTGRES_URL is not set on CI")
        pytest.skip("needs PostgreSQL (MAISKY_TEST_POSTGRES_URL)")
    return fresh_database("postgresql", tmp_path)


def subscribe_due(store: Store) -> None:
    """Daily posts due a minute ago (UTC) in every channel, made yesterday: due at every process's start."""
    now = dt.datetime.now(dt.UTC)
    slot = (now - dt.timedelta(minutes=1)).strftime("%H:%M")
    made = (now - dt.timedelta(days=1)).timestamp()
    for channel in SLACK_DAILY:
        store.subscribe("slack", channel, "T1", slot, "UTC", "UADMIN", made)
    for channel in DISCORD_DAILY:
        store.subscribe("discord", channel, guild_on(0, SHARDS), slot, "UTC", "42", made)


# Slack: two processes behind one address


def slack_passage(payload: dict[str, Any]) -> list[str]:
    return [b["elements"][0]["text"] for b in payload["blocks"] if b["type"] == "context" and "Source:" in str(b)]


def another_key(payload: dict[str, Any]) -> str:
    button = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["action_id"] == ANOTHER
    return str(button["value"])


def responses(fake: FakeSlack, user: str) -> list[dict[str, Any]]:
    return [c.body for c in fake.calls if c.path == f"/response/{user}"]


def posts_in(calls: list[Call], channel: str) -> list[Call]:
    return [c for c in calls if c.path.endswith("/chat.postMessage") and c.body.get("channel") == channel]


def option(payload: dict[str, Any], quiz: Quiz, right: bool) -> dict[str, Any]:
    """The right (or a wrong) option button of the channel's open question, as the database holds it."""
    draw = quiz.store.quiz_current("slack", "C1", "T1")
    assert draw is not None
    answer = quiz._by_key[draw.question_key].answer
    buttons = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"]
    n = next(i for i, o in enumerate(draw.options) if (o == answer) == right)
    return {"action_id": buttons[n]["action_id"], "value": buttons[n]["value"], "type": "button"}


def slack_scenario(proxy: RoundRobinProxy, fake: FakeSlack, quiz: Quiz) -> list[str]:
    """Ask through one process, press "Another passage" and follow up through the other, a quiz opened
    through one and answered through the other, a retried event on the other process, and a burst; the
    users (and clicks) that must each be answered once."""
    url = proxy.url + "/slack/events"

    n = len(proxy.served)
    assert slash(url, fake, "What did you think of Chamberlain?", user="UASK")[0] == 200
    first = fake.wait_for("/response/UASK")[0].body
    assert slack_passage(first), first
    assert (
        click(url, fake, {"action_id": ANOTHER, "value": another_key(first), "type": "button"}, user="UASK")[0] == 200
    )
    second = fake.wait_for("/response/click-UASK")[0].body
    assert EXPIRED not in json.dumps(second) and slack_passage(second)
    assert slack_passage(second) != slack_passage(first)  # the next passage on the question process A answered
    assert slash(url, fake, "and Eden?", user="UASK")[0] == 200  # a follow-up of the turn process B answered
    followed = fake.wait_for("/response/UASK", 2)[1].body
    assert "soft clay" in json.dumps(followed)
    ask, press, follow = proxy.served[n : n + 3]
    assert ask != press and press != follow  # the button and the follow-up each reached the other process

    # a quiz opened through one process, a wrong and a right option pressed through the other and back
    n = len(proxy.served)
    assert slash(url, fake, "quiz", user="UQUIZ")[0] == 200
    quizzed = fake.wait_for("/response/UQUIZ")[0].body
    assert click(url, fake, option(quizzed, quiz, right=False), user="UWRONG")[0] == 200
    assert "Not so" in fake.wait_for("/response/click-UWRONG")[0].body["text"]
    assert click(url, fake, option(quizzed, quiz, right=True), user="URIGHT")[0] == 200
    assert "Quite right" in fake.wait_for("/response/click-URIGHT")[0].body["text"]
    opened, wrong, right = proxy.served[n : n + 3]
    assert opened != wrong and wrong != right  # each press reached the process that did not open the question

    # Slack resends an event it thinks was lost; the resend reaches the other process
    ev = {"type": "app_mention", "user": "UMENTION", "text": "<@UBOT> Was Eden made of iron?", "ts": "1700000001.5",
          "channel": "CMENTION"}  # fmt: skip
    n = len(proxy.served)
    assert event(url, ev, "EvScaleOnce")[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert event(url, ev, "EvScaleOnce", headers=retry)[0] == 200
    assert proxy.served[n] != proxy.served[n + 1]
    fake.wait_until(lambda calls: posts_in(calls, "CMENTION") or None)

    # a burst of members asking at once, spread over both processes
    users = [f"UBURST{i}" for i in range(8)]
    questions = ["Was Eden made of iron?", "What did you think of Chamberlain?", "Who was Churchill?", "sources"]
    with ThreadPoolExecutor(len(users)) as pool:
        codes = list(pool.map(lambda i: slash(url, fake, questions[i % 4], user=users[i])[0], range(len(users))))
    assert codes == [200] * len(users)
    for user in users:
        fake.wait_for(f"/response/{user}")
    assert set(proxy.served) == {0, 1}
    return ["UASK", "UQUIZ", "click-UWRONG", "click-URIGHT", *users]


# Discord: two processes, one shard each


def interaction_answers(fake: ShardedFakeDiscord, iid: str) -> list[dict[str, Any]]:
    """What the bot sent as the answer to one interaction: an immediate message, or a deferral's edit or
    follow-up (never both, if it answered once)."""
    token = f"tok-{iid}"
    found = []
    for c in fake.calls:
        if c.path == f"/interactions/{iid}/{token}/callback" and c.body.get("type") == 4:
            found.append(c.body["data"])
        elif c.path.startswith(f"/webhooks/{APP_ID}/{token}") and c.method in ("POST", "PATCH"):
            found.append(c.body)
    return found


def callbacks(fake: ShardedFakeDiscord, iid: str) -> int:
    return sum(1 for c in fake.calls if c.path.startswith(f"/interactions/{iid}/"))


async def discord_answer(fake: ShardedFakeDiscord, iid: str) -> dict[str, Any]:
    await fake.wait_for(lambda c: bool(interaction_answers(fake, iid)), timeout=START)
    return interaction_answers(fake, iid)[0]


def footer(body: dict[str, Any]) -> str:
    return str(body["embeds"][0]["footer"]["text"])


def ask(question: str) -> dict[str, Any]:
    return command("ask", [{"type": 3, "name": "question", "value": question}])


async def discord_scenario(fake: ShardedFakeDiscord) -> list[str]:
    """A question on each shard's server, then a button and a follow-up of one server's conversation
    delivered to the other process (as after a resharding moves the server); the interactions that
    must each be answered once."""
    g0, g1 = guild_on(0, SHARDS), guild_on(1, SHARDS)
    asked = in_guild(ask("What did you think of Chamberlain?"), g1, "5101")
    assert await fake.dispatch("INTERACTION_CREATE", asked) == 1  # Discord's formula: g1's events go to shard 1
    first = await discord_answer(fake, asked["id"])
    custom_id = first["components"][0]["components"][0]["custom_id"]
    assert custom_id.startswith("maisky:another:")

    pressed = in_guild(component(custom_id), g1, "5101")
    assert await fake.dispatch("INTERACTION_CREATE", pressed, shard=0) == 0  # the other process
    second = await discord_answer(fake, pressed["id"])
    assert EXPIRED not in json.dumps(second) and footer(second) != footer(first)

    followed = in_guild(ask("and Eden?"), g1, "5101")
    await fake.dispatch("INTERACTION_CREATE", followed, shard=0)
    assert "soft clay" in json.dumps(await discord_answer(fake, followed["id"]))

    burst = [in_guild(ask(q), g, c) for q in ("Was Eden made of iron?", "Who was Churchill?", "Kennedy")
             for g, c in ((g0, "5100"), (g1, "5101"))]  # fmt: skip
    shards = [await fake.dispatch("INTERACTION_CREATE", b) for b in burst]
    assert sorted(set(shards)) == [0, 1]
    for b in burst:
        await discord_answer(fake, b["id"])
    return [p["id"] for p in (asked, pressed, followed, *burst)]


async def test_several_processes_on_one_postgresql_answer_once_post_once_and_share_buttons(
    database: str, tmp_path: Path, core: Maisky
) -> None:
    Store(database).engine.dispose()
    migrate = subprocess.run([*MAISKY, "db", "upgrade"], env=base_env(DATABASE_URL=database), cwd=tmp_path,
                             capture_output=True, text=True, timeout=START, check=False)  # fmt: skip
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    store = Store(database)
    subscribe_due(store)

    slack = FakeSlack()
    discord_fake = ShardedFakeDiscord()
    await discord_fake.start()
    ports = [free_port(), free_port()]
    common = {"DATABASE_URL": database, "MAISKY_COOLDOWN": "0", "LOG_FORMAT": "json"}
    processes = [
        launch(f"slack-{i}", [*MAISKY, "slack", "http"], base_env(**common, SLACK_BOT_TOKEN="xoxb-scale",
               SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url, HOST="127.0.0.1", PORT=str(port)), tmp_path)
        for i, port in enumerate(ports)
    ] + [
        launch(f"discord-{shard}", [*MAISKY, "discord"], base_env(**common, DISCORD_TOKEN=TOKEN,
               DISCORD_API_BASE=discord_fake.base, DISCORD_GATEWAY_URL=discord_fake.gateway,
               DISCORD_SHARD_COUNT=str(SHARDS), DISCORD_SHARD_IDS=str(shard),
               MAISKY_STATE_DIR=str(tmp_path / f"state-{shard}")), tmp_path)
        for shard in range(SHARDS)
    ]  # fmt: skip
    proxy = RoundRobinProxy([("127.0.0.1", port) for port in ports])
    # each `maisky slack http` is itself two HTTP processes by default on two cores or more
    several = {"processes": "ok"} if default_http_processes() > 1 else {}
    try:
        for p, port in zip(processes[: len(ports)], ports, strict=True):
            await asyncio.to_thread(wait_for_port, port, p.popen, START)
            checks = await asyncio.to_thread(health, port)
            assert checks == {"database": "ok", "scheduler": "ok", "answers": "ok", **several}
        await discord_fake.connected(set(range(SHARDS)), timeout=START)
        for shard in range(SHARDS):  # discord.py calls a client ready a while after its shards' READY
            pattern = rf"ready: Discord as .* shard\(s\) {shard} of {SHARDS}"
            await asyncio.to_thread(wait_for_line, processes[len(ports) + shard], pattern)

        quiz = Quiz(store, core.corpus, core.voice)  # to read which option is right, as a member knows it
        asked_on_slack = await asyncio.to_thread(slack_scenario, proxy, slack, quiz)
        interactions = await discord_scenario(discord_fake)

        def all_daily_posted() -> bool | None:
            return all(posts_in(slack.calls, c) for c in SLACK_DAILY) or None

        await asyncio.to_thread(slack.wait_until, lambda calls: all_daily_posted(), START)
        await discord_fake.wait_for(lambda c: c.method == "POST" and c.path.startswith("/channels/")
                                    and c.path.split("/")[2] in DISCORD_DAILY, len(DISCORD_DAILY))  # fmt: skip
        for p in processes:  # each scheduler thread says it runs; the ones that posted nothing too
            await asyncio.to_thread(wait_for_line, p, "daily posts")
        await asyncio.to_thread(stop_all, processes)
    finally:
        for p in processes:
            kill(p)
        proxy.close()
        slack.close()
        await discord_fake.stop()

    logs = {p.name: p.text() for p in processes}
    for p in processes:
        assert p.popen.returncode == 0, f"{p.name}:\n{logs[p.name][-3000:]}"
        assert "Traceback" not in logs[p.name], f"{p.name}:\n{logs[p.name][-3000:]}"
        entries = [json.loads(line) for line in logs[p.name].splitlines() if line.startswith("{")]
        assert not [e for e in entries if e["level"] in ("ERROR", "CRITICAL")], f"{p.name}:\n{logs[p.name][-3000:]}"
        assert any(e["message"].startswith("daily posts") for e in entries), p.name  # every process shares the posts
    for shard in range(SHARDS):
        assert re.search(rf"ready: Discord as .* shard\(s\) {shard} of {SHARDS}", logs[f"discord-{shard}"])
    assert sorted(discord_fake.identified) == [[s, SHARDS] for s in range(SHARDS)]  # each shard once, in one process

    # counted after every process stopped: nothing answered or posted twice
    for user in asked_on_slack:
        assert len(responses(slack, user)) == (2 if user == "UASK" else 1), user
    assert len(responses(slack, "click-UASK")) == 1
    assert len(posts_in(slack.calls, "CMENTION")) == 1  # the retried event answered once, by one process
    assert {c: len(posts_in(slack.calls, c)) for c in SLACK_DAILY} == dict.fromkeys(SLACK_DAILY, 1)
    for iid in interactions:
        assert (callbacks(discord_fake, iid), len(interaction_answers(discord_fake, iid))) == (1, 1), iid
    daily_posts = Counter(c.path.split("/")[2] for c in discord_fake.calls
                          if c.method == "POST" and c.path.startswith("/channels/"))  # fmt: skip
    assert daily_posts == Counter(DISCORD_DAILY)
    syncs = [c for c in discord_fake.calls if c.method == "PUT" and c.path.endswith("/commands")]
    assert len(syncs) == 1  # the process that runs shard 0 pushes the commands; the other does not


# the shard settings each process reads


def discord_env(**shards: str) -> dict[str, str]:
    return {"DISCORD_TOKEN": TOKEN, **shards}


@pytest.mark.parametrize(
    ("shards", "count", "ids"),
    [
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "0,1"}, 4, (0, 1)),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": " 2 - 3 "}, 4, (2, 3)),
        ({"DISCORD_SHARD_COUNT": "16", "DISCORD_SHARD_IDS": "8-11,15"}, 16, (8, 9, 10, 11, 15)),
        ({"DISCORD_SHARDS": "4", "DISCORD_SHARD_IDS": "3"}, 4, (3,)),  # the older name for the total
        ({"DISCORD_SHARDS": "4", "DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "1"}, 4, (1,)),
        ({"DISCORD_SHARD_COUNT": "4"}, 4, None),  # every shard, in this one process
    ],
)
def test_shard_settings_name_the_total_and_this_process_shards(
    shards: dict[str, str], count: int, ids: tuple[int, ...] | None
) -> None:
    from bot import Settings

    ds = Settings.from_env(discord_env(**shards), dotenv=None).discord()
    assert (ds.shards, ds.shard_ids) == (count, ids)


@pytest.mark.parametrize(
    ("shards", "named"),
    [
        ({"DISCORD_SHARD_IDS": "0,1"}, "DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT"),
        ({"DISCORD_SHARDS": "auto", "DISCORD_SHARD_IDS": "0"}, "DISCORD_SHARD_IDS: needs a fixed total"),
        ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "1,2,5"}, "DISCORD_SHARD_IDS: 2, 5 not below"),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "0-2,2"}, "DISCORD_SHARD_IDS: 2 listed twice"),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "one"}, "DISCORD_SHARD_IDS: 'one' is not a shard id"),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "3-1"}, "DISCORD_SHARD_IDS: the range '3-1' runs backwards"),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "²"}, "DISCORD_SHARD_IDS: '²' is not a shard id"),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "0,"}, "DISCORD_SHARD_IDS: '' is not a shard id"),
        ({"DISCORD_SHARD_COUNT": "0"}, "DISCORD_SHARD_COUNT: '0' must be a whole number from 1"),
        ({"DISCORD_SHARD_COUNT": "auto"}, "DISCORD_SHARD_COUNT: 'auto' must be a whole number"),
        ({"DISCORD_SHARDS": "2", "DISCORD_SHARD_COUNT": "4"}, "DISCORD_SHARDS and DISCORD_SHARD_COUNT: '2' and '4'"),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "0-9999999"}, "beyond the most shards"),
        # red team: more digits than int() reads (4,300) was a ValueError and a traceback, not a named setting
        ({"DISCORD_SHARD_COUNT": "1" + "0" * 5000}, "DISCORD_SHARD_COUNT: '1000"),
        ({"DISCORD_SHARDS": "9" * 5000}, "DISCORD_SHARDS: '9999"),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "0-" + "9" * 5000}, "beyond the most shards"),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "9" * 5000}, "beyond the most shards"),
        ({"DISCORD_GUILD_ID": "¹" * 17}, "DISCORD_GUILD_ID: '¹¹¹"),  # str.isdigit takes superscripts; int() not
    ],
)
def test_bad_shard_settings_are_named_before_anything_connects(shards: dict[str, str], named: str) -> None:
    from bot import Settings
    from bot.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        Settings.from_env(discord_env(**shards), dotenv=None).discord()
    assert named in str(err.value)
    assert len(str(err.value)) < 400  # a long value is quoted cut short, not whole


def test_a_process_with_some_shards_runs_only_those_and_only_shard_zero_syncs(tmp_path: Path, core: Any) -> None:
    import discord

    from adapters.discord.client import build_client
    from bot.ops.settings import DiscordSettings
    from tests.adapters.conftest import desk_for

    def settings(ids: tuple[int, ...] | None) -> DiscordSettings:
        return DiscordSettings(TOKEN, None, "https://discord.com/api/v10", "", 4, tmp_path, ids)

    client = build_client(desk_for(core), settings((2, 3)))
    assert isinstance(client, discord.AutoShardedClient)
    assert (client.shard_ids, client.shard_count) == ([2, 3], 4)
    assert not settings((2, 3)).syncs_commands
    assert settings((0, 1)).syncs_commands and settings(None).syncs_commands
