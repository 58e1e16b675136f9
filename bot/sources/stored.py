"""A validated corpus kept in one file, its passages read from it (memory-mapped) when asked for.

Unpickling 100,000 passages at every start costs half a second of CPU and 80 MB that a question
never needs: it reads a few dozen of them. The file holds the corpus's small parts (sources,
people, lexicon) as a pickle, then per passage one small pickle of its fields, their offsets, the
index of each passage's source, and the passage ids sorted for lookup. `StoredPassages` is a
sequence over them that builds a `Passage` at first access and keeps it, so the same passage is
always the same object.

The file is written only from a corpus that loaded and validated (bot/search/index_store.py keys
it by the seed files), and any inconsistency on reading raises, so the caller rebuilds it.
"""

from __future__ import annotations

import mmap
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, BinaryIO, overload

import numpy as np

from bot.sources.corpus import Corpus, Passage

__all__ = ["StoredPassages", "each_passage", "read_corpus", "write_corpus"]

MAGIC = "maisky-corpus"
VERSION = 1  # bump when the layout changes
_FIELDS = tuple(f.name for f in fields(Passage) if f.name != "source")  # what each passage's record holds
_ALIGN = 64


def _pad(fh: BinaryIO) -> int:
    """Pad the file to the next aligned offset; that offset."""
    at = fh.tell()
    gap = -at % _ALIGN
    fh.write(b"\0" * gap)
    return at + gap


def write_corpus(corpus: Corpus, fh: BinaryIO) -> None:
    """Write `corpus` into an open file, at its start (the caller writes atomically)."""
    passages = corpus.passages
    n = len(passages)
    where = {id(s): i for i, s in enumerate(corpus.sources)}
    ids = np.array([p.id.encode() for p in passages], dtype=bytes) if n else np.zeros(0, "S1")
    order = np.argsort(ids, kind="stable").astype(np.int32)
    head = {
        "magic": MAGIC,
        "version": VERSION,
        "fields": _FIELDS,
        "corpus": replace(corpus, passages=()),
        "count": n,
        "id_width": ids.dtype.itemsize,
    }
    pickle.dump(head, fh, protocol=pickle.HIGHEST_PROTOCOL)
    start = _pad(fh)
    owners = np.array([where[id(p.source)] for p in passages], dtype=np.int32)
    offsets = np.zeros(n + 1, dtype=np.int64)
    arrays = (owners, ids[order], order)
    body = start + sum(a.nbytes + (-a.nbytes % _ALIGN) for a in arrays) + offsets.nbytes + (-offsets.nbytes % _ALIGN)
    fh.seek(body)  # the records after the arrays, whose sizes are known; the offsets are written last
    at = 0
    for i, p in enumerate(passages):
        record = pickle.dumps(tuple(getattr(p, f) for f in _FIELDS), protocol=pickle.HIGHEST_PROTOCOL)
        fh.write(record)
        at += len(record)
        offsets[i + 1] = at
    end = fh.tell()
    fh.seek(start)
    for a in (offsets, *arrays):
        fh.write(a.tobytes())
        _pad(fh)
    fh.seek(end)


def read_corpus(path: Path) -> Corpus:
    """The corpus written by `write_corpus` into `path`, its passages read when asked for; raises
    ValueError (or an OSError, an unpickling error) when the file is not whole."""
    with path.open("rb") as fh:
        head = pickle.load(fh)  # our own file, written from a validated corpus
        if not isinstance(head, dict) or head.get("magic") != MAGIC or head.get("version") != VERSION:
            raise ValueError("not a corpus file of this version")
        if tuple(head["fields"]) != _FIELDS:
            raise ValueError("written for other passage fields")
        start = fh.tell() + (-fh.tell() % _ALIGN)
        size = os.fstat(fh.fileno()).st_size
        corpus = head["corpus"]
        if not isinstance(corpus, Corpus):
            raise ValueError("not a corpus")
        n = int(head["count"])
        if n == 0:
            return corpus
        view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    passages = StoredPassages(view, start, n, int(head["id_width"]), corpus.sources, size)
    return replace(corpus, passages=passages)


def each_passage(passages: Sequence[Passage]) -> Iterator[Passage]:
    """Every passage in order, for one pass over all of them (indexing): a stored passage not yet
    asked for is built for the pass and not kept, so the pass does not hold the whole corpus."""
    if isinstance(passages, StoredPassages):
        yield from passages.passing()
    else:
        yield from passages


class StoredPassages(Sequence[Passage]):
    """A corpus's passages in a memory-mapped file: each built at first access, then kept."""

    def __init__(self, view: mmap.mmap, start: int, n: int, id_width: int, sources: Sequence[Any], size: int) -> None:
        at = start

        def array(dtype: str, count: int) -> np.ndarray:
            nonlocal at
            a = np.frombuffer(view, dtype=dtype, count=count, offset=at)
            at += a.nbytes + (-a.nbytes % _ALIGN)
            return a

        if start + 8 * (n + 1) > size:
            raise ValueError("the file is cut short")
        self._offsets = array("<i8", n + 1)
        self._owners = array("<i4", n)
        self._ids = array(f"S{id_width}", n)
        self._order = array("<i4", n)
        self._body = at
        if self._body + int(self._offsets[-1]) != size or int(self._owners.max(initial=0)) >= len(sources):
            raise ValueError("the passages do not fit the file")
        self._view = view
        self._n = n
        self._sources = tuple(sources)
        self._made: dict[int, Passage] = {}

    def __len__(self) -> int:
        return self._n

    def _build(self, i: int) -> Passage:
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        values = pickle.loads(self._view[self._body + a : self._body + b])
        return Passage(source=self._sources[int(self._owners[i])], **dict(zip(_FIELDS, values, strict=True)))

    def _make(self, i: int) -> Passage:
        p = self._made.get(i)
        if p is None:  # another thread may build it at the same time: setdefault keeps one object per passage
            p = self._made.setdefault(i, self._build(i))
        return p

    def passing(self) -> Iterator[Passage]:
        """Every passage, those not asked for yet built and dropped (see `each_passage`)."""
        for i in range(self._n):
            p = self._made.get(i)
            yield p if p is not None else self._build(i)

    @overload
    def __getitem__(self, i: int) -> Passage: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[Passage, ...]: ...

    def __getitem__(self, i: int | slice) -> Passage | tuple[Passage, ...]:
        if isinstance(i, slice):
            return tuple(self._make(j) for j in range(*i.indices(self._n)))
        j = int(i)
        if j < 0:
            j += self._n
        if not 0 <= j < self._n:
            raise IndexError(i)
        return self._make(j)

    def __iter__(self) -> Iterator[Passage]:
        for i in range(self._n):
            yield self._make(i)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(other) == self._n and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))  # pickled as the plain tuple it stands for

    def position(self, passage_id: str) -> int | None:
        """Where the passage with this id is, without building any passage; None if no passage has it."""
        key = passage_id.encode("utf-8", "surrogatepass")  # any text a member typed: never raises
        if len(key) > self._ids.dtype.itemsize:
            return None
        j = int(np.searchsorted(self._ids, key))
        if j < self._n and bytes(self._ids[j]) == key:
            return int(self._order[j])
        return None

    def source_numbers(self) -> np.ndarray:
        """Each passage's source, as its place in the corpus's sources (int32, memory-mapped)."""
        return self._owners
