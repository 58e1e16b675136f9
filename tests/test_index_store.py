"""The persisted corpus, index and vectors: what is read back answers exactly as what was built;
a stale, damaged or unwritable cache never stops the bot."""

from __future__ import annotations

import io
import json
import logging
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.cli import main
from bot.search import index_store
from bot.search.analysis import Analyzer
from bot.search.embedding import load_encoder
from bot.search.evaluation import load_questions
from bot.search.index_store import LexicalIndex, VectorStore, cached_corpus
from bot.search.matcher import Matcher, MatchResult
from bot.sources.corpus import Corpus, load_corpus
from bot.sources.stored import StoredPassages
from tests.conftest import CLUB_QUESTIONS, DEV_QUESTIONS, SEEDS

QUESTIONS = [i.q for i in load_questions(DEV_QUESTIONS)] + [i.q for i in load_questions(CLUB_QUESTIONS)]


def lexical(corpus: Corpus, cache: Path, **kw: object) -> Matcher:
    return Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues), cache_dir=cache, **kw)  # type: ignore[arg-type]


def outcome(result: MatchResult) -> tuple[object, ...]:
    return (
        result.answered,
        result.rule,
        result.reason,
        tuple((m.passage.id, round(m.score, 6), round(m.coverage, 6), m.matched) for m in result.matches),
    )


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(SEEDS)


def test_an_index_read_back_answers_exactly_as_a_fresh_build(corpus: Corpus, tmp_path: Path) -> None:
    fresh = lexical(corpus, tmp_path)
    assert len(list(tmp_path.glob("index-*"))) == 1
    loaded = lexical(corpus, tmp_path)
    assert isinstance(loaded.index.docs.base, np.memmap)  # read back, memory-mapped (a plain view), not rebuilt
    for name in LexicalIndex._ARRAYS:
        assert np.array_equal(getattr(fresh.index, name), getattr(loaded.index, name)), name
    assert fresh.index.terms == loaded.index.terms and fresh.index.vocabulary == loaded.index.vocabulary
    for q in QUESTIONS:
        assert outcome(fresh.search(q)) == outcome(loaded.search(q)), q


def test_without_keywords_has_an_index_of_its_own(corpus: Corpus, tmp_path: Path) -> None:
    with_kw = lexical(corpus, tmp_path)
    without = with_kw.rebuilt(keywords=False)
    assert len(list(tmp_path.glob("index-*"))) == 2
    assert lexical(corpus, tmp_path, keywords=False).index.terms == without.index.terms
    assert len(without.index.terms) < len(with_kw.index.terms)


def test_a_changed_corpus_is_indexed_again(corpus: Corpus, tmp_path: Path) -> None:
    lexical(corpus, tmp_path)
    first = corpus.passages[0]
    changed = replace(corpus, passages=(replace(first, text=first.text + " Zanzibar."), *corpus.passages[1:]))
    again = lexical(changed, tmp_path)
    assert again.knows(again.analyzer.term("zanzibar"))
    assert not lexical(corpus, tmp_path).knows(again.analyzer.term("zanzibar"))


def test_the_corpus_cache_follows_the_seed_files(seeds_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    corpus, key = cached_corpus(seeds_copy, cache)
    assert corpus == load_corpus(seeds_copy) and list(cache.glob("corpus-*.passages"))
    again, same = cached_corpus(seeds_copy, cache)
    assert same == key and again == corpus
    people = seeds_copy / "people.toml"
    people.write_text(people.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    _, other = cached_corpus(seeds_copy, cache)
    assert other != key


def test_a_stored_corpus_reads_only_the_passages_asked_for(seeds_copy: Path, tmp_path: Path) -> None:
    loaded = load_corpus(seeds_copy)
    stored, _ = cached_corpus(seeds_copy, tmp_path)
    passages = stored.passages
    assert isinstance(passages, StoredPassages) and len(passages) == len(loaded.passages)
    last = loaded.passages[-1]
    assert stored.passage(last.id) == last and passages._made.keys() == {len(passages) - 1}  # one built, no more
    assert stored.passage(last.id) is passages[-1]  # built once: the same object every time
    assert stored.has_passage(last.id) and not stored.has_passage("no-such-passage")
    assert not stored.has_passage("What did Maisky think of Chamberlain?")
    with pytest.raises(KeyError):
        stored.passage("no-such-passage")
    assert list(stored.source_numbers()) == list(loaded.source_numbers())
    assert all(stored.count(s) == loaded.count(t) for s, t in zip(stored.sources, loaded.sources, strict=True))
    assert all(p.source is stored.sources[k] for p, k in zip(passages, stored.source_numbers(), strict=True))
    assert passages[1:3] == loaded.passages[1:3] and stored == loaded
    assert pickle.loads(pickle.dumps(stored)) == loaded  # pickled as the plain corpus it stands for


def test_a_source_changed_in_place_is_read_again(seeds_copy: Path, tmp_path: Path) -> None:
    """A passage edited without changing the file's size, within the same second: the next start
    answers from the new text (the hash memo never trusts a file written about when it was hashed)."""
    cache = tmp_path / "cache"
    first, key = cached_corpus(seeds_copy, cache)
    source = next(f for f in sorted(seeds_copy.glob("*.toml")) if f.name.startswith("globe"))
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("great painter", "great zebrass", 1), encoding="utf-8")  # same size
    assert source.stat().st_size == len(text.encode())
    again, other = cached_corpus(seeds_copy, cache)
    assert other != key and again == load_corpus(seeds_copy) and again != first
    matcher = lexical(again, cache, fingerprint=other)
    assert matcher.knows(matcher.analyzer.term("zebrass")) and not matcher.knows(matcher.analyzer.term("painter"))
    assert "zebrass" in matcher.search("Who was like a great zebrass?").matches[0].passage.text


def test_the_hash_memo_spares_reading_settled_files(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_store, "_SETTLED", 0)  # files written before the hashing count as settled at once
    memo = tmp_path / "memo.json"
    key = index_store.files_fingerprint(seeds_copy, memo)
    before = json.loads(memo.read_text(encoding="utf-8"))
    assert index_store.files_fingerprint(seeds_copy, memo) == key
    assert json.loads(memo.read_text(encoding="utf-8")) == before  # nothing hashed again
    people = seeds_copy / "people.toml"
    people.write_text(people.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert index_store.files_fingerprint(seeds_copy, memo) != key
    assert index_store.files_fingerprint(seeds_copy, None) == index_store.files_fingerprint(seeds_copy, memo)


def test_a_damaged_cache_is_rebuilt_with_a_log_line(
    corpus: Corpus, seeds_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fresh = lexical(corpus, tmp_path / "fresh")
    damaged = tmp_path / "damaged"
    lexical(corpus, damaged)  # its files are cut short in place below: no live matcher may map them
    for f in damaged.glob("index-*/*.npy"):
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with caplog.at_level(logging.WARNING):
        rebuilt = lexical(corpus, damaged)
    assert "rebuilding the damaged index cache" in caplog.text
    for q in QUESTIONS[:20]:
        assert outcome(fresh.search(q)) == outcome(rebuilt.search(q)), q
    assert lexical(corpus, damaged).index.terms == fresh.index.terms  # and saved whole again
    cache = tmp_path / "corpus-cache"
    cached_corpus(seeds_copy, cache)
    for damage in (b"\x80\x05 not a pickle", None):  # garbage, then a file cut short
        for f in cache.glob("corpus-*.passages"):
            f.write_bytes(damage if damage is not None else f.read_bytes()[: f.stat().st_size - 100])
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert cached_corpus(seeds_copy, cache)[0] == load_corpus(seeds_copy)
        assert "unreadable corpus cache" in caplog.text


def test_an_unwritable_cache_folder_still_answers(corpus: Corpus, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = blocker / "cache"  # cannot be created, even by root
    matcher = lexical(corpus, cache)
    assert matcher.search("did you talk to journalists").answered
    got, key = cached_corpus(SEEDS, cache)
    assert got == corpus and key
    store = VectorStore(cache, "words-test", 4)
    rows = store.add(np.array([b"aaaaaaaa"], dtype="S8"), np.ones((1, 4), np.float32))
    assert np.array_equal(store.find(np.array([b"aaaaaaaa"], dtype="S8")), rows)
    assert np.array_equal(store[rows], np.ones((1, 4), np.float16))


def test_the_vector_store_survives_a_torn_write_and_other_processes(tmp_path: Path) -> None:
    one = VectorStore(tmp_path, "t", 4)
    keys = np.array([b"k0000000", b"k1111111"], dtype="S8")
    one.add(keys, np.arange(8, dtype=np.float32).reshape(2, 4))
    other = VectorStore(tmp_path, "t", 4)  # another process: sees what the first wrote
    assert other.find(keys).tolist() == [0, 1]
    more = np.array([b"k2222222"], dtype="S8")
    other.add(more, np.full((1, 4), 9, np.float32))
    assert one.add(np.array([b"k3333333"], dtype="S8"), np.zeros((1, 4), np.float32)).tolist() == [3]
    with open(tmp_path / "t.f16", "ab") as fh:  # a write cut short: rows without their keys
        fh.write(b"\x00" * 5)
    again = VectorStore(tmp_path, "t", 4)
    assert again.find(np.concatenate([keys, more])).tolist() == [0, 1, 2]
    assert again[np.array([2])].tolist() == [[9, 9, 9, 9]]
    assert again.add(np.array([b"k4444444"], dtype="S8"), np.ones((1, 4), np.float32)).tolist() == [4]


def test_lazy_encoding_answers_as_eager(corpus: Corpus, tmp_path: Path) -> None:
    """A question asked with a cold cache gets the answer it gets after `maisky index build`."""
    encoder = load_encoder()
    assert encoder is not None
    small = replace(corpus, passages=corpus.passages[:12])
    analyzer = Analyzer(small.people, small.synonyms, small.cues)
    eager = Matcher(small, analyzer, encoder=encoder, cache_dir=tmp_path / "eager")
    assert eager.semantic is not None
    eager.semantic.warm()
    warmed = eager.semantic.encoded
    lazy = Matcher(small, analyzer, encoder=encoder, cache_dir=tmp_path / "lazy")
    assert lazy.semantic is not None
    for q in QUESTIONS[:25]:
        e, z = eager.search(q), lazy.search(q)
        assert (e.answered, [m.passage.id for m in e.matches]) == (z.answered, [m.passage.id for m in z.matches]), q
        assert [m.meaning for m in e.matches] == pytest.approx([m.meaning for m in z.matches], abs=2e-3), q
    assert eager.semantic.encoded == warmed  # everything was encoded ahead: questions encode nothing
    assert 0 < lazy.semantic.encoded <= warmed  # only what the questions' candidates needed


def test_index_build_encodes_ahead_and_reports(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for f in seeds_copy.glob("*.toml"):
        if f.name.startswith("wikipedia"):
            f.unlink()
    monkeypatch.setenv("MAISKY_SEEDS", str(seeds_copy))
    monkeypatch.setenv("MAISKY_CACHE_DIR", str(tmp_path / "cache"))
    out = io.StringIO()
    assert main(["index", "build", "--quiet"], out=out) == 0
    assert "passages" in out.getvalue() and "encoded" in out.getvalue()
    again = io.StringIO()
    assert main(["index", "build", "--quiet"], out=again) == 0
    assert "vectors: 0 texts and 0 words encoded" in again.getvalue()
    shutil.rmtree(tmp_path / "cache")


@given(st.lists(st.integers(min_value=-5, max_value=40), max_size=60))
def test_distinct_is_numpys_unique_with_its_inverse(values: list[int]) -> None:
    for dtype in (np.int32, np.int64):
        array = np.asarray(values, dtype=dtype)
        ours, where = index_store.distinct(array)
        theirs, inverse = np.unique(array, return_inverse=True)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
        assert np.array_equal(where, inverse.reshape(-1)) and np.array_equal(ours[where], array)
