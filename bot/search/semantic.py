"""The matcher's second stage: how close in meaning a passage is to a question.

Two measures, both from all-MiniLM-L6-v2 (bot/search/embedding.py):
- **meaning**: the question's sentence vector against each sentence of the passage (and the passage
  as a whole); the best cosine counts. It finds "Did you talk to journalists?" in "mostly through
  the press" although no word is shared.
- **word match**: for each informative word of the question, its best cosine against the passage's
  words, weighted by rarity and credited linearly between a floor (unrelated words of a language
  model are not at 0) and a cosine that counts as the same word: a soft coverage. It also says
  which question word found which passage word, for `--explain`.

Only the candidates of the lexical stage are scored, so a question costs two small matrix products
whatever the size of the corpus. Vectors are encoded when a passage is first a candidate (or ahead
of time by `maisky index build`) and cached on disk, sentence vectors keyed by a hash of the text,
word vectors by a hash of the word, in one memory-mapped store per model (bot/search/index_store.py).
Whether a vector came from the cache or was just encoded, it is the same float16 row, so answers
do not depend on the state of the cache.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.search.embedding import DIM, Encoder, WordVectors, default_cache_dir
from bot.search.index_store import LexicalIndex, Progress, VectorStore, units_of

if TYPE_CHECKING:
    from bot.sources.corpus import Passage

__all__ = ["SemanticScore", "SemanticStage", "sentences"]

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[.!?…”\"’])\s+(?=[“\"‘(\[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """A passage's sentences (a sentence that ends inside a quotation stays whole)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


@dataclass(frozen=True)
class SemanticScore:
    meaning: float  # best cosine of the question's vector against the passage's sentences
    words: float  # soft coverage of the question's words, 0..1
    pairs: tuple[tuple[str, str, float], ...]  # (question word, passage word it found, cosine)


class TextVectors:
    """Sentence vectors of the passages, encoded when a passage is first scored and kept on disk
    (an append-only store keyed by a hash of the text, one per model, memory-mapped).

    `rows` holds each unit's row in `matrix` (-1 until resolved); `prepare` resolves the units of
    some passages, reading the cache or encoding what it lacks, so the same candidates get the
    same scores whether the cache was warm or not."""

    def __init__(
        self, encoder: Encoder, passages: Sequence[Passage], index: LexicalIndex, cache_dir: Path | None = None
    ) -> None:
        self.encoder = encoder
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.matrix = VectorStore(self.cache_dir, f"texts-{encoder.key}-v2", DIM)
        for legacy in (f"texts-{encoder.key}.keys.npy", f"texts-{encoder.key}.vectors.npy", f"words-{encoder.key}.npz"):
            with contextlib.suppress(OSError):  # the eager caches this store replaced
                (self.cache_dir / legacy).unlink(missing_ok=True)
        self._passages = passages
        self._keys = index.units
        self._spans = index.unit_offsets
        self.rows = np.full(len(index.units), -1, dtype=np.int64)
        self.encoded = 0  # texts this process encoded (0 when every passage scored was cached)
        self._lock = threading.Lock()

    def prepare(self, passages: Sequence[int]) -> None:
        """Make sure the units of these passages have vectors."""
        spans = [(int(self._spans[i]), int(self._spans[i + 1])) for i in passages]
        todo = [(i, a, b) for i, (a, b) in zip(passages, spans, strict=True) if (self.rows[a:b] < 0).any()]
        if not todo:
            return
        with self._lock:
            units = np.concatenate([np.arange(a, b) for _, a, b in todo])
            units = units[self.rows[units] < 0]
            if not len(units):
                return
            keys = np.asarray(self._keys[units])
            self.rows[units] = self.matrix.find(keys)
            missing = units[self.rows[units] < 0]
            if not len(missing):
                return
            texts: dict[bytes, str] = {}
            wanted = set(np.asarray(self._keys[missing]).tolist())
            for i, a, b in todo:
                if (self.rows[a:b] >= 0).all():
                    continue
                for key, text in zip(
                    np.asarray(self._keys[a:b]).tolist(), units_of(self._passages[i].text), strict=True
                ):
                    if key in wanted:
                        texts[key] = text
            order = list(texts)
            fresh = self.encoder.encode([texts[k] for k in order])
            added = self.matrix.add(np.array(order, dtype="S8"), fresh)
            self.encoded += len(order)
            where = dict(zip(order, added.tolist(), strict=True))
            self.rows[missing] = [where[k] for k in np.asarray(self._keys[missing]).tolist()]


class SemanticStage:
    """Sentence and word vectors of the passages (encoded when first needed, cached on disk), and
    their scores against a question."""

    def __init__(
        self,
        encoder: Encoder,
        passages: Sequence[Passage],
        index: LexicalIndex,
        cache_dir: Path | None = None,
    ) -> None:
        self.encoder = encoder
        self.texts = TextVectors(encoder, passages, index, cache_dir)
        self._spans = index.unit_offsets
        self.vectors = WordVectors(encoder, index.vocabulary, cache_dir, presorted=True)
        self._words = index.words
        self._offsets = index.word_offsets

    def prepare(self, passages: Sequence[int]) -> None:
        """Vectors for everything `score` reads of these passages (encoded now if not cached)."""
        self.texts.prepare(passages)
        ids = [self._words[self._offsets[i] : self._offsets[i + 1]] for i in passages]
        if ids:
            self.vectors.prepare(np.concatenate(ids))

    def warm(self, progress: Progress | None = None, chunk: int = 256) -> None:
        """Encode every passage not yet in the cache (`maisky index build`); `progress(done, total)`
        after each chunk of passages. Interrupting loses at most one chunk."""
        n = len(self._offsets) - 1
        for start in range(0, n, chunk):
            self.prepare(range(start, min(start + chunk, n)))
            if progress is not None:
                progress(min(start + chunk, n), n)

    @property
    def encoded(self) -> int:
        """Sentences and words this process has encoded so far (not found in the cache)."""
        return self.texts.encoded + self.vectors.encoded

    def score(
        self,
        question: str,
        words: Sequence[str],
        weights: Sequence[float],
        passages: Sequence[int],
        floor: float,
        full: float,
        exact: Sequence[Sequence[bool]] | None = None,
    ) -> list[SemanticScore]:
        """Both measures for each passage index in `passages`.

        In the word match a cosine at or below `floor` earns nothing and one at or above `full`
        earns the word's whole weight, linearly between. `exact[k][j]`: the lexical stage found
        word j (its stem, or the person it names) in passage k, which counts as the word itself
        whatever its vector says: "churchil" is the stem of "Churchill", though the model reads the
        typed word as "church" + "il"."""
        if not passages:
            return []
        self.prepare(passages)
        qv = self.encoder.encode([question])[0]
        meaning = []
        for i in passages:
            rows = self.texts.rows[self._spans[i] : self._spans[i + 1]]
            sims = np.asarray(self.texts.matrix[np.sort(rows)], dtype=np.float32) @ qv
            meaning.append(float(sims.max()) if len(sims) else 0.0)
        if not words:
            return [SemanticScore(m, 0.0, ()) for m in meaning]
        q = self.vectors.vectors(words)
        w = np.asarray(weights, dtype=np.float32)
        w = w / w.sum() if w.sum() > 0 else np.full(len(words), 1 / len(words), np.float32)
        spans = [(int(self._offsets[i]), int(self._offsets[i + 1])) for i in passages]
        rows = np.concatenate([self._words[a:b] for a, b in spans])
        uniq, inverse = np.unique(rows, return_inverse=True)
        sims = q @ self.vectors.matrix[uniq].astype(np.float32).T  # (question words, distinct passage words)
        out = []
        pos = 0
        for k, ((a, b), m) in enumerate(zip(spans, meaning, strict=True)):
            cols = inverse[pos : pos + (b - a)]
            pos += b - a
            if not len(cols):
                out.append(SemanticScore(m, 0.0, ()))
                continue
            block = sims[:, cols]
            best = block.argmax(axis=1)
            cos = np.clip(block[np.arange(len(words)), best], 0.0, 1.0)
            found = [self.vectors.words[int(uniq[cols[j]])] for j in best]
            if exact is not None:
                same = np.asarray(exact[k], dtype=bool)
                cos = np.where(same, 1.0, cos)
                found = [qw if hit else pw for qw, pw, hit in zip(words, found, same, strict=True)]
            pairs = tuple((qw, pw, round(float(c), 3)) for qw, pw, c in zip(words, found, cos, strict=True))
            credit = np.clip((cos - floor) / max(full - floor, 1e-6), 0.0, 1.0)
            out.append(SemanticScore(m, float((credit * w).sum()), pairs))
        return out
