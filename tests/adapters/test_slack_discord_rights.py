"""Through the real bolt and discord.py paths: admins grant the right to manage daily posts, channels the
bot cannot post in are refused at subscribe time with the fix, and a rate-limited Slack reply still arrives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from slack_sdk import WebClient

from adapters.discord.client import build_client
from adapters.slack.app import build_app
from bot import Maisky, Settings, build
from bot.club.daily import Daily
from bot.ops.bootstrap import build_daily
from bot.ops.settings import DiscordSettings, SlackSettings
from tests.adapters.discord_fakes import CHANNEL_ID, TOKEN, FakeDiscord, command
from tests.adapters.slack_fakes import SECRET, FakeSlack, served, slash
from tests.conftest import PERSONA, SEEDS


def make(tmp_path: Path) -> tuple[Maisky, Daily]:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None)
    core = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    return core, build_daily(settings, core)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.close()


def reply(fake: FakeSlack, user: str, count: int = 1) -> str:
    body = fake.wait_for(f"/response/{user}", count)[-1].body
    assert body["response_type"] == "ephemeral"
    return json.dumps(body)


def slack_app(core: Maisky, daily: Daily, fake: FakeSlack) -> Any:
    ss = SlackSettings("xoxb-test", SECRET, "", fake.api_url, 3000, frozenset())
    return build_app(core, ss, WebClient(token="xoxb-test", base_url=fake.api_url), daily)


def test_slack_admin_grants_a_teacher_the_right(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    with served(slack_app(core, daily, fake)) as url:
        slash(url, fake, "daily grant <@UTEACH|teacher>", user="UMEMBER")
        assert "administrators" in reply(fake, "UMEMBER")
        slash(url, fake, "daily on 08:15", user="UTEACH")
        assert "Only those who manage" in reply(fake, "UTEACH")
        slash(url, fake, "daily grant <@UTEACH|teacher>", user="UADMIN")
        granted = reply(fake, "UADMIN")
        assert "UTEACH may now manage" in granted and "<@" not in granted
        slash(url, fake, "daily on 08:15", user="UTEACH")
        assert "Every day at 08:15" in reply(fake, "UTEACH", 2)
        slash(url, fake, "daily revoke UTEACH", user="UADMIN")
        assert "no longer" in reply(fake, "UADMIN", 2)
        slash(url, fake, "daily off", user="UTEACH")
        assert "Only those who manage" in reply(fake, "UTEACH", 3)
    assert daily.store.subscription("slack", "C1") is not None


def test_slack_subscribe_refused_where_the_bot_cannot_post(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    fake.channels["C1"] = {"id": "C1", "is_private": True, "is_member": False}
    with served(slack_app(core, daily, fake)) as url:
        slash(url, fake, "daily on 08:15", user="UADMIN")
        text = reply(fake, "UADMIN")
        assert "/invite @Maisky" in text and "not subscribed" in text
        assert daily.store.subscription("slack", "C1") is None
        fake.channels["C1"] = {"id": "C1", "is_private": True, "is_member": True}  # invited
        slash(url, fake, "daily on 08:15", user="UADMIN")
        assert "Every day at 08:15" in reply(fake, "UADMIN", 2)


def test_a_rate_limited_slack_reply_arrives_once_after_retry_after(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    fake.rate_limit_replies = 1
    with served(slack_app(core, daily, fake)) as url:
        status, _ = slash(url, fake, "sources", user="U7")
        assert status == 200
        fake.wait_for("/response/U7")
    assert fake.rate_limited == 1 and fake.count("/response/U7") == 1


async def test_discord_subscribe_refused_without_send_messages(tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    fake = FakeDiscord()
    await fake.start()
    client = build_client(core, DiscordSettings(TOKEN, None, fake.base, "", None, tmp_path / "state"), daily=daily)
    can_view = str(discord.Permissions(view_channel=True, embed_links=True).value)
    try:
        await client.login(TOKEN)
        payload = command("daily", app_permissions=can_view)
        payload["data"]["options"] = [{"type": 2, "name": "daily", "options": [{"type": 1, "name": "subscribe"}]}]
        payload["member"]["permissions"] = str(discord.Permissions(manage_channels=True).value)
        client._connection.parse_interaction_create(payload)
        (answer,) = await fake.answers(1)
        text = answer["embeds"][0]["description"]
        assert "Send Messages" in text and "not subscribed" in text and answer["flags"] == 64
        assert daily.store.subscription("discord", CHANNEL_ID) is None
    finally:
        await client.close()
        await fake.stop()
