"""Honest framing: the opener and the attribution say who wrote the passage; cut quotations end well."""

from __future__ import annotations

import io
import json

import pytest

from adapters.cli import main
from bot import Maisky
from bot.chat.voice import _DANGLING


def test_commentary_that_quotes_the_diary_is_introduced_as_the_editors(core: Maisky) -> None:
    reply = core.ask("how did you feel driving to meet churchill in 1941")
    passage = reply.matches[reply.rank].passage
    assert passage.id.endswith("the-night-meeting-with-churchill")  # Gorodetsky's sentence, then the diary
    assert reply.narration not in core.voice.persona["openers_own_words"]
    assert reply.passage_by.startswith("Gabriel Gorodetsky")


def test_maiskys_own_text_is_introduced_as_his(core: Maisky) -> None:
    reply = core.ask("what did the webbs say about churchill's mother")
    assert reply.matches[reply.rank].passage.id.endswith("webb-on-churchills-mother")
    assert reply.narration in core.voice.persona["openers_own_words"]
    assert reply.passage_by.startswith("Ivan Maisky, as quoted by Gabriel Gorodetsky")


@pytest.mark.parametrize(
    "question",
    [
        "what did the webbs say about churchill's mother",
        "What did Maisky think of Chamberlain?",
        "dinner with churchill",
    ],
)
def test_json_speaker_is_the_attribution_the_text_shows(core: Maisky, question: str) -> None:
    out = io.StringIO()
    main(["ask", "--json", question], out=out)
    data = json.loads(out.getvalue())
    reply = core.ask(question)
    assert data["passages"][0]["speaker"] and data["passages"][0]["speaker"] in reply.passage_by
    assert data["passages"][0]["speaker"] in data["reply"]


def test_cut_quotations_never_end_on_a_dangling_word(core: Maisky) -> None:
    cut = 0
    for passage in core.corpus.passages:
        for quote in passage.quotes:
            shown = core.voice.quotation(quote)
            if shown.text != quote.text:
                cut += 1
                assert shown.text.split()[-1].lower().strip("’'\"“”‘,;:") not in _DANGLING, shown.text
                assert quote.text.startswith(shown.text) and "…" in shown.line
    assert cut >= 5
