"""The timeline: the corpus's dated passages in order, filtered by a year or a range of years.

A passage's `date` is text as the source gives it ("1939-09-03", "October 1939", "1941", "1930s");
this module reads the year (or decade), month and day out of it to sort and filter, and keeps the
text itself for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.sources.corpus import Corpus, Passage

__all__ = ["Dated", "Span", "dated", "parse_span", "timeline", "years"]

_MONTHS = {
    m: n
    for n, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ),
        start=1,
    )
    for m in names
}  # fmt: skip
_ISO = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
_YEAR = re.compile(r"\b(\d{4})(s?)\b")
_DAY = re.compile(r"\b(\d{1,2})\b")
_WORD = re.compile(r"[a-z]+")
EARLIEST, LATEST = 1000, 2999  # what counts as a year in a date or a range


@dataclass(frozen=True)
class Dated:
    """A passage placed in time: sortable by (year, month, day); a decade spans ten years."""

    year: int
    month: int  # 0 when the date names no month
    day: int  # 0 when it names no day
    last_year: int  # the same as `year` except for a decade ("1930s": 1930 to 1939)
    passage_id: str
    label: str  # the date as the source gives it
    passage: Passage

    def within(self, span: Span) -> bool:
        """A decade counts where it starts: "1930s" is in 1925-1935 and in the 1930s, not in 1939."""
        return span.first <= self.year <= span.last


@dataclass(frozen=True)
class Span:
    """Years from `first` to `last`, both included."""

    first: int
    last: int

    @property
    def label(self) -> str:
        if self.first == self.last:
            return str(self.first)
        if self.first % 10 == 0 and self.last == self.first + 9:
            return f"{self.first}s"
        return f"{self.first}–{self.last}"


def dated(passage: Passage) -> Dated | None:
    """Where `passage` stands in time, or None if it has no date with a year in it."""
    text = passage.date.strip()
    if not text:
        return None
    iso = _ISO.match(text)
    if iso:
        year = int(iso[1])
        return Dated(year, int(iso[2]), int(iso[3] or 0), year, passage.id, text, passage)
    found = _YEAR.search(text)
    if not found or not EARLIEST <= int(found[1]) <= LATEST:
        return None
    year = int(found[1])
    last = year + 9 if found[2] and year % 10 == 0 else year
    month = next((_MONTHS[w] for w in _WORD.findall(text.lower()) if w in _MONTHS), 0)
    rest = _DAY.findall(_YEAR.sub(" ", text))
    day = int(rest[0]) if month and rest and 1 <= int(rest[0]) <= 31 else 0
    return Dated(year, month, day, last, passage.id, text, passage)


def parse_span(text: str) -> Span | None:
    """A year ("1939"), a decade ("1930s") or a range ("1939-1941", "1939 to 1941"); None if
    `text` is none of these. An empty text means every year."""
    text = text.strip().lower()
    if not text:
        return Span(EARLIEST, LATEST)
    m = re.fullmatch(r"(\d{4})s", text)
    if m and int(m[1]) % 10 == 0:
        return Span(int(m[1]), int(m[1]) + 9)
    m = re.fullmatch(r"(\d{4})(?:\s*(?:-|–|—|\.\.|to|until)\s*(\d{4}|\d{2}))?", text)
    if not m:
        return None
    end = m[2] or m[1]
    first, last = int(m[1]), int(m[1][:2] + end if len(end) == 2 else end)
    if not (EARLIEST <= first <= LATEST and EARLIEST <= last <= LATEST):
        return None
    return Span(min(first, last), max(first, last))


def timeline(corpus: Corpus, span: Span) -> list[Dated]:
    """The dated passages whose date falls within `span`, earliest first."""
    placed = [(d, n) for n, d in enumerate(dated(p) for p in corpus.passages) if d is not None and d.within(span)]
    return [d for d, _ in sorted(placed, key=lambda dn: (dn[0].year, dn[0].month, dn[0].day, dn[1]))]


def years(corpus: Corpus) -> list[int]:
    """Every year some passage is dated in, for autocompletion."""
    out: set[int] = set()
    for p in corpus.passages:
        d = dated(p)
        if d:
            out.update(range(d.year, d.last_year + 1))
    return sorted(out)
