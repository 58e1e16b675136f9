"""What the matcher builds, kept on disk: the loaded corpus, the lexical index, and vectors.

A start on a big corpus is dominated by work that gives the same result every time: parsing and
validating the TOML, analysing every passage into index terms, splitting passages into sentences.
All of it is saved beside the vector cache the first time, keyed by a hash of what it depends on
(the seed files' bytes, or the corpus's content; the code that reads and analyses them; the BM25
parameters), and read back memory-mapped (numpy .npy) at the next start.

A cache that is missing, stale or damaged is rebuilt with a log line, never fatal; a cache folder
that cannot be written still works (the next start builds again).

Vectors live in an append-only store (`VectorStore`): rows of float16 keyed by a hash of the text,
appended when a passage first becomes a candidate (or ahead, with `maisky index build`), so a start
never waits for the model and the cache only grows with what was needed.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import pickle
import re
import shutil
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import Stemmer

from bot.search.analysis import Analyzer, words
from bot.sources.corpus import Corpus, load_corpus
from bot.sources.stored import each_passage, read_corpus, write_corpus

__all__ = [
    "FORMAT", "LexicalIndex", "VectorStore", "cached_corpus", "corpus_fingerprint", "distinct", "sentences",
    "text_keys", "units_of",
]  # fmt: skip

log = logging.getLogger(__name__)

FORMAT = 2  # bump when what is saved changes shape (2: the terms' sorted order, term_order.npy)
_RECENT = 20_000  # keys appended by this process looked up through a dict before the index is re-sorted
_KEEP = 6  # index folders kept in a cache folder (others are the oldest corpora, removed on save)


def _code_digest() -> bytes:
    """The code whose output is cached: a change to any of it makes the old cache stale."""
    digest = hashlib.blake2b(f"{FORMAT}:{sys.version_info[:2]}".encode(), digest_size=16)
    for name in (
        Analyzer.__module__,
        Corpus.__module__,
        read_corpus.__module__,
        __name__,
    ):  # the sentence split lives here
        digest.update(Path(str(sys.modules[name].__file__)).read_bytes())
    digest.update(str(getattr(Stemmer, "__version__", "")).encode())
    return digest.digest()


def files_fingerprint(folder: Path, memo: Path | None = None) -> str:
    """A hash of every seed file's name and bytes (what `load_corpus` reads) and of the code.

    With `memo` (a file in the cache folder), a file's hash is taken from the last start while its
    size, times and inode are unchanged and it was last written well before that start hashed it
    (as git trusts its index: a write in the same clock tick as the hashing could leave the times
    as they were), so a start on 43 MB of seed files does not read them all again."""
    known = _read_memo(memo) if memo is not None else {}
    fresh: dict[str, list[object]] = {}
    digest = hashlib.blake2b(_code_digest(), digest_size=16)
    for path in sorted(folder.glob("*.toml")):
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        entry = known.get(path.name)
        if (
            isinstance(entry, list) and len(entry) == 3 and entry[0] == stamp and isinstance(entry[1], str)
            and isinstance(entry[2], int) and max(st.st_mtime_ns, st.st_ctime_ns) < entry[2] - _SETTLED
        ):  # fmt: skip
            fresh[path.name] = entry
        else:
            hashed_at = time.time_ns()
            fresh[path.name] = [stamp, hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest(), hashed_at]
        digest.update(path.name.encode() + b"\0" + str(fresh[path.name][1]).encode() + b"\0")
    if memo is not None and fresh != known:
        _write_memo(memo, fresh)
    return digest.hexdigest()


_SETTLED = 2_000_000_000  # ns: a file written this long before it was hashed is trusted by its stamp


def _read_memo(path: Path) -> dict[str, object]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_memo(path: Path, entries: dict[str, list[object]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json.tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh)
        os.replace(tmp, path)
    except OSError:  # an unwritable cache folder: the next start hashes the files again
        pass


def corpus_fingerprint(corpus: Corpus) -> str:
    """A hash of a corpus built in memory (tests, benchmarks): its whole content, and the code."""
    digest = hashlib.blake2b(_code_digest(), digest_size=16)
    digest.update(pickle.dumps(corpus, protocol=5))
    return digest.hexdigest()


def cached_corpus(folder: Path, cache_dir: Path) -> tuple[Corpus, str]:
    """`load_corpus(folder)`, read from a file in `cache_dir` while the seed files are unchanged;
    with the fingerprint that keys everything built from it. Only a corpus that loaded and
    validated is ever written, so a broken seed file is always reported by `load_corpus`.

    The file's passages are memory-mapped and each is built when first asked for
    (bot/sources/stored.py): a start does not make 100,000 passages to answer one question. The
    first start writes the file, then reads its passages from it like any other, so the corpus
    it parsed is freed before the index is built and the models are loaded."""
    if not folder.is_dir():
        return load_corpus(folder), ""  # the loader names the problem
    where = hashlib.blake2b(str(folder.resolve()).encode(), digest_size=8).hexdigest()
    key = files_fingerprint(folder, cache_dir / f"seed-hashes-{where}.json")
    path = cache_dir / f"corpus-{key}.passages"
    try:
        with paused_gc():
            return read_corpus(path), key
    except FileNotFoundError:
        pass
    except Exception as exc:  # a damaged cache is rebuilt, never fatal
        log.warning("ignoring unreadable corpus cache %s (%s); loading the seed files", path, exc)
    corpus = load_corpus(folder)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".passages.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                write_corpus(corpus, fh)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        _prune(cache_dir, "corpus-*.passages", path)
        _prune(cache_dir, "seed-hashes-*.json", cache_dir / f"seed-hashes-{where}.json")
        for legacy in cache_dir.glob("corpus-*.pickle"):  # the whole-corpus pickles this file replaced
            legacy.unlink(missing_ok=True)
    except OSError as exc:
        log.warning(
            "cannot write the corpus cache in %s (%s); the next start reads the seed files again", cache_dir, exc
        )
        return corpus, key
    try:
        stored = read_corpus(path)
    except Exception as exc:  # removed or damaged by another process in between: keep what was loaded
        log.warning("cannot read back the corpus cache %s (%s)", path, exc)
        return corpus, key
    return stored, key


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while many objects that hold no cycles are made at once:
    it would otherwise scan them again and again as they are made (unpickling 100,000 passages
    takes half the CPU time without it)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _prune(folder: Path, pattern: str, keep: Path) -> None:
    """Remove all but the newest few entries matching `pattern` (old corpora's caches)."""
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in found[_KEEP:]:
        if old != keep:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


_SENTENCE_END = re.compile(r"(?<=[.!?…”\"’])\s+(?=[“\"‘(\[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """A passage's sentences (a sentence that ends inside a quotation stays whole)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def units_of(text: str) -> list[str]:
    """The texts the semantic stage encodes for a passage: its sentences (when it has more than
    one) and the passage as a whole, last."""
    parts = sentences(text)
    return [*(parts if len(parts) > 1 else []), text]


def distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_inverse=True)` of a 1-D array: its distinct values in order, and
    where each value is among them. Not np.unique itself: in numpy 2 its first call imports
    numpy.ma (0.016 s of CPU, at every start's first question)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(ordered), dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """8-byte keys of texts (a hash of the text alone: the model names the store they go in)."""
    return np.array([hashlib.blake2b(t.encode(), digest_size=8).digest() for t in texts], dtype="S8")


@dataclass
class LexicalIndex:
    """Everything the matcher derives from a corpus, as flat arrays and word lists.

    Postings of all terms sit in flat arrays sorted by (term, passage); a term's postings are the
    slice between its offsets. `words`/`word_offsets` are each passage's distinct words (ids into
    `vocabulary`), `units`/`unit_offsets` the keys of each passage's sentences (`units_of`): what
    the semantic stage scores."""

    docs: np.ndarray  # int32, passage of each posting
    weights: np.ndarray  # float32, BM25 weight of each posting
    offsets: np.ndarray  # int64, per term
    dfs: np.ndarray  # int64, document frequency per term
    terms: list[str]  # term of each id
    source_terms: dict[str, np.ndarray]  # source id -> ids of the terms its passages use
    vocabulary: list[str]  # sorted distinct words of the passages
    words: np.ndarray  # int32, flat: each passage's distinct words, as ids into `vocabulary`
    word_offsets: np.ndarray  # int64, per passage
    units: np.ndarray  # S8, flat: keys of each passage's units
    unit_offsets: np.ndarray  # int64, per passage
    term_order: np.ndarray  # int32, the term ids in the order of their terms: a term is found by binary search

    _ARRAYS = ("docs", "weights", "offsets", "dfs", "words", "word_offsets", "units", "unit_offsets", "term_order")

    @classmethod
    def build(cls, corpus: Corpus, analyzer: Analyzer, k1: float, b: float) -> LexicalIndex:
        passages = corpus.passages
        n = len(passages)
        term_ids: dict[str, int] = {}
        t_col = array("i")  # machine ints: a Python list of ints costs 7x the memory at 100,000 passages
        d_col = array("i")
        f_col = array("i")
        lengths = np.zeros(n, dtype=np.float32)
        word_ids: dict[str, int] = {}
        w_col = array("i")
        w_offsets = array("q", [0])
        source_terms: dict[str, set[int]] = {}
        unit_keys = bytearray()  # keys, not texts: 565,000 sentence strings at 100,000 passages weigh 70 MB
        u_offsets = array("q", [0])
        for i, p in enumerate(each_passage(passages)):  # a stored corpus's passages are not all kept in memory
            terms, seen = analyzer.document_terms(p.text, p.keywords)
            lengths[i] = len(terms)
            counts = Counter(terms)
            ids = [term_ids.setdefault(t, len(term_ids)) for t in counts]
            source_terms.setdefault(p.source.id, set()).update(ids)
            t_col.extend(ids)
            d_col.extend(array("i", [i]) * len(counts))
            f_col.extend(counts.values())
            w_col.extend(sorted({word_ids.setdefault(w, len(word_ids)) for w in seen}))
            w_offsets.append(len(w_col))
            for unit in units_of(p.text):
                unit_keys += hashlib.blake2b(unit.encode(), digest_size=8).digest()  # as text_keys() makes them
            u_offsets.append(len(unit_keys) // 8)
        tcol = np.frombuffer(t_col, dtype=np.int32)
        order = np.argsort(tcol, kind="stable")  # stable: passages stay in order within a term
        tcol = tcol[order]
        docs = np.frombuffer(d_col, dtype=np.int32)[order]
        del d_col
        tf = np.frombuffer(f_col, dtype=np.int32)[order].astype(np.float32)
        del f_col, order
        df = np.bincount(tcol, minlength=len(term_ids))
        offsets = np.concatenate(([0], np.cumsum(df))).astype(np.int64)
        avg = float(lengths.mean()) if n else 1.0
        norm = (k1 * (1 - b + b * lengths / max(avg, 1.0))).astype(np.float32)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        # BM25 weight per posting, computed in place in float32 to keep the peak small at scale
        denom = norm[docs]
        denom += tf
        tf *= k1 + 1
        tf /= denom
        del denom
        tf *= idf.astype(np.float32)[tcol]
        del tcol
        # words renumbered in sorted order, so the vocabulary needs no separate index on disk
        vocabulary = sorted(word_ids)
        rank = np.zeros(len(word_ids), dtype=np.int32)
        for pos, w in enumerate(vocabulary):
            rank[word_ids[w]] = pos
        flat = np.frombuffer(w_col, dtype=np.int32)
        flat_words = rank[flat] if len(flat) else np.zeros(0, np.int32)
        w_off = np.frombuffer(w_offsets, dtype=np.int64).copy()
        owner = np.repeat(np.arange(n), np.diff(w_off))
        flat_words = flat_words[np.lexsort((flat_words, owner))]  # each passage's words in id order
        return cls(
            docs=docs,
            weights=tf,
            offsets=offsets,
            dfs=df.astype(np.int64),
            terms=list(term_ids),
            term_order=np.array(sorted(range(len(term_ids)), key=list(term_ids).__getitem__), dtype=np.int32),
            source_terms={sid: np.array(sorted(ids), dtype=np.int32) for sid, ids in source_terms.items()},
            vocabulary=vocabulary,
            words=flat_words,
            word_offsets=w_off,
            units=np.frombuffer(bytes(unit_keys), dtype="S8"),
            unit_offsets=np.frombuffer(u_offsets, dtype=np.int64).copy(),
        )

    def save(self, folder: Path) -> None:
        """Write into `folder` atomically (a new folder renamed into place)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".index-tmp-"))
        try:
            for name in self._ARRAYS:
                np.save(tmp / f"{name}.npy", getattr(self, name), allow_pickle=False)
            (tmp / "terms.txt").write_text("\n".join(self.terms), encoding="utf-8")
            (tmp / "vocabulary.txt").write_text("\n".join(self.vocabulary), encoding="utf-8")
            sids = sorted(self.source_terms)
            np.save(
                tmp / "source_terms.npy",
                np.concatenate([self.source_terms[s] for s in sids] or [np.zeros(0, np.int32)]),
            )
            meta = {
                "format": FORMAT,
                "terms": len(self.terms),
                "vocabulary": len(self.vocabulary),
                "sources": sids,
                "source_sizes": [len(self.source_terms[s]) for s in sids],
            }
            (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")  # written last: marks it whole
            try:
                os.rename(tmp, folder)
            except OSError:
                if not (folder / "meta.json").is_file():  # another process may have saved it first
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, passages: int) -> LexicalIndex:
        """Read a saved index (arrays memory-mapped); any inconsistency raises."""
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')}, expected {FORMAT}")
        # plain arrays over the mapped files: the same pages, unread until used, but an element of an np.memmap
        # costs a Python-level __getitem__ and __array_finalize__, thousands of times a question
        arrays = {
            name: np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)) for name in cls._ARRAYS
        }
        text = (folder / "terms.txt").read_text(encoding="utf-8")
        terms = text.split("\n") if text else []
        text = (folder / "vocabulary.txt").read_text(encoding="utf-8")
        vocabulary = text.split("\n") if text else []
        flat = np.load(folder / "source_terms.npy", allow_pickle=False)
        sizes = [int(s) for s in meta["source_sizes"]]
        if len(terms) != meta["terms"] or len(vocabulary) != meta["vocabulary"] or sum(sizes) != len(flat):
            raise ValueError("word lists do not match their counts")
        bounds = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        source_terms = {sid: flat[bounds[j] : bounds[j + 1]] for j, sid in enumerate(meta["sources"])}
        index = cls(terms=terms, vocabulary=vocabulary, source_terms=source_terms, **arrays)
        index._check(passages)
        return index

    def _check(self, passages: int) -> None:
        t = len(self.terms)
        postings = len(self.docs)
        ok = (
            self.offsets.shape == (t + 1,)
            and self.term_order.shape == (t,)
            and self.dfs.shape == (t,)
            and self.weights.shape == (postings,)
            and int(self.offsets[-1]) == postings
            and self.word_offsets.shape == (passages + 1,)
            and self.unit_offsets.shape == (passages + 1,)
            and int(self.word_offsets[-1]) == len(self.words)
            and int(self.unit_offsets[-1]) == len(self.units)
            and self.units.dtype == np.dtype("S8")
            and (postings == 0 or int(self.docs.max()) < passages)
            and (len(self.words) == 0 or int(self.words.max()) < len(self.vocabulary))
        )
        if not ok:
            raise ValueError("arrays do not fit together")

    @staticmethod
    def folder(cache_dir: Path, fingerprint: str, k1: float, b: float) -> Path:
        """Where the index of this corpus and these parameters is saved."""
        key = hashlib.blake2b(f"{fingerprint}:{k1!r}:{b!r}:{FORMAT}".encode(), digest_size=12).hexdigest()
        return cache_dir / f"index-{key}"

    @classmethod
    def load_or_build(
        cls, corpus: Corpus, analyzer: Analyzer, k1: float, b: float, cache_dir: Path, fingerprint: str
    ) -> LexicalIndex:
        """The saved index for this corpus and these parameters, else a new one (saved when possible)."""
        folder = cls.folder(cache_dir, fingerprint, k1, b)
        if folder.is_dir():
            try:
                return cls.load(folder, len(corpus.passages))
            except Exception as exc:  # a damaged cache is rebuilt, never fatal
                log.warning("rebuilding the damaged index cache %s: %s", folder, exc)
                shutil.rmtree(folder, ignore_errors=True)
        index = cls.build(corpus, analyzer, k1, b)
        try:
            index.save(folder)
            _prune(cache_dir, "index-*", folder)
        except OSError as exc:  # a read-only cache folder: the next start builds again
            log.warning("cannot write the index cache %s: %s", folder, exc)
            return index
        try:  # read back memory-mapped, as every later start does: the arrays just built are freed
            return cls.load(folder, len(corpus.passages))
        except Exception as exc:  # removed by another process in between: keep the one in memory
            log.warning("cannot read back the index cache %s: %s", folder, exc)
            return index

    @classmethod
    def prepare(
        cls, corpus: Corpus, analyzer: Analyzer, k1: float, b: float, cache_dir: Path, fingerprint: str
    ) -> None:
        """Build and save the index for this corpus now if none is saved (the matcher reads it later)."""
        if fingerprint and not (cls.folder(cache_dir, fingerprint, k1, b) / "meta.json").is_file():
            cls.load_or_build(corpus, analyzer, k1, b, cache_dir, fingerprint)

    def term_id(self, term: str) -> int | None:
        """The id of a term, or None: a binary search in the terms' sorted order (a start builds no
        table of every term: 0.03 s of CPU at 100,000 passages)."""
        order = self.term_order
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.terms[order[mid]] < term:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(order) and self.terms[order[lo]] == term:
            return int(order[lo])
        return None

    def passage_words(self, i: int) -> list[str]:
        """Passage `i`'s distinct words."""
        return [self.vocabulary[int(j)] for j in self.words[self.word_offsets[i] : self.word_offsets[i + 1]]]

    def buckets(self, min_length: int) -> dict[str, list[str]]:
        """The vocabulary by first letter, for typo correction (digits and short words left out)."""
        out: dict[str, list[str]] = defaultdict(list)
        for w in self.vocabulary:
            if len(w) >= min_length and not w.isdigit():
                out[w[0]].append(w)
        return dict(out)


def name_words(corpus: Corpus) -> Iterator[str]:
    """Words of the people's names and aliases (typos are corrected to them too)."""
    for person in corpus.people.values():
        for a in (person.name, *person.aliases):
            yield from words(a)


class VectorStore:
    """Unit vectors (float16) keyed by 8-byte hashes, in two append-only files of one model.

    `NAME.keys` holds the keys, `NAME.f16` the rows, in the same order; vectors are written before
    their keys, so a key never points past the rows, and a torn write only loses its own rows.
    Appends from several processes are serialised by a lock file. When the folder cannot be
    written, new rows stay in memory (the next start encodes them again)."""

    def __init__(self, folder: Path, name: str, dim: int) -> None:
        self.folder = folder
        self.dim = dim
        self._keys_path = folder / f"{name}.keys"
        self._vecs_path = folder / f"{name}.f16"
        self._lock_path = folder / f"{name}.lock"
        self._lock = threading.Lock()
        self._memory: list[np.ndarray] = []  # rows that could not be written
        self._memory_keys: dict[bytes, int] = {}
        self._recent: dict[bytes, int] = {}  # rows this process appended, not yet in the sorted index
        self._writable = True
        self._sorted: np.ndarray | None = None
        self._order: np.ndarray | None = None
        self._open()

    def _open(self) -> None:
        keys = np.zeros(0, "S8")
        self._disk = np.zeros((0, self.dim), np.float16)
        try:
            raw = np.fromfile(self._keys_path, dtype="S8")
            rows = self._vecs_path.stat().st_size // (2 * self.dim)
            n = min(len(raw), rows)
            if n:
                keys = raw[:n]
                self._disk = np.memmap(self._vecs_path, dtype=np.float16, mode="r", shape=(n, self.dim))
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged store is started afresh, never fatal
            log.warning("ignoring unreadable vector cache %s: %s", self._vecs_path, exc)
            keys = np.zeros(0, "S8")
        self._keys = keys
        self._sorted = None

    def _index(self) -> tuple[np.ndarray, np.ndarray]:
        if self._sorted is None or self._order is None:
            self._order = np.argsort(self._keys, kind="stable")
            self._sorted = self._keys[self._order]
        return self._sorted, self._order

    def __len__(self) -> int:
        return len(self._disk) + len(self._memory)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Rows of `keys` (-1 where absent)."""
        with self._lock:
            out = np.full(len(keys), -1, dtype=np.int64)
            if not len(keys):
                return out
            sorted_keys, order = self._index()
            if len(sorted_keys):
                pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
                hit = sorted_keys[pos] == keys
                out[hit] = order[pos[hit]]
            for j in np.flatnonzero(out < 0):
                k = bytes(keys[j])
                row = self._recent.get(k, self._memory_keys.get(k, -1))
                out[j] = row
            return out

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Append rows; their row numbers."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float16)
        with self._lock:
            if self._writable:
                try:
                    return self._append(keys, vecs)
                except OSError as exc:
                    self._writable = False
                    log.warning(
                        "cannot write the vector cache %s (%s); new vectors stay in memory", self._vecs_path, exc
                    )
            base = 1 << 40  # memory rows are numbered apart from the disk's, which may still grow
            rows = np.arange(len(self._memory), len(self._memory) + len(keys), dtype=np.int64) + base
            self._memory.extend(vecs)
            for k, r in zip(keys.tolist(), rows.tolist(), strict=True):
                self._memory_keys[k] = r
            return rows

    def _append(self, keys: np.ndarray, vecs: np.ndarray) -> np.ndarray:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(self._vecs_path, "a+b") as fv, open(self._keys_path, "a+b") as fk:
                    n_keys = os.fstat(fk.fileno()).st_size // 8
                    n_rows = os.fstat(fv.fileno()).st_size // (2 * self.dim)
                    start = min(n_keys, n_rows)  # a torn earlier write is cut off here
                    fv.truncate(start * 2 * self.dim)
                    fk.truncate(start * 8)
                    fv.seek(0, os.SEEK_END)
                    fv.write(vecs.tobytes())
                    fv.flush()
                    fk.seek(0, os.SEEK_END)
                    fk.write(np.ascontiguousarray(keys, dtype="S8").tobytes())
                    fk.flush()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        end = start + len(keys)
        self._disk = np.memmap(self._vecs_path, dtype=np.float16, mode="r", shape=(end, self.dim))
        rows = np.arange(start, end, dtype=np.int64)
        if len(self._recent) + len(keys) > _RECENT:  # fold them into the sorted index: a dict costs 100 bytes a key
            self._keys = np.fromfile(self._keys_path, dtype="S8")[:end]
            self._sorted = None
            self._recent.clear()
        else:
            for k, r in zip(keys.tolist(), rows.tolist(), strict=True):
                self._recent[k] = r
        return rows

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        """Rows as float16 (disk rows memory-mapped, memory rows copied)."""
        rows = np.asarray(rows, dtype=np.int64)
        disk = self._disk
        if not self._memory:
            return np.asarray(disk[rows])
        out = np.zeros((len(rows), self.dim), np.float16)
        base = 1 << 40
        on_disk = rows < base
        out[on_disk] = disk[rows[on_disk]]
        for j in np.flatnonzero(~on_disk):
            out[j] = self._memory[int(rows[j] - base)]
        return out

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in (self._keys_path, self._vecs_path) if p.exists())


Progress = Callable[[int, int], None]
