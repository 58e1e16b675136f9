"""Matcher scaling on SYNTHETIC corpora (invented vocabulary) of 1,000 / 10,000 / 100,000 passages.

Run:  .venv/bin/python -m benchmarks.matcher            (all sizes)
      .venv/bin/python -m benchmarks.matcher --sizes 1000 10000

The corpora are not real prose: the real passages' words mixed with a Zipf-distributed invented
vocabulary, so that sizes beyond the real prose installed (about 10,000 paragraphs) can be built.
This measures how index build, answer time and memory grow with the corpus; for speed on real
prose against bm25s and tantivy, run benchmarks/anchors.py. Each size runs in its own process so
that peak RSS is that size's alone. Prints medians and p95 of answering, index build time, peak
RSS, bm25s's median (numba backend, one thread, after a warm-up) on the same corpus and
questions, and the ratio; plus start-up to the first answer on the bundled corpus. Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261127


def synthetic_corpus(n: int, rng: random.Random):  # type: ignore[no-untyped-def]
    """`n` passages: the real passages' words plus a Zipf-distributed invented vocabulary."""
    from bot.search.analysis import words
    from bot.sources.corpus import Passage, Source, load_corpus

    real = load_corpus(ROOT / "seeds")
    base = [w for p in real.passages for w in words(p.text)]
    names = [a for person in real.people.values() for a in (person.name, *person.aliases)]
    syllables = ["ka", "lo", "mi", "ne", "sto", "vra", "den", "pol", "ush", "tri", "bel", "gor", "ava", "enk", "ov"]
    invented = ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(40_000)]
    weights = [1 / (i + 1) for i in range(len(invented))]
    source = Source("bench", "Synthetic", "Bench", "Bench", dt.date(2020, 1, 1), "https://example.org", "bench.toml")
    passages = []
    for i in range(n):
        length = rng.randint(40, 120)
        body = rng.choices(invented, weights=weights, k=length // 2) + rng.choices(base, k=length // 2)
        if rng.random() < 0.3:
            body.append(rng.choice(names))
        rng.shuffle(body)
        passages.append(Passage(f"bench.p{i}", source, i + 1, " ".join(body) + ".", (), keywords=""))
    return replace(real, sources=(source,), passages=tuple(passages))


def questions(corpus, rng: random.Random, count: int = 300) -> list[str]:  # type: ignore[no-untyped-def]
    """Half drawn from passages (some misspelt), half the shape of real club questions."""
    out = []
    for _ in range(count // 2):
        ws = rng.choice(corpus.passages).text.rstrip(".").split()
        picked = rng.sample(ws, k=min(4, len(ws)))
        if rng.random() < 0.3 and len(picked[0]) > 5:
            picked[0] = picked[0][:2] + picked[0][3:]
        out.append("what about " + " ".join(picked))
    real = [
        "What did you think of Chamberlain?", "kenedy red hair", "Why was Halifax called a hypocrite?",
        "What did Beatrice Webb say about Churchill?", "How old were you when you died?", "What is the capital of Australia?",
    ]  # fmt: skip
    out += [rng.choice(real) for _ in range(count - len(out))]
    return out


def one_size(n: int) -> dict[str, float]:
    from bot.search.analysis import STOPWORDS, Analyzer
    from bot.search.matcher import Matcher

    rng = random.Random(SEED + n)
    corpus = synthetic_corpus(n, rng)
    qs = questions(corpus, rng)
    rss_corpus = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t0 = time.perf_counter()
    matcher = Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues))
    build = time.perf_counter() - t0
    for q in qs[:20]:
        matcher.search(q)
    ours = []
    for q in qs:
        t = time.perf_counter()
        matcher.search(q)
        ours.append(time.perf_counter() - t)
    rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    import bm25s  # only now: with numba installed it brings 60 MB that are not ours
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    texts = [p.text for p in corpus.passages]
    t0 = time.perf_counter()
    retriever = bm25s.BM25(backend="numba")  # its default numpy backend takes a slow top-k path
    retriever.index(
        bm25s.tokenize(texts, stopwords=list(STOPWORDS), stemmer=stemmer, show_progress=False), show_progress=False
    )
    bm25_build = time.perf_counter() - t0

    def bm(q: str) -> None:
        tokens = bm25s.tokenize([q], stopwords=list(STOPWORDS), stemmer=stemmer, show_progress=False)
        retriever.retrieve(tokens, k=5, show_progress=False, n_threads=1)

    for q in qs[:20]:  # the first calls compile numba's code
        bm(q)
    theirs = []
    for q in qs:
        t = time.perf_counter()
        bm(q)
        theirs.append(time.perf_counter() - t)

    ours_ms = sorted(x * 1000 for x in ours)
    return {
        "passages": n,
        "build_s": build,
        "median_ms": statistics.median(ours_ms),
        "p95_ms": ours_ms[int(0.95 * (len(ours_ms) - 1))],
        "bm25s_build_s": bm25_build,
        "bm25s_median_ms": statistics.median(x * 1000 for x in theirs),
        "peak_rss_mb": rss_ours,
        "corpus_rss_mb": rss_corpus,
    }


def startup() -> dict[str, float]:
    """Wall time of a fresh `maisky ask` process, median of 5, and in-process build + first answer."""
    walls = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "adapters.cli", "ask", "What did you think of Eden?"],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        walls.append(time.perf_counter() - t)
    baseline = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - t)
    return {"process_s": statistics.median(walls), "bare_python_s": statistics.median(baseline)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    import importlib.util

    missing = [m for m in ("bm25s", "numba") if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"benchmarks.matcher needs {', '.join(missing)}: .venv/bin/pip install -e '.[dev,bench]'")
    if args.one:
        print(json.dumps(one_size(args.one)))
        return
    print("SYNTHETIC corpora: the bundled passages' words plus an invented vocabulary, not real prose")
    print("(real prose against bm25s and tantivy: benchmarks/anchors.py)")
    print(
        f"{'passages':>9} {'build s':>8} {'median ms':>10} {'p95 ms':>8} {'bm25s ms':>9} {'ratio':>6} {'bm25s build s':>13} {'peak RSS MB':>11} {'corpus alone MB':>15}"
    )
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.matcher", "--one", str(n)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ratio = r["median_ms"] / r["bm25s_median_ms"]
        print(
            f"{r['passages']:>9} {r['build_s']:>8.2f} {r['median_ms']:>10.3f} {r['p95_ms']:>8.3f} {r['bm25s_median_ms']:>9.3f} "
            f"{ratio:>6.2f} {r['bm25s_build_s']:>13.2f} {r['peak_rss_mb']:>11.0f} {r['corpus_rss_mb']:>15.0f}"
        )
    s = startup()
    print(
        f"start-up to first answer (bundled corpus, fresh process): {s['process_s']:.3f} s median; bare python: {s['bare_python_s']:.3f} s"
    )
    print("ratio = our median / bm25s's (numba backend) on the same corpus and questions (below 1: faster)")
    print("peak RSS is the whole process after our index is built and queried (before bm25s runs);")
    print("'corpus alone' is the same process before indexing: the passages themselves, held by any design")


if __name__ == "__main__":
    main()
