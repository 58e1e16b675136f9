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
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.ops.progress import Progress
from bot.search.embedding import DIM, Encoder, WordVectors, default_cache_dir
from bot.search.index_store import LexicalIndex, VectorStore, distinct, sentences, units_of
from bot.search.index_store import Progress as IndexProgress

if TYPE_CHECKING:
    from bot.sources.corpus import Passage

__all__ = ["ANNOUNCE", "SemanticScore", "SemanticStage", "sentences"]

log = logging.getLogger(__name__)

ANNOUNCE = 64  # texts and words to encode from which `progress` is told (fewer take well under a second)


@dataclass(frozen=True)
class SemanticScore:
    meaning: float  # best cosine of the question's vector against the passage's sentences
    words: float  # soft coverage of the question's words, 0..1
    pairs: tuple[tuple[str, str, float], ...]  # (question word, passage word it found, cosine)
    sentences: tuple[float, ...] = ()  # the question's cosine with each sentence, in order (`units_of`)


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

    def _todo(self, passages: Sequence[int]) -> list[tuple[int, int, int]]:
        spans = [(int(self._spans[i]), int(self._spans[i + 1])) for i in passages]
        return [(i, a, b) for i, (a, b) in zip(passages, spans, strict=True) if (self.rows[a:b] < 0).any()]

    def pending(self, passages: Sequence[int]) -> int:
        """How many texts of these passages must be encoded: rows found in the cache are resolved now."""
        todo = self._todo(passages)
        if not todo:
            return 0
        with self._lock:
            units = np.concatenate([np.arange(a, b) for _, a, b in todo])
            units = units[self.rows[units] < 0]
            if not len(units):
                return 0
            self.rows[units] = self.matrix.find(np.asarray(self._keys[units]))
            return len(set(np.asarray(self._keys[units[self.rows[units] < 0]]).tolist()))

    def prepare(self, passages: Sequence[int], step: Callable[[int], None] | None = None) -> None:
        """Make sure the units of these passages have vectors; `step(n)` after each batch encoded."""
        todo = self._todo(passages)
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
            fresh = self.encoder.encode([texts[k] for k in order], step)
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
        progress: Progress | None = None,
    ) -> None:
        """`progress`: told when passages need encoding (how many texts, then how far); silent by default."""
        self.encoder = encoder
        self.progress = progress if progress is not None else Progress()
        self.texts = TextVectors(encoder, passages, index, cache_dir)
        self._spans = index.unit_offsets
        self.vectors = WordVectors(encoder, index.vocabulary, cache_dir, presorted=True)
        self._words = index.words
        self._offsets = index.word_offsets

    def prepare(self, passages: Sequence[int]) -> None:
        """Vectors for everything `score` reads of these passages (encoded now if not cached); when
        that is more than a moment's work, `progress` hears of it at once."""
        self._encode([passages])

    def warm(
        self, progress: IndexProgress | None = None, chunk: int = 256, passages: Sequence[int] | None = None
    ) -> None:
        """Encode every passage (or these `passages`) not yet in the cache (`maisky index build`, the
        end of `maisky import`); `progress(done, total)` after each chunk of passages. Interrupting
        loses at most one chunk."""
        chosen = range(len(self._offsets) - 1) if passages is None else passages
        chunks = [chosen[start : start + chunk] for start in range(0, len(chosen), chunk)]

        def done(k: int) -> None:
            if progress is not None:
                progress(min((k + 1) * chunk, len(chosen)), len(chosen))

        self._encode(chunks, done, announce=1)  # asked for: always told, however few

    def _word_ids(self, passages: Sequence[int]) -> np.ndarray:
        ids = [self._words[self._offsets[i] : self._offsets[i + 1]] for i in passages]
        return np.concatenate(ids) if ids else np.zeros(0, np.int32)

    def _encode(
        self, chunks: Sequence[Sequence[int]], after: Callable[[int], None] | None = None, announce: int = ANNOUNCE
    ) -> None:
        """Encode what the cache lacks of these chunks of passages, one chunk after another;
        `progress` is told when that is `announce` texts and words or more."""
        total = sum(self.texts.pending(c) + self.vectors.pending(self._word_ids(c)) for c in chunks)
        told = total >= announce
        if told:
            self.progress.start(
                total,
                f"sentences and words to encode: passages not yet in the vector cache "
                f"({self.texts.cache_dir}); later runs read them there",
            )
        try:
            step = self.progress.step if told else None
            for k, c in enumerate(chunks):
                self.texts.prepare(c, step)
                if len(c):
                    self.vectors.prepare(self._word_ids(c), step)
                if after is not None:
                    after(k)
        finally:
            if told:
                self.progress.finish()

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
        units: list[tuple[float, ...]] = []
        # every candidate's rows read in one go (each memory-mapped read costs more than its product), each
        # passage's rows in ascending order and multiplied on their own, as one read per passage did
        spans = [(int(self._spans[i]), int(self._spans[i + 1])) for i in passages]
        orders = [np.argsort(self.texts.rows[a:b], kind="stable") for a, b in spans]
        gathered = np.concatenate([self.texts.rows[a:b][o] for (a, b), o in zip(spans, orders, strict=True)])
        vectors = np.asarray(self.texts.matrix[gathered], dtype=np.float32)
        at = 0
        for order in orders:
            sims = vectors[at : at + len(order)] @ qv
            at += len(order)
            meaning.append(float(sims.max()) if len(sims) else 0.0)
            in_order = np.empty_like(sims)
            in_order[order] = sims
            units.append(tuple(in_order.tolist()))
        if not words:
            return [SemanticScore(m, 0.0, (), u) for m, u in zip(meaning, units, strict=True)]
        q = self.vectors.vectors(words)
        w = np.asarray(weights, dtype=np.float32)
        w = w / w.sum() if w.sum() > 0 else np.full(len(words), 1 / len(words), np.float32)
        spans = [(int(self._offsets[i]), int(self._offsets[i + 1])) for i in passages]
        rows = np.concatenate([self._words[a:b] for a, b in spans])
        uniq, inverse = distinct(rows)
        sims = q @ self.vectors.matrix[uniq].astype(np.float32).T  # (question words, distinct passage words)
        out = []
        pos = 0
        for k, ((a, b), m, u) in enumerate(zip(spans, meaning, units, strict=True)):
            cols = inverse[pos : pos + (b - a)]
            pos += b - a
            if not len(cols):
                out.append(SemanticScore(m, 0.0, (), u))
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
            out.append(SemanticScore(m, float((credit * w).sum()), pairs, u))
        return out
