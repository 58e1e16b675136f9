"""Maisky's own quotations, and the deterministic quotation of a day."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from bot.corpus import Corpus, Passage, Quote

__all__ = ["QuoteChoice", "maisky_quotes", "quote_for_day"]

MIN_LENGTH = 40  # shorter quotations are phrases that need their sentence around them


@dataclass(frozen=True)
class QuoteChoice:
    passage: Passage
    quote: Quote

    @property
    def key(self) -> str:
        """Stable identity of a quotation, for records of what was posted."""
        return f"{self.passage.id}#{self.passage.quotes.index(self.quote)}"


def maisky_quotes(corpus: Corpus, speaker: str = "maisky") -> list[QuoteChoice]:
    """Quotations by `speaker` that stand on their own: whole sentences, not fragments."""
    out = []
    for p in corpus.passages:
        for q in p.quotes:
            if q.speaker == speaker and len(q.text) >= MIN_LENGTH and q.text[0].isupper():
                out.append(QuoteChoice(p, q))
    return out


def quote_for_day(corpus: Corpus, day: dt.date, seed: int = 0) -> QuoteChoice:
    """The same date (and seed) always gives the same quotation."""
    choices = maisky_quotes(corpus)
    if not choices:
        raise LookupError("the corpus holds no quotations of Maisky's own")
    return random.Random(f"{seed}:{day.isoformat()}").choice(choices)
