"""The pool of lines worth posting, and the quotation of a day."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest

from bot import Maisky, Settings, build
from bot.errors import CorpusError
from bot.sources.corpus import load_corpus
from bot.sources.quotes import day_pick, maisky_quotes, quote_for_day
from tests.conftest import PERSONA, SEEDS


@pytest.fixture(scope="module")
def pool() -> list:  # type: ignore[type-arg]
    return maisky_quotes(load_corpus(SEEDS))


def _shown(pool: list) -> str:  # type: ignore[type-arg]
    return "\n".join(c.text for c in pool)


def test_maiskys_best_known_fragments_are_in_the_pool_with_their_lead_in(pool: list) -> None:  # type: ignore[type-arg]
    by_line = {c.quote.text[:25]: c for c in pool}
    eden = next(c for c in pool if "is not made of iron" in c.text)
    assert eden.lead_in
    assert eden.text == (
        "“[Foreign Secretary Anthony] Eden,” he writes in 1937, “is not made of iron, but rather of soft clay "
        "which yields easily to the fingers of a skillful artisan.”"
    )
    bishop = next(c for c in pool if "the Bishop" in c.text)
    assert bishop.text.startswith("He nicknamed Eden’s successor, Lord Halifax,")
    assert bishop.text.endswith("a worse hypocrite than before.”")
    assert any("he is the accountant of politics" in c.text for c in pool)
    assert any("“quite a character: tall, strong" in c.text for c in pool)
    assert len(by_line) == len(pool)


def test_every_line_is_verbatim_from_its_passage_and_holds_its_quotations(pool: list) -> None:  # type: ignore[type-arg]
    for c in pool:
        assert c.text in c.passage.text, c.key
        assert c.quote.speaker == "maisky"
        for q in c.inner:
            assert q.text in c.text, c.key
        if c.lead_in:
            assert c.quote.text in c.text
        # a lead-in begins a sentence: a capital letter or an opening quotation mark
        assert re.match(r"[“‘\"]*[\[A-Z]", c.text), c.key


def test_a_nested_quotation_and_the_one_holding_it_count_once(pool: list) -> None:  # type: ignore[type-arg]
    keys = [c.key for c in pool]
    assert len(keys) == len(set(keys))
    for a in pool:
        for b in pool:
            if a is not b and a.passage is b.passage:
                assert a.text not in b.text and b.text not in a.text, (a.key, b.key)
    night = [c for c in pool if c.passage.id.endswith("the-night-meeting-with-churchill")]
    assert len(night) == 1 and len(night[0].inner) == 2
    chamberlain = [c for c in pool if "grave-digger" in c.text]
    assert len(chamberlain) == 1 and chamberlain[0].text.startswith("“Looking terribly depressed")
    umbrella = [c for c in pool if "umbrella" in c.text or "accountant" in c.text]
    assert len(umbrella) == 1  # one sentence, two quotations: one post


def test_webbs_racist_remarks_are_not_posted_and_carry_a_content_note(core: Maisky, pool: list) -> None:  # type: ignore[type-arg]
    shown = _shown(pool)
    assert "negro blood" not in shown and "Negroid" not in shown
    corpus = load_corpus(SEEDS)
    marked = [q for p in corpus.passages for q in p.quotes if not q.daily]
    assert {q.speaker for q in marked} == {"webb-beatrice"} and len(marked) == 2
    assert all(q.content_note for q in marked)
    # an answer that shows the passage carries the note, in the plain text too
    reply = core.ask("What did Beatrice Webb say about Churchill?")
    assert reply.answered and "negro blood" in reply.passage
    assert "racist" in reply.note and "Beatrice Webb" in reply.note
    assert "Content note: This passage reports a racist" in core.plain(reply)
    for pid in ("the-webbs-and-churchill", "webb-on-churchills-mother"):
        shown = core.passage(f"globe-2015.{pid}")
        assert shown.answered and "Beatrice Webb" in shown.note


def test_the_pool_holds_every_standalone_line_of_maiskys_own(pool: list) -> None:  # type: ignore[type-arg]
    corpus = load_corpus(SEEDS)
    shown = _shown(pool)
    for p in corpus.passages:
        for q in p.quotes:
            if q.speaker == "maisky" and len(q.text) >= 40:
                blocked = any(not o.daily and o.text in p.text for o in p.quotes)
                assert (q.text in shown) != blocked, q.text[:50]
    assert len(pool) == 12


def _write_note_corpus(seeds_copy: Path, extra: str) -> None:
    path = seeds_copy / "globe-2015.toml"
    text = path.read_text(encoding="utf-8")
    marker = 'context = "describing Joseph P. Kennedy"\n'
    assert marker in text
    path.write_text(text.replace(marker, marker + extra), encoding="utf-8")


def test_a_content_note_is_posted_with_the_line(seeds_copy: Path) -> None:
    _write_note_corpus(seeds_copy, 'content_note = "A curator\'s note for readers."\n')
    core = build(Settings(seeds_dir=seeds_copy, persona_dir=PERSONA))
    line = next(c for c in maisky_quotes(core.corpus) if "quite a character" in c.text)
    assert line.notes == ("A curator's note for readers.",)
    reply = core.voice.quote(line.passage, line.quote, "2026-01-01", daily=True)
    assert reply.note == "A curator's note for readers."
    text = core.plain(reply)
    assert text.index("Content note: A curator's note") < text.index("quite a character")
    assert reply.citation is not None and reply.citation.line in text


def test_a_curator_keeps_a_line_out_with_daily_false(seeds_copy: Path) -> None:
    before = len(maisky_quotes(load_corpus(seeds_copy)))
    _write_note_corpus(seeds_copy, "daily = false\n")
    after = maisky_quotes(load_corpus(seeds_copy))
    assert len(after) == before - 1
    assert not any("quite a character" in c.text for c in after)


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ('daily = "no"\n', "quote.daily", "true or false"),
        ('content_note = "  "\n', "quote.content_note", "is empty"),
        ("content_note = 3\n", "content_note", "must be text"),
        ('daily_note = "x"\n', "daily_note", "unknown field"),
    ],
)
def test_bad_curation_fields_are_named(seeds_copy: Path, extra: str, field: str, message: str) -> None:
    _write_note_corpus(seeds_copy, extra)
    with pytest.raises(CorpusError) as err:
        load_corpus(seeds_copy)
    text = str(err.value)
    assert "globe-2015.toml" in text and "americans-and-joe-kennedy" in text
    assert field in text and message in text


def test_the_posted_line_shows_the_lead_in_and_credits_the_author(core: Maisky) -> None:
    line = next(c for c in maisky_quotes(core.corpus) if "the Bishop" in c.text)
    reply = core.voice.quote(line.passage, line.quote, "2026-03-01", daily=True)
    assert reply.passage == line.text
    assert reply.passage_by.startswith("Ivan Maisky, in his diary, of Lord Halifax")
    assert "Gabriel Gorodetsky’s" in reply.passage_by
    assert reply.label == "Maisky as narrator"
    gloomy = next(c for c in maisky_quotes(core.corpus) if "gloomy view" in c.text)
    reply = core.voice.quote(gloomy.passage, gloomy.quote, "2026-03-02")
    # a quotation of someone else's inside the line is credited to them
    assert any(q.speaker == "Joseph P. Kennedy" and q.text == "completely rotten." for q in reply.quotations)


def test_quote_of_a_day_never_repeats_on_neighbouring_days_over_a_year(core: Maisky) -> None:
    pool = maisky_quotes(core.corpus)
    start = dt.date(2026, 1, 1)
    days = [start + dt.timedelta(days=n) for n in range(366)]
    keys = [quote_for_day(core.corpus, d).key for d in days]
    assert all(a != b for a, b in itertools.pairwise(keys))
    # no repeat until the pool is used: any run of len(pool) days inside one cycle is all different
    size = len(pool)
    first = next(n for n, d in enumerate(days) if d.toordinal() % size == 0)
    for s in range(first, len(days) - size, size):
        assert len(set(keys[s : s + size])) == size
    counts = {k: keys.count(k) for k in set(keys)}
    assert set(counts) == {c.key for c in pool}
    assert max(counts.values()) - min(counts.values()) <= 2
    # stable: the same date gives the same line; the command shows the same
    assert [quote_for_day(core.corpus, d).key for d in days[:30]] == keys[:30]
    assert core.quote(days[3]).passage == quote_for_day(core.corpus, days[3]).text


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_no_neighbouring_repeat_for_any_seed_or_pool_size(seed: int) -> None:
    pool = maisky_quotes(load_corpus(SEEDS))
    for size in (1, 2, 3, 5, len(pool)):
        sub = pool[:size]
        days = [dt.date(2025, 12, 1) + dt.timedelta(days=n) for n in range(120)]
        keys = [day_pick(sub, d, seed).key for d in days]
        if size > 1:
            assert all(a != b for a, b in itertools.pairwise(keys)), (size, seed)
        assert set(keys) == {c.key for c in sub}


def test_a_line_dated_on_this_day_comes_up_that_day() -> None:
    pool = maisky_quotes(load_corpus(SEEDS))
    dated = next(c for c in pool if c.passage.date == "1939-09-03")
    hits = [day_pick(pool, dt.date(year, 9, 3)).key for year in range(2020, 2040)]
    # it goes first on its day unless it already came up earlier in that cycle: about half the
    # years, against one year in twelve by chance
    assert hits.count(dated.key) >= 6
