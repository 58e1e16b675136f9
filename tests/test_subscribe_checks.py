"""Subscribing a channel the bot cannot post in is refused with the exact fix; the platform gives the facts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import Maisky, Settings
from bot.chat.commands import Daily, DailyAction
from bot.chat.desk import Caller, FrontDesk
from bot.club.daily import Daily as DailyService
from bot.club.reach import Reach, Trouble
from bot.ops.bootstrap import build_daily

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
SUBSCRIBE = Daily(DailyAction.SUBSCRIBE, "09:00")


@pytest.fixture
def daily(core: Maisky, tmp_path: Path) -> DailyService:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None)
    return build_daily(settings, core)


def subscribe(core: Maisky, daily: DailyService, platform: str, reach: Reach) -> str:
    desk = FrontDesk(core, daily, clock=lambda: NOW)
    caller = Caller(platform, "W1", "C1", "UMGR", may_manage=True, reach=lambda: reach)
    outcome = desk.handle(SUBSCRIBE, caller)
    assert outcome.private
    return outcome.reply.narration


@pytest.mark.parametrize(
    ("platform", "reach", "says"),
    [
        ("slack", Reach(Trouble.NOT_MEMBER, private=True), "/invite @Maisky"),
        ("slack", Reach(Trouble.NOT_MEMBER), "chat:write.public"),
        ("slack", Reach(Trouble.ARCHIVED), "archived"),
        ("slack", Reach(Trouble.GONE), "cannot see this channel"),
        ("discord", Reach(Trouble.MISSING, ("Send Messages", "Embed Links")), "Send Messages, Embed Links"),
    ],
)
def test_refused_with_the_fix_and_nothing_stored(
    core: Maisky, daily: DailyService, platform: str, reach: Reach, says: str
) -> None:
    text = subscribe(core, daily, platform, reach)
    assert says in text and "not subscribed" in text
    assert daily.store.subscription(platform, "C1") is None


@pytest.mark.parametrize("reach", [Reach(), Reach(Trouble.UNKNOWN, detail="ratelimited")])
def test_subscribed_when_the_bot_can_post_or_the_platform_cannot_tell(
    core: Maisky, daily: DailyService, reach: Reach
) -> None:
    assert "Every day at 09:00" in subscribe(core, daily, "slack", reach)
    assert daily.store.subscription("slack", "C1") is not None
