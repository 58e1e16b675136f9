"""Licences in replies: the copyright cap, and quotations whose source names no speaker."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import Kind, Maisky, Settings, build
from bot.errors import CorpusError
from tests.conftest import PERSONA

LONG = " ".join(f"Sentence {n} tells of the brass telescope in the embassy observatory." for n in range(30))

COPYRIGHTED = f"""
[source]
id = "the-book"
title = "The Maisky Papers"
author = "An Editor"
publication = "A Press"
date = 2020-01-01
url = "https://example.org/book"
licence = "© 2020 A Press, all rights reserved"
copyright = true
excerpt_words = 40

[[passage]]
id = "telescope"
paragraph = 7
text = '''
Maisky wrote: “The telescope is brass.” {LONG} At the end Maisky wrote: “Polish it daily.”'''
[[passage.quote]]
text = "The telescope is brass."
speaker = "maisky"
context = "in his diary"
[[passage.quote]]
text = "Polish it daily."
speaker = "maisky"
context = "in his diary"
"""


def core_with(seeds: Path, name: str, text: str) -> Maisky:
    (seeds / name).write_text(text, encoding="utf-8")
    return build(Settings(seeds_dir=seeds, persona_dir=PERSONA))


def test_a_copyrighted_source_shows_at_most_its_cap_and_says_where_to_read_on(seeds_copy: Path) -> None:
    core = core_with(seeds_copy, "the-book.toml", COPYRIGHTED)
    reply = core.ask("Was the embassy telescope brass?")
    assert reply.kind is Kind.ANSWER and reply.citation is not None
    assert reply.citation.passage_id == "the-book.telescope"
    # at most the cap, and only whole runs of the passage's own words: the sentences that answer (the
    # reader's evidence) or else the opening words, each cut marked […]
    pieces = [p.strip() for p in reply.passage.split("[…]") if p.strip()]
    assert "[…]" in reply.passage and sum(len(p.split()) for p in pieces) <= 40
    assert all(p in core.corpus.passage("the-book.telescope").text for p in pieces), pieces
    assert all(q.text in reply.passage for q in reply.quotations)  # a quotation cut off is not listed
    assert "read on from paragraph 7 in the source" in reply.citation.line
    assert "https://example.org/book" in reply.citation.line
    sources = core.plain(core.sources())
    assert "Licence: © 2020 A Press, all rights reserved (replies quote at most 40 words of a passage)" in sources


def test_a_free_source_is_shown_whole(seeds_copy: Path) -> None:
    free = COPYRIGHTED.replace("copyright = true\nexcerpt_words = 40\n", "").replace(
        "© 2020 A Press, all rights reserved", "CC BY 4.0"
    )
    core = core_with(seeds_copy, "the-book.toml", free)
    reply = core.ask("Was the embassy telescope brass?")
    assert reply.passage == core.corpus.passage("the-book.telescope").text
    assert reply.citation is not None and "Licence: CC BY 4.0." in reply.citation.line


def test_a_cap_below_twenty_words_is_refused(seeds_copy: Path) -> None:
    with pytest.raises(CorpusError, match="excerpt_words"):
        core_with(seeds_copy, "the-book.toml", COPYRIGHTED.replace("excerpt_words = 40", "excerpt_words = 5"))


def test_a_quotation_without_speaker_is_shown_as_quoted_in_its_source(seeds_copy: Path) -> None:
    unattributed = COPYRIGHTED.replace('speaker = "maisky"\ncontext = "in his diary"\n', "", 1)
    core = core_with(seeds_copy, "the-book.toml", unattributed.replace("copyright = true\n", ""))
    reply = core.ask("Was the embassy telescope brass?")
    first = reply.quotations[0]
    assert first.text == "The telescope is brass." and first.speaker == ""
    assert first.line == "“The telescope is brass.” — quoted in A Press, which does not name the speaker"
    assert "Ivan Maisky" not in first.line


def test_a_wikipedia_quotation_without_a_speaker_names_no_speaker(core: Maisky) -> None:
    from bot.sources.corpus import Quote

    wiki = [p for p in core.corpus.passages if p.source.id == "wikipedia-ivan-maisky"]
    # its quoted words are a spelling ("Maysky"), a scare quote ("the people") and a poem's title: not quotations
    assert wiki and not any(p.quotes for p in wiki)
    line = core.voice.quotation(Quote("the people", ""), wiki[0].source).line
    assert line.endswith("quoted in Wikipedia, The Free Encyclopedia, which does not name the speaker")


def test_ask_json_shows_a_copyrighted_passage_only_up_to_its_cap(
    seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import json

    from adapters.cli import main

    (seeds_copy / "the-book.toml").write_text(COPYRIGHTED, encoding="utf-8")
    monkeypatch.setenv("MAISKY_SEEDS", str(seeds_copy))
    out = io.StringIO()
    assert main(["ask", "--json", "Was the embassy telescope brass?"], out=out) == 0
    first = json.loads(out.getvalue())["passages"][0]
    assert first["id"] == "the-book.telescope" and first["text"].endswith(" […]")
    assert len(first["text"].split()) <= 41


def test_a_page_without_a_publication_date_is_cited_with_the_day_it_was_retrieved(core: Maisky) -> None:
    wiki = next(p for p in core.corpus.passages if p.source.id == "wikipedia-ivan-maisky")
    line = core.voice.citation(wiki).line
    assert "Wikipedia, The Free Encyclopedia, retrieved 27 November 2026, " in line
    assert "retrieved 2026-11-27: 4 passages" in core.plain(core.sources())
    globe = next(p for p in core.corpus.passages if p.source.id == "globe-2015")
    assert "retrieved" not in core.voice.citation(globe).line


def test_a_source_gives_a_publication_date_or_a_retrieval_day_not_both(seeds_copy: Path) -> None:
    both = COPYRIGHTED.replace("date = 2020-01-01", "date = 2020-01-01\nretrieved = 2026-11-27")
    with pytest.raises(CorpusError, match="not both"):
        core_with(seeds_copy, "the-book.toml", both)
