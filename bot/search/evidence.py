"""Which sentences of a passage answer a question: the evidence a reply marks (and all that a copyrighted
source's cap shows).

The evidence is one of the reader's windows (bot/search/reader.py: whole sentences, about 64 tokens): the
one that holds the sentence closest in meaning to the question, by the semantic stage's sentence vectors,
which are already scored for every candidate, so choosing costs no model run. When the question names
people, only windows that name the most of them are chosen from: "What did you think of Chamberlain?" marks
a sentence that names Chamberlain, not a sentence about Eden that happens to read closer.

On the development question sets, of the passages whose windows differ in holding the expected phrase, this
rule's window holds it for 105 of 131, the reader's best-scoring window for 78 (docs/encoder.md).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache

from bot.search.analysis import STOPWORDS, Analyzer, words
from bot.search.index_store import sentences
from bot.search.reader import Window, windows

__all__ = ["evidence"]


@lru_cache(maxsize=4096)
def _layout(text: str) -> tuple[tuple[Window, ...], tuple[int, ...]]:
    """A passage's windows, and where each of its sentences (as the semantic stage splits them) starts."""
    starts: list[int] = []
    at = 0
    for part in sentences(text):
        at = text.find(part, at)
        starts.append(at)
        at += len(part)
    return tuple(windows(text)), tuple(starts)


def _named(analyzer: Analyzer, text: str) -> frozenset[str]:
    return frozenset(pid for _, _, pid in analyzer.names_in([w for w in words(text) if w not in STOPWORDS]))


def evidence(
    text: str, scores: Sequence[float], people: Collection[str] = (), analyzer: Analyzer | None = None
) -> Window | None:
    """The window of `text` that answers: of those naming the most of `people` (ids of the people the question
    names; found by `analyzer`), the one holding the sentence with the best of `scores` (the question's cosine
    with each sentence, in order, then the whole passage: bot/search/index_store.py `units_of`), the first on a
    tie. None when the scores do not fit the text's sentences."""
    spans, starts = _layout(text)
    if len(spans) == 1:
        return spans[0]
    if len(scores) != len(starts) + 1 or not starts:
        return None
    pairs = list(zip(scores[:-1], starts, strict=True))
    best = [max((s for s, at in pairs if w.start <= at < w.end), default=-2.0) for w in spans]
    pick = list(range(len(spans)))
    if people and analyzer is not None:
        named = [len(_named(analyzer, text[w.start : w.end]) & set(people)) for w in spans]
        most = max(named)
        if most:
            pick = [k for k in pick if named[k] == most]
    return spans[max(pick, key=lambda k: (best[k], -k))]
