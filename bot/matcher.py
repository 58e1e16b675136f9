"""Finds the passages that answer a question, or decides that the sources are silent.

Scoring is BM25 over each passage's words, its curated keywords and the people it names, with
typos corrected against the corpus vocabulary by rapidfuzz. A question is answered only when the
best passage covers enough of what the question is about (its informative words, weighted by
rarity); otherwise the result is a decline, which is a normal value, not an error.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from bot.analysis import PERSON_PREFIX, Analyzer, Token, words
from bot.corpus import Corpus, Passage

__all__ = ["Match", "MatchResult", "Matcher", "QueryTerm", "Thresholds"]

CUE_WEIGHT = 1.0  # relative to a word of the question


@dataclass(frozen=True)
class Thresholds:
    """When a best passage counts as an answer."""

    coverage: float = 0.5  # share of the question's information the passage must exceed
    typo_ratio: float = 85.0  # rapidfuzz ratio a typo needs to be corrected to a known word
    typo_min_length: int = 4  # shorter words are never corrected
    k1: float = 1.2
    b: float = 0.75


@dataclass(frozen=True)
class QueryTerm:
    """One informative word of the question, with how much it tells."""

    token: Token
    idf: float
    known: bool

    @property
    def cue(self) -> bool:
        """A cue only reorders passages that match other terms; it never counts as evidence."""
        return self.token.via == "cue"


@dataclass(frozen=True)
class Match:
    passage: Passage
    score: float
    coverage: float
    matched: tuple[str, ...]  # index terms of the question found in the passage


@dataclass(frozen=True)
class MatchResult:
    question: str
    terms: tuple[QueryTerm, ...]
    matches: tuple[Match, ...]  # best first; runners-up kept even on a decline, for --explain
    answered: bool
    reason: str = ""  # why it declined


class Matcher:
    """An inverted index over a corpus; build once, query from any thread."""

    def __init__(self, corpus: Corpus, analyzer: Analyzer, thresholds: Thresholds | None = None) -> None:
        self.corpus = corpus
        self.analyzer = analyzer
        self.t = thresholds or Thresholds()
        self.passages: Sequence[Passage] = corpus.passages
        n = len(self.passages)
        # Postings of all terms in three flat arrays sorted by (term, passage); a term's postings are
        # the slice between its offsets. Flat arrays build fast and cost no per-term object overhead.
        term_ids: dict[str, int] = {}
        t_col = array("i")  # machine ints: a Python list of ints costs 7x the memory at 100,000 passages
        d_col = array("i")
        f_col = array("i")
        lengths = np.zeros(n, dtype=np.float32)
        vocab: set[str] = set()
        for i, p in enumerate(self.passages):
            terms, seen = analyzer.document_terms(p.text, p.keywords)
            vocab.update(seen)
            lengths[i] = len(terms)
            counts = Counter(terms)
            t_col.extend(term_ids.setdefault(t, len(term_ids)) for t in counts)
            d_col.extend(array("i", [i]) * len(counts))
            f_col.extend(counts.values())
        tcol = np.frombuffer(t_col, dtype=np.int32)
        order = np.argsort(tcol, kind="stable")  # stable: passages stay in order within a term
        tcol = tcol[order]
        del t_col
        self._docs = np.frombuffer(d_col, dtype=np.int32)[order]
        del d_col
        tf = np.frombuffer(f_col, dtype=np.int32)[order].astype(np.float32)
        del f_col, order
        df = np.bincount(tcol, minlength=len(term_ids))
        self._offsets = np.concatenate(([0], np.cumsum(df))).astype(np.int64)
        avg = float(lengths.mean()) if n else 1.0
        norm = (self.t.k1 * (1 - self.t.b + self.t.b * lengths / max(avg, 1.0))).astype(np.float32)
        idf = self.idf(df, n)  # float64: coverage compares sums of these with the unknown-word weight exactly
        # BM25 weight per posting, computed in place in float32 to keep the peak small at scale
        denom = norm[self._docs]
        denom += tf
        tf *= self.t.k1 + 1
        tf /= denom
        del denom
        tf *= idf.astype(np.float32)[tcol]
        self._weights = tf
        del tcol
        self._term_ids = term_ids
        self._dfs = df
        self._idfs = idf
        self._n = n
        self._unknown_idf = float(self.idf(np.array(1), n))  # a word the sources never use weighs as the rarest
        vocab.update(w for person in corpus.people.values() for a in (person.name, *person.aliases) for w in words(a))
        self._vocab = frozenset(vocab)
        buckets: dict[str, list[str]] = defaultdict(list)
        for w in sorted(vocab):
            if len(w) >= self.t.typo_min_length and not w.isdigit():
                buckets[w[0]].append(w)
        self._buckets = dict(buckets)

    @staticmethod
    def idf(df: np.ndarray, n: int) -> np.ndarray:
        """BM25's inverse document frequency, for an array of document frequencies."""
        return np.log(1 + (n - df + 0.5) / (df + 0.5))

    def mentions(self, person_id: str) -> int:
        """How many passages name a person."""
        return self.df(PERSON_PREFIX + person_id)

    def df(self, term: str) -> int:
        """In how many passages a term occurs."""
        tid = self._term_ids.get(term)
        return 0 if tid is None else int(self._dfs[tid])

    def knows(self, term: str) -> bool:
        return term in self._term_ids

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        tid = self._term_ids[term]
        lo, hi = self._offsets[tid], self._offsets[tid + 1]
        return self._docs[lo:hi], self._weights[lo:hi]

    def _corrections(self, question: str) -> dict[str, str]:
        """Known words for the unknown words of a question that look like typos of them."""
        fixes: dict[str, str] = {}
        for w in set(words(question)):
            if w in self._vocab or len(w) < self.t.typo_min_length or w.isdigit():
                continue
            if self.knows(self.analyzer.term(w)):
                continue
            bucket = self._buckets.get(w[0])
            if not bucket:
                continue
            hit = process.extractOne(w, bucket, scorer=fuzz.ratio, score_cutoff=self.t.typo_ratio)
            if hit:
                fixes[w] = hit[0]
        return fixes

    def terms(self, question: str) -> tuple[QueryTerm, ...]:
        seen: dict[str, QueryTerm] = {}
        for tok in self.analyzer.question_tokens(question, self._corrections(question)):
            if tok.term in seen:
                continue
            tid = self._term_ids.get(tok.term)
            known = tid is not None
            seen[tok.term] = QueryTerm(tok, float(self._idfs[tid]) if known else self._unknown_idf, known)
        return tuple(seen.values())

    def search(self, question: str, limit: int = 5) -> MatchResult:
        """Rank passages for `question`; answered only if the best one covers enough of it."""
        everything = self.terms(question)
        cues = [qt for qt in everything if qt.cue and qt.known]
        terms = tuple(qt for qt in everything if not qt.cue)
        known = [qt for qt in terms if qt.known]
        if not terms:
            return MatchResult(question, everything, (), False, "the question has no words that say what it is about")
        if not known:
            return MatchResult(question, everything, (), False, "none of the question's words occur in the sources")
        scores = np.zeros(self._n, dtype=np.float32)
        for qt in known:
            ids, weights = self._postings(qt.token.term)
            scores[ids] += weights
        if cues:
            hit = scores > 0
            for qt in cues:
                ids, weights = self._postings(qt.token.term)
                scores[ids] += CUE_WEIGHT * weights * hit[ids]
        k = min(max(limit * 4, 20), self._n)
        top = np.argpartition(-scores, k - 1)[:k] if k < self._n else np.arange(self._n)
        total = sum(qt.idf for qt in terms)
        ranked = []
        for i in top.tolist():
            if scores[i] <= 0:
                continue
            matched = tuple(qt.token.term for qt in known if self._contains(qt.token.term, i))
            cover = sum(qt.idf for qt in known if qt.token.term in matched) / total
            matched += tuple(qt.token.term for qt in cues if self._contains(qt.token.term, i))
            ranked.append(Match(self.passages[i], float(scores[i]) * (0.5 + cover), cover, matched))
        ranked.sort(key=lambda m: (-m.score, m.passage.id))
        matches = tuple(ranked[:limit])
        if not matches:
            return MatchResult(question, everything, (), False, "no passage holds the question's words")
        best = matches[0]
        if best.coverage <= self.t.coverage:
            missing = [qt.token.surface for qt in terms if qt.token.term not in best.matched]
            reason = (
                f"the best passage covers {best.coverage:.0%} of the question (needs over {self.t.coverage:.0%}); "
                f"not found together with it: {', '.join(missing)}"
            )
            return MatchResult(question, everything, matches, False, reason)
        if not any(self.df(t) * 2 <= self._n for t in best.matched if not self._is_cue(t, cues)):
            reason = "the question names nothing more specific than words found in most passages"
            return MatchResult(question, everything, matches, False, reason)
        return MatchResult(question, everything, matches, True)

    @staticmethod
    def _is_cue(term: str, cues: Sequence[QueryTerm]) -> bool:
        return any(qt.token.term == term for qt in cues)

    def _contains(self, term: str, doc: int) -> bool:
        ids, _ = self._postings(term)
        pos = int(np.searchsorted(ids, doc))
        return pos < len(ids) and int(ids[pos]) == doc
