"""Suggestions that fit: a decline offers answerable questions nearest to what was asked, never one
already asked in the conversation."""

from __future__ import annotations

import pytest

from bot import Maisky
from bot.chat.reply import Kind
from bot.chat.suggestions import same_question


def test_every_question_the_persona_offers_is_answered(core: Maisky) -> None:
    persona = core.voice.persona
    for question in [*persona["suggestions"], *persona["questions"]]:
        assert core.matcher.search(question, limit=1).answered, question


@pytest.mark.parametrize(("asked", "near"), [
    ("What did Churchill eat for breakfast?", "churchill"),
    ("What did Kennedy eat for breakfast?", "kennedy"),
])  # fmt: skip
def test_a_decline_suggests_questions_near_what_was_asked(core: Maisky, asked: str, near: str) -> None:
    reply = core.ask(asked)
    assert reply.kind is Kind.DECLINE and reply.suggestions
    assert near in same_question(reply.suggestions[0])


def test_declines_on_different_subjects_suggest_different_questions(core: Maisky) -> None:
    a = core.ask("What did Churchill eat for breakfast?").suggestions
    b = core.ask("What did Kennedy eat for breakfast?").suggestions
    assert a != b


def test_a_question_already_asked_is_not_suggested_again(core: Maisky) -> None:
    first = core.ask("What did Churchill eat for breakfast?").suggestions
    again = core.ask("What did Churchill eat for breakfast?", asked=[first[0]]).suggestions
    assert first[0] not in again and again


def test_a_passage_already_shown_is_not_suggested_again(core: Maisky) -> None:
    first = core.ask("What did Churchill eat for breakfast?")
    shown = core.suggestions.answers()[first.suggestions[0]][0]
    again = core.ask("What did Churchill eat for breakfast?", shown=[shown]).suggestions
    assert all(core.suggestions.answers()[q][0] != shown for q in again)
