"""Conversation basics and typo repair: what people say to a bot that is not a question for the sources."""

from __future__ import annotations

import pytest

from bot import Maisky
from bot.chat.reply import Kind
from bot.chat.smalltalk import Talk, small_talk
from bot.search.analysis import SPELLER


@pytest.mark.parametrize("said", ["Who are you?", "Are you an AI?", "Are you real?", "Who made you?", "are u a bot"])
def test_what_the_bot_is_gets_the_disclosure(core: Maisky, said: str) -> None:
    reply = core.ask(said)
    assert reply.kind is Kind.ABOUT and reply.narration == core.about().narration
    assert not reply.matches


@pytest.mark.parametrize(("said", "kind"), [("hello", Talk.GREETING), ("Hello Maisky!", Talk.GREETING),
                                            ("thanks!", Talk.THANKS), ("thank you", Talk.THANKS),
                                            ("thnaks", Talk.THANKS)])  # fmt: skip
def test_greetings_and_thanks_get_a_line_never_a_passage(core: Maisky, said: str, kind: Talk) -> None:
    assert small_talk(said) is kind
    reply = core.ask(said)
    assert reply.kind is Kind.NOTICE and not reply.matches and not reply.citation
    assert reply.label and reply.narration


@pytest.mark.parametrize("said", ["Who was Maisky?", "Who is Ivan Maisky?", "Tell me about yourself"])
def test_questions_about_maisky_are_answered_from_the_sources(core: Maisky, said: str) -> None:
    reply = core.ask(said)
    assert reply.kind is Kind.WHO and reply.citation is not None
    assert not reply.matches[0].passage.caption


@pytest.mark.parametrize("name", ["Maisky", "Ivan Maisky", "you"])
def test_who_maisky_works(core: Maisky, name: str) -> None:
    reply = core.who(name)
    assert reply.kind is Kind.WHO and reply.citation is not None


def test_who_prefers_the_passage_that_says_most_over_a_caption(core: Maisky) -> None:
    assert not core.who("churchil").matches[0].passage.caption
    assert core.who("eden").matches[0].passage.id.endswith("portraits-eden-halifax-chamberlain")
    answer = core.ask("How did Maisky describe Eden?")
    assert answer.matches[answer.rank].passage.id.endswith("portraits-eden-halifax-chamberlain")


@pytest.mark.parametrize(
    "said", ["What did Maisky think of Chamberlain?", "who was halifax", "what did you think of thanks"]
)
def test_questions_are_not_small_talk(said: str) -> None:
    assert small_talk(said) is None


@pytest.mark.parametrize(("typo", "word"), [("thnik", "think"), ("waht", "what"), ("becuase", "because")])
def test_typos_in_ordinary_words_are_repaired(typo: str, word: str) -> None:
    assert SPELLER.repair(typo) == word


@pytest.mark.parametrize("word", ["communist", "thanks", "communism", "franco", "bolshevik"])
def test_a_correct_english_word_is_never_repaired(core: Maisky, word: str) -> None:
    assert SPELLER.repair(word) == ""
    terms = {qt.token.surface: qt for qt in core.matcher.terms(f"what about {word}")}
    assert terms[word].token.corrected == ""


def test_a_question_with_typos_in_ordinary_words_is_answered(core: Maisky) -> None:
    result = core.matcher.search("wat did u thnik of eden")
    assert result.answered and result.matches[0].passage.id.endswith("portraits-eden-halifax-chamberlain")
    assert core.ask("thanks").kind is Kind.NOTICE  # not corrected to "tanks" and answered with the second front
