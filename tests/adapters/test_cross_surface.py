"""One door: the same lines through all six surfaces (the console's one-shot commands, `maisky chat`,
Slack's /maisky and mentions through bolt, Discord's slash commands and mentions through discord.py)
give the same content and the same visibility. "@Maisky" in a line stands for each surface's own
way of mentioning the bot, wherever it stands in the line."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.discord.client import build_client
from adapters.slack.app import build_app
from bot import Maisky, Reply
from bot.chat.desk import Caller
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.discord_fakes import BOT_ID, BOT_USER, CHANNEL_ID, DM_ID, FakeDiscord, channel_message, command
from tests.adapters.discord_fakes import settings as discord_settings
from tests.adapters.slack_fakes import FakeSlack, event, served, slash
from tests.adapters.slack_fakes import settings as slack_settings

QUESTION = "What did you think of Chamberlain?"
PASSAGE = "globe-2015.the-night-meeting-with-churchill"
# (the line, the same as a one-shot console command (None: the console has no such form), the same as
# a Discord slash command: its name and options)
CASES: list[tuple[str, list[str] | None, tuple[str, list[dict[str, Any]]]]] = [
    ("help", ["help"], ("help", [])),
    ("help @Maisky", None, ("help", [])),
    ("@Maisky help", None, ("help", [])),
    ("about", ["about"], ("about", [])),
    ("sources", ["sources"], ("sources", [])),
    ("quote", ["quote"], ("quote", [])),
    ("who Churchill", ["who", "Churchill"], ("who", [{"type": 3, "name": "person", "value": "Churchill"}])),
    ("timeline 1939", ["timeline", "1939"], ("timeline", [{"type": 3, "name": "years", "value": "1939"}])),
    (QUESTION, ["ask", QUESTION], ("ask", [{"type": 3, "name": "question", "value": QUESTION}])),
    (PASSAGE, ["ask", PASSAGE], ("ask", [{"type": 3, "name": "question", "value": PASSAGE}])),
    ("another", None, ("another", [])),
]
_ids = itertools.count(1)


def marker(reply: Reply) -> str:
    """What identifies a reply on any surface: its passage id, else its narration's first words."""
    return reply.citation.passage_id if reply.citation else " ".join(reply.narration.split()[:4])


def expected(core: Maisky, line: str) -> tuple[str, bool]:
    caller = Caller("test", "T1", "C1", "U1", me=("UBOT",))
    outcome = desk_for(core).handle_line(line.replace("@Maisky", "<@UBOT>"), caller)
    return marker(outcome.reply), outcome.private


def addressed(line: str, mention: str) -> str:
    """The line as a mention: the placeholder replaced, or the mention put first."""
    return line.replace("@Maisky", mention) if "@Maisky" in line else f"{mention} {line}"


def slack_slash(fake: FakeSlack, url: str, line: str) -> tuple[str, bool]:
    user = f"U{next(_ids)}"
    assert slash(url, fake, line.replace("@Maisky", "<@UBOT|maisky>"), user=user)[0] == 200
    body = fake.wait_for(f"/response/{user}")[0].body
    return json.dumps(body, ensure_ascii=False), body["response_type"] == "ephemeral"


def slack_mention(fake: FakeSlack, url: str, line: str) -> tuple[str, bool]:
    n = next(_ids)
    ev = {"type": "app_mention", "user": f"U{n}", "text": addressed(line, "<@UBOT>"), "ts": f"18.{n}", "channel": "C9"}
    assert event(url, ev, f"EvX{n}")[0] == 200
    (call,) = fake.wait_until(
        lambda calls: [c for c in calls if "/chat.post" in c.path and c.body.get("thread_ts") == f"18.{n}"] or None
    )
    return json.dumps(call.body, ensure_ascii=False), call.path.endswith("/chat.postEphemeral")


async def discord_slash(fake: FakeDiscord, client: Any, name: str, options: list[dict[str, Any]]) -> tuple[str, bool]:
    client._connection.parse_interaction_create(command(name, options))
    (body,) = await fake.answers()  # the test's one interaction
    return json.dumps(body, ensure_ascii=False), bool(body.get("flags", 0) & 64)


async def discord_mention(fake: FakeDiscord, client: Any, line: str) -> tuple[str, bool]:
    me = {**BOT_USER, "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False}}
    seen = len(fake.calls)
    client._connection.parse_message_create(channel_message(addressed(line, f"<@{BOT_ID}>"), mentions=[me]))
    (call,) = await fake.wait_for(
        lambda c: c.method == "POST" and c.path.endswith("/messages") and fake.calls.index(c) >= seen
    )
    assert call.body["allowed_mentions"]["parse"] == []
    private = call.path == f"/channels/{DM_ID}/messages"
    assert private or call.path == f"/channels/{CHANNEL_ID}/messages"
    return json.dumps(call.body, ensure_ascii=False), private


def console(argv: list[str]) -> str:
    out = io.StringIO()
    assert main(argv, out=out) == 0
    return out.getvalue()


def chat(line: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`maisky chat` with the line typed, then the end of input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(line + "\n"))
    monkeypatch.setenv("MAISKY_HISTORY", "/dev/null")
    out = console(["chat"])
    return out.split("Type a question, or 'help', or 'quit'.", 1)[1]


@pytest.mark.parametrize(("line", "argv", "slash_command"), CASES, ids=[c[0] for c in CASES])
async def test_the_same_line_reads_the_same_on_all_six_surfaces(
    line: str,
    argv: list[str] | None,
    slash_command: tuple[str, list[dict[str, Any]]],
    make_core: MakeCore,
    fake_slack: FakeSlack,
    fake_discord: FakeDiscord,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'console.sqlite3'}")
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
                "discord slash command": await discord_slash(fake_discord, client, *slash_command),
                "discord mention": await discord_mention(fake_discord, client, line),
            }
    finally:
        await client.close()
    chatted = chat(line, monkeypatch)
    said = console(argv) if argv is not None else None
    # a test that ran past midnight UTC saw the day's quotation change on the way: either day's is right
    marks = {mark} | ({expected(core, line)[0]} if dt.datetime.now(dt.UTC).date() != day else set())
    for surface, (content, was_private) in seen.items():
        assert any(m in content.replace("\\\\", "") for m in marks), f"{surface}: {line!r}"
        assert was_private == private, f"{surface}: {line!r} should be {'private' if private else 'public'}"
        # the mention was no part of the line (the bare id may occur by chance in a payload's random nonce)
        assert "UBOT" not in content and f"<@{BOT_ID}>" not in content and f"<@!{BOT_ID}>" not in content
    assert any(m in chatted for m in marks), f"maisky chat: {line!r}"
    if said is not None:
        assert any(m in said for m in marks), f"maisky {' '.join(argv or [])}"
