"""Bad input gets a friendly, labelled reply; nothing a user types can ping anyone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import Kind, Maisky, neutralise

NASTY = [
    "",
    "   \n\t ",
    "x" * 10_000,
    "\x00\x07\x1b[31mred\x1b[0m Chamberlain",
    "?!?!...;;",
    "🙂🙂🙂",
    "Что вы думали о Черчилле?",
    "丘吉尔",
    "@everyone what did you think of Eden?",
    "@here <!channel> <!everyone> <@U123> <@&456> <#789>",
    "**bold** `code` ```block``` <b>html</b> <script>alert(1)</script> [link](http://evil)",
    "'; DROP TABLE passages; --",
]


@pytest.mark.parametrize("text", NASTY)
def test_bad_input_gets_a_friendly_labelled_reply(core: Maisky, text: str) -> None:
    reply = core.ask(text)
    out = core.plain(reply)
    assert out.startswith("[Maisky as narrator]")
    assert reply.kind in (Kind.ANSWER, Kind.DECLINE, Kind.INVALID)
    assert "@everyone" not in out and "@here" not in out and "<!" not in out


def test_specific_messages(core: Maisky) -> None:
    assert "Ask me something in words" in core.ask("  ").narration
    assert "fewer than 1000 characters" in core.ask("x" * 10_000).narration
    assert "questions in English" in core.ask("Что вы думали о Черчилле?").narration
    assert "no words there" in core.ask("🙂?!").narration


def test_mentions_in_the_question_are_neutralised_in_the_reply_model(core: Maisky) -> None:
    reply = core.ask("@everyone <!channel> what did you think of Eden?")
    assert reply.kind is Kind.ANSWER
    assert "@everyone" not in reply.question and "<!channel>" not in reply.question
    assert "everyone" in reply.question  # still readable


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_neutralise_never_leaves_a_ping(text: str) -> None:
    safe = neutralise(text)
    for ping in ("@everyone", "@here", "<!", "<@", "<#"):
        assert ping not in safe


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gets_a_labelled_reply_without_pings(core: Maisky, text: str) -> None:
    reply = core.ask(text)
    out = core.plain(reply)
    assert out.startswith("[Maisky as narrator] An automated persona")
    assert "@everyone" not in reply.question and "<!" not in reply.question
