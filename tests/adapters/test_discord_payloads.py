"""Payloads Discord really sends, through discord.py itself (issue 23's Discord items, 24.8): the bot's
own managed role as a mention, system messages in DMs, daily commands in a DM, commands a member's
client still has from before an update, where the commands are offered, a gateway event discord.py
cannot parse, and an API that answers something unexpected. The payloads' shapes are noted in
tests/adapters/discord_fakes.py, beside each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.client import MaiskyClient, build_client
from bot.ops.bootstrap import build_daily
from bot.ops.settings import DiscordSettings
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.discord_fakes import (
    BOT_ROLE_ID,
    OTHER_ROLE_ID,
    PINNED,
    TOKEN,
    Call,
    FakeDiscord,
    channel_message,
    command,
    dm_command,
    guild_create,
    settings,
)

WAIT = 180  # seconds: generous, for a loaded machine; every wait ends as soon as its event comes


@dataclass
class Env:
    fake: FakeDiscord
    client: MaiskyClient
    ds: DiscordSettings

    def feed(self, payload: dict[str, Any]) -> None:
        self.client._connection.parse_interaction_create(payload)

    def message(self, payload: dict[str, Any]) -> None:
        self.client._connection.parse_message_create(payload)

    async def settled(self) -> None:
        """Every message handler discord.py has started has finished (its replies, if any, are sent)."""
        running = [t for t in asyncio.all_tasks() if t.get_name().startswith("discord.py: on_message")]
        if running:
            await asyncio.wait_for(asyncio.gather(*running), WAIT)

    def posted(self) -> list[Call]:
        return [c for c in self.fake.calls if c.method == "POST" and c.path.endswith("/messages")]


@pytest.fixture
async def env(tmp_path: Path, make_core: MakeCore) -> AsyncIterator[Env]:
    from bot import Settings

    core = make_core()
    db = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'daily.sqlite3'}"}, dotenv=None)
    fake = FakeDiscord()
    await fake.start()
    ds = settings(fake, tmp_path / "state")
    client = build_client(desk_for(core, daily=build_daily(db, core)), ds)
    await client.login(TOKEN)
    yield Env(fake, client, ds)
    await client.close()
    await fake.stop()


def text_of(body: dict[str, Any]) -> str:
    embeds = body.get("embeds") or []
    return body.get("content", "") + " ".join(e.get("description", "") for e in embeds)


# 23.6: Discord's @-picker often inserts the bot's managed role instead of the bot user


async def test_a_mention_of_the_bots_own_role_is_a_mention_of_the_bot(env: Env) -> None:
    env.client._connection.parse_guild_create(guild_create())
    env.message(channel_message(f"<@&{BOT_ROLE_ID}> Was Eden made of iron?", mention_roles=[BOT_ROLE_ID]))
    (call,) = await env.fake.wait_for(lambda c: c.method == "POST" and c.path.endswith("/messages"), timeout=WAIT)
    assert call.body["message_reference"]["message_id"]  # a reply to the member's message
    assert "soft clay" in text_of(call.body)  # the role mention is no part of the question
    assert call.body["allowed_mentions"] == {"parse": [], "replied_user": False}


async def test_a_mention_of_another_role_is_not_a_mention_of_the_bot(env: Env) -> None:
    env.client._connection.parse_guild_create(guild_create())
    env.message(channel_message(f"<@&{OTHER_ROLE_ID}> Was Eden made of iron?", mention_roles=[OTHER_ROLE_ID]))
    await env.settled()
    assert not env.posted()


# 23.7d: system messages, daily commands in a DM, commands changed by an update


async def test_a_system_message_in_a_dm_is_not_answered(env: Env) -> None:
    env.message(channel_message("", dm=True, kind=PINNED))  # "Member pinned a message to this channel."
    env.message(channel_message("Was Eden made of iron?", dm=True, kind=19))  # a REPLY is a member's words
    await env.settled()
    (call,) = env.posted()
    assert "soft clay" in text_of(call.body)


async def test_daily_subscribe_in_a_dm_says_daily_posts_are_for_server_channels(env: Env) -> None:
    env.feed(dm_command("subscribe", [{"type": 3, "name": "time", "value": "09:00"}], group="daily"))
    body = (await env.fake.answers(timeout=WAIT))[0]
    assert body["flags"] == 64 and "for server channels" in text_of(body)
    assert "manage" not in text_of(body).split("not direct messages")[0]
    env.message(channel_message("daily subscribe 09:00", dm=True))  # the same, typed in the DM
    (call,) = await env.fake.wait_for(lambda c: c.method == "POST" and c.path.endswith("/messages"), timeout=WAIT)
    assert "for server channels" in text_of(call.body)


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (command("poll"), "no command 'maisky poll'"),  # a subcommand a deploy removed
        ({**command("ask"), "data": {"id": "3001", "name": "maisky-old", "type": 1}}, "no command 'maisky-old'"),
        (command("ask", [{"type": 3, "name": "question", "value": "Eden"}, {"type": 3, "name": "lang", "value": "ru"}]),
         "has no option(s) 'lang'"),  # an option a deploy removed: discord.py alone ignores it
        (command("who"), "/maisky who has other options now"),  # a required option it did not have before
        (command("quiz", [{"type": 3, "name": "action", "value": "reset"}]), "option it no longer takes"),
    ],
    ids=["removed-subcommand", "removed-command", "removed-option", "new-required-option", "removed-choice"],
)  # fmt: skip
async def test_a_command_changed_by_an_update_says_reload_discord(
    env: Env, caplog: pytest.LogCaptureFixture, payload: dict[str, Any], what: str
) -> None:
    caplog.set_level(logging.INFO)
    env.feed(payload)
    (cb,) = await env.fake.wait_for(lambda c: c.path.endswith("/callback"), timeout=WAIT)
    assert cb.body["type"] == 4 and cb.body["data"]["flags"] == 64
    said = text_of(cb.body["data"])
    assert "Reload Discord" in said and "try again in a moment" not in said
    ours = [r for r in caplog.records if r.name.startswith(("adapters.", "maisky"))]
    (line,) = [r for r in ours if r.levelno >= logging.WARNING]
    assert what in line.getMessage() and "reload Discord" in line.getMessage()
    assert line.exc_info is None and not [r for r in caplog.records if r.exc_info]  # no traceback anywhere


async def test_autocomplete_for_a_removed_command_gets_no_choices(env: Env) -> None:
    env.feed(command("poll", [{"type": 3, "name": "topic", "value": "Ed", "focused": True}], kind=4))
    (cb,) = await env.fake.wait_for(lambda c: c.path.endswith("/callback"), timeout=WAIT)
    assert cb.body == {"type": 8, "data": {"choices": []}}


# 23.7e: where the commands are offered, on purpose


async def test_the_commands_say_where_they_are_offered(env: Env) -> None:
    (put,) = [c for c in env.fake.calls if c.method == "PUT"]
    (group,) = put.body
    assert group["contexts"] == [0, 1]  # servers and DMs with the bot; not other people's DMs (PRIVATE_CHANNEL)
    assert group["integration_types"] == [0]  # installed to servers only
    assert "dm_permission" not in group  # deprecated for `contexts`


async def test_doctor_tells_a_command_set_synced_without_contexts_from_this_one(env: Env) -> None:
    """Discord's copy from before this change (contexts unset, dm_permission) is not this version's."""
    from adapters.discord.checks import _shape

    (put,) = [c for c in env.fake.calls if c.method == "PUT"]
    ours = put.body
    before = [{k: v for k, v in c.items() if k not in ("contexts", "integration_types")} | {"dm_permission": True}
              for c in ours]  # fmt: skip
    assert _shape(before) != _shape(ours)
    assert _shape([{**c, "integration_types": None} for c in ours]) == _shape(ours)  # [0] is Discord's default


# 23.7f: a gateway payload discord.py cannot parse


async def test_an_event_discord_py_cannot_parse_is_logged_and_the_bot_goes_on(
    tmp_path: Path, make_core: MakeCore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = "my-very-private-words"
    broken = channel_message(secret)
    del broken["author"]  # a MESSAGE_CREATE discord.py cannot read: every message has an author
    fake = FakeDiscord()
    await fake.start()
    fake.events += [
        ("MESSAGE_CREATE", broken),
        ("INTERACTION_CREATE", command("ask", [{"type": 3, "name": "question", "value": "Was Eden made of iron?"}])),
    ]
    ds = DiscordSettings(TOKEN, None, fake.base, fake.gateway, None, tmp_path / "state")
    client = build_client(desk_for(make_core()), ds)
    try:
        await client.login(TOKEN)
        connection = asyncio.create_task(client.connect(reconnect=False))
        answered = asyncio.create_task(fake.answers(timeout=WAIT))
        done, _ = await asyncio.wait({connection, answered}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        assert answered in done, f"the connection ended first: {connection.exception() if connection.done() else ''}"
        assert "soft clay" in text_of(answered.result()[0])
        assert not connection.done()  # still connected
        lines = [r.getMessage() for r in caplog.records if "MESSAGE_CREATE" in r.getMessage()]
        assert len(lines) == 1 and "could not parse" in lines[0] and " at discord/message.py:" in lines[0]
        assert not [r for r in caplog.records if secret in r.getMessage() or r.exc_info]
    finally:
        await client.close()
        await fake.stop()


# 24.8: an API that answers, but not as Discord does


@pytest.mark.parametrize(
    ("answer", "what"),
    [
        ((200, {"ok": True}), "HTTP 200, application/json, no gateway url"),  # a proxy's own JSON
        ((404, {"message": "404: Not Found", "code": 0}), "HTTP 404"),  # DISCORD_API_BASE without /api/v10
        ((200, {"url": "http://127.0.0.1:9"}), "not ws:// or wss://"),
    ],
)
async def test_an_api_answering_something_unexpected_is_named(
    tmp_path: Path, answer: tuple[int, dict[str, Any]], what: str
) -> None:
    from adapters.lifecycle import check_discord_gateway
    from bot.errors import ServiceError

    fake = FakeDiscord(fail={"/gateway": [answer]})
    await fake.start()
    try:
        ds = DiscordSettings(TOKEN, None, fake.base, "", None, tmp_path / "state")
        with pytest.raises(ServiceError) as err:
            await asyncio.wait_for(asyncio.to_thread(check_discord_gateway, ds), WAIT)
    finally:
        await fake.stop()
    said = str(err.value)
    assert f"answered something unexpected at GET {fake.base}/gateway" in said and what in said
    assert "cannot reach" not in said and "'url'" not in said
    assert [c.path for c in fake.calls] == ["/gateway"]


# Red team: hostile names and values through the paths added for 23.7d and 23.7f

LABEL = "Maisky as narrator"


async def test_a_changed_command_with_hostile_option_names_and_values_pings_no_one_and_quotes_nothing(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """An option this version does not know, its name and value full of mentions, markdown, a newline that
    would start a log line of its own, and 100,000 characters: the member gets the fixed "reload Discord"
    reply with the label and no pings; the log names the option quoted (newline escaped), never a value."""
    caplog.set_level(logging.INFO)
    name = "@everyone\n2026-12-07 ERROR forged **<@&8200>**"
    value = "<@&8200> @here **bold** ||spoiler|| " + "v" * 100_000
    env.feed(command("ask", [{"type": 3, "name": "question", "value": "@everyone <@1> Eden?"},
                             {"type": 3, "name": name, "value": value}]))  # fmt: skip
    (cb,) = await env.fake.wait_for(lambda c: c.path.endswith("/callback"), timeout=WAIT)
    data = cb.body["data"]
    said = text_of(data)
    assert cb.body["type"] == 4 and data["flags"] == 64 and data["allowed_mentions"] == {"parse": []}
    assert "Reload Discord" in said and LABEL in said
    assert "@everyone" not in said and "8200" not in said and "vvvv" not in said
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "\n" not in line and "vvvv" not in line and "Eden" not in line
    assert not [r for r in caplog.records if r.exc_info]


async def test_daily_in_a_dm_answer_carries_the_label_and_pings_no_one(env: Env) -> None:
    env.feed(dm_command("subscribe", [{"type": 3, "name": "time", "value": "@everyone"}], group="daily"))
    body = (await env.fake.answers(timeout=WAIT))[0]
    assert LABEL in text_of(body) and "for server channels" in text_of(body)
    assert body["allowed_mentions"] == {"parse": []} and "@everyone" not in text_of(body)


TOKEN_LIKE = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"  # discord.py docs' sample token


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("MESSAGE_CREATE", {**channel_message("hello"), "id": TOKEN_LIKE}),  # int() quotes it in its ValueError
        ("MESSAGE_CREATE", {**channel_message(TOKEN_LIKE), "author": TOKEN_LIKE}),  # a str where an object goes
        ("GUILD_CREATE", {"id": TOKEN_LIKE, "name": TOKEN_LIKE}),
    ],
    ids=["message-id", "message-author", "guild"],
)
async def test_a_broken_event_carrying_a_token_logs_neither_the_token_nor_a_traceback(
    env: Env, event: str, payload: dict[str, Any]
) -> None:
    """What the gateway's read loop calls for the event (the connection state's parser of that type) is
    handed a payload discord.py cannot read, whose exception would quote a token-like value: one line,
    naming the event and where discord.py failed, and nothing of the payload. Read from the log stream
    as `maisky discord` writes it (bot.ops.logs at DEBUG, where discord.py's own lines can quote a field)."""
    import io

    from bot.ops.logs import setup

    root = logging.getLogger()
    kept, level = list(root.handlers), root.level
    stream = io.StringIO()
    setup("DEBUG", stream=stream, secret_values=[TOKEN])
    try:
        env.client._connection.parsers[event](payload)  # returns: the read loop goes on
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in kept:
            root.addHandler(handler)
        root.setLevel(level)
    written = stream.getvalue()
    ours = [line for line in written.splitlines() if "could not parse" in line]
    assert len(ours) == 1 and event in ours[0], written
    assert TOKEN_LIKE not in written and "Traceback" not in written, written
