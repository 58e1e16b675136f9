"""Finds the passages that answer a question, or decides that the sources are silent.

Two stages. The lexical stage is BM25 over each passage's words, its curated keywords and the
people it names, with typos corrected against the corpus vocabulary by rapidfuzz; it picks the
candidates and measures coverage (the share of the question's informative words, weighted by
rarity, that a passage holds). The semantic stage (bot/search/semantic.py, when the model is installed)
scores the candidates by meaning, word by word, and ranks them by that score plus a share of the
normalised BM25 score.

Coverage is measured against the passage's own source: a question word that source never uses
weighs as much as a word no source uses, so unrelated sources loaded beside it (documentation, a
dictionary) cannot make "children" or "deal" look cheap in a question about Maisky.

A question is answered when the best passage covers over half of it and the semantic stage agrees
(its meaning, plus a third of its word match, reaches a threshold: documentation that holds "speed"
and "light" is not about the speed of light), or when its meaning reaches a threshold calibrated on
the tuning question sets and it holds at least some of the question's words; otherwise the result
is a decline, which is a normal value, not an error.
Coverage stays the backbone of declines: word vectors alone find something close to anything.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.ops.progress import Progress
from bot.search.analysis import PERSON_PREFIX, SECOND_PERSON, SPELLER, STOPWORDS, Analyzer, Token, fold, reading, words
from bot.search.embedding import Encoder, default_cache_dir
from bot.search.index_store import LexicalIndex, corpus_fingerprint, name_words
from bot.search.reader import Card, Reader, Reading, evidence
from bot.search.semantic import SemanticStage
from bot.sources.corpus import Corpus, Passage

__all__ = ["Match", "MatchResult", "Matcher", "QueryTerm", "Thresholds"]

CUE_WEIGHT = 1.0  # relative to a word of the question
_SHORT_YEAR = re.compile(r"'(\d\ds?)\b")  # "'41", "'30s" (after fold() has unified apostrophes)
_YEAR = re.compile(r"1[0-9]{3}s?|20[0-9]{2}s?")


def _reports_another_view(passage: Passage) -> bool:
    """Whether a passage's quotations give only other people's views: another speaker's words, or Maisky's
    words reporting someone ("in his diary, reporting Kennedy"), and none of Maisky's own."""
    own = other = False
    for q in passage.quotes:
        reporting = "reporting" in q.context or "reported" in q.context
        if q.speaker == "maisky" and not reporting:
            own = True
        elif q.speaker:
            other = True
    return other and not own


@dataclass(frozen=True)
class Thresholds:
    """When a best passage counts as an answer."""

    coverage: float = 0.5  # share of the question's information the passage must exceed
    typo_ratio: float = 85.0  # rapidfuzz ratio a typo needs to be corrected to a known word
    typo_min_length: int = 4  # shorter words are never corrected
    k1: float = 1.2
    b: float = 0.75
    # The semantic stage; values calibrated on tests/data/dev-, club-, added- and offtopic-tuning questions
    meaning: float = 0.55  # a passage whose meaning scores this answers although it covers less than half...
    semantic_coverage: float = 0.15  # ...provided it covers more than this share of the question
    agreement: float = 0.58  # a passage that covers over half answers only if meaning + word match / 3 reach this
    lexical_share: float = 0.25  # weight of the lexical score (scaled to the best candidate's) in the ranking
    word_share: float = 0.5  # weight of the word match in the ranking
    floor: float = 0.45  # a word's cosine that earns no credit in the word match
    full: float = 0.85  # a word's cosine that earns full credit
    candidates: int = 50  # passages the semantic stage scores
    # A big source with no link to the subject holds, by chance, some passage that covers half of any question
    # and lands near it in meaning (a dictionary's AUSTRALIA entry for "What is the capital of Australia?"):
    # the more such passages a source has, the stricter both semantic thresholds for its passages (issue 28).
    # Its unlinked passages (naming no one of the people file) past `unlinked_free` raise them by `unlinked_step`
    # for every tenfold; the bundled sources (a few dozen passages, most naming someone) are untouched.
    unlinked_free: int = 100
    unlinked_step: float = 0.15
    # ...but only a source that mostly names no one: an imported diary or biography names the subject's people in
    # most passages (the bundled article in 27 of 29), and its unlinked passages are part of the story, not filler
    unlinked_share: float = 0.5
    closest_meaning: float = 0.40  # the closest passage is shown (said honestly) only when its meaning reaches this
    caption_weight: float = 0.8  # a photo caption only names who is in the picture: prose that says more ranks first
    # asked for the narrator's own view ("did you like ..."), a passage that only reports someone else's view
    # (Kennedy's gloomy view, as Maisky reported it) ranks after passages that give Maisky's own
    reported_view_weight: float = 0.85


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
    lexical: float = 0.0  # BM25 scaled by coverage (the whole score when the semantic stage is off)
    meaning: float | None = None  # semantic stage: question against the passage's sentences; None: it did not run
    words: float | None = None  # semantic stage: soft coverage of the question's words
    pairs: tuple[tuple[str, str, float], ...] = ()  # question word, passage word it found, cosine
    accepted: bool = False  # this passage would answer by the decline rule
    rule: str = ""  # which rule accepts it: "coverage" or "semantic"
    reader: float | None = None  # the reader's probability for its best window; None: it did not read it
    evidence: tuple[int, int] | None = None  # the sentences that answer: characters [start, end) of the passage's text
    sentences: tuple[float, ...] = ()  # semantic stage: the question against each sentence (bot/search/evidence.py)


@dataclass(frozen=True)
class MatchResult:
    question: str
    terms: tuple[QueryTerm, ...]
    matches: tuple[Match, ...]  # best first; runners-up kept even on a decline, for --explain
    answered: bool
    reason: str = ""  # why it declined
    rule: str = ""  # the rule that answered: "coverage", "semantic" or "reader"
    closest: bool = False  # not answered, but the best passage is near: shown as the closest, said honestly

    @property
    def tier(self) -> str:
        """Which of the three replies: "answer", "closest" or "decline"."""
        return "answer" if self.answered else "closest" if self.closest and self.matches else "decline"


def _below(value: float, threshold: float, digits: int = 2, *, percent: bool = False) -> str:
    """`value`, written with as many decimals as it takes not to read as `threshold` itself: a
    decline never says "0.55, needs 0.55" or "covers 50% (needs over 50%)"."""
    kind = "%" if percent else "f"
    if percent:
        digits -= 2
    while digits < 6 and f"{value:.{digits}{kind}}" == f"{threshold:.{digits}{kind}}":
        digits += 1
    return f"{value:.{digits}{kind}}"


class _Vocabulary:
    """The words the sources use (the index's sorted vocabulary) and the people's names: looked up by
    binary search, so a start builds no set of every word (0.02 s of CPU at 100,000 passages)."""

    def __init__(self, words: Sequence[str], names: frozenset[str]) -> None:
        self.words = words  # sorted
        self.names = names

    def _listed(self, word: str) -> bool:
        at = bisect_left(self.words, word)
        return at < len(self.words) and self.words[at] == word

    def __contains__(self, word: object) -> bool:
        return word in self.names or (isinstance(word, str) and self._listed(word))

    def __iter__(self) -> Iterator[str]:
        """Each word once: the vocabulary's, then the names it lacks."""
        yield from self.words
        yield from (n for n in self.names if not self._listed(n))


class Matcher:
    """An inverted index over a corpus; build once, query from any thread."""

    def __init__(
        self,
        corpus: Corpus,
        analyzer: Analyzer,
        thresholds: Thresholds | None = None,
        *,
        encoder: Encoder | None = None,
        cache_dir: Path | None = None,
        keywords: bool = True,
        fingerprint: str = "",
        progress: Progress | None = None,
        reader: Reader | None = None,
    ) -> None:
        """`reader`: the cross-encoder that re-reads the best candidates and decides (None: the two
        stages decide alone). `encoder`: the model for the semantic stage (None: lexical only). `keywords=False` ignores
        every passage's curated keywords (`maisky eval --without-keywords`). `cache_dir`: where the
        index and vectors are kept (None: the default cache folder). `fingerprint`: what identifies
        the corpus (the hash of its seed files, from bot/search/index_store.py); by default a hash of its
        content. `progress`: told when passages need encoding (bot/ops/progress.py); silent by default."""
        if not keywords:
            corpus = replace(corpus, passages=tuple(replace(p, keywords="") for p in corpus.passages))
        self.keywords = keywords
        self.cache_dir = cache_dir
        self._given_fingerprint = fingerprint
        self.corpus = corpus
        self.analyzer = analyzer
        self.t = thresholds or Thresholds()
        self.passages: Sequence[Passage] = corpus.passages
        n = len(self.passages)
        # The index is read from the cache when this corpus was indexed before (bot/search/index_store.py)
        folder = self.cache_folder = cache_dir if cache_dir is not None else default_cache_dir()
        self.fingerprint = fingerprint or corpus_fingerprint(corpus)
        if not keywords:
            self.fingerprint = f"{self.fingerprint}:without-keywords"
        index = LexicalIndex.load_or_build(corpus, analyzer, self.t.k1, self.t.b, folder, self.fingerprint)
        self.index = index
        self._docs = index.docs
        self._weights = index.weights
        self._offsets = index.offsets
        df = np.asarray(index.dfs)
        self._dfs = df
        self._idfs = self.idf(df, n)  # float64: coverage compares sums of these with the unknown-word weight exactly
        self._n = n
        self._unknown_idf = float(self.idf(np.array(1), n))  # a word the sources never use weighs as the rarest
        self._vocab = _Vocabulary(index.vocabulary, frozenset(name_words(corpus)))
        names: dict[str, set[str]] = defaultdict(set)
        for w in name_words(corpus):
            if len(w) >= 4 and not w.isdigit():
                names[w[0]].add(w)
        self._names = {k: tuple(sorted(v)) for k, v in names.items()}
        self.progress = progress
        self.semantic = (
            SemanticStage(encoder, self.passages, index, cache_dir, progress) if encoder is not None else None
        )
        self.reader = reader

    def rebuilt(self, *, keywords: bool | None = None, reader: bool = True) -> Matcher:
        """The same matcher over the same corpus, with or without the passages' curated keywords
        (None: as now), and with or without the reader."""
        encoder = self.semantic.encoder if self.semantic is not None else None
        return Matcher(
            self.corpus, self.analyzer, self.t, encoder=encoder, cache_dir=self.cache_dir,
            keywords=self.keywords if keywords is None else keywords,
            fingerprint=self._given_fingerprint, progress=self.progress, reader=self.reader if reader else None,
        )  # fmt: skip

    # Worked out at first use, not at start: 0.4 s at 100,000 passages that most questions never need

    @cached_property
    def _buckets(self) -> dict[str, list[str]]:
        """The vocabulary by first letter, for typo repair (short words and numbers left out)."""
        buckets: dict[str, list[str]] = defaultdict(list)
        for w in sorted(self._vocab):
            if len(w) >= self.t.typo_min_length and not w.isdigit():
                buckets[w[0]].append(w)
        return dict(buckets)

    @cached_property
    def _centuries(self) -> list[str]:
        """The years the sources name."""
        return sorted(w for w in self._vocab if _YEAR.fullmatch(w))

    def _own_terms(self, sid: str, terms: Sequence[str]) -> frozenset[str]:
        """Those of `terms` that a source's passages use (looked up in its sorted term ids: a big
        source uses over 100,000 terms, too many to make strings of at a question)."""
        ids = self.index.source_terms.get(sid)
        if ids is None or not len(ids):
            return frozenset()
        wanted = [(t, self.index.term_id(t)) for t in terms]
        tids = np.array([-1 if tid is None else tid for _, tid in wanted], dtype=np.int64)
        at = np.minimum(np.searchsorted(ids, tids), len(ids) - 1)
        found = np.asarray(ids)[at] == tids
        return frozenset(t for (t, _), hit in zip(wanted, found.tolist(), strict=True) if hit)

    @cached_property
    def _strictness(self) -> dict[str, float]:
        """How much stricter the semantic thresholds are for each source's passages: `unlinked_step` for every
        tenfold of its passages that name no one of the people file, past `unlinked_free` of them, where they are
        at least `unlinked_share` of the source. The chance that some passage of a source matches a question by
        coincidence grows with the passages it has; a source that mostly names the subject's people is about the
        subject, so a diary loses nothing."""
        linked = np.zeros(self._n, dtype=bool)
        for pid in self.corpus.people:  # a person's term is PERSON_PREFIX and their id: no other term starts so
            tid = self.index.term_id(PERSON_PREFIX + pid)
            if tid is not None:
                linked[self._docs[self._offsets[tid] : self._offsets[tid + 1]]] = True
        sources = self.corpus.sources
        owner = np.asarray(self.corpus.source_numbers(), dtype=np.int64)  # no passage is read for this
        total = np.bincount(owner, minlength=len(sources))
        unlinked = np.bincount(owner[~linked], minlength=len(sources))
        free = max(self.t.unlinked_free, 1)
        return {
            s.id: self.t.unlinked_step * math.log10(int(k) / free)
            for s, k, n in zip(sources, unlinked, total, strict=True)
            if k > free and k >= self.t.unlinked_share * n
        }

    def strictness(self, passage: Passage) -> float:
        """What is added to the semantic stage's thresholds for this passage (0 for most sources)."""
        return self._strictness.get(passage.source.id, 0.0)

    @staticmethod
    def idf(df: np.ndarray, n: int) -> np.ndarray:
        """BM25's inverse document frequency, for an array of document frequencies."""
        return np.log(1 + (n - df + 0.5) / (df + 0.5))

    def mentions(self, person_id: str) -> int:
        """How many passages name a person."""
        return self.df(PERSON_PREFIX + person_id)

    def df(self, term: str) -> int:
        """In how many passages a term occurs."""
        tid = self.index.term_id(term)
        return 0 if tid is None else int(self._dfs[tid])

    def knows(self, term: str) -> bool:
        return self.index.term_id(term) is not None

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        tid = self.index.term_id(term)
        if tid is None:
            raise KeyError(term)
        lo, hi = self._offsets[tid], self._offsets[tid + 1]
        return self._docs[lo:hi], self._weights[lo:hi]

    def _corrections(self, question: str) -> dict[str, str]:
        """Corrections for the unknown words of a question that look like typos: of a word or name
        of the sources first ("chamberlin"), else of an ordinary English word ("thnik", "wen").
        A correctly spelt English word is never corrected ("thanks" is not a typo of "tanks")."""
        fixes: dict[str, str] = self._years(question)
        for w in set(words(question)):
            if w in fixes or w in self._vocab or w.isdigit() or w in STOPWORDS or w in SECOND_PERSON:
                continue
            if self.knows(self.analyzer.term(w)):
                # "churchil" is the stem of "churchill" and so a known term, but typed as a word it
                # is a misspelt name: the person, not whatever passage happens to hold the stem
                name = self._name_typo(w)
                if name:
                    fixes[w] = name
                continue
            english = SPELLER.knows(w)
            if english and len(w) > SPELLER.SHORT:
                continue
            if english:  # a short English word ("from", "with", "ever") is never a typo of a corpus word
                fix = SPELLER.repair(w, self._vocab)  # ...only of a far more common one ("wat" -> "what")
                if fix:
                    fixes[w] = fix
                continue
            bucket = self._buckets.get(w[0]) if len(w) >= self.t.typo_min_length else None
            fix = (self._closest(w, bucket) if bucket else "") or SPELLER.repair(w, self._vocab)
            if fix:
                fixes[w] = fix
        return fixes

    def _name_typo(self, word: str) -> str:
        """The word of a person's name one edit away from `word` (five letters or more), if one is."""
        if len(word) < 5:
            return ""
        near = [n for n in self._names.get(word[0], ()) if abs(len(n) - len(word)) <= 1 and OSA.distance(word, n) == 1]
        return min(near, key=lambda n: (-self.df(self.analyzer.term(n)), n)) if near else ""

    def _years(self, question: str) -> dict[str, str]:
        """A year written short ("in '41", "the '30s") as the one year of the sources that ends so
        ("1941", "1930s"); left alone when the sources have none or several."""
        fixes: dict[str, str] = {}
        for digits in _SHORT_YEAR.findall(fold(question)):
            if digits in self._vocab:
                continue
            years = [w for w in self._centuries if w[2:] == digits]
            if len(years) == 1:
                fixes[digits] = years[0]
        return fixes

    def _closest(self, word: str, bucket: Sequence[str]) -> str:
        """The known word a typo stands for: of the words close enough, the one fewest edits away
        (a swap of two letters is one edit), then the one the sources use most: "stallin" is
        Stalin, not the "stalling" of some manual, although the longer word looks more alike."""
        hits = process.extract(word, bucket, scorer=fuzz.ratio, score_cutoff=self.t.typo_ratio, limit=None)
        if not hits:
            return ""
        best = min(hits, key=lambda h: (OSA.distance(word, h[0]), -self.df(self.analyzer.term(h[0])), -h[1], h[0]))
        return str(best[0])

    def terms(self, question: str) -> tuple[QueryTerm, ...]:
        return self._analyse(question)[0]

    def _analyse(self, question: str) -> tuple[tuple[QueryTerm, ...], dict[str, str]]:
        """The question's terms, and the typo corrections they were made with."""
        fixes = self._corrections(question)
        seen: dict[str, QueryTerm] = {}
        for tok in self.analyzer.question_tokens(question, fixes):
            if tok.term in seen:
                continue
            tid = self.index.term_id(tok.term)
            known = tid is not None
            seen[tok.term] = QueryTerm(tok, float(self._idfs[tid]) if known else self._unknown_idf, known)
        return tuple(seen.values()), fixes

    def search(self, question: str, limit: int = 5, *, read_all: bool = False) -> MatchResult:
        """Rank passages for `question`; answered only if the best one covers enough of it. `read_all`: the
        reader reads the best candidates even where its score cannot change the reply (`--explain` shows it)."""
        everything, fixes = self._analyse(question)
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
        k = min(max(limit * 4, 20, self.t.candidates if self.semantic else 0), self._n)
        top = np.argpartition(-scores, k - 1)[:k] if k < self._n else np.arange(self._n)
        totals: dict[str, float] = {}
        ranked = []
        for i in top.tolist():
            if scores[i] <= 0:
                continue
            matched = tuple(qt.token.term for qt in known if self._contains(qt.token.term, i))
            sid = self.passages[i].source.id
            total = totals.get(sid)
            if total is None:  # a word its own source never uses weighs as a word no source uses
                own = self._own_terms(sid, [qt.token.term for qt in terms])
                total = totals[sid] = sum(qt.idf if qt.token.term in own else self._unknown_idf for qt in terms)
            cover = sum(qt.idf for qt in known if qt.token.term in matched) / total
            matched += tuple(qt.token.term for qt in cues if self._contains(qt.token.term, i))
            lexical = float(scores[i]) * (0.5 + cover)
            ranked.append(Match(self.passages[i], lexical, cover, matched, lexical=lexical))
        ranked = self._not_namesakes(known, ranked, top)
        if not ranked:
            return MatchResult(question, everything, (), False, "no passage holds the question's words")
        if self.semantic is not None:
            ranked = self._rerank(reading(question, fixes), terms, ranked, top)
        ranked = [self._judge(m, cues) for m in ranked]
        ranked = [replace(m, score=m.score * self.t.caption_weight) if m.passage.caption else m for m in ranked]
        if self._asks_narrators_view(everything):
            w = self.t.reported_view_weight
            ranked = [replace(m, score=m.score * w) if _reports_another_view(m.passage) else m for m in ranked]
        ranked.sort(key=lambda m: (-m.score, m.passage.id))
        stages = self._verdict(question, everything, terms, ranked, limit)
        if self.reader is not None and (read_all or self._reader_decides(self.reader.card, ranked[0], cues)):
            found = self._read(question, everything, ranked, limit, stages.reason)
        elif self.reader is not None and not stages.answered:
            found = self._unread(stages)
        else:
            found = stages
        return self._with_evidence(found)

    def _reader_decides(self, card: Card, best: Match, cues: Sequence[QueryTerm]) -> bool:
        """Whether the reader's score can change the reply. With no weight in the ranking, no veto and no answer
        of its own (the shipped card), it only decides between the closest passage and a decline, and only
        for a best passage that is not accepted but that the closest reply would otherwise show: reading the
        rest would cost its model run (most of a warm question's time) to change nothing."""
        if card.weight or card.veto > 0 or card.answer <= 1:
            return True
        meaning = best.meaning or 0.0
        return not best.accepted and meaning >= self.t.closest_meaning and self._specific(best, cues)

    def _unread(self, stages: MatchResult) -> MatchResult:
        """A decline the reader was not asked about: its meaning or words are too far for the closest reply."""
        best = stages.matches[0]
        meaning = best.meaning or 0.0
        reason = (
            f"{stages.reason}; not shown as the closest: its meaning scores {_below(meaning, self.t.closest_meaning)}"
            f" (needs {self.t.closest_meaning:.2f} and a specific word of the question)"
        )
        return replace(stages, reason=reason)

    def _with_evidence(self, result: MatchResult) -> MatchResult:
        """Each passage found, with the sentences that answer (bot/search/evidence.py)."""
        named = {qt.token.term[len(PERSON_PREFIX) :] for qt in result.terms if qt.token.via == "name"}
        others = named - {"maisky"}  # the narrator is in every diary entry: another person named says more
        people = others or named
        marked = []
        for m in result.matches:
            w = evidence(m.passage.text, m.sentences, people, self.analyzer) if m.sentences else None
            marked.append(replace(m, evidence=(w.start, w.end)) if w is not None else m)
        return replace(result, matches=tuple(marked))

    def _verdict(
        self,
        question: str,
        everything: tuple[QueryTerm, ...],
        terms: Sequence[QueryTerm],
        ranked: list[Match],
        limit: int,
    ) -> MatchResult:
        """The two stages' decision: the best passage answers if the decline rule accepts it."""
        matches = tuple(ranked[:limit])
        best = matches[0]
        if best.accepted:
            return MatchResult(question, everything, matches, True, rule=best.rule)
        if best.coverage > self.t.coverage and not self._agrees(best):
            needs = self.t.agreement + self.strictness(best.passage)
            reason = (
                f"the best passage covers {best.coverage:.0%} of the question, but its meaning ({best.meaning:.2f})"
                f" and word match ({best.words or 0:.2f}) say it is about something else"
                f" (meaning + word match / 3 is {_below(self._agreement(best), needs)},"
                f" needs {needs:.2f}{self._why_stricter(best)})"
            )
            return MatchResult(question, everything, matches, False, reason)
        if best.coverage > self.t.coverage:
            reason = "the question names nothing more specific than words found in most passages"
            return MatchResult(question, everything, matches, False, reason)
        missing = [qt.token.surface for qt in terms if qt.token.term not in best.matched]
        covered = _below(best.coverage, self.t.coverage, percent=True)
        reason = f"the best passage covers {covered} of the question (needs over {self.t.coverage:.0%})"
        if best.meaning is not None:
            needs = self.t.meaning + self.strictness(best.passage)
            reason += (
                f" and its meaning scores {_below(best.meaning, needs)} (needs {needs:.2f}"
                f" with over {self.t.semantic_coverage:.0%} covered{self._why_stricter(best)})"
            )
        reason += f"; not found together with it: {', '.join(missing)}"
        return MatchResult(question, everything, matches, False, reason)

    def _why_stricter(self, m: Match) -> str:
        extra = self.strictness(m.passage)
        return f"; {extra:.2f} more: its source has many passages naming no one of the people file" if extra else ""

    def _asks_narrators_view(self, everything: Sequence[QueryTerm]) -> bool:
        """A question to "you" about a view or a feeling ("did you like the British?"), naming nobody else
        whose view it could be ("what did Stalin think of you?" asks for Stalin's)."""
        opinion = self.analyzer.term("opinion")
        others = any(qt.token.via == "name" and qt.token.term != PERSON_PREFIX + "maisky" for qt in everything)
        return (
            not others
            and any(qt.token.via == "you" for qt in everything)
            and any(qt.token.term == opinion for qt in everything)
        )

    def _not_namesakes(self, known: Sequence[QueryTerm], ranked: list[Match], top: np.ndarray) -> list[Match]:
        """Passages about a namesake of a person the question names, and not about that person, are left
        out: a question about Joe Kennedy is never answered with the historian Paul Kennedy's words."""
        named = {qt.token.term[len(PERSON_PREFIX) :] for qt in known if qt.token.via == "name"}
        others = {PERSON_PREFIX + n for pid in named for n in self.analyzer.namesakes(pid)} - {
            PERSON_PREFIX + pid for pid in named
        }
        if not others:
            return ranked
        i_of = {self.passages[i].id: i for i in top.tolist()}
        keep = []
        for m in ranked:
            i = i_of[m.passage.id]
            about_named = any(self._contains(PERSON_PREFIX + pid, i) for pid in named)
            if about_named or not any(self._contains(term, i) for term in others):
                keep.append(m)
        return keep

    def _read(
        self, question: str, everything: tuple[QueryTerm, ...], ranked: list[Match], limit: int, why: str
    ) -> MatchResult:
        """The third stage: the reader reads the best candidates in windows of a few sentences."""
        assert self.reader is not None
        head = ranked[: self.reader.card.candidates]
        readings = self.reader.read(question, [m.passage.text for m in head])
        return self.decide(question, everything, head, readings, self.reader.card, limit, ranked[len(head) :], why)

    def decide(
        self,
        question: str,
        everything: tuple[QueryTerm, ...],
        head: Sequence[Match],
        readings: Sequence[Reading],
        card: Card,
        limit: int,
        rest: Sequence[Match] = (),
        why: str = "",
    ) -> MatchResult:
        """Add the reader's probability to each candidate's score, re-rank, and decide among an
        answer, the closest passage said honestly, and a decline (the card's thresholds are
        calibrated on the tuning sets by training/reader_calibrate.py, which calls this too)."""
        cues = [qt for qt in everything if qt.cue and qt.known]
        read = []
        for m, r in zip(head, readings, strict=True):
            p = 1.0 / (1.0 + math.exp(-r.score))
            rule = m.rule if m.accepted and p >= card.veto else ""
            if not rule and p >= card.answer and m.coverage > self.t.semantic_coverage and self._specific(m, cues):
                rule = "reader"
            read.append(
                replace(
                    m, score=m.score + card.weight * p, reader=p, accepted=bool(rule), rule=rule,
                )
            )  # fmt: skip
        read.sort(key=lambda m: (-m.score, m.passage.id))
        matches = tuple([*read, *rest][:limit])  # the candidates it did not read keep their order below
        best = matches[0]
        p = best.reader or 0.0
        if best.accepted:
            return MatchResult(question, everything, matches, True, rule=best.rule)
        stages = next(m for m in head if m.passage.id == best.passage.id)
        if stages.accepted:
            reason = f"the two stages accept the best passage, but the reader scores it {_below(p, card.veto)}"
            reason += f" (it must reach {card.veto:.2f})"
        elif p >= card.answer:
            reason = "the reader is sure, but the passage holds too few of the question's specific words"
        else:
            reason = f"the two stages do not accept the best passage, and the reader scores it {_below(p, card.answer)}"
            reason += f" (to answer alone it must reach {card.answer:.2f})"
        if why and not stages.accepted:  # the two stages' own reason first: what they found lacking
            reason = f"{why}; {reason}"
        meaning = best.meaning or 0.0
        if p >= card.near and meaning >= self.t.closest_meaning and self._specific(best, cues):
            return MatchResult(question, everything, matches, False, reason + "; shown as the closest", closest=True)
        if p >= card.near:  # the reader alone finds something close to anything: its meaning must agree
            reason += (
                f"; not shown as the closest: its meaning scores {_below(meaning, self.t.closest_meaning)}"
                f" (needs {self.t.closest_meaning:.2f} and a specific word of the question)"
            )
            return MatchResult(question, everything, matches, False, reason)
        return MatchResult(
            question, everything, matches, False,
            reason + f"; nothing is near (reader {_below(p, card.near)}, the closest passage needs {card.near:.2f})",
        )  # fmt: skip

    def _specific(self, m: Match, cues: Sequence[QueryTerm]) -> bool:
        """Whether a passage holds a word of the question that is not found in most passages."""
        return any(self.df(t) * 2 <= self._n for t in m.matched if not self._is_cue(t, cues))

    def _rerank(self, question: str, terms: Sequence[QueryTerm], ranked: list[Match], top: np.ndarray) -> list[Match]:
        """Score the lexical candidates by meaning; rank by that plus a share of the lexical score."""
        assert self.semantic is not None
        qwords: list[str] = []
        weights: list[float] = []
        owners: list[str] = []  # the index term each word comes from
        for qt in terms:
            tok = qt.token
            if tok.via == "question":  # "where ... from" stands for "born": its words say nothing themselves
                continue
            ws = ["maisky"] if tok.via == "you" else words(tok.corrected or tok.surface)
            for w in ws:
                if w not in qwords:
                    qwords.append(w)
                    weights.append(qt.idf / len(ws))
                    owners.append(tok.term)
        ranked.sort(key=lambda m: (-m.lexical, m.passage.id))
        ranked = ranked[: self.t.candidates]
        index = {self.passages[i].id: i for i in top.tolist()}
        exact = [[t in m.matched for t in owners] for m in ranked]  # what the lexical stage found is found
        found = self.semantic.score(
            question, qwords, weights, [index[m.passage.id] for m in ranked], self.t.floor, self.t.full, exact
        )
        most = max(m.lexical for m in ranked) or 1.0
        return [
            replace(
                m,
                score=s.meaning + self.t.lexical_share * m.lexical / most + self.t.word_share * s.words,
                meaning=s.meaning,
                words=s.words,
                pairs=s.pairs,
                sentences=s.sentences,
            )
            for m, s in zip(ranked, found, strict=True)
        ]

    def _judge(self, m: Match, cues: Sequence[QueryTerm]) -> Match:
        """Whether a passage would answer: the decline rule, applied to one match."""
        if not self._specific(m, cues):
            return m
        if m.coverage > self.t.coverage and self._agrees(m):
            return replace(m, accepted=True, rule="coverage")
        meaning = self.t.meaning + self.strictness(m.passage)
        if m.meaning is not None and m.meaning >= meaning and m.coverage > self.t.semantic_coverage:
            return replace(m, accepted=True, rule="semantic")
        return m

    def _agrees(self, m: Match) -> bool:
        """Whether the semantic stage agrees that a passage holding the question's words is about it:
        documentation that says "speed" and "light" is not about the speed of light."""
        return m.meaning is None or self._agreement(m) >= self.t.agreement + self.strictness(m.passage)

    @staticmethod
    def _agreement(m: Match) -> float:
        """Meaning, plus a third of the word match: with every word found, a meaning of 0.25 will do;
        with a key word missing, the meaning must make up for it."""
        return (m.meaning or 0.0) + (m.words or 0.0) / 3

    @staticmethod
    def _is_cue(term: str, cues: Sequence[QueryTerm]) -> bool:
        return any(qt.token.term == term for qt in cues)

    def _contains(self, term: str, doc: int) -> bool:
        if not self.knows(term):  # a person the people file names but no passage of this corpus does
            return False
        ids, _ = self._postings(term)
        pos = int(np.searchsorted(ids, doc))
        return pos < len(ids) and int(ids[pos]) == doc
