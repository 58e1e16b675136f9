"""A Slack Connect channel: one channel id in two workspaces that both use the app. Through bolt
itself, each workspace's daily subscription and quiz are its own: the other sees none of them and
cannot turn them off or move them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from adapters.slack.app import build_app
from bot import Maisky, Settings, build
from bot.club.daily import Daily
from bot.club.quiz import LETTERS, Quiz
from bot.ops.bootstrap import build_daily
from bot.ops.settings import SlackSettings
from tests.adapters.conftest import desk_for
from tests.adapters.slack_fakes import SECRET, FakeSlack, served, slash
from tests.conftest import PERSONA, SEEDS

NOT_SUBSCRIBED = "This channel has no daily quotation"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    f.admins |= {"UADMIN1", "UADMIN2"}  # an admin of each workspace
    yield f
    f.close()


def make(tmp_path: Path) -> tuple[Maisky, Daily, Quiz]:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None)
    core = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    daily = build_daily(settings, core)
    assert daily is not None
    return core, daily, Quiz(daily.store, core.corpus, core.voice)


def said(fake: FakeSlack, user: str, count: int) -> str:
    """The text of the `count`-th reply to `user`."""
    return json.dumps(fake.wait_for(f"/response/{user}", count)[count - 1].body["text"])


def test_a_shared_channel_keeps_each_workspaces_daily_posts_and_quiz(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily, quiz = make(tmp_path)
    ss = SlackSettings("xoxb-test", SECRET, "", fake.api_url, 3000, frozenset())
    app = build_app(desk_for(core, daily=daily, quiz=quiz), ss, WebClient(token="xoxb-test", base_url=fake.api_url))
    with served(app) as url:
        slash(url, fake, "daily on 07:30", user="UADMIN1", team="T1")
        assert "Every day at 07:30" in said(fake, "UADMIN1", 1)
        slash(url, fake, "daily status", user="UADMIN2", team="T2")
        assert NOT_SUBSCRIBED in said(fake, "UADMIN2", 1)  # T1's subscription is not T2's to see
        slash(url, fake, "daily off", user="UADMIN2", team="T2")
        assert NOT_SUBSCRIBED in said(fake, "UADMIN2", 2)  # ... nor to turn off
        slash(url, fake, "daily on 09:00 Europe/London", user="UADMIN2", team="T2")
        assert "Every day at 09:00" in said(fake, "UADMIN2", 3)  # T2's own, beside T1's
        slash(url, fake, "daily status", user="UADMIN1", team="T1")
        assert "07:30" in said(fake, "UADMIN1", 2) and "09:00" not in said(fake, "UADMIN1", 2)

        slash(url, fake, "quiz", user="UQ1", team="T1")
        said(fake, "UQ1", 1)
        draw = daily.store.quiz_current("slack", "C1", "T1")
        assert draw is not None and daily.store.quiz_current("slack", "C1", "T2") is None
        letter = LETTERS[draw.options.index(quiz._by_key[draw.question_key].answer)]
        slash(url, fake, f"quiz answer {letter}", user="UQ1", team="T1")
        assert "Quite right" in said(fake, "UQ1", 2)
        slash(url, fake, "quiz scores", user="UQ2", team="T2")
        assert "No one has scored" in said(fake, "UQ2", 1) and "member" not in said(fake, "UQ2", 1)
        slash(url, fake, "quiz scores", user="UQ1", team="T1")
        assert "member: 1 point" in said(fake, "UQ1", 3)

    first, second = daily.store.subscription("slack", "C1", "T1"), daily.store.subscription("slack", "C1", "T2")
    assert first is not None and first.active and first.post_time == "07:30"
    assert second is not None and second.active and (second.post_time, second.timezone) == ("09:00", "Europe/London")
