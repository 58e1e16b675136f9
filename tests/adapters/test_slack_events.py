"""Slack events as Slack really sends them (tests/adapters/slack_payloads.py, each with its source),
replayed through the real bolt app: edited mentions, message subtypes, and message events outside a DM."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.app import build_app
from bot import Settings
from bot.ops.bootstrap import build_daily
from tests.adapters import slack_payloads as payloads
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.slack_fakes import FakeSlack, post, served, settings
from tests.log_lines import wait_for_log


def deliver(url: str, event: dict[str, Any], event_id: str) -> int:
    """One Events API delivery, signed as Slack signs it; its HTTP status."""
    return post(url, json.dumps(payloads.wrap(event, event_id)), "application/json")[0]


def posts(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.body for c in fake.calls if c.path.endswith(("/chat.postMessage", "/chat.postEphemeral"))]


@pytest.fixture
def url(fake_slack: FakeSlack, make_core: MakeCore) -> Any:
    with served(build_app(desk_for(make_core()), settings(fake_slack))) as u:
        yield u


def test_an_edited_mention_gets_no_second_answer_even_in_another_process(
    fake_slack: FakeSlack, make_core: MakeCore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack re-delivers an edited mention as a new app_mention (new event_id, same ts, `edited`): each
    typo fix posted a second full answer. The answered ts is in the store, so a second process (a
    restart, or another of several) knows it too."""
    caplog.set_level(logging.INFO)
    core = make_core()
    db = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'answered.sqlite3'}"}, dotenv=None)
    ts = payloads.now_ts(-30)
    with served(build_app(desk_for(core, daily=build_daily(db, core)), settings(fake_slack))) as first:
        assert deliver(first, payloads.app_mention(ts), "EvFirst") == 200
        answer = fake_slack.wait_for("/chat.postMessage")[0].body
    assert answer["thread_ts"] == ts and "soft clay" in json.dumps(answer)
    with served(build_app(desk_for(core, daily=build_daily(db, core)), settings(fake_slack))) as second:
        edited = payloads.edited_app_mention(ts, payloads.now_ts(), "<@UBOT> what did you think of Eden, really?")
        assert deliver(second, edited, "EvEdited") == 200
        line = wait_for_log(caplog, "(EvEdited)")
    assert "answered already" in line[0] and "an edit of message" in line[0]
    assert len(posts(fake_slack)) == 1


def test_an_edit_that_adds_the_mention_is_answered_once_in_its_thread(
    fake_slack: FakeSlack, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A message first sent without the mention, then edited to add it, was never answered: it is,
    once, in its own thread; a further edit is not."""
    caplog.set_level(logging.INFO)
    ts = payloads.now_ts(-60)
    assert deliver(url, payloads.edited_app_mention(ts, payloads.now_ts(-5)), "EvAdded") == 200
    answer = fake_slack.wait_for("/chat.postMessage")[0].body
    assert answer["thread_ts"] == ts and answer["channel"] == "C111"
    assert deliver(url, payloads.edited_app_mention(ts, payloads.now_ts()), "EvAgain") == 200
    assert "answered already" in wait_for_log(caplog, "(EvAgain)")[0]
    assert len(posts(fake_slack)) == 1


def test_an_edit_of_a_message_older_than_the_record_is_not_answered(
    fake_slack: FakeSlack, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    old = f"{time.time() - 90 * 24 * 3600:.6f}"
    assert deliver(url, payloads.edited_app_mention(old, payloads.now_ts()), "EvOld") == 200
    assert "older than the record of answers" in wait_for_log(caplog, "(EvOld)")[0]
    assert posts(fake_slack) == []


@pytest.mark.parametrize(
    ("name", "channel", "thread"),
    [("thread_broadcast", "C111", "root"), ("file_share mention", "C111", "ts"), ("file_share DM", "D111", None)],
)
def test_mentions_and_dms_with_a_members_subtype_are_answered(
    fake_slack: FakeSlack, url: str, name: str, channel: str, thread: str | None
) -> None:
    """A thread reply also sent to the channel and a message with a file are a member's words: they
    were ignored because they carry a subtype."""
    ts, root = payloads.now_ts(), payloads.now_ts(-600)
    event = {
        "thread_broadcast": payloads.thread_broadcast_mention(ts, root),
        "file_share mention": payloads.file_share(ts, direct=False),
        "file_share DM": payloads.file_share(ts, direct=True, text="what did you think of Eden?"),
    }[name]
    assert deliver(url, event, f"Ev-{name}") == 200
    answer = fake_slack.wait_for("/chat.postMessage")[0].body
    assert answer["channel"] == channel and "soft clay" in json.dumps(answer)
    assert answer.get("thread_ts") == {"root": root, "ts": ts, None: None}[thread]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("document_mention", "a document_mention message"),
        ("channel_join", "a channel_join message"),
        ("message_changed", "a message_changed message"),
        ("message_deleted", "a message_deleted message"),
        ("other bot", "a bot's message"),
    ],
)
def test_what_is_not_a_question_is_ignored_with_one_line(
    fake_slack: FakeSlack, url: str, caplog: pytest.LogCaptureFixture, name: str, why: str
) -> None:
    """Bot posts, edits, deletions, system lines and canvas mentions are not questions: no answer, and
    one log line saying why (they were dropped without a word)."""
    caplog.set_level(logging.INFO)
    ts = payloads.now_ts()
    event = {
        "document_mention": payloads.document_mention(ts),
        "channel_join": payloads.channel_join_mention(ts),
        "message_changed": payloads.message_changed_in_dm(ts),
        "message_deleted": payloads.message_deleted_in_dm(ts),
        "other bot": payloads.other_bot_in_dm(ts),
    }[name]
    event_id = f"Ev-{name.replace(' ', '-')}"
    assert deliver(url, event, event_id) == 200
    lines = wait_for_log(caplog, f"({event_id})")
    assert len(lines) == 1 and lines[0].startswith("ignored a Slack") and why in lines[0], lines
    assert posts(fake_slack) == []


def test_message_events_outside_a_dm_are_not_answered(
    fake_slack: FakeSlack, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """bolt matches `event({"type": "message", "channel_type": "im"})` on type and subtype only, so every
    message event was taken for a DM: with message.channels added, every channel message got an
    answer, and every mention two (its app_mention and its message event)."""
    caplog.set_level(logging.DEBUG, logger="adapters.slack.app")
    assert deliver(url, payloads.channel_message(payloads.now_ts()), "EvChannel") == 200
    wait_for_log(caplog, "outside a direct message (EvChannel")
    ts = payloads.now_ts()
    assert deliver(url, payloads.app_mention(ts), "EvMention") == 200
    assert deliver(url, payloads.channel_message(ts, payloads.QUESTION), "EvMentionAsMessage") == 200
    answer = fake_slack.wait_for("/chat.postMessage")[0].body
    wait_for_log(caplog, "outside a direct message (EvMentionAsMessage")
    assert answer["thread_ts"] == ts and len(posts(fake_slack)) == 1
    assert deliver(url, payloads.direct_message(payloads.now_ts()), "EvDirect") == 200  # a real DM still is
    direct = fake_slack.wait_for("/chat.postMessage", count=2)[1].body
    assert direct["channel"] == "D111" and not direct.get("thread_ts")
