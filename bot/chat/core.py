"""The answering core: a question's passage or decline, a person, a quotation, the sources, the timeline."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Collection, Container
from dataclasses import replace

from rapidfuzz import fuzz

from bot.chat.reply import Reply
from bot.chat.smalltalk import Talk, small_talk
from bot.chat.suggestions import Suggestions
from bot.chat.text import clean, unaddressed
from bot.chat.voice import Voice
from bot.search.analysis import PERSON_PREFIX, SECOND_PERSON, foreign, words
from bot.search.matcher import Match, Matcher, MatchResult
from bot.sources.corpus import Corpus, Person
from bot.sources.quotes import QuoteChoice, day_pick, maisky_quotes
from bot.sources.timeline import dated, parse_span, timeline, years

__all__ = ["MAX_QUESTION", "Maisky"]

log = logging.getLogger(__name__)

MAX_QUESTION = 1000  # characters; longer input gets a friendly request to shorten it
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
_ANY_LETTER = re.compile(r"[^\W\d_]")
_TALK_LINES = {Talk.GREETING: "greetings", Talk.THANKS: "thanks", Talk.ACK: "acknowledgements"}  # persona keys


def _name_score(typed: str, name: str) -> float:
    """How well a typed (possibly partial, possibly misspelt) name fits one of a person's names."""
    if any(w.startswith(typed) for w in name.split()) or name.startswith(typed):
        return 100.0
    return max(fuzz.ratio(typed, name), max((fuzz.ratio(typed, w) for w in name.split()), default=0.0))


class _PassageIds(Container[str]):
    """`text in core.passage_ids`: asked of the corpus, which finds an id without reading every passage."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and self._corpus.has_passage(item)


class Maisky:
    """Answers questions, picks quotations and lists sources; plain synchronous Python."""

    def __init__(
        self,
        corpus: Corpus,
        matcher: Matcher,
        voice: Voice,
        seed: int = 0,
        quotes: Callable[[], list[QuoteChoice]] | None = None,
    ) -> None:
        """`quotes`: how to get Maisky's quotations worth posting (default: read every passage at
        first use; the composition root reads them from a cache)."""
        self.corpus = corpus
        self.matcher = matcher
        self.voice = voice
        self.seed = seed
        self.passage_ids = _PassageIds(corpus)
        self._quotes = quotes if quotes is not None else (lambda: maisky_quotes(corpus))
        self._quote_pool: list[QuoteChoice] | None = None
        persona = voice.persona
        self.suggestions = Suggestions(matcher, [*persona["suggestions"], *persona.get("questions", [])])

    def _problem(self, question: str) -> Reply | None:
        text = question.strip()
        if not text:
            return self.voice.invalid("empty")
        if len(text) > MAX_QUESTION:
            return self.voice.invalid("too_long", limit=MAX_QUESTION)
        if not _ASCII_WORD.search(text):
            return self.voice.invalid("language" if _ANY_LETTER.search(text) else "no_words")
        if foreign(text):  # Latin script, another language: the same honest reply as for Cyrillic
            return self.voice.invalid("language")
        return None

    def explain(self, question: str, limit: int = 5) -> MatchResult:
        """The matcher's full result: terms, scores, runners-up and why it declined."""
        question = clean(question)
        return self.matcher.search(unaddressed(question[:MAX_QUESTION]), limit=limit, read_all=True)

    def ask(self, question: str, rank: int = 0, *, asked: Collection[str] = (), shown: Collection[str] = ()) -> Reply:
        """The best passage for `question` (or the `rank`-th runner-up), or a decline that suggests the
        questions nearest to it, none of those `asked` or answered by a passage `shown` already."""
        question = clean(question)  # text enters the core here: valid Unicode from now on
        problem = self._problem(question)
        if problem:
            return problem
        if rank == 0 and question.strip() in self.passage_ids:  # an id from a timeline line or a button
            return self.passage(question)
        talk = small_talk(unaddressed(question)) if rank == 0 else None
        if talk is Talk.ABOUT:  # what the bot is: the disclosure, never a passage
            return self.voice.about()
        if talk in (Talk.GREETING, Talk.THANKS, Talk.ACK):
            return self.voice.small_talk(_TALK_LINES[talk], question)
        if talk is Talk.SELF and "maisky" in self.corpus.people:
            return self._portrait(self.corpus.people["maisky"]) or self.voice.decline(question)
        result = self.matcher.search(unaddressed(question), limit=max(5, rank + 1))
        if not result.answered and result.tier == "closest" and rank == 0:
            return self.voice.closest(result, asked=question)
        if not result.answered:
            near = self.suggestions.nearest(result.terms, result.matches, asked=[question, *asked], shown=shown)
            reply = self.voice.decline(question, matches=result.matches, suggestions=near)
        elif rank >= len(result.matches) or not result.matches[rank].accepted:
            reply = self.voice.decline(question, no_more=True)
        else:
            reply = self.voice.answer(result, rank, asked=question)
        return replace(reply, search=result)

    def concerns(self, passage_id: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """The people (people.toml ids) a passage names or quotes, and the years it is dated in."""
        passage = self.corpus.passage(passage_id)
        terms, _ = self.matcher.analyzer.document_terms(passage.text)
        named = [t.removeprefix(PERSON_PREFIX) for t in terms if t.startswith(PERSON_PREFIX)]
        people = tuple(dict.fromkeys([*(q.speaker for q in passage.quotes if q.speaker), *named]))
        when = dated(passage)
        return people, tuple(range(when.year, when.last_year + 1)) if when else ()

    def people(self, prefix: str = "", limit: int = 25) -> list[Person]:
        """People the sources quote or name, best match for `prefix` first (for autocomplete)."""
        prefix = clean(prefix)
        listed = sorted((p for p in self.corpus.people.values() if p.listed), key=lambda p: p.name)
        typed = " ".join(words(prefix))
        if not typed:
            return listed[:limit]
        scored = []
        for person in listed:
            names = [" ".join(words(n)) for n in (person.name, *person.aliases)]
            best = max(_name_score(typed, n) for n in names)
            if best >= 80:
                scored.append((-best, -self.matcher.mentions(person.id), person.name, person))
        return [p for *_, p in sorted(scored)[:limit]]

    def who(self, name: str) -> Reply:
        """The passage that says most about a person, or the list of people the sources know."""
        name = clean(name)
        problem = self._problem(name)
        if problem:
            return problem
        typed = words(name)
        if typed and all(w in SECOND_PERSON or w == "yourself" for w in typed) and "maisky" in self.corpus.people:
            found = [self.corpus.people["maisky"]]  # `who you`
        else:
            found = self.people(name, limit=1)
        if not found:
            return self.voice.unknown_person(name, self.people())
        return self._portrait(found[0]) or self.voice.unknown_person(name, self.people())

    def _portrait(self, person: Person) -> Reply | None:
        """The passage that says most about `person`: prose before a caption that only names them,
        then the most mentions, then the matcher's order; None if no passage names them."""
        term = PERSON_PREFIX + person.id
        result = self.matcher.search(person.name, limit=10)
        named = [m for m in result.matches if term in m.matched]
        if not named:
            return None

        def says(m: Match) -> tuple[bool, int, float]:
            terms, _ = self.matcher.analyzer.document_terms(m.passage.text)
            return (not m.passage.caption, terms.count(term), m.score)

        return self.voice.who(person, max(named, key=says))

    @property
    def quote_pool(self) -> list[QuoteChoice]:
        """Maisky's quotations worth posting, found at first use (bot/ops/pools.py keeps them)."""
        if self._quote_pool is None:
            self._quote_pool = self._quotes()
        return self._quote_pool

    def quote(self, day: dt.date) -> Reply:
        if not self.quote_pool:
            raise LookupError("the corpus holds no quotations of Maisky's own")
        choice = day_pick(self.quote_pool, day, self.seed)
        return self.voice.quote(choice.passage, choice.quote, day.isoformat())

    def passage(self, passage_id: str) -> Reply:
        """One passage whole, by its id."""
        try:
            return self.voice.passage(self.corpus.passage(passage_id.strip()))
        except KeyError:
            return self.voice.notice("unknown_passage")

    def timeline(self, span: str = "") -> Reply:
        """The dated passages in order, within a year, a decade or a range ("" for all)."""
        found = parse_span(span[:40])
        if found is None:
            return self.voice.notice("timeline_bad_span")
        return self.voice.timeline(timeline(self.corpus, found), found.label if span.strip() else "")

    def timeline_years(self, prefix: str = "", limit: int = 25) -> list[int]:
        """Years the timeline holds, those starting with `prefix` (for autocomplete)."""
        return [y for y in years(self.corpus) if str(y).startswith(prefix.strip())][:limit]

    def sources(self) -> Reply:
        return self.voice.sources()

    def about(self) -> Reply:
        return self.voice.about()

    def help(self, prefix: str = "") -> Reply:
        return self.voice.help(prefix)

    def error(self) -> Reply:
        return self.voice.error()

    def expired(self) -> Reply:
        """For a button whose question the front end no longer holds."""
        return self.voice.expired()

    def changed(self) -> Reply:
        """For a command the platform's client still offers as it was before an update of the bot."""
        return self.voice.changed()

    def cooldown(self, seconds: float) -> Reply:
        return self.voice.cooldown(seconds)

    def plain(self, reply: Reply) -> str:
        return self.voice.plain(reply)
