"""Does a big corpus turn declines into wrong answers? The bundled corpus alone, then with N unrelated
passages of real prose (benchmarks/prose.py), scored on the project's question sets.

Run:  nice -n 10 .venv/bin/python -m benchmarks.stress --unrelated 1000 10000 [--heldout] [--reader]

Prints, per question set, top-1 / top-3 / declined / overall on the bundled corpus and on each big
one, the cold and warm build times of the semantic stage, and the time per question (median and
p95, on a warm cache) with the semantic stage and lexical-only. By default only the tuning and
development sets are scored (what the matcher may be tuned on); `--heldout` adds the held-out sets,
to be run once a change is finished, never while tuning. `--reader` adds the three-stage matcher the
bot ships (the reader re-reads the best candidates; slower). The question sets are answered first:
on the first run at a size they encode the vectors their candidates lack (minutes at 10,000
passages on two cores; the count is printed); later runs are warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchmarks.prose import with_prose
from bot.search.analysis import Analyzer
from bot.search.embedding import load_encoder
from bot.search.evaluation import evaluate, load_questions
from bot.search.matcher import Matcher
from bot.search.reader import load_reader
from bot.sources.corpus import Corpus, load_corpus

ROOT = Path(__file__).resolve().parent.parent
SETS = [  # tuning and development sets
    "dev-questions.yaml",
    "club-questions.yaml",
    "added-tuning.yaml",
    "offtopic-tuning.yaml",
    "offtopic-dev2.yaml",
    "paraphrase-tuning.yaml",
]
HELDOUT = ["heldout-questions.yaml", "added-heldout.yaml"]  # only with --heldout, once a change is done


def build(corpus: Corpus, semantic: bool, reader: bool = False) -> tuple[Matcher, float]:
    t = time.perf_counter()
    encoder = load_encoder() if semantic else None
    m = Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues), encoder=encoder,
                reader=load_reader() if reader and encoder is not None else None)  # fmt: skip
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
    ap.add_argument("--unrelated", type=int, nargs="+", default=[1_000, 10_000], help="passages of prose added")
    ap.add_argument("--heldout", action="store_true", help="also score the held-out sets (never while tuning)")
    ap.add_argument("--reader", action="store_true", help="also the three-stage matcher the bot ships")
    ap.add_argument("--no-lexical", action="store_true", help="skip the lexical-only rows")
    args = ap.parse_args()
    base = load_corpus(ROOT / "seeds")
    names = SETS + (HELDOUT if args.heldout else [])
    sets = {name: load_questions(ROOT / "tests" / "data" / name) for name in names}
    questions = [i.q for items in sets.values() for i in items]
    print(
        f"bundled corpus: {len(base.passages)} passages; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    stages = [("lexical", False, False)] if not args.no_lexical else []
    stages.append(("two stages", True, False))
    if args.reader:
        stages.append(("three stages", True, True))
    corpora = [("bundled", base)]
    for n in args.unrelated:
        big = with_prose(base, n)
        corpora.append((f"+{len(big.passages) - len(base.passages)} prose", big))
    for label, corpus in corpora:
        for stage, semantic, reader in stages:
            cpu = time.process_time()
            m, first = build(corpus, semantic, reader)
            _, warm = build(corpus, semantic, reader) if semantic else (m, first)
            # the question sets first: a question encodes the vectors its candidates lack, once, so
            # the timings below are of a warm cache and the count says what answering had to encode
            reports = [(name, evaluate(m, items)) for name, items in sets.items()]
            encoded = m.semantic.encoded if m.semantic else 0
            med, p95 = timings(m, questions)
            print(f"\n{label}, {stage}: build {first:.1f} s, warm {warm:.2f} s; {encoded} texts and words encoded "
                  f"while answering; per question (warm) median {med:.1f} ms, p95 {p95:.1f} ms; "
                  f"CPU {time.process_time() - cpu:.0f} s in all; load {os.getloadavg()[0]:.1f}")  # fmt: skip
            for name, r in reports:
                t = r.tiers()
                print(f"  {name:24} top-1 {r.top1:.3f}  top-3 {r.top3:.3f}  declined {r.declined:.3f}  "
                      f"overall {r.overall:.3f}  ({t['answer']} answers, {t['wrong_answers']} wrong)")  # fmt: skip


if __name__ == "__main__":
    main()
