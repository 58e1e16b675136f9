"""Does a big corpus turn declines into wrong answers? The bundled corpus alone, then with N unrelated
passages of real prose (benchmarks/prose.py), scored on the project's question sets.

Run:  nice -n 10 .venv/bin/python -m benchmarks.stress --unrelated 10000

Prints, per question set, top-1 / top-3 / declined / overall on the bundled corpus and on the big
one, the cold and warm build times of the semantic stage, and the time per question (median and
p95, on a warm cache) with the semantic stage and lexical-only. The question sets are answered first:
on the first run at a size they encode the vectors their candidates lack (minutes at 10,000
passages on two cores; the count is printed); later runs are warm.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks.prose import with_prose
from bot.search.analysis import Analyzer
from bot.search.embedding import load_encoder
from bot.search.evaluation import evaluate, load_questions
from bot.search.matcher import Matcher
from bot.sources.corpus import Corpus, load_corpus

ROOT = Path(__file__).resolve().parent.parent
SETS = [
    "dev-questions.yaml",
    "club-questions.yaml",
    "offtopic-tuning.yaml",
    "paraphrase-tuning.yaml",
    "heldout-questions.yaml",
]


def build(corpus: Corpus, semantic: bool, keywords: bool = True) -> tuple[Matcher, float]:
    t = time.perf_counter()
    m = Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues), encoder=load_encoder() if semantic else None,
                keywords=keywords)  # fmt: skip
    return m, time.perf_counter() - t


def timings(m: Matcher, questions: list[str]) -> tuple[float, float]:
    for q in questions[:5]:
        m.search(q)
    ms = []
    for q in questions:
        t = time.perf_counter()
        m.search(q)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unrelated", type=int, default=10_000)
    args = ap.parse_args()
    base = load_corpus(ROOT / "seeds")
    big = with_prose(base, args.unrelated)
    extra = len(big.passages) - len(base.passages)
    sets = {name: load_questions(ROOT / "tests" / "data" / name) for name in SETS}
    questions = [i.q for items in sets.values() for i in items]
    print(f"bundled corpus: {len(base.passages)} passages; with unrelated prose: {len(big.passages)} ({extra} added)")
    rows = []
    for label, corpus in (("bundled", base), (f"+{extra} prose", big)):
        for semantic in (False, True):
            m, first = build(corpus, semantic)
            _, warm = build(corpus, semantic) if semantic else (m, first)
            # the question sets first: a question encodes the vectors its candidates lack, once, so
            # the timings below are of a warm cache and the count says what answering had to encode
            reports = [(name, evaluate(m, items)) for name, items in sets.items()]
            encoded = m.semantic.encoded if m.semantic else 0
            med, p95 = timings(m, questions)
            stage = "semantic" if semantic else "lexical"
            print(f"\n{label}, {stage}: build {first:.1f} s, warm {warm:.2f} s; {encoded} texts and words encoded "
                  f"while answering; per question (warm) median {med:.1f} ms, p95 {p95:.1f} ms")  # fmt: skip
            for name, r in reports:
                rows.append((label, stage, name, r))
                print(
                    f"  {name:24} top-1 {r.top1:.3f}  top-3 {r.top3:.3f}  declined {r.declined:.3f}  overall {r.overall:.3f}"
                )


if __name__ == "__main__":
    main()
