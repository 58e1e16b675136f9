"""The club quiz: "Who said it?" and "When was it?" questions drawn from the corpus, with scores.

One open question per channel, answered by option or typed leniently, with per-channel scores in
the store.

Questions come only from what the sources hold: a quotation whose speaker is a named person (never
the article's own author, never an unnamed voice), or a dated passage shown with its dates hidden.
Nothing marked `daily = false` by a curator is asked. Draws go without repeats in a channel until
every question has been asked there, as daily posts do.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from bot.chat.reply import LETTERS, Reply, inert_name
from bot.chat.voice import Voice, capped
from bot.sources.corpus import Corpus, Passage, Quote
from bot.sources.timeline import dated

if TYPE_CHECKING:  # the store brings SQLAlchemy, which only a process that keeps scores needs
    from bot.ops.store import QuizDraw, Store

__all__ = ["Question", "Quiz", "parse_years", "questions", "resolve_person"]

WHO, WHEN = "who", "when"
MIN_QUOTE = 15  # shorter quotations ("Eden,") say too little to guess from
OPTIONS = 4
ACCEPT = 80.0  # how close (0-100) a typed name must be to one of a person's names
HIDDEN = "[date]"

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
)
# a date as sources write it: "Sept. 3, 1939", "3 September 1939", "June, 12, 1941", "1930s", "1908", "1884-01-19"
_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|(?:\d{{1,2}}\s+)?(?:{_MONTH}\.?,?\s+(?:\d{{1,2}},?\s+)?)?\d{{4}}s?)\b"
)
# a typed option's letter, as bot.chat.reply letters the options (A to D: OPTIONS of them)
_LETTER = re.compile(rf"^\s*([{LETTERS[:OPTIONS]}{LETTERS[:OPTIONS].lower()}])\s*[.)]?\s*$")
_TYPED_YEAR = re.compile(r"\b(\d{4}|\d{2})(s?)\b")


@dataclass(frozen=True)
class Question:
    key: str  # stable: "who:<passage id>#<quotation index>" or "when:<passage id>"
    kind: str  # WHO or WHEN
    passage: Passage
    prompt: str  # the quotation verbatim (who), or the passage with its dates hidden (when)
    answer: str  # a person id (who), or the date's year or decade as text (when)
    first: int = 0  # when: the years a right answer may name
    last: int = 0


def _hide_dates(passage: Passage) -> str | None:
    """The passage with every date replaced by [date]; None if a date stands inside a quotation,
    whose words must stay verbatim."""
    spans = [(passage.text.find(q.text), passage.text.find(q.text) + len(q.text)) for q in passage.quotes]
    for m in _DATE.finditer(passage.text):
        if any(s < m.end() and m.start() < e for s, e in spans):
            return None
    return _DATE.sub(HIDDEN, passage.text)


def _giveaway(quote: Quote, corpus: Corpus) -> bool:
    person = corpus.people[quote.speaker]
    text = quote.text.lower()
    return any(re.search(rf"\b{re.escape(n.lower())}\b", text) for n in (person.name, *person.aliases))


def questions(corpus: Corpus) -> list[Question]:
    """Every question the corpus supports, in corpus order."""
    out = []
    authors = {s.author for s in corpus.sources}
    for p in corpus.passages:
        if any(not q.daily for q in p.quotes):
            continue  # a curator keeps this passage out of anything posted on its own
        for n, q in enumerate(p.quotes):
            if not q.speaker or capped(q.text, p.source)[1]:
                continue  # the source names no speaker, or may not be shown at that length
            person = corpus.people[q.speaker]
            if not person.listed or person.name in authors or len(q.text) < MIN_QUOTE or "[" in q.text:
                continue  # an unnamed voice, the article's own words, a scrap, or an editor's insertion
            if any(o is not q and o.speaker == q.speaker and q.text in o.text for o in p.quotes):
                continue  # nested in a longer quotation of the same speaker: asked once, as that one
            if _giveaway(q, corpus):
                continue
            out.append(Question(f"{WHO}:{p.id}#{n}", WHO, p, q.text, q.speaker))
        when = dated(p)
        hidden = _hide_dates(p) if when and not capped(p.text, p.source)[1] else None
        if when and hidden:
            label = f"{when.year}s" if when.last_year != when.year else str(when.year)
            out.append(Question(f"{WHEN}:{p.id}", WHEN, p, hidden, label, when.year, when.last_year))
    return out


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def _person_scores(said: str, corpus: Corpus) -> list[tuple[float, str]]:
    scores = []
    for person in corpus.people.values():
        if not person.listed:
            continue
        best = 0.0
        for name in (person.name, *person.aliases):
            n = _norm(name)
            best = max(best, fuzz.ratio(said, n), *(fuzz.ratio(said, w) - 1 for w in n.split() if len(w) >= 4))
        scores.append((best, person.id))
    return sorted(scores, reverse=True)


def resolve_person(typed: str, corpus: Corpus) -> str | None:
    """The person a typed answer names, leniently ("chamberlin", "Joe Kennedy", "it was Churchill");
    None if it names no one clearly. An exact name or alias beats a match on one word of a longer
    name; the whole answer is tried first, then its shorter runs of words."""
    said = _norm(typed).split()[:12]
    for size in range(len(said), 0, -1):
        found = set()
        for start in range(len(said) - size + 1):
            scores = _person_scores(" ".join(said[start : start + size]), corpus)
            if scores and scores[0][0] >= ACCEPT and (len(scores) < 2 or scores[1][0] < scores[0][0]):
                found.add(scores[0][1])
        if len(found) == 1:
            return found.pop()
        if found:
            return None  # two people named: no guessing between them
    return None


def parse_years(typed: str) -> list[tuple[int, int]]:
    """Years or decades named in a typed answer, as (first, last): "1939", "'39", "the 1930s"."""
    out = []
    for m in _TYPED_YEAR.finditer(typed):
        year = int(m[1]) if len(m[1]) == 4 else 1900 + int(m[1])
        out.append((year, year + 9) if m[2] and year % 10 == 0 else (year, year))
    return out


def _when_label(first: int, last: int) -> str:
    return f"{first}s" if last != first else str(first)


class Quiz:
    """A channel's quiz: ask, answer (typed or by option), stop, scores."""

    def __init__(
        self, store: Store, corpus: Corpus, voice: Voice, seed: int = 0, pool: Sequence[Question] | None = None
    ) -> None:
        """`pool`: the corpus's questions, when already known (read from a cache)."""
        self.store = store
        self.corpus = corpus
        self.voice = voice
        self.seed = seed
        self.pool = list(pool) if pool is not None else questions(corpus)
        self._by_key = {q.key: q for q in self.pool}

    # drawing

    def _next(self, platform: str, channel: str, workspace: str) -> tuple[Question, int]:
        history = self.store.quiz_history(platform, channel, workspace)
        cycle = max((c for _, c in history), default=0)
        used = {k for k, c in history if c == cycle}
        remaining = [q for q in self.pool if q.key not in used]
        if not remaining:
            cycle, remaining = cycle + 1, list(self.pool)
        salt = f"{self.seed}:{platform}:{channel}:{cycle}"
        return min(remaining, key=lambda q: random.Random(f"{salt}:{q.key}").random()), cycle

    def _options(self, q: Question, salt: str) -> tuple[str, ...]:
        """The right answer and three others, in a reading order (names by alphabet, years in order)."""
        rng = random.Random(f"{self.seed}:{salt}:{q.key}")
        if q.kind == WHO:
            authors = {s.author for s in self.corpus.sources}
            speakers = sorted({x.answer for x in self.pool if x.kind == WHO} - {q.answer})
            others = sorted(
                p.id
                for p in self.corpus.people.values()
                if p.listed and p.name not in authors and p.id != q.answer and p.id not in speakers
            )
            picked = rng.sample(speakers, min(2, len(speakers)))
            rest = [p for p in speakers + others if p not in picked]
            picked += rng.sample(rest, min(OPTIONS - 1 - len(picked), len(rest)))
            return tuple(sorted([q.answer, *picked], key=lambda pid: self.corpus.people[pid].name))
        labels = {x.answer for x in self.pool if x.kind == WHEN and not (x.first <= q.last and x.last >= q.first)}
        near = {str(q.first + d) for d in (-3, -2, -1, 1, 2, 3)} if q.first == q.last else set()
        pool = sorted(labels) or sorted(near)
        picked = rng.sample(pool, min(OPTIONS - 1, len(pool)))
        return tuple(sorted([q.answer, *picked]))

    def _label(self, q: Question, option: str) -> str:
        return self.corpus.people[option].name if q.kind == WHO else option

    def _question_reply(self, q: Question, draw: QuizDraw, *, again: bool = False) -> Reply:
        labels = tuple(self._label(q, o) for o in draw.options)
        return self.voice.quiz_question(q.kind, q.prompt, labels, str(draw.id), again=again)

    # the commands

    def ask(self, platform: str, channel: str, user: str, now: float, workspace: str = "") -> Reply:
        """A new question for the channel, or the open one again."""
        if not self.pool:
            return self.voice.notice("quiz_empty")
        for _ in range(3):
            current = self.store.quiz_current(platform, channel, workspace)
            if current:
                q = self._by_key.get(current.question_key)
                if q is not None:
                    return self._question_reply(q, current, again=True)
                self.store.quiz_close(current, "stopped", now)  # its passage left the corpus
                continue
            q, cycle = self._next(platform, channel, workspace)
            options = self._options(q, f"{platform}:{channel}:{cycle}")
            draw = self.store.quiz_start(platform, channel, q.key, cycle, options, user, now, workspace)
            if draw is not None:
                return self._question_reply(q, draw)
        return self.voice.error()

    def answer(
        self, platform: str, channel: str, user: str, name: str, typed: str, now: float, workspace: str = ""
    ) -> Reply:
        """A typed answer: a name, a year, or an option's letter."""
        draw = self.store.quiz_current(platform, channel, workspace)
        q = self._by_key.get(draw.question_key) if draw else None
        if draw is None or q is None:
            return self.voice.notice("quiz_none_open")
        letter = _LETTER.match(typed)
        if letter and LETTERS.index(letter[1].upper()) < len(draw.options):
            return self._judge(q, draw, user, name, draw.options[LETTERS.index(letter[1].upper())] == q.answer, now)
        if q.kind == WHO:
            who = resolve_person(typed, self.corpus)
            if who is None:
                return self.voice.notice("quiz_unclear_who")
            return self._judge(q, draw, user, name, who == q.answer, now)
        years = parse_years(typed)
        if not years:
            return self.voice.notice("quiz_unclear_when")
        first, last = years[0]  # the first date named; a hedge ("1939 or 1940") gets no second chance
        right = (first, last) == (q.first, q.last) or (first == last and q.first <= first <= q.last)
        return self._judge(q, draw, user, name, right, now)

    def choose(
        self,
        platform: str,
        channel: str,
        user: str,
        name: str,
        token: str,
        option: int,
        now: float,
        workspace: str = "",
    ) -> Reply:
        """An option button: `token` names the question it belongs to."""
        draw = self.store.quiz_current(platform, channel, workspace)
        q = self._by_key.get(draw.question_key) if draw else None
        if draw is None or q is None or token != str(draw.id) or not 0 <= option < len(draw.options):
            return self.voice.notice("quiz_closed")
        return self._judge(q, draw, user, name, draw.options[option] == q.answer, now)

    def _judge(self, q: Question, draw: QuizDraw, user: str, name: str, right: bool, now: float) -> Reply:
        who = inert_name(name.strip())[:80] or "comrade"
        if not self.store.quiz_try(draw.id, user):
            return self.voice.notice("quiz_tried", name=who)
        if not right:
            return self.voice.notice("quiz_wrong", name=who)
        if not self.store.quiz_close(draw, "answered", now, user, who):
            return self.voice.notice("quiz_closed")
        return self.voice.quiz_reveal(q.passage, self._label(q, q.answer), winner=who)

    def stop(self, platform: str, channel: str, now: float, workspace: str = "") -> Reply:
        """Close the open question and show its answer."""
        draw = self.store.quiz_current(platform, channel, workspace)
        if draw is None or not self.store.quiz_close(draw, "stopped", now):
            return self.voice.notice("quiz_none_open")
        q = self._by_key.get(draw.question_key)
        if q is None:
            return self.voice.notice("quiz_none_open")
        return self.voice.quiz_reveal(q.passage, self._label(q, q.answer))

    def scores(self, platform: str, channel: str, workspace: str = "") -> Reply:
        # names stored before they were made inert are made so here
        rows = self.store.quiz_scores(platform, channel, workspace=workspace)
        return self.voice.quiz_scores([(inert_name(name), points) for name, points in rows])
