"""The daily posts' and the quiz's pools of a corpus, worked out once and kept in the cache folder.

Finding Maisky's quotations worth posting (bot/sources/quotes.py) and the quiz's questions
(bot/club/quiz.py) reads every passage: 8 s of CPU at each start of a Slack or Discord server on a
corpus of 100,000 passages. Both give the same result while the corpus and that code are unchanged,
so they are saved, as passage positions and texts, in a small JSON file named by a hash of the
corpus's key (the hash of its seed files that keys the search index) and of the code that
computes them; a start reads it back. A missing, stale or damaged file is recomputed (and written
again when the folder can be written), never fatal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bot.chat.voice import capped
from bot.club import quiz
from bot.club.quiz import Question
from bot.sources import quotes, timeline
from bot.sources.corpus import Corpus
from bot.sources.quotes import QuoteChoice

__all__ = ["daily_pool", "quiz_pool"]

log = logging.getLogger(__name__)

FORMAT = 1  # bump when what is saved changes shape
_KEEP = 4  # pool files of each kind kept in a cache folder
T = TypeVar("T")


def _key(kind: str, corpus: Corpus, corpus_key: str) -> str:
    """What a pool depends on: the corpus (its key and size) and the code that computes the pool."""
    digest = hashlib.blake2b(f"{FORMAT}:{kind}:{corpus_key}:{len(corpus.passages)}".encode(), digest_size=12)
    for module in (quotes, quiz, timeline, sys.modules[capped.__module__], sys.modules[__name__]):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def _kept(
    kind: str,
    corpus: Corpus,
    corpus_key: str,
    cache_dir: Path | None,
    compute: Callable[[], list[T]],
    encode: Callable[[list[T]], list[list[Any]]],
    decode: Callable[[list[Any]], T],
) -> list[T]:
    """The pool from `cache_dir`'s file for this corpus, else `compute()`'s, saved there. Without a
    `corpus_key` (a corpus built in memory) nothing is kept."""
    if not corpus_key or cache_dir is None:
        return compute()
    path = cache_dir / f"{kind}-pool-{_key(kind, corpus, corpus_key)}.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        passages = corpus.passages  # only the pool's passages are read (a stored corpus builds each on demand)
        if [passages[i].id for i in saved["positions"]] != saved["ids"]:
            raise ValueError("the passages moved")
        return [decode(row) for row in saved["rows"]]
    except FileNotFoundError:
        pass
    except Exception as exc:  # a damaged or stale file is recomputed, never fatal
        log.warning("recomputing the %s pool (%s: %s)", kind, path.name, exc)
    pool = compute()
    rows = encode(pool)
    positions = sorted({row[0] for row in rows})
    data = {"rows": rows, "positions": positions, "ids": [corpus.passages[i].id for i in positions]}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".json.tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False)
        os.replace(tmp, path)
        # older corpora's pools go, but a few stay: a posting-only process (a cut-down corpus)
        # may share the folder with a server, and neither should remove the other's
        found = sorted(cache_dir.glob(f"{kind}-pool-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[_KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot keep the %s pool in %s (%s); the next start computes it again", kind, cache_dir, exc)
    return pool


def daily_pool(corpus: Corpus, corpus_key: str, cache_dir: Path | None) -> list[QuoteChoice]:
    """`maisky_quotes(corpus)`, read from the cache folder while the corpus is unchanged."""

    def encode(pool: list[QuoteChoice]) -> list[list[Any]]:
        where = {id(p): i for i, p in enumerate(corpus.passages) if p.quotes}
        return [
            [
                where[id(c.passage)],
                c.passage.quotes.index(c.quote),
                c.text,
                [c.passage.quotes.index(q) for q in c.inner],
            ]
            for c in pool
        ]

    def decode(row: list[Any]) -> QuoteChoice:
        passage = corpus.passages[row[0]]
        return QuoteChoice(passage, passage.quotes[row[1]], row[2], tuple(passage.quotes[n] for n in row[3]))

    return _kept("daily", corpus, corpus_key, cache_dir, lambda: quotes.maisky_quotes(corpus), encode, decode)


def quiz_pool(corpus: Corpus, corpus_key: str, cache_dir: Path | None) -> list[Question]:
    """`quiz.questions(corpus)`, read from the cache folder while the corpus is unchanged."""

    def encode(pool: list[Question]) -> list[list[Any]]:
        where = {id(p): i for i, p in enumerate(corpus.passages)}
        return [[where[id(q.passage)], q.key, q.kind, q.prompt, q.answer, q.first, q.last] for q in pool]

    def decode(row: list[Any]) -> Question:
        return Question(row[1], row[2], corpus.passages[row[0]], row[3], row[4], row[5], row[6])

    return _kept("quiz", corpus, corpus_key, cache_dir, lambda: quiz.questions(corpus), encode, decode)
