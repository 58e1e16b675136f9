"""The Discord front end through discord.py itself: a real login against a local fake of the REST
API, raw INTERACTION_CREATE / MESSAGE_CREATE payloads fed to the gateway's own entry points, and
assertions on the HTTP bodies discord.py sends."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.client import MaiskyClient, build_client, sync_commands, to_discord
from bot import ConfigError, Maisky, Reply, Settings
from bot.ops.settings import DiscordSettings
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.discord_fakes import (
    APP_ID,
    BOT_USER,
    CHANNEL_ID,
    GUILD_ID,
    TOKEN,
    Call,
    FakeDiscord,
    channel_message,
    command,
    component,
    message_payload,
    settings,
    user,
)  # fmt: skip
from tests.log_lines import awaited_log

DEFAULT_BASE = discord.http.Route.BASE  # no client may change it: each has its own endpoints


@dataclass
class Env:
    fake: FakeDiscord
    client: MaiskyClient
    ds: DiscordSettings

    def feed(self, payload: dict[str, Any]) -> None:
        self.client._connection.parse_interaction_create(payload)

    async def callbacks(self, count: int = 1) -> list[Call]:
        return await self.fake.wait_for(lambda c: c.path.endswith("/callback"), count)

    async def answer(self, count: int = 1) -> dict[str, Any]:
        """The `count`-th message the bot sent in answer to an interaction."""
        return (await self.fake.answers(count))[count - 1]


async def start(tmp_path: Path, core: Maisky, guild: int | None = None, cooldown: int = 0, **fail: Any) -> Env:
    fake = FakeDiscord(fail=dict(fail))
    await fake.start()
    ds = settings(fake, tmp_path / "state", guild)
    client = build_client(desk_for(core, cooldown=cooldown), ds)
    await client.login(TOKEN)
    return Env(fake, client, ds)


@pytest.fixture
async def env(tmp_path: Path, make_core: MakeCore) -> AsyncIterator[Env]:
    e = await start(tmp_path, make_core())
    yield e
    await e.client.close()
    await e.fake.stop()
    assert discord.http.Route.BASE == DEFAULT_BASE


def embed_text(body: dict[str, Any]) -> str:
    e = body["embeds"][0]
    return e["description"] + " ".join(f["value"] for f in e.get("fields", []))


async def test_ask_answers_with_label_embed_citation_and_buttons(env: Env) -> None:
    env.feed(command("ask", [{"type": 3, "name": "question", "value": "What did you think of Chamberlain?"}]))
    (cb,) = await env.callbacks()
    # answered at once (4), or deferred (5) when the machine is slow to answer; either way public
    assert cb.body["type"] in (4, 5) and not cb.body.get("data", {}).get("flags")
    body = await env.answer()
    assert body["content"].startswith("**Maisky as narrator**")
    embed = body["embeds"][0]
    assert embed["author"]["name"] == "Maisky as narrator"
    assert "grave-digger" in embed["description"] or "umbrella" in embed["description"]
    assert embed["fields"][0]["name"] == "Source" and "Gabriel Gorodetsky" in embed["fields"][0]["value"]
    assert embed["footer"]["text"].startswith("Passage globe-2015.")
    buttons = body["components"][0]["components"]
    assert buttons[0]["label"] == "Another passage" and buttons[0]["custom_id"].startswith("maisky:another:")
    assert buttons[1]["label"] == "Source" and buttons[1]["url"].startswith("http://www.bostonglobe.com/")
    assert body["allowed_mentions"] == {"parse": []}


async def test_private_ask_is_ephemeral(env: Env) -> None:
    env.feed(
        command(
            "ask",
            [{"type": 3, "name": "question", "value": "Eden iron"}, {"type": 5, "name": "private", "value": True}],
        )
    )
    assert (await env.answer())["flags"] == 64


@pytest.mark.parametrize(
    ("name", "options", "expect"),
    [
        ("quote", [], "Ivan Maisky, "),
        ("who", [{"type": 3, "name": "person", "value": "FDR"}], "Franklin Roosevelt"),
        ("sources", [], "29 passages"),
        ("about", [], "not the historical Ivan Maisky"),
        ("help", [], "/maisky ask <question>"),
        ("another", [], "Ask me a question first"),
    ],
)
async def test_each_command(env: Env, name: str, options: list[dict[str, Any]], expect: str) -> None:
    env.feed(command(name, options))
    body = await env.answer()
    assert expect in discord.utils.remove_markdown(embed_text(body)) or expect in embed_text(body)
    assert body["allowed_mentions"] == {"parse": []}
    assert bool(body.get("flags")) == (name in ("about", "help", "another"))


async def test_who_autocomplete_offers_people(env: Env) -> None:
    payload = command("who", [{"type": 3, "name": "person", "value": "ken", "focused": True}], kind=4)
    env.feed(payload)
    (cb,) = await env.callbacks()
    assert cb.body["type"] == 8
    names = [c["name"] for c in cb.body["data"]["choices"]]
    assert "Joseph P. Kennedy" in names and len(names) <= 25


async def test_another_passage_button_is_ephemeral_and_different(env: Env) -> None:
    env.feed(command("ask", [{"type": 3, "name": "question", "value": "Kennedy"}]))
    first = await env.answer()
    custom_id = first["components"][0]["components"][0]["custom_id"]
    env.feed(component(custom_id))
    second = await env.answer(2)
    assert second["flags"] == 64
    assert second["embeds"][0]["footer"]["text"] != first["embeds"][0]["footer"]["text"]


async def test_another_passage_button_survives_a_restart(tmp_path: Path, make_core: MakeCore) -> None:
    """The button keeps only a key; the question is in the store, so a new process answers the click."""
    from bot.ops.bootstrap import build_daily

    core = make_core()
    db = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'buttons.sqlite3'}"}, dotenv=None)
    custom_id, first_footer = "", ""
    for state in ("before", "after"):
        fake = FakeDiscord()
        await fake.start()
        client = build_client(desk_for(core, daily=build_daily(db, core)), settings(fake, tmp_path / state))
        try:
            await client.login(TOKEN)
            if not custom_id:
                client._connection.parse_interaction_create(
                    command("ask", [{"type": 3, "name": "question", "value": "Kennedy"}])
                )
                first = (await fake.answers())[0]
                custom_id = first["components"][0]["components"][0]["custom_id"]
                first_footer = first["embeds"][0]["footer"]["text"]
            else:
                client._connection.parse_interaction_create(component(custom_id))
                second = (await fake.answers())[0]
                assert second["flags"] == 64 and "outlived my memory" not in embed_text(second)
                assert second["embeds"][0]["footer"]["text"] != first_footer
        finally:
            await client.close()
            await fake.stop()


async def test_expired_button_says_so(env: Env) -> None:
    env.feed(component("maisky:another:0123456789abcdef:1"))
    body = await env.answer()  # at once, or deferred privately when the machine is slow
    assert body["flags"] == 64
    assert "ask it again" in body["embeds"][0]["description"]


async def test_everyone_in_the_question_pings_nobody(env: Env) -> None:
    env.feed(
        command("ask", [{"type": 3, "name": "question", "value": "@everyone @here <@&1> what did you think of Eden?"}])
    )
    body = await env.answer()
    assert body["allowed_mentions"] == {"parse": []}
    text = body["content"] + embed_text(body)
    assert "@everyone" not in text and "@here" not in text and "<@&" not in text


async def test_mention_is_answered_in_a_reply(env: Env) -> None:
    me = {**BOT_USER, "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False}}
    env.client._connection.parse_message_create(channel_message(f"<@{BOT_USER['id']}> kenedy red hair", mentions=[me]))
    (call,) = await env.fake.wait_for(lambda c: c.method == "POST" and c.path.endswith("/messages"))
    assert call.body["message_reference"]["message_id"]
    assert "quite a character" in embed_text(call.body)
    assert call.body["allowed_mentions"] == {"parse": [], "replied_user": False}


async def test_direct_message_is_answered(env: Env) -> None:
    env.client._connection.parse_message_create(channel_message("Was Eden made of iron?", dm=True))
    (call,) = await env.fake.wait_for(lambda c: c.method == "POST" and c.path.endswith("/messages"))
    assert "soft clay" in embed_text(call.body)


async def test_messages_without_a_mention_and_from_bots_are_ignored(env: Env) -> None:
    env.client._connection.parse_message_create(channel_message("Eden iron, anyone?"))
    env.client._connection.parse_message_create(
        channel_message("Eden", dm=True, author=user("9", "otherbot", bot=True))
    )
    await asyncio.sleep(0.5)
    assert not [c for c in env.fake.calls if c.path.endswith("/messages")]


async def test_expired_interaction_is_logged_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make_core: MakeCore
) -> None:
    """Discord says the interaction expired (10062) at the first response, whether that is the answer
    itself or, on a slow machine, the deferral: one warning, no follow-up, and the bot goes on."""
    caplog.set_level(logging.WARNING)
    e = await start(tmp_path, make_core(), **{"/callback": [(404, {"message": "Unknown interaction", "code": 10062})]})
    try:
        first = command("quote")
        e.feed(first)
        await e.callbacks()
        second = command("quote")  # the bot is still answering
        e.feed(second)
        (body,) = await e.fake.answers(to=second["token"])
        assert "Ivan Maisky" in embed_text(body)
        await awaited_log(caplog, "expired")  # logged once discord.py has the 404, after the fake saw the call
        assert not [c for c in e.fake.calls if f"/{first['token']}/" in c.path and "/webhooks/" in c.path]
    finally:
        await e.client.close()
        await e.fake.stop()


async def test_429_is_retried_by_discord_py(tmp_path: Path, make_core: MakeCore) -> None:
    """A 429 at the first response (the answer, or the deferral on a slow machine) is retried by
    discord.py with the same body, and the member gets the quote."""
    e = await start(
        tmp_path,
        make_core(),
        **{"/callback": [(429, {"message": "You are being rate limited.", "retry_after": 0.2, "global": False})]},
    )
    try:
        e.feed(command("quote"))
        cbs = await e.callbacks(2)
        assert cbs[0].body == cbs[1].body
        assert "Ivan Maisky" in embed_text(await e.answer())
    finally:
        await e.client.close()
        await e.fake.stop()


async def test_cooldown_is_a_friendly_ephemeral_reply(tmp_path: Path, make_core: MakeCore) -> None:
    e = await start(tmp_path, core=make_core(), cooldown=3600)
    try:
        e.feed(command("ask", [{"type": 3, "name": "question", "value": "Eden"}]))
        await e.answer()
        e.feed(command("ask", [{"type": 3, "name": "question", "value": "Halifax"}]))
        body = await e.answer(2)  # at once, or deferred privately when the machine is slow
        assert body["flags"] == 64
        assert "Patience" in body["embeds"][0]["description"]
    finally:
        await e.client.close()
        await e.fake.stop()


async def test_a_failing_core_gets_the_error_template(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make_core: MakeCore
) -> None:
    class Broken(Maisky):
        def ask(self, question: str, rank: int = 0) -> Reply:
            raise RuntimeError("index on fire")

    core = make_core()
    e = await start(tmp_path, core=Broken(core.corpus, core.matcher, core.voice))
    try:
        e.feed(command("ask", [{"type": 3, "name": "question", "value": "Eden"}]))
        body = await e.answer()
        assert "Something went wrong on my side" in embed_text(body) and body["flags"] == 64
        assert any(r.exc_info and "index on fire" in str(r.exc_info[1]) for r in caplog.records)
    finally:
        await e.client.close()
        await e.fake.stop()


async def test_sync_payload_once_then_only_when_changed(env: Env, tmp_path: Path) -> None:
    puts = [c for c in env.fake.calls if c.method == "PUT"]
    assert len(puts) == 1 and puts[0].path == f"/applications/{APP_ID}/commands"
    (group,) = puts[0].body
    assert group["name"] == "maisky"
    assert [o["name"] for o in group["options"]] == [
        "ask", "another", "quote", "who", "quiz", "timeline", "sources", "about", "help", "daily"
    ]  # fmt: skip
    daily = group["options"][-1]
    assert [o["name"] for o in daily["options"]] == ["subscribe", "unsubscribe", "status", "preview"]
    tree = env.client.tree
    assert await sync_commands(tree, env.ds) is False  # same commands: no second PUT
    assert await sync_commands(tree, env.ds, force=True) is True  # `maisky discord sync`
    assert len([c for c in env.fake.calls if c.method == "PUT"]) == 2


async def test_guild_sync_goes_to_the_guild(tmp_path: Path, make_core: MakeCore) -> None:
    e = await start(tmp_path, make_core(), guild=int(GUILD_ID))
    try:
        puts = [c for c in e.fake.calls if c.method == "PUT"]
        assert [p.path for p in puts] == [f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"]
    finally:
        await e.client.close()
        await e.fake.stop()


def test_embed_limits_and_cutting(make_core: MakeCore) -> None:
    from dataclasses import replace

    reply = make_core().ask("Was Eden made of iron?")
    long = " ".join(f"Sentence number {n} is here." for n in range(1000))
    out = to_discord(replace(reply, passage=long))
    embed = out["embed"]
    assert len(embed.description) <= 4096 and "is here. […]" in embed.description
    assert len(embed) <= 6000 and len(out["content"]) <= 2000


@pytest.mark.parametrize(
    ("env_vars", "named"),
    [
        ({}, ["DISCORD_TOKEN: missing"]),
        ({"DISCORD_TOKEN": "nodots", "DISCORD_GUILD_ID": "abc", "DISCORD_SHARDS": "-2"},
         ["DISCORD_TOKEN: does not look", "DISCORD_GUILD_ID: 'abc'", "DISCORD_SHARDS: '-2'"]),
        ({"DISCORD_TOKEN": "a.b.c", "DISCORD_API_BASE": "nope", "DISCORD_GATEWAY_URL": "http://x"},
         ["DISCORD_API_BASE", "DISCORD_GATEWAY_URL"]),
    ],
)  # fmt: skip
def test_settings_errors_name_every_problem(env_vars: dict[str, str], named: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env_vars, dotenv=None).discord()
    for text in named:
        assert text in str(err.value)


def test_settings_parse_and_hide_the_token() -> None:
    ds = Settings.from_env(
        {"DISCORD_TOKEN": "x.y.secret", "DISCORD_GUILD_ID": GUILD_ID, "DISCORD_SHARDS": "auto",
         "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/"}, dotenv=None,
    ).discord()  # fmt: skip
    assert ds.guild_id == int(GUILD_ID) and ds.shards == 0 and ds.gateway_url == "ws://127.0.0.1:9/"
    assert "secret" not in repr(ds)


async def test_the_real_process_connects_to_a_fake_gateway_and_answers(tmp_path: Path) -> None:
    """`maisky discord` end to end: DISCORD_API_BASE and DISCORD_GATEWAY_URL point at local fakes."""
    import asyncio
    import os
    import sys

    fake = FakeDiscord()
    await fake.start()
    fake.events.append(
        ("INTERACTION_CREATE", command("ask", [{"type": 3, "name": "question", "value": "Was Eden made of iron?"}]))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    env |= {"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake.base, "DISCORD_GATEWAY_URL": fake.gateway,
            "MAISKY_STATE_DIR": str(tmp_path / "state"), "MAISKY_COOLDOWN": "0"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "discord", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert "soft clay" in embed_text((await fake.answers(timeout=180))[0])  # a start on a loaded machine
        assert fake.identify["token"] == TOKEN
        assert [c.path for c in fake.calls if c.method == "PUT"] == [f"/applications/{APP_ID}/commands"]
    finally:
        proc.terminate()
        output = (await asyncio.wait_for(proc.communicate(), 120))[0].decode()
        await fake.stop()
    assert TOKEN not in output  # the token never reaches the logs


async def test_maisky_discord_sync_pushes_the_commands_and_exits(tmp_path: Path) -> None:
    import asyncio
    import os
    import sys

    fake = FakeDiscord()
    await fake.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    env |= {"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake.base, "MAISKY_STATE_DIR": str(tmp_path / "state")}
    try:
        for _ in range(2):  # forced: the second run syncs although nothing changed
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "adapters.cli", "discord", "sync", cwd=tmp_path, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out = (await asyncio.wait_for(proc.communicate(), 180))[0].decode()  # read: a full pipe would block it
            assert proc.returncode == 0, out[-3000:]
        assert len([c for c in fake.calls if c.method == "PUT"]) == 2
        assert not fake.identify  # sync never opens the gateway
    finally:
        await fake.stop()


def test_maisky_discord_exits_1_naming_bad_settings(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")} | {"DISCORD_SHARDS": "many"}
    proc = subprocess.run([sys.executable, "-m", "adapters.cli", "discord"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=180)  # fmt: skip
    assert proc.returncode == 1
    assert "DISCORD_TOKEN: missing" in proc.stderr and "DISCORD_SHARDS: 'many'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_documented_invite_url_asks_for_exactly_the_permissions_needed() -> None:
    import re

    from adapters.discord.client import PERMISSIONS
    from tests.conftest import ROOT

    guide = (ROOT / "docs" / "discord.md").read_text(encoding="utf-8")
    (url,) = re.findall(r"https://discord\.com/oauth2/authorize\?\S+", guide)
    assert f"permissions={PERMISSIONS.value}" in url and "scope=bot%20applications.commands" in url


@pytest.mark.usefixtures("deferring_at_once")
async def test_a_slow_answer_is_deferred_then_edited_with_its_visibility(tmp_path: Path, make_core: MakeCore) -> None:
    held = threading.Semaphore(0)  # one answer let go per release: each is slower than the client waits

    class Slow(Maisky):
        def ask(self, question: str, rank: int = 0) -> Reply:
            assert held.acquire(timeout=180)  # until the test has seen the deferral
            return super().ask(question, rank)

    core = make_core()
    e = await start(tmp_path, Slow(core.corpus, core.matcher, core.voice))
    try:
        e.feed(command("ask", [{"type": 3, "name": "question", "value": "Was Eden made of iron?"}]))
        (deferred,) = await e.callbacks()
        assert deferred.body["type"] == 5 and not deferred.body.get("data", {}).get("flags")  # public, as asks are
        held.release()
        assert "soft clay" in embed_text(await e.answer())
        e.feed(command("ask", [{"type": 3, "name": "question", "value": "???"}]))
        await e.callbacks(2)
        held.release()
        late = await e.answer(2)  # turned out private: the public placeholder goes, a private follow-up comes
        assert late["flags"] == 64 and "no words there to search" in embed_text(late)
        originals = await e.fake.wait_for(lambda c: c.path.endswith("/messages/@original"), 2)
        assert [c.method for c in originals] == ["PATCH", "DELETE"]
    finally:
        for _ in range(2):
            held.release()
        await e.client.close()
        await e.fake.stop()


async def test_a_private_reply_to_a_mention_falls_back_to_the_channel_when_dms_are_closed(
    tmp_path: Path, make_core: MakeCore
) -> None:
    e = await start(tmp_path, make_core(), **{"/users/@me/channels": [(403, {"message": "Cannot DM", "code": 50007})]})
    try:
        me = {**BOT_USER, "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False}}
        e.client._connection.parse_message_create(channel_message(f"<@{BOT_USER['id']}> help", mentions=[me]))
        (call,) = await e.fake.wait_for(lambda c: c.method == "POST" and c.path.endswith("/messages"))
        assert call.path == f"/channels/{CHANNEL_ID}/messages" and "/maisky ask" in embed_text(call.body)
    finally:
        await e.client.close()
        await e.fake.stop()


async def test_each_client_has_its_own_endpoints(tmp_path: Path, make_core: MakeCore) -> None:
    """Two clients in one process, each against its own fake; discord.py's Route.BASE never moves."""
    first = await start(tmp_path / "a", make_core())
    second = await start(tmp_path / "b", make_core())
    try:
        assert discord.http.Route.BASE == DEFAULT_BASE
        second.feed(command("sources"))
        first.feed(command("quote"))
        assert "29 passages" in embed_text(await second.answer())
        assert "Ivan Maisky" in embed_text(await first.answer())
        assert not [c for c in first.fake.calls if c.path.endswith("/callback") and "29 passages" in json.dumps(c.body)]
    finally:
        for e in (first, second):
            await e.client.close()
            await e.fake.stop()


def test_the_gateway_setting_moves_only_discords_own_gateway() -> None:
    from adapters.discord.endpoints import Endpoints

    ours = Endpoints("http://127.0.0.1:9/api/v10", "ws://127.0.0.1:9/gateway")
    assert (
        ours.websocket("wss://gateway.discord.gg/?v=10&encoding=json") == "ws://127.0.0.1:9/gateway?v=10&encoding=json"
    )
    assert ours.websocket("ws://resume.example/?v=10") == "ws://resume.example/?v=10"
    assert ours.rest(DEFAULT_BASE + "/users/@me") == "http://127.0.0.1:9/api/v10/users/@me"
    assert Endpoints().websocket("wss://gateway.discord.gg/?v=10") == "wss://gateway.discord.gg/?v=10"


def reply_to(content: str, answer: dict[str, Any]) -> dict[str, Any]:
    """A member's reply (type 19) to the bot's message `answer`, mentioning the bot as Discord's reply does
    by default, with the replied-to message the gateway sends along. The shapes: Discord's "Message
    Reference Object" and MESSAGE_CREATE's `referenced_message` (docs.discord.com/developers/resources/message)."""
    me = {**BOT_USER, "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False}}
    data = channel_message(content, mentions=[me])
    data["type"] = 19
    data["message_reference"] = {"type": 0, "message_id": answer["id"], "channel_id": CHANNEL_ID, "guild_id": GUILD_ID}
    data["referenced_message"] = answer
    return data


async def test_a_reply_to_an_answer_continues_that_answer_not_the_channel(env: Env) -> None:
    me = {**BOT_USER, "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False}}
    posts = lambda c: c.method == "POST" and c.path == f"/channels/{CHANNEL_ID}/messages"  # noqa: E731
    first = channel_message(f"<@{BOT_USER['id']}> What did you think of Chamberlain?", mentions=[me])
    env.client._connection.parse_message_create(first)
    (answered,) = await env.fake.wait_for(posts)
    env.feed(command("ask", [{"type": 3, "name": "question", "value": "What did Joe Kennedy look like?"}],
                     interaction_id="880001"))  # fmt: skip
    await env.answer()
    later = channel_message(f"<@{BOT_USER['id']}> How was the diary found?", mentions=[me])
    env.client._connection.parse_message_create(later)  # the member's latest turn in the channel: the diary
    await env.fake.wait_for(posts, 2)
    # the bot's answer to the mention, as Discord shows it: a reply to the member's message
    answer = {**message_payload(CHANNEL_ID, answered.body), "message_reference": answered.body["message_reference"]}
    answer["message_reference"] |= {"channel_id": CHANNEL_ID, "guild_id": GUILD_ID}
    env.client._connection.parse_message_create(reply_to("who was he?", answer))
    who = (await env.fake.wait_for(posts, 3))[2].body
    assert who["message_reference"]["message_id"] and "Neville Chamberlain" in embed_text(who)
    # the answer to a slash command carries its interaction: a reply to it follows that question
    slash = {**message_payload(CHANNEL_ID, {"content": "Joe Kennedy"}),
             "interaction_metadata": {"id": "880001", "type": 2, "user": user()}}  # fmt: skip
    env.client._connection.parse_message_create(reply_to("who was he?", slash))
    kennedy = (await env.fake.wait_for(posts, 4))[3].body
    assert "Joseph P. Kennedy" in embed_text(kennedy) and "Chamberlain" not in embed_text(kennedy)
