"""The reader's cost: CPU milliseconds a question with and without it, and the memory it adds.

Run:  .venv/bin/python -m benchmarks.reader [--sets dev-questions.yaml club-questions.yaml ...]

On the bundled corpus, every question of the given sets (by default all of tests/data: their
answers are not looked at, only the time) is asked twice: through the two stages alone and with
the reader (which reads the best 8 candidates in windows). CPU time (process time, so a busy
machine slows the wall clock but not the figure) is measured per question after a warm-up; the
memory figure is the resident set size before and after loading the reader and reading one
question. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = [
    "dev-questions.yaml", "club-questions.yaml", "paraphrase-tuning.yaml", "offtopic-tuning.yaml",
    "added-tuning.yaml", "heldout-questions.yaml", "added-heldout.yaml", "wikipedia-questions.yaml",
]  # fmt: skip


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_ms(call) -> float:  # type: ignore[no-untyped-def]
    started = time.process_time()
    call()
    return (time.process_time() - started) * 1000


def figures(sets: list[str]) -> int:
    """One table row per set and setting: what `maisky eval [--without-keywords] [--without-reader]` prints."""
    from bot import Settings, build
    from bot.search.evaluation import evaluate, load_questions

    core = build(Settings.from_env())
    print(
        "| question set | keywords | stages | top-1 | top-3 | declined | overall | answers (wrong) | closest (holding the answer) | declines |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for keywords in (True, False):
        for name in sets:
            items = load_questions(ROOT / "tests" / "data" / name)
            for reader in (False, True):
                matcher = core.matcher.rebuilt(keywords=keywords, reader=reader)
                t = evaluate(matcher, items).totals()
                print(f"| `{name}` | {'yes' if keywords else 'ignored'} | {'three' if reader else 'two'} | {t['top1']:.3f} |"
                      f" {t['top3']:.3f} | {t['declined']:.3f} | {t['overall']:.3f} | {t['answer']} ({t['wrong_answers']}) |"
                      f" {t['closest']} ({t['closest_right']}) | {t['decline']} |", flush=True)  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets", nargs="*", default=SETS)
    p.add_argument(
        "--figures", action="store_true",
        help="instead: the `maisky eval` figures of every set, with and without keywords, with and without the reader",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.figures:
        return figures(args.sets)
    from bot import Settings
    from bot.search.evaluation import load_questions
    from bot.search.reader import load_reader

    before = rss_mb()
    reader = load_reader()
    if reader is None:
        raise SystemExit("the reader is not installed")
    reader.read("Who signed the pact?", ["The pact was signed in Moscow on 23 August 1939."])
    loaded = rss_mb()
    from bot import build

    core = build(Settings.from_env())
    with_reader = core.matcher
    without = with_reader.rebuilt(reader=False)
    questions = [i.q for name in args.sets for i in load_questions(ROOT / "tests" / "data" / name)]
    for q in questions[:10]:  # warm-up: caches of word vectors and the first sessions' allocations
        with_reader.search(q, limit=3)
    stages = [cpu_ms(lambda q=q: without.search(q, limit=3)) for q in questions]
    whole = [cpu_ms(lambda q=q: with_reader.search(q, limit=3)) for q in questions]
    reading = [
        cpu_ms(lambda q=q: reader.read(q, [m.passage.text for m in without.search(q, limit=8).matches]))
        for q in questions[:100]
    ]
    after = rss_mb()

    def row(name: str, xs: list[float]) -> str:
        xs = sorted(xs)
        return f"{name:<34} median {statistics.median(xs):7.1f} ms CPU   p95 {xs[int(0.95 * (len(xs) - 1))]:7.1f}   mean {statistics.fmean(xs):7.1f}"

    print(f"{len(questions)} questions, bundled corpus ({len(core.corpus.passages)} passages), one process")
    print(row("two stages alone", stages))
    print(row("three stages (reader included)", whole))
    print(row("search(8) + the reader's read", reading))
    print(f"RSS: {before:.0f} MB before the reader, {loaded:.0f} MB after loading it and reading one question "
          f"(+{loaded - before:.0f} MB); {after:.0f} MB at the end (corpus, index and encoder included)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
