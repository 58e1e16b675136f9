"""Maisky's own quotations worth posting, and the deterministic quotation of a day.

A quotation that begins lower-case ("is not made of iron…") is a fragment of someone else's
sentence; it is shown with that sentence's lead-in, verbatim from the passage. A quotation nested
in another, or sharing a sentence with it, is one post, not two. A curator keeps a quotation out of
the pool with `daily = false`; any excerpt that holds it stays out too.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.sources.corpus import Corpus, Passage, Quote

__all__ = ["QuoteChoice", "choice_for", "day_pick", "maisky_quotes", "on_this_day", "quote_for_day"]

MIN_LENGTH = 40  # shorter quotations are phrases, not lines worth posting on their own

_ISO_DAY = re.compile(r"^\d{4}-(\d{2})-(\d{2})$")
# A sentence ends at . ! ? (and any closing marks) before a capital, an opening mark or a digit,
# or at a paragraph break.
_SENTENCE_END = re.compile(r"[.!?…][”’\"')\]]*(\s+)(?=[“‘\"(\[]{0,2}[A-Z0-9])|\n\s*\n")
_ABBREVIATIONS = frozenset("Mr Mrs Ms Dr St Sept Jan Feb Mar Apr Aug Oct Nov Dec Gen Col Capt Lt Sen Rev vs".split())
_CLOSING = "”’\"'"


@dataclass(frozen=True)
class QuoteChoice:
    """One line worth posting: a quotation, shown alone or within its sentence from the passage."""

    passage: Passage
    quote: Quote  # the leading quotation of the speaker; its index names the choice
    text: str  # what is shown, verbatim from the passage
    inner: tuple[Quote, ...]  # every quotation that `text` holds, the leading one included

    @property
    def key(self) -> str:
        """Stable identity of a quotation, for records of what was posted."""
        return f"{self.passage.id}#{self.passage.quotes.index(self.quote)}"

    @property
    def lead_in(self) -> bool:
        """True when `text` holds the author's words around the quotation."""
        return self.text != self.quote.text

    @property
    def daily(self) -> bool:
        return all(q.daily for q in self.inner)

    @property
    def notes(self) -> tuple[str, ...]:
        """The curator's content notes of every quotation shown, once each."""
        return tuple(dict.fromkeys(q.content_note for q in self.inner if q.content_note))


def _boundaries(text: str) -> list[tuple[int, int]]:
    """(where a sentence ends, where the next begins) for every sentence end in `text`."""
    out = []
    for m in _SENTENCE_END.finditer(text):
        if m.group(1) is None:  # a paragraph break
            out.append((m.start(), m.end()))
            continue
        word = re.search(r"([A-Za-z]+)$", text[: m.start()])
        if word and ((len(word[1]) == 1 and word[1].isupper()) or word[1] in _ABBREVIATIONS):
            continue  # an initial (Joseph P. Kennedy) or an abbreviation (Sept. 3)
        out.append((m.start(1), m.end()))
    return out


def _span(passage: Passage, quote: Quote, bounds: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """Where the quotation stands in the passage; a lower-case fragment reaches back to the start
    of its sentence, and any quotation that does not end a sentence reaches on to its end."""
    start = passage.text.find(quote.text)
    end = start + len(quote.text)
    while end < len(passage.text) and passage.text[end] in _CLOSING:
        end += 1
    if quote.text[0].islower():
        start = max((b for _, b in bounds if b <= start), default=0)
    if quote.text[0].islower() or quote.text.rstrip(_CLOSING)[-1:] not in ".!?…":
        end = max(end, min((e for e, _ in bounds if e >= end), default=len(passage.text)))
    return start, end


def _choices(passage: Passage, speaker: str) -> list[QuoteChoice]:
    bounds = _boundaries(passage.text)
    spans = sorted(
        (_span(passage, q, bounds), n)
        for n, q in enumerate(passage.quotes)
        if q.speaker == speaker and len(q.text) >= MIN_LENGTH
    )
    merged: list[tuple[int, int, int]] = []  # start, end, index of the leading quotation
    for (start, end), n in spans:
        if merged and start < merged[-1][1]:
            s, e, lead = merged[-1]
            merged[-1] = (s, max(e, end), min(lead, n))
        else:
            merged.append((start, end, n))
    out = []
    for start, end, lead in merged:
        quote = passage.quotes[lead]
        positions = [(passage.text.find(q.text), q) for q in passage.quotes]
        inner = tuple(q for at, q in positions if start <= at and at + len(q.text) <= end)
        exact = passage.text[start:end] == quote.text or passage.text[start:end].strip(_CLOSING + "“‘") == quote.text
        text = quote.text if exact else passage.text[start:end]
        out.append(QuoteChoice(passage, quote, text, inner))
    return out


def maisky_quotes(corpus: Corpus, speaker: str = "maisky") -> list[QuoteChoice]:
    """Lines of `speaker`'s own worth posting: each once, fragments with their lead-in, and
    none that holds a quotation a curator marked `daily = false`."""
    return [c for p in corpus.passages for c in _choices(p, speaker) if c.daily]


def choice_for(passage: Passage, quote: Quote) -> QuoteChoice:
    """The line that shows `quote`: its lead-in and anything posted with it."""
    for c in _choices(passage, quote.speaker):
        if quote in c.inner:
            return c
    return QuoteChoice(passage, quote, quote.text, (quote,))


def on_this_day(choice: QuoteChoice, day: dt.date) -> bool:
    """True when the passage's date falls on the month and day of `day`."""
    m = _ISO_DAY.match(choice.passage.date)
    return m is not None and (int(m[1]), int(m[2])) == (day.month, day.day)


def _natural_cycle(pool: Sequence[QuoteChoice], cycle: int, start: dt.date, seed: int) -> list[QuoteChoice]:
    """One pass through the pool in a seeded order; a line whose date is that day goes first."""
    remaining = sorted(pool, key=lambda q: random.Random(f"{seed}:{cycle}:{q.key}").random())
    out = []
    for n in range(len(pool)):
        day = start + dt.timedelta(days=n)
        pick = next((q for q in remaining if on_this_day(q, day)), remaining[0])
        remaining.remove(pick)
        out.append(pick)
    return out


def day_pick(pool: Sequence[QuoteChoice], day: dt.date, seed: int = 0) -> QuoteChoice:
    """The pool's line for `day`: no repeat until every line has come up, then a new order,
    and never the same line on two neighbouring days. Stateless: derived from the date and seed."""
    if not pool:
        raise LookupError("the pool is empty")
    ordered = sorted(pool, key=lambda q: q.key)
    size = len(ordered)
    if size < 3:
        return ordered[day.toordinal() % size]
    cycle, pos = divmod(day.toordinal(), size)
    start = day - dt.timedelta(days=pos)
    this = _natural_cycle(ordered, cycle, start, seed)
    before = _natural_cycle(ordered, cycle - 1, start - dt.timedelta(days=size), seed)
    if this[0].key == before[-1].key:
        # swapping the first two keeps the cycle a permutation and leaves its last line alone
        this[0], this[1] = this[1], this[0]
    return this[pos]


def quote_for_day(corpus: Corpus, day: dt.date, seed: int = 0) -> QuoteChoice:
    """The same date (and seed) always gives the same quotation; neighbouring days never repeat."""
    choices = maisky_quotes(corpus)
    if not choices:
        raise LookupError("the corpus holds no quotations of Maisky's own")
    return day_pick(choices, day, seed)
