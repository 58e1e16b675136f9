"""Hostile but correctly signed Slack requests, through the guard, bolt and the listeners as served:
bodies of the wrong shape, non-ASCII signature headers, forged buttons and display names that are URLs."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from adapters.slack.app import build_app
from bot.club.quiz import Quiz
from bot.ops.store import Store
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.slack_fakes import FakeSlack, click, post, served, settings
from tests.adapters.test_slack_http import FORM, JSON, MARK, Served, lines_about, serve, signed

pytestmark = pytest.mark.usefixtures("no_real_platforms")


@pytest.fixture(scope="module")
def guarded() -> Iterator[Served]:
    fake = FakeSlack()
    try:
        yield from serve(fake)
    finally:
        fake.close()


def _event(event: Any) -> dict[str, Any]:
    return {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"Ev-{MARK}", "event": event,
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]}  # fmt: skip


def _action(**fields: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U1"},
        "api_app_id": "A1",
        "channel": {"id": "C1"},
        "response_url": "http://127.0.0.1:9/response",
        "trigger_id": MARK,
        "actions": [{"action_id": "maisky_another", "value": MARK, "type": "button"}],
    } | fields


def _slash(**fields: str) -> bytes:
    base = {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/maisky", "text": MARK,
            "response_url": "http://127.0.0.1:9/response", "trigger_id": "t1"}  # fmt: skip
    return urlencode({k: v for k, v in (base | fields).items() if v != "-"}).encode()


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _payload(value: Any) -> bytes:
    return urlencode({"payload": json.dumps(value)}).encode()


# fmt: off
MALFORMED = [
    ("event a list", _json(_event([{"type": "app_mention", "text": MARK}])), JSON),
    ("event a number", _json(_event(5)), JSON),
    ("event type a list", _json(_event({"type": ["app_mention"], "text": MARK})), JSON),
    ("event text an object", _json(_event({"type": "app_mention", "text": {"a": MARK}, "channel": "C1",
                                           "user": "U1", "ts": "1.1"})), JSON),
    ("event channel a list", _json(_event({"type": "app_mention", "text": MARK, "channel": ["C1"], "user": "U1",
                                           "ts": "1.1"})), JSON),
    ("authorizations an object", _json(_event({"type": "app_mention"}) | {"authorizations": {"a": MARK}}), JSON),
    ("actions an object", _payload(_action(actions={"action_id": "maisky_another", "value": MARK})), FORM),
    ("actions a list of strings", _payload(_action(actions=[MARK])), FORM),
    ("action_id a list", _payload(_action(actions=[{"action_id": ["maisky_another"], "value": MARK}])), FORM),
    ("action value an object", _payload(_action(actions=[{"action_id": "maisky_another", "value": {"q": MARK}}])),
     FORM),
    ("view a list", _payload({"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "U1"}, "view": [MARK]}),
     FORM),
    ("view callback_id an object", _payload({"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "U1"},
                                             "view": {"callback_id": {"a": MARK}}}), FORM),
    ("team a list", _payload(_action(team=[MARK])), FORM),
    ("user a number", _payload(_action(user=5)), FORM),
    ("type a list", _payload(_action(type=["block_actions"])), FORM),
    ("a slash command as JSON whose command is a list", _json({"command": ["/maisky"], "text": MARK}), JSON),
    ("a slash command as JSON whose text is an object", _json({"command": "/maisky", "text": {"a": MARK},
                                                               "user_id": "U1", "channel_id": "C1",
                                                               "response_url": "http://127.0.0.1:9/r"}),
     JSON),
    ("a slash command without response_url", _slash(response_url="-"), FORM),
    ("a slash command whose response_url is not a URL", _slash(response_url=MARK), FORM),
    ("a slash command without user_id", _slash(user_id="-"), FORM),
    ("a slash command without channel_id", _slash(channel_id=""), FORM),
    # red team: longer than any Slack id, and than the 64 characters the bot's tables keep (PostgreSQL
    # refused the insert of a subscription: an error reply and a traceback)
    ("a slash command whose channel_id is 100 characters", _slash(channel_id="C" * 100), FORM),
    ("a slash command whose enterprise_id is 100 characters", _slash(enterprise_id="E" * 100), FORM),
    ("a team id of 100 characters", _payload(_action(team={"id": "T" * 100})), FORM),
    ("an event's user of 100 characters", _json(_event({"type": "app_mention", "text": MARK, "channel": "C1",
                                                         "user": "U" * 100, "ts": "1.1"})), JSON),
]
# fmt: on


@pytest.mark.parametrize(("name", "body", "content_type"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_signed_bodies_of_the_wrong_shape_get_400_and_one_line(
    guarded: Served, caplog: pytest.LogCaptureFixture, name: str, body: bytes, content_type: str
) -> None:
    caplog.set_level(logging.DEBUG)
    status, answer = guarded.send(body, signed(body, content_type))
    assert status == 400, name
    records = lines_about(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]  # one line, no traceback from bolt
    assert records[0].levelno == logging.WARNING and "refused a Slack request" in records[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert all(MARK not in r.getMessage() for r in caplog.records)
    assert MARK.encode() not in answer


def test_well_shaped_bodies_still_pass_the_shape_check(guarded: Served) -> None:
    """Nulls where Slack sends them, ids where a payload has ids instead of objects."""
    ok = _event({"type": "reaction_added", "user": "U1", "item": {"type": "message", "channel": "C1", "ts": "1.1"}})
    assert guarded.send(_json(ok | {"enterprise": None}), signed(_json(ok), JSON))[0] == 401  # signed for another body
    body = _json(ok | {"enterprise": None})
    assert guarded.send(body, signed(body, JSON))[0] in (200, 404)  # no listener for it: bolt's own 404
    body = _payload(_action(team=None, enterprise=None, user={"id": "U1", "team_id": "T1"}, view=None))
    assert guarded.send(body, signed(body, FORM))[0] == 200
    # a click as Slack sends it: the button's label is an object, the message and its container too
    button = {"action_id": "maisky_source", "block_id": "b1", "type": "button", "action_ts": "1.2",
              "text": {"type": "plain_text", "text": "Source", "emoji": True}, "value": "x"}  # fmt: skip
    real = _action(
        actions=[button], container={"type": "message", "message_ts": "1.1", "channel_id": "C1", "is_ephemeral": False},
        message={"type": "message", "user": "UBOT", "ts": "1.1", "text": "fallback", "team": "T1",
                 "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]},
        state={"values": {}}, user={"id": "U1", "username": "m", "name": "m", "team_id": "T1"},
    )  # fmt: skip
    body = _payload(real)
    assert guarded.send(body, signed(body, FORM))[0] == 200


def _raw(port: int, headers: list[bytes], body: bytes) -> bytes:
    """A request written byte by byte, so header values can hold bytes no HTTP client library would send."""
    head = [b"POST /slack/events HTTP/1.1", b"Host: x", b"Content-Type: " + FORM.encode(),
            b"Content-Length: " + str(len(body)).encode(), *headers]  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


ARABIC = "".join(chr(0x0660 + int(d)) for d in str(int(time.time())))  # today's time in Arabic-Indic digits
EXTENDED = "".join(chr(0x06F0 + int(d)) for d in str(int(time.time())))  # and in extended Arabic-Indic digits


def _non_ascii_cases() -> list[tuple[str, list[bytes]]]:
    body = _slash()
    good = signed(body, FORM)
    now = good["X-Slack-Request-Timestamp"].encode()
    sig = good["X-Slack-Signature"].encode()
    arabic_sig = signed(body, FORM, ts=ARABIC)["X-Slack-Signature"].encode()  # signed over those very digits
    # fmt: off
    return [
        ("Arabic-Indic digits in the timestamp", [b"X-Slack-Request-Timestamp: " + ARABIC.encode(),
                                                  b"X-Slack-Signature: " + arabic_sig]),
        ("extended Arabic-Indic digits in the timestamp", [b"X-Slack-Request-Timestamp: " + EXTENDED.encode(),
                                                           b"X-Slack-Signature: " + sig]),
        ("fullwidth digits in the timestamp", [b"X-Slack-Request-Timestamp: " + "１７００".encode(),
                                               b"X-Slack-Signature: " + sig]),
        ("a UTF-8 signature", [b"X-Slack-Request-Timestamp: " + now, "X-Slack-Signature: v0=é€".encode()]),
        ("a Latin-1 signature", [b"X-Slack-Request-Timestamp: " + now, b"X-Slack-Signature: v0=\xe9" + sig[3:]]),
        ("bytes that are no encoding", [b"X-Slack-Request-Timestamp: " + now, b"X-Slack-Signature: \xff\xfe\x80"]),
        ("a non-ASCII Content-Length", ["Content-Length: ١٠".encode(), b"X-Slack-Request-Timestamp: " + now,
                                        b"X-Slack-Signature: " + sig]),
    ]
    # fmt: on


@pytest.mark.parametrize(("name", "headers"), _non_ascii_cases(), ids=[c[0] for c in _non_ascii_cases()])
def test_non_ascii_signature_headers_get_an_answer_not_a_dropped_connection(
    guarded: Served, caplog: pytest.LogCaptureFixture, name: str, headers: list[bytes]
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = _raw(guarded.port, headers, _slash())
    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b"(connection dropped)"
    assert status in (b"401", b"400"), (name, answer[:200])
    # (an earlier test's answer, sent late to its fake Slack that has closed, logs its traceback from the
    # sending thread: not this request's)
    assert not any(r.exc_info for r in caplog.records if r.name != "adapters.slack.app")
    assert all(MARK not in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- buttons and names, through bolt


@pytest.fixture
def quiz(make_core: MakeCore, tmp_path: Path) -> Quiz:
    core = make_core()
    return Quiz(Store(f"sqlite:///{tmp_path / 'quiz.sqlite3'}"), core.corpus, core.voice)


@pytest.fixture
def url(fake_slack: FakeSlack, make_core: MakeCore, quiz: Quiz) -> Iterator[str]:
    with served(build_app(desk_for(make_core(), quiz=quiz), settings(fake_slack))) as u:
        yield u


FORGED = ['{"q": "Kennedy", "r": -1000}', '{"q": "Kennedy", "r": 1e400}', '{"q": "Kennedy", "r": 1000000000}',
          '{"q": "Kennedy", "r": "2"}', '{"q": "Kennedy", "r": true}', '{"q": ["Kennedy"], "r": 1}',
          '{"q": "Kennedy"}', "[1, 2]", "garbage", "", "[" * 5000]  # fmt: skip


def test_a_forged_another_passage_button_says_it_is_no_longer_valid(
    fake_slack: FakeSlack, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for value in FORGED:
        assert click(url, fake_slack, {"action_id": "maisky_another", "value": value, "type": "button"}, "U9")[0] == 200
    answers = [c.body for c in fake_slack.wait_for("/response/click-U9", len(FORGED))]
    for value, answer in zip(FORGED, answers, strict=True):
        assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False, value
        assert "outlived my memory of your question" in answer["text"], (value, answer["text"])
        assert "Maisky as narrator" in answer["text"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no generic error, no traceback


# Display names as a member can set them; none may reach a message as something a client makes a link of.
LINKY = ["https://evil.example", "www.evil.example", "<https://evil.example|x>", "[x](https://evil.example)",
         "evil.com", "http://user:pw@evil.example/path", "ftp://evil.example"]  # fmt: skip
_LINK = re.compile(r"evil\.|://evil|:pw@|www\.evil|<https://evil")


def _answer_as(url: str, fake: FakeSlack, user: str, name: str, text: str) -> tuple[int, str]:
    form = {"token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": user, "user_name": name,
            "command": "/maisky", "text": text, "api_app_id": "A1", "response_url": f"{fake.url}/response/{user}",
            "trigger_id": f"trig-{time.monotonic_ns()}"}  # fmt: skip
    return post(url, urlencode(form), FORM)


def test_display_names_in_quiz_scores_and_verdicts_are_never_links(fake_slack: FakeSlack, url: str, quiz: Quiz) -> None:
    for n, name in enumerate(LINKY):
        assert _answer_as(url, fake_slack, "UHOST", "host", "quiz")[0] == 200
        fake_slack.wait_for("/response/UHOST", n * 2 + 1)
        draw = quiz.store.quiz_current("slack", "C1", "T1")
        assert draw is not None
        answer = quiz._by_key[draw.question_key].answer
        letter = "ABCDEFGHIJ"[draw.options.index(answer)]
        assert _answer_as(url, fake_slack, f"U{n}", name, f"quiz answer {letter}")[0] == 200
        verdict = fake_slack.wait_for(f"/response/U{n}")[0].body
        assert "Quite right" in verdict["text"]
        assert not _LINK.search(json.dumps(verdict, ensure_ascii=False)), (name, verdict["text"])
        assert _answer_as(url, fake_slack, "UHOST", "host", "quiz stop")[0] == 200  # nothing open: a notice
        fake_slack.wait_for("/response/UHOST", n * 2 + 2)
    assert _answer_as(url, fake_slack, "UHOST", "host", "quiz scores")[0] == 200
    scores = fake_slack.wait_for("/response/UHOST", len(LINKY) * 2 + 1)[-1].body
    text = json.dumps(scores, ensure_ascii=False)
    assert scores["text"].count(": 1 point") == len(LINKY), text
    assert not _LINK.search(text), text
    assert "evil" in text  # the names are still there to read
