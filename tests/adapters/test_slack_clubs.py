"""The quiz, the timeline and the plain-text fallbacks on Slack, through bolt itself: signed requests
to the served app, answers caught by the local fake of Slack's Web API and response_url."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from adapters.slack.app import build_app, to_slack
from bot import Maisky
from bot.club.quiz import Quiz
from bot.ops.store import Store
from tests.adapters.conftest import MakeCore
from tests.adapters.slack_fakes import FakeSlack, click, served, settings, slash


@pytest.fixture
def quiz(core: Maisky, tmp_path: Path) -> Quiz:
    return Quiz(Store(f"sqlite:///{tmp_path / 'quiz.sqlite3'}"), core.corpus, core.voice)


@pytest.fixture
def url(fake_slack: FakeSlack, make_core: MakeCore, quiz: Quiz) -> Iterator[str]:
    with served(build_app(make_core(), settings(fake_slack), quiz=quiz)) as u:
        yield u


def responses(fake: FakeSlack, user: str, count: int) -> list[dict[str, Any]]:
    return [c.body for c in fake.wait_for(f"/response/{user}", count)]


def valid(payload: dict[str, Any]) -> None:
    for block in payload["blocks"]:
        Block.parse(block).to_dict()  # slack_sdk's own checks of Block Kit limits


def option_button(payload: dict[str, Any], quiz: Quiz, right: bool) -> dict[str, Any]:
    draw = quiz.store.quiz_current("slack", "C1")
    assert draw is not None
    answer = quiz._by_key[draw.question_key].answer
    buttons = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"]
    n = next(i for i, o in enumerate(draw.options) if (o == answer) == right)
    return {"action_id": buttons[n]["action_id"], "value": buttons[n]["value"], "type": "button"}


def test_a_quiz_round_with_buttons_typed_answers_scores_and_stop(fake_slack: FakeSlack, url: str, quiz: Quiz) -> None:
    assert slash(url, fake_slack, "quiz")[0] == 200
    (asked,) = responses(fake_slack, "U1", 1)
    valid(asked)
    assert asked["response_type"] == "in_channel"
    buttons = next(b for b in asked["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == [f"maisky_quiz_{n}" for n in range(4)]
    assert all(b["text"]["text"][:3] in ("A. ", "B. ", "C. ", "D. ") for b in buttons)
    # the options are text too, and the fallback carries the question's words and the options
    assert "A. " in json.dumps(asked["blocks"]) and "\nA. " in asked["text"] and "\nD. " in asked["text"]
    draw = quiz.store.quiz_current("slack", "C1")
    assert draw is not None
    prompt = quiz._by_key[draw.question_key].prompt
    assert prompt.split("\n")[0][:60].replace("&", "&amp;") in asked["text"]
    # a wrong button: only the one who clicked sees it
    assert click(url, fake_slack, option_button(asked, quiz, right=False), user="U2")[0] == 200
    (miss,) = [c.body for c in fake_slack.wait_for("/response/click-U2")]
    assert miss["response_type"] == "ephemeral" and "Not so" in miss["text"]
    # a typed answer that names no one does not use up the try
    slash(url, fake_slack, "quiz answer zzzz qqq", user="U3")
    assert "did not use up your try" in responses(fake_slack, "U3", 1)[0]["text"]
    # the right button: in the channel, the whole passage and its citation, labelled
    assert click(url, fake_slack, option_button(asked, quiz, right=True), user="U3")[0] == 200
    (hit,) = [c.body for c in fake_slack.wait_for("/response/click-U3")]
    assert hit["response_type"] == "in_channel" and hit["replace_original"] is False
    assert "Quite right" in hit["text"] and "Maisky as narrator" in hit["text"] and "Source: " in hit["text"]
    valid(hit)
    slash(url, fake_slack, "quiz scores")
    scores = responses(fake_slack, "U1", 2)[-1]
    assert scores["response_type"] == "in_channel" and ": 1 point" in json.dumps(scores)
    # a new question, stopped: the answer is revealed with its citation
    slash(url, fake_slack, "quiz")
    responses(fake_slack, "U1", 3)
    slash(url, fake_slack, "quiz stop")
    stopped = responses(fake_slack, "U1", 4)[-1]
    assert "The answer:" in stopped["text"] and "Source: " in stopped["text"]


def test_a_stale_or_forged_quiz_button_is_closed(fake_slack: FakeSlack, url: str) -> None:
    for value in ("999:0", "nonsense"):
        click(url, fake_slack, {"action_id": "maisky_quiz_0", "value": value, "type": "button"}, user="U5")
    answers = [c.body for c in fake_slack.wait_for("/response/click-U5", 2)]
    assert all(a["response_type"] == "ephemeral" and "already closed" in a["text"] for a in answers)


def test_typed_answers_are_lenient_and_never_ping(fake_slack: FakeSlack, url: str, quiz: Quiz) -> None:
    seen = 0
    for _ in range(len(quiz.pool)):
        slash(url, fake_slack, "quiz")
        seen += 1
        responses(fake_slack, "U1", seen)  # lazy listeners answer after the ack: wait for this one
        draw = quiz.store.quiz_current("slack", "C1")
        assert draw is not None
        q = quiz._by_key[draw.question_key]
        if q.kind == "who" and q.answer == "kennedy":
            break
        slash(url, fake_slack, "quiz stop")
        seen += 1
        responses(fake_slack, "U1", seen)
    slash(url, fake_slack, "answer Joe Kennedy <!channel>", user="U7")
    body = responses(fake_slack, "U7", 1)[0]
    assert "Quite right, member" in body["text"] and body["response_type"] == "in_channel"
    assert "<!channel>" not in json.dumps(body)


def test_without_a_database_the_quiz_says_so(fake_slack: FakeSlack, make_core: MakeCore) -> None:
    with served(build_app(make_core(), settings(fake_slack))) as u:
        slash(u, fake_slack, "quiz")
        body = responses(fake_slack, "U1", 1)[0]
    assert body["response_type"] == "ephemeral" and "has not been given" in body["text"]


def test_the_timeline_in_the_channel(fake_slack: FakeSlack, url: str) -> None:
    slash(url, fake_slack, "timeline 1939")
    body = responses(fake_slack, "U1", 1)[0]
    valid(body)
    assert body["response_type"] == "in_channel"
    assert "1939-09-03: He watched Chamberlain" in json.dumps(body["blocks"], ensure_ascii=False)
    assert "[globe-2015.chamberlain-declares-war]" in body["text"]  # the fallback carries the lines too


def test_fallback_text_carries_the_passage_and_the_citation(make_core: MakeCore) -> None:
    core = make_core()
    for reply in (core.ask("What did you think of Chamberlain?"), core.quote(dt.date(2026, 1, 1))):
        text = to_slack(reply)["text"]
        assert reply.citation is not None
        assert reply.passage[:80].replace("&", "&amp;") in text
        assert ("Source: " + reply.citation.line)[:120] in text
        assert "Maisky as narrator" in text


def test_a_content_note_is_in_the_blocks_and_the_fallback(make_core: MakeCore) -> None:
    reply = make_core().passage("globe-2015.the-webbs-and-churchill")
    payload = to_slack(reply)
    valid(payload)
    assert "*Content note:* This passage reports a racist remark" in json.dumps(payload["blocks"])
    assert "Content note: This passage reports a racist remark" in payload["text"]
