"""The same line gives the same content and visibility on every surface: Slack's /maisky and
mentions, Discord mentions (and slash commands), and the console's chat. Each case below was a
drift between the front ends before they shared one parser and one front desk."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.chat import respond
from adapters.discord.client import build_client
from adapters.slack.app import build_app
from bot import Maisky, Reply
from bot.chat.desk import Caller, FrontDesk
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.discord_fakes import BOT_USER, CHANNEL_ID, DM_ID, FakeDiscord, channel_message, command, user
from tests.adapters.discord_fakes import settings as discord_settings
from tests.adapters.slack_fakes import FakeSlack, event, served, slash
from tests.adapters.slack_fakes import settings as slack_settings

LINES = [
    "help",
    "about",
    "sources",
    "quote",
    "who Churchill",
    "who kenedy",
    "Who found the diary?",
    "Who wrote the article?",
    "About how long were you in London?",
    "Help me understand Munich",
    "Quote something Churchill said",
    "???",
    "What is the capital of Australia?",
    "daily status",
]
_ids = itertools.count(1)


def marker(reply: Reply) -> str:
    """What identifies a reply on any surface: its passage id, else its narration's first words."""
    return reply.citation.passage_id if reply.citation else " ".join(reply.narration.split()[:4])


def expected(core: Maisky, line: str) -> tuple[str, bool]:
    outcome = FrontDesk(core).handle_line(line, Caller("test", "T1", "C1", "U1"))
    return marker(outcome.reply), outcome.private


def slack_slash(fake: FakeSlack, url: str, line: str) -> tuple[str, bool]:
    user = f"U{next(_ids)}"
    assert slash(url, fake, line, user=user)[0] == 200
    body = fake.wait_for(f"/response/{user}")[0].body
    return json.dumps(body, ensure_ascii=False), body["response_type"] == "ephemeral"


def slack_mention(fake: FakeSlack, url: str, line: str) -> tuple[str, bool]:
    """A mention in channel C9; the answer goes to its thread, in the channel or only for the asker."""
    n = next(_ids)
    ev = {"type": "app_mention", "user": f"U{n}", "text": f"<@UBOT> {line}", "ts": f"17.{n}", "channel": "C9"}
    assert event(url, ev, f"Ev{n}")[0] == 200
    (call,) = fake.wait_until(
        lambda calls: [c for c in calls if "/chat.post" in c.path and c.body.get("thread_ts") == f"17.{n}"] or None
    )
    private = call.path.endswith("/chat.postEphemeral")
    assert call.body["channel"] == "C9" and (not private or call.body["user"] == f"U{n}")
    return json.dumps(call.body, ensure_ascii=False), private


async def discord_mention(fake: FakeDiscord, client: Any, line: str) -> tuple[str, bool]:
    me = {**BOT_USER, "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False}}
    seen = len(fake.calls)
    client._connection.parse_message_create(channel_message(f"<@{BOT_USER['id']}> {line}", mentions=[me]))
    (call,) = await fake.wait_for(
        lambda c: c.method == "POST" and c.path.endswith("/messages") and fake.calls.index(c) >= seen
    )
    assert call.body["allowed_mentions"]["parse"] == []
    private = call.path == f"/channels/{DM_ID}/messages"  # only the asker sees a DM
    assert private or call.path == f"/channels/{CHANNEL_ID}/messages"
    return json.dumps(call.body, ensure_ascii=False), private


@pytest.mark.parametrize("line", LINES)
async def test_the_same_line_gives_the_same_reply_and_visibility_everywhere(
    line: str, make_core: MakeCore, fake_slack: FakeSlack, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    core = make_core()
    day = dt.datetime.now(dt.UTC).date()
    mark, private = expected(core, line)
    client = build_client(desk_for(core), discord_settings(fake_discord, tmp_path))
    await client.login("MTAwMA.fake.token")
    try:
        with served(build_app(desk_for(core), slack_settings(fake_slack))) as url:
            seen = {
                "slack /maisky": await asyncio.to_thread(slack_slash, fake_slack, url, line),
                "slack mention": await asyncio.to_thread(slack_mention, fake_slack, url, line),
                "discord mention": await discord_mention(fake_discord, client, line),
            }
    finally:
        await client.close()
    chat = respond(FrontDesk(core), line, Caller("console", "local", "console", "me"))
    # a test that ran past midnight UTC saw the day's quotation change on the way: either day's is right
    marks = {mark} | ({expected(core, line)[0]} if dt.datetime.now(dt.UTC).date() != day else set())
    for surface, (content, was_private) in seen.items():
        assert any(m in content.replace("\\\\", "") for m in marks), f"{surface}: {line!r}"
        assert was_private == private, f"{surface}: {line!r} should be {'private' if private else 'public'}"
    assert chat is not None and any(m in chat for m in marks)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Who found the diary?", "not the people list"),
        ("About how long were you in London?", "not the about text"),
        ("Help me understand Munich", "not the help"),
        ("Quote something Churchill said", "not today's quotation"),
    ],
)
def test_a_question_that_begins_with_a_command_word_is_answered_as_a_question(
    line: str, kind: str, make_core: MakeCore
) -> None:
    core = make_core()
    assert expected(core, line) == (marker(core.ask(line)), False), kind


async def test_help_in_a_mention_spends_no_cooldown_on_any_surface(
    make_core: MakeCore, fake_slack: FakeSlack, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """On Discord "@Maisky help" was a question that spent the cooldown: the member's next real
    question got "Patience, comrade"."""
    core = make_core()
    client = build_client(desk_for(core, cooldown=3600), discord_settings(fake_discord, tmp_path))
    await client.login("MTAwMA.fake.token")
    try:
        with served(build_app(desk_for(core, cooldown=3600), slack_settings(fake_slack))) as url:
            for line in ("help", "about", "sources", "daily status", "What did you think of Chamberlain?"):
                slack = await asyncio.to_thread(slack_mention, fake_slack, url, line)
                discord = await discord_mention(fake_discord, client, line)
        for content, _ in (slack, discord):
            assert "Patience" not in content and "globe-2015." in content
        second = await discord_mention(fake_discord, client, "Eden iron")
        assert "Patience" in second[0] and second[1]  # the question did spend it, and the note is private
    finally:
        await client.close()


async def test_an_invalid_question_is_private_on_discord_slash_commands_too(
    make_core: MakeCore, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    client = build_client(desk_for(make_core()), discord_settings(fake_discord, tmp_path))
    await client.login("MTAwMA.fake.token")
    try:
        client._connection.parse_interaction_create(command("ask", [{"type": 3, "name": "question", "value": "???"}]))
        (body,) = await fake_discord.answers()
        assert body["flags"] == 64 and "no words there to search" in body["embeds"][0]["description"]
    finally:
        await client.close()


def help_words(reply: Reply, prefix: str) -> list[str]:
    assert all(item.startswith(prefix) for item in reply.items)
    return [item[len(prefix) :].split(":")[0].split()[0] for item in reply.items]


async def test_every_command_the_help_lists_exists_on_that_surface(
    make_core: MakeCore, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    from adapters.discord.client import PREFIX as DISCORD
    from adapters.slack.app import PREFIX as SLACK
    from bot.chat.commands import Ask

    core = make_core()
    member = Caller("test", "T1", "C1", "U1")
    slack_words = help_words(FrontDesk(core, prefix=SLACK).handle_line("help", member).reply, SLACK)
    assert {"ask", "another", "who", "quote", "sources", "about", "daily", "help"} <= set(slack_words)
    for word in slack_words:  # each is a command as typed (with an argument where it takes one)
        typed = {"ask": "ask Eden", "who": "who Eden", "daily": "daily status"}.get(word, word)
        assert not isinstance(FrontDesk(core).parse(typed), Ask) or word == "ask", word
    client = build_client(desk_for(core), discord_settings(fake_discord, tmp_path))
    await client.login("MTAwMA.fake.token")
    try:
        (put,) = [c for c in fake_discord.calls if c.method == "PUT"]
        subcommands = {o["name"] for o in put.body[0]["options"]}
        discord_words = help_words(client.desk.help(), DISCORD)
        assert set(discord_words) <= subcommands
    finally:
        await client.close()


# Dialogues: follow-ups read the conversation's last turn the same way on every surface. A Slack
# thread, a Discord channel (one member's talk in it) and a `maisky chat` session are one conversation each.

DIALOGUE = [
    "What did Joe Kennedy look like?",
    "what did he say next?",
    "ok",
    "and Winant?",
    "who was he?",
    "What did you think of Mussolini?",
    "and Halifax?",
    "why did you call him the Bishop?",
    "tell me more",
]


def slack_in_thread(fake: FakeSlack, url: str, line: str, user: str, thread: str) -> tuple[str, str]:
    """A mention by `user` in channel C9, in `thread` ("": a new thread); the reply and its thread."""
    n = next(_ids)
    ts = f"18.{n}"
    ev = {"type": "app_mention", "user": user, "text": f"<@UBOT> {line}", "ts": ts, "channel": "C9"}
    if thread:
        ev["thread_ts"] = thread
    where = thread or ts
    seen = len([c for c in fake.calls if "/chat.post" in c.path and c.body.get("thread_ts") == where])
    assert event(url, ev, f"Ev{n}")[0] == 200
    sent = fake.wait_until(
        lambda calls: [c for c in calls if "/chat.post" in c.path and c.body.get("thread_ts") == where][seen:] or None
    )
    return json.dumps(sent[-1].body, ensure_ascii=False), where


async def discord_by(fake: FakeDiscord, client: Any, line: str, member: str) -> str:
    """A mention by `member` in the guild channel; the reply (in the channel, or by DM when private)."""
    me = {**BOT_USER, "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False}}
    seen = len(fake.calls)
    message = channel_message(f"<@{BOT_USER['id']}> {line}", mentions=[me], author=user(member, f"m{member}"))
    client._connection.parse_message_create(message)
    (call,) = await fake.wait_for(
        lambda c: c.method == "POST" and c.path.endswith("/messages") and fake.calls.index(c) >= seen
    )
    return json.dumps(call.body, ensure_ascii=False)


def answers(core: Maisky, lines: list[str], caller: Caller) -> list[str]:
    desk = FrontDesk(core)
    return [marker(desk.handle_line(line, caller).reply) for line in lines]


async def test_the_same_dialogue_gives_the_same_answers_in_chat_a_slack_thread_and_a_discord_channel(
    make_core: MakeCore, fake_slack: FakeSlack, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    core = make_core()
    marks = answers(core, DIALOGUE, Caller("console", "local", "console", "me"))
    assert len({m for m in marks if m.startswith("globe-2015.")}) >= 4  # the follow-ups did move on
    desk = FrontDesk(core)
    chat = [respond(desk, line, Caller("console", "local", "console", "me")) for line in DIALOGUE]
    client = build_client(desk_for(core), discord_settings(fake_discord, tmp_path))
    await client.login("MTAwMA.fake.token")
    try:
        with served(build_app(desk_for(core), slack_settings(fake_slack))) as url:
            slack, thread = [], ""
            for line in DIALOGUE:
                content, thread = await asyncio.to_thread(slack_in_thread, fake_slack, url, line, "U77", thread)
                slack.append(content)
        discord = [await discord_by(fake_discord, client, line, "6001") for line in DIALOGUE]
    finally:
        await client.close()
    for line, mark, said, s, d in zip(DIALOGUE, marks, chat, slack, discord, strict=True):
        assert said is not None and mark in said, f"chat: {line!r}"
        assert mark in s.replace("\\\\", ""), f"slack thread: {line!r}"
        assert mark in d.replace("\\\\", ""), f"discord channel: {line!r}"


# Two conversations interleaved: each line's answer is the one it gets when its conversation is alone.
ALICE = ["What did Harold Nicolson write to you?", "who was he?", "tell me more", "and Eden?"]
BOB = ["What did Joe Kennedy look like?", "what did he say next?", "and Winant?", "who was he?"]


async def test_two_members_in_one_discord_channel_never_share_context(
    make_core: MakeCore, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    core = make_core()
    alice_alone = answers(core, ALICE, Caller("discord", "G", "C", "alice"))
    bob_alone = answers(core, BOB, Caller("discord", "G", "C", "bob"))
    client = build_client(desk_for(core), discord_settings(fake_discord, tmp_path))
    await client.login("MTAwMA.fake.token")
    try:
        alice, bob = [], []
        for a, b in zip(ALICE, BOB, strict=True):  # interleaved, in the same channel
            alice.append(await discord_by(fake_discord, client, a, "6001"))
            bob.append(await discord_by(fake_discord, client, b, "6002"))
    finally:
        await client.close()
    assert sum(m not in got for m, got in zip(alice_alone, alice, strict=True)) == 0
    assert sum(m not in got for m, got in zip(bob_alone, bob, strict=True)) == 0
    assert alice_alone[1] != bob_alone[3]  # "who was he?" is Nicolson for one and Winant for the other


def test_two_slack_threads_and_two_members_in_one_thread_never_share_context(
    make_core: MakeCore, fake_slack: FakeSlack
) -> None:
    core = make_core()
    alice_alone = answers(core, ALICE, Caller("slack", "T", "C9", "UA"))
    bob_alone = answers(core, BOB, Caller("slack", "T", "C9", "UB"))
    with served(build_app(desk_for(core), slack_settings(fake_slack))) as url:
        # one member, two threads of one channel
        alice, bob, one, two = [], [], "", ""
        for a, b in zip(ALICE, BOB, strict=True):
            content, one = slack_in_thread(fake_slack, url, a, "UA", one)
            alice.append(content)
            content, two = slack_in_thread(fake_slack, url, b, "UA", two)
            bob.append(content)
        assert sum(m not in got for m, got in zip(alice_alone, alice, strict=True)) == 0
        assert sum(m not in got for m, got in zip(bob_alone, bob, strict=True)) == 0
        # two members in one thread: each follow-up reads its own member's last turn
        alice, bob, shared = [], [], ""
        for a, b in zip(ALICE, BOB, strict=True):
            content, shared = slack_in_thread(fake_slack, url, a, "UC", shared)
            alice.append(content)
            content, shared = slack_in_thread(fake_slack, url, b, "UD", shared)
            bob.append(content)
    assert sum(m not in got for m, got in zip(alice_alone, alice, strict=True)) == 0
    assert sum(m not in got for m, got in zip(bob_alone, bob, strict=True)) == 0
