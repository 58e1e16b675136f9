"""Text no encoder accepts, through the real Slack and Discord code paths: answered, never the error template.

A JSON payload may carry a lone surrogate ("\\ud800"); both json modules decode it into a str that
cannot be encoded again. A form body may carry percent-encoded bytes that are not UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from slack_sdk import WebClient

from adapters.discord.client import build_client
from adapters.slack.app import build_app
from bot import Maisky, Settings, build
from bot.ops.settings import DiscordSettings, SlackSettings
from tests.adapters.discord_fakes import BOT_USER, TOKEN, FakeDiscord, channel_message, command
from tests.adapters.slack_fakes import SECRET, FakeSlack, event, post, served, slash
from tests.conftest import PERSONA, SEEDS

QUESTION = "What did you think of Chamberlain? \udfff\ud800"  # low before high: no pair
ERROR_WORDS = "Something went wrong on my side"


def make_core() -> Maisky:
    return build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA))


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeSlack, str]]:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeSlack()
    settings = SlackSettings("xoxb-test", SECRET, "", fake.api_url, 3000)
    app = build_app(make_core(), settings, WebClient(token="xoxb-test", base_url=fake.api_url))
    with served(app) as url:
        yield fake, url
    fake.close()


def text_of(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_slack_mention_with_a_lone_surrogate_is_answered(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    ev = {"type": "app_mention", "user": "U2", "text": "<@UBOT> " + QUESTION, "ts": "1700.1", "channel": "C9"}
    assert event(url, ev, "EvSurrogate")[0] == 200  # json.dumps sends the surrogates as \ud800 escapes
    body = fake.wait_for("/chat.postMessage")[0].body
    assert ("grave-digger" in text_of(body) or "umbrella" in text_of(body)) and ERROR_WORDS not in text_of(body)


def test_slack_direct_message_with_a_lone_surrogate_is_answered(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    ev = {"type": "message", "channel_type": "im", "user": "U2", "text": "\udc80Was Eden made of iron?",
          "ts": "1700.2", "channel": "D1"}  # fmt: skip
    assert event(url, ev, "EvSurrogateDM")[0] == 200
    body = fake.wait_for("/chat.postMessage")[0].body
    assert "soft clay" in text_of(body)


def test_slack_slash_command_with_bytes_that_are_not_utf8_is_answered(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    status, _ = slash(url, fake, "What did you think of Chamberlain?")  # a baseline for the shape
    assert status == 200
    fake.wait_for("/response/U1")
    form = ("token=legacy&team_id=T1&channel_id=C1&user_id=U7&command=%2Fmaisky&trigger_id=trig-broken"
            f"&response_url={fake.url}/response/U7&text=Was+Eden+made+of+iron%3F+%ED%A0%80%FF%FE")  # fmt: skip
    assert post(url, form, "application/x-www-form-urlencoded")[0] == 200
    body = fake.wait_for("/response/U7")[0].body
    assert "soft clay" in text_of(body) and ERROR_WORDS not in text_of(body)


@pytest.fixture
async def discord_env(tmp_path: Path) -> AsyncIterator[tuple[FakeDiscord, discord.Client]]:
    default = discord.http.Route.BASE
    fake = FakeDiscord(fail={})
    await fake.start()
    client = build_client(make_core(), DiscordSettings(TOKEN, None, fake.base, "", None, tmp_path / "state"))
    await client.login(TOKEN)
    yield fake, client
    await client.close()
    await fake.stop()
    discord.http.Route.BASE = default


def embed_text(body: dict[str, Any]) -> str:
    return text_of(body["embeds"][0])


async def test_discord_slash_command_with_a_lone_surrogate_is_answered(
    discord_env: tuple[FakeDiscord, discord.Client],
) -> None:
    fake, client = discord_env
    client._connection.parse_interaction_create(command("ask", [{"type": 3, "name": "question", "value": QUESTION}]))
    (answer,) = await fake.answers()
    text = embed_text(answer)
    assert ("grave-digger" in text or "umbrella" in text) and ERROR_WORDS not in text


async def test_discord_who_with_a_lone_surrogate_is_answered(discord_env: tuple[FakeDiscord, discord.Client]) -> None:
    fake, client = discord_env
    option = {"type": 3, "name": "person", "value": "kenedy\ud800"}
    client._connection.parse_interaction_create(command("who", [option]))
    (answer,) = await fake.answers()
    assert "Joseph P. Kennedy" in embed_text(answer)


async def test_discord_mention_with_a_lone_surrogate_is_answered(
    discord_env: tuple[FakeDiscord, discord.Client],
) -> None:
    fake, client = discord_env
    me = {**BOT_USER, "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False}}
    message = channel_message(f"<@{BOT_USER['id']}> \udfffWas Eden made of iron?", mentions=[me])
    client._connection.parse_message_create(message)
    (call,) = await fake.wait_for(lambda c: c.method == "POST" and c.path.endswith("/messages"))
    assert "soft clay" in embed_text(call.body) and ERROR_WORDS not in embed_text(call.body)
