"""Our matcher against two anchors on real prose: bm25s (numba backend) and tantivy, same run.

Run:  nice -n 10 .venv/bin/python -m benchmarks.anchors --sizes 1000 10000 --repeat 5 [--semantic]

The corpus is the bundled sources plus N paragraphs of real prose (scripture, dictionaries and
manuals shipped in Debian packages, about 64 words each: benchmarks/prose.py; 101,260 exist, so
sizes above that are capped and said so). The questions are hundreds of distinct ones: every
question of the project's question files (not the dialogue files), plus questions made from random prose passages (four of
their words, some misspelt). Each engine is built once; then, `--repeat` times, every engine in
turn answers every question once (after a warm-up), so that a change in the machine's load falls on
all of them alike. The table gives, per engine, the build time and, over the runs, the median of
the per-run medians with their lowest and highest, and the median of the per-run p95s; "x ours"
is the engine's median over our lexical stage's.
bm25s and tantivy only rank (no typo repair, no names, no decline rule): they are speed anchors.
`--semantic` adds our two-stage matcher, timed on a second pass (the first encodes the candidates'
vectors it finds missing: minutes on a cold cache).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.prose import with_prose
from bot.search.analysis import STOPWORDS, Analyzer, words
from bot.search.embedding import load_encoder
from bot.search.evaluation import load_questions
from bot.search.matcher import Matcher
from bot.sources.corpus import Corpus, load_corpus

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261127


def questions(corpus: Corpus, rng: random.Random, made: int = 300) -> list[str]:
    sets = [f for f in sorted((ROOT / "tests" / "data").glob("*.yaml")) if not f.name.startswith("dialogues")]
    out = {i.q for f in sets for i in load_questions(f)}  # the dialogue files hold conversations, not questions
    passages = [p for p in corpus.passages if p.source.id == "prose"]
    while len(out) < made + 200 and passages:
        ws = [w for w in words(rng.choice(passages).text) if w not in STOPWORDS and not w.isdigit()]
        if len(ws) < 4:
            continue
        picked = rng.sample(ws, 4)
        if rng.random() < 0.3 and len(picked[0]) > 5:
            picked[0] = picked[0][:2] + picked[0][3:]
        out.add("what about " + " ".join(picked))
    return sorted(out)


def timed(run: Callable[[str], object], qs: list[str]) -> list[float]:
    """Milliseconds per question, each question once, after a warm-up of ten."""
    for q in qs[:10]:
        run(q)
    out = []
    for q in qs:
        t = time.perf_counter()
        run(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(ms: list[float]) -> float:
    return sorted(ms)[int(0.95 * (len(ms) - 1))]


def tantivy_engine(texts: list[str], folder: Path, stop_words: bool) -> Callable[[str], object]:
    """tantivy over `texts`, answering a question with its best five. With `stop_words`, configured as
    tantivy-py's tutorial advises ("Create a Custom Tokenizer": a TextAnalyzerBuilder registered on the
    index): its en_stem pipeline (simple tokenizer, tokens over 40 characters dropped, lower case,
    English Snowball stemmer) with a stop-word filter of the list ours and bm25s use, for the passages
    and the question alike; without, the built-in en_stem, which keeps "the" and "of" (the earlier
    configuration, 5x slower at 100,000 passages: issue 28)."""
    import tantivy

    tokenizer = "en_stem"
    if stop_words:
        tokenizer = "en_stop_stem"
        analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.custom_stopword(sorted(STOPWORDS)))
            .filter(tantivy.Filter.stemmer("english"))
            .build()
        )
    schema = tantivy.SchemaBuilder().add_text_field("body", stored=False, tokenizer_name=tokenizer).build()
    folder.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(schema, path=str(folder))
    if stop_words:
        index.register_tokenizer(tokenizer, analyzer)
    writer = index.writer(heap_size=100_000_000, num_threads=1)
    for text in texts:
        writer.add_document(tantivy.Document(body=text))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    clean = re.compile(r"[^A-Za-z0-9 ]+")  # the query parser's syntax characters

    def answer(q: str) -> object:
        text = clean.sub(" ", q).strip() or "x"
        return searcher.search(index.parse_query(text, ["body"]), 5)

    return answer


def one_size(n: int, semantic: bool, repeat: int) -> None:
    import bm25s
    import Stemmer

    base = load_corpus(ROOT / "seeds")
    corpus = with_prose(base, n)
    added = len(corpus.passages) - len(base.passages)
    qs = questions(corpus, random.Random(SEED + n))
    texts = [p.text for p in corpus.passages]
    engines: dict[str, tuple[float, Callable[[str], object]]] = {}  # name -> (build s, answer)

    t = time.perf_counter()
    ours = Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues))
    engines["ours, lexical stage"] = (time.perf_counter() - t, ours.search)
    if semantic:
        t = time.perf_counter()
        both = Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues), encoder=load_encoder())
        build = time.perf_counter() - t
        for q in qs:  # vectors are encoded when a passage is first a candidate: time the warm cache
            both.search(q)
        engines["ours, two stages (cache)"] = (build, both.search)

    stemmer = Stemmer.Stemmer("english")
    t = time.perf_counter()
    retriever = bm25s.BM25(backend="numba")
    retriever.index(
        bm25s.tokenize(texts, stopwords=list(STOPWORDS), stemmer=stemmer, show_progress=False), show_progress=False
    )

    def bm(q: str) -> object:
        tokens = bm25s.tokenize([q], stopwords=list(STOPWORDS), stemmer=stemmer, show_progress=False)
        return retriever.retrieve(tokens, k=5, show_progress=False, n_threads=1)

    engines["bm25s, numba backend"] = (time.perf_counter() - t, bm)

    with tempfile.TemporaryDirectory() as folder:
        for name, stop in (("tantivy (en_stem + stop words)", True), ("tantivy (en_stem, raw question)", False)):
            t = time.perf_counter()
            engines[name] = (0.0, tantivy_engine(texts, Path(folder) / name[:20].replace(" ", "-"), stop))
            engines[name] = (time.perf_counter() - t, engines[name][1])

        runs: dict[str, list[list[float]]] = {name: [] for name in engines}
        for _ in range(repeat):
            for name, (_, answer) in engines.items():  # in turn, so load changes fall on all alike
                runs[name].append(timed(answer, qs))

    short = f" (asked for {n}: the prose ran out)" if added < n else ""
    print(f"\n{len(base.passages)} bundled passages + {added} of prose{short}")
    print(f"{len(qs)} distinct questions, {repeat} runs; ms per question: median of the run medians "
          f"[lowest-highest run median], median of the run p95s")  # fmt: skip
    print(f"{'engine':28} {'build s':>8} {'median':>8} {'runs':^17} {'p95':>8} {'x ours':>7}")
    reference = statistics.median(statistics.median(r) for r in runs["ours, lexical stage"])
    for name, (build, _) in engines.items():
        medians = [statistics.median(r) for r in runs[name]]
        mid = statistics.median(medians)
        print(f"{name:28} {build:8.2f} {mid:8.3f} {min(medians):7.3f}-{max(medians):<9.3f} "
              f"{statistics.median(p95(r) for r in runs[name]):8.3f} {mid / reference:7.3f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    ap.add_argument("--semantic", action="store_true", help="also time the two-stage matcher (builds its cache once)")
    ap.add_argument("--repeat", type=int, default=5, help="runs over every question per engine (default 5)")
    args = ap.parse_args()
    import importlib.util

    missing = [m for m in ("bm25s", "numba", "tantivy") if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"benchmarks.anchors needs {', '.join(missing)}: .venv/bin/pip install -e '.[dev,bench]'")
    for n in args.sizes:
        one_size(n, args.semantic, max(1, args.repeat))


if __name__ == "__main__":
    main()
