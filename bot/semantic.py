"""The matcher's second stage: how close in meaning a passage is to a question.

Two measures, both from all-MiniLM-L6-v2 (bot/embedding.py):
- **meaning**: the question's sentence vector against each sentence of the passage (and the passage
  as a whole); the best cosine counts. It finds "Did you talk to journalists?" in "mostly through
  the press" although no word is shared.
- **word match**: for each informative word of the question, its best cosine against the passage's
  words, weighted by rarity and credited linearly between a floor (unrelated words of a language
  model are not at 0) and a cosine that counts as the same word: a soft coverage. It also says
  which question word found which passage word, for `--explain`.

Only the candidates of the lexical stage are scored, so a question costs two small matrix products
whatever the size of the corpus. Sentence vectors are cached on disk keyed by a hash of the model
and the text, word vectors by the model and the word; both caches are memory-mapped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.embedding import DIM, Encoder, WordVectors, default_cache_dir

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
    """Sentence vectors keyed by a hash of model and text, in two .npy files (memory-mapped)."""

    def __init__(self, encoder: Encoder, texts: Sequence[str], cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        stem = self.cache_dir / f"texts-{encoder.key}"
        self._keys_path, self._vecs_path = stem.with_suffix(".keys.npy"), stem.with_suffix(".vectors.npy")
        keys = np.array(
            [hashlib.blake2b(f"{encoder.key}\0{t}".encode(), digest_size=8).digest() for t in texts], dtype="S8"
        )
        old_keys, old_vecs = self._read()
        rows = np.full(len(keys), -1, dtype=np.int64)
        if len(old_keys):
            order = np.argsort(old_keys)
            pos = np.minimum(np.searchsorted(old_keys[order], keys), len(old_keys) - 1)
            found = old_keys[order[pos]] == keys
            rows[found] = order[pos[found]]
        else:
            found = np.zeros(len(keys), dtype=bool)
        missing = np.flatnonzero(~found)
        # a text that occurs twice is encoded once
        first: dict[bytes, int] = {}
        todo = [int(i) for i in missing if first.setdefault(bytes(keys[i]), int(i)) == int(i)]
        self.encoded = len(todo)
        if todo:
            fresh = encoder.encode([texts[i] for i in todo]).astype(np.float16)
            new_keys = np.concatenate([old_keys, keys[todo]])
            new_vecs = np.concatenate([np.asarray(old_vecs), fresh]) if len(old_keys) else fresh
            base = len(old_keys)
            where = {bytes(keys[i]): base + j for j, i in enumerate(todo)}
            for i in missing:
                rows[i] = where[bytes(keys[i])]
            self._write(new_keys, new_vecs)
            old_vecs = new_vecs
        self.matrix = old_vecs  # float16, memory-mapped when read from the cache
        self.rows = rows

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        try:
            keys = np.load(self._keys_path, allow_pickle=False)
            vecs = np.load(self._vecs_path, mmap_mode="r", allow_pickle=False)
            if keys.dtype != np.dtype("S8") or vecs.shape != (len(keys), DIM) or vecs.dtype != np.float16:
                raise ValueError("unexpected shape or type")
            return keys, vecs
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged cache is rebuilt, never fatal
            log.warning("ignoring unreadable vector cache %s: %s", self._vecs_path, exc)
        return np.zeros(0, "S8"), np.zeros((0, DIM), np.float16)

    def _write(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            for path, arr in ((self._vecs_path, vecs), (self._keys_path, keys)):
                fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".npy.tmp")
                with os.fdopen(fd, "wb") as fh:
                    np.save(fh, arr, allow_pickle=False)
                os.replace(tmp, path)
        except OSError as exc:  # a read-only cache folder still answers, only slower at the next start
            log.warning("cannot write the vector cache %s: %s", self._vecs_path, exc)


class SemanticStage:
    """Sentence and word vectors of every passage, and their scores against a question."""

    def __init__(
        self,
        encoder: Encoder,
        texts: Sequence[str],
        passage_words: Sequence[Sequence[str]],
        cache_dir: Path | None = None,
    ) -> None:
        self.encoder = encoder
        units: list[str] = []
        spans = [0]
        for text in texts:
            parts = sentences(text)
            units.extend(parts if len(parts) > 1 else [])
            units.append(text)
            spans.append(len(units))
        self.texts = TextVectors(encoder, units, cache_dir)
        self._spans = np.array(spans, dtype=np.int64)
        vocab: dict[str, int] = {}
        flat: list[int] = []
        offsets = [0]
        for ws in passage_words:
            ids = {vocab.setdefault(w, len(vocab)) for w in ws}
            flat.extend(sorted(ids))
            offsets.append(len(flat))
        self.vectors = WordVectors(encoder, vocab, cache_dir)
        remap = np.array([self.vectors.ids[w] for w in vocab], dtype=np.int32) if vocab else np.zeros(0, np.int32)
        words = np.array(flat, dtype=np.int32)
        self._words = remap[words] if len(flat) else words
        self._offsets = np.array(offsets, dtype=np.int64)

    @property
    def encoded(self) -> int:
        """Sentences and words encoded at start-up (not found in the cache)."""
        return self.texts.encoded + self.vectors.encoded

    def score(
        self,
        question: str,
        words: Sequence[str],
        weights: Sequence[float],
        passages: Sequence[int],
        floor: float,
        full: float,
    ) -> list[SemanticScore]:
        """Both measures for each passage index in `passages`.

        In the word match a cosine at or below `floor` earns nothing and one at or above `full`
        earns the word's whole weight, linearly between."""
        if not passages:
            return []
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
        for (a, b), m in zip(spans, meaning, strict=True):
            cols = inverse[pos : pos + (b - a)]
            pos += b - a
            if not len(cols):
                out.append(SemanticScore(m, 0.0, ()))
                continue
            block = sims[:, cols]
            best = block.argmax(axis=1)
            cos = np.clip(block[np.arange(len(words)), best], 0.0, 1.0)
            found = [self.vectors.words[int(uniq[cols[j]])] for j in best]
            pairs = tuple((qw, pw, round(float(c), 3)) for qw, pw, c in zip(words, found, cos, strict=True))
            credit = np.clip((cos - floor) / max(full - floor, 1e-6), 0.0, 1.0)
            out.append(SemanticScore(m, float((credit * w).sum()), pairs))
        return out
