"""Start-up, time per question, cache size and memory at 1,000 / 10,000 / 100,000 passages.

Run:  nice -n 10 .venv/bin/python -m benchmarks.startup --sizes 1000 10000 100000

For each size: a seeds folder of the bundled sources plus N passages of real prose in one more
source file (benchmarks/prose.py `sentence_passages`: the ~13,000 documentation paragraphs of the
installed modules first, then sentences of their documentation strings and comments), and an empty
cache folder. Then, each as a fresh `maisky ask` process (`python -m adapters.cli`):

1. the first start with an empty cache (the corpus is read and indexed, and the question's
   candidates encoded) - the cold start;
2. questions in a child process, twice: the first pass finds their candidates' vectors missing
   (cold: each question encodes what it needs), the second finds them cached (warm); the time per
   question (median, p95) with both stages, and with the lexical stage alone, same process;
3. `--repeat` starts with the warm cache (the question's candidates cached): median wall time and
   peak RSS of the whole process;
4. the cache on disk, and what encoding the whole corpus ahead (`maisky index build`) takes:
   measured at sizes up to `--full-build`, else estimated from the texts and words still missing
   and the rate measured in step 2's cold pass (said so).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What did Maisky think of Chamberlain?"


def make_seeds(folder: Path, n: int) -> int:
    """The bundled sources plus a source of `n` prose passages; how many were written."""
    from benchmarks.prose import paragraphs

    shutil.copytree(ROOT / "seeds", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py", "*.md"))
    texts = paragraphs(n)
    out = [
        '[source]\nid = "prose"\ntitle = "Real prose (scripture, dictionaries, manuals)"\nauthor = "Various"\n'
        'publication = "Debian packages"\ndate = 2026-01-01\nurl = "https://packages.debian.org"\n'
    ]
    for i, t in enumerate(texts):
        out.append(f'[[passage]]\nid = "p{i}"\nparagraph = {i + 1}\ntext = {json.dumps(t, ensure_ascii=False)}\n')
    (folder / "prose.toml").write_text("\n".join(out), encoding="utf-8")
    return len(texts)


def env_for(seeds: Path, cache: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MAISKY_", "SLACK_", "DISCORD_", "DATABASE_"))}
    return keep | {"MAISKY_SEEDS": str(seeds), "MAISKY_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}


def ask(seeds: Path, cache: Path) -> tuple[float, float]:
    """A fresh `maisky ask` process: wall seconds and its own peak RSS in MB (from wait4)."""
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "ask", QUESTION],
            env=env_for(seeds, cache), stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise SystemExit(f"maisky ask failed:\n{err.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def size_of(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def child(seeds: Path, cache: Path, count: int) -> None:
    """In one process: the questions through both stages cold then warm, and lexical-only."""
    import resource

    from benchmarks.anchors import questions
    from bot.search.analysis import Analyzer
    from bot.search.embedding import load_encoder
    from bot.search.index_store import cached_corpus
    from bot.search.matcher import Matcher

    corpus, key = cached_corpus(seeds, cache)
    analyzer = Analyzer(corpus.people, corpus.synonyms, corpus.cues)
    qs = questions(corpus, random.Random(20261127))
    qs = random.Random(7).sample(qs, min(count, len(qs)))
    both = Matcher(corpus, analyzer, encoder=load_encoder(), cache_dir=cache, fingerprint=key)
    assert both.semantic is not None

    def timed(m: Matcher) -> list[float]:
        out = []
        for q in qs:
            t = time.perf_counter()
            m.search(q)
            out.append((time.perf_counter() - t) * 1000)
        return out

    before = both.semantic.encoded
    cold = timed(both)
    encoded = both.semantic.encoded - before
    warm = timed(both)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # a serving process: one matcher
    lexical = Matcher(corpus, analyzer, cache_dir=cache, fingerprint=key)
    for q in qs[:10]:
        lexical.search(q)
    lex = timed(lexical)
    units = len(both.index.units)
    vocabulary = len(both.index.vocabulary)
    cached_units = int((both.semantic.texts.matrix.find(both.index.units[:]) >= 0).sum())
    from bot.search.index_store import text_keys

    cached_words = int((both.semantic.vectors.store.find(text_keys(both.index.vocabulary)) >= 0).sum())
    print(
        json.dumps(
            {
                "questions": len(qs),
                "cold": cold,
                "warm": warm,
                "lexical": lex,
                "encoded": encoded,
                "units": units,
                "vocabulary": vocabulary,
                "missing": units - cached_units + vocabulary - cached_words,
                "rss": rss,
            }
        )
    )


def pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[int(q * (len(ms) - 1))]


def one_size(n: int, repeat: int, count: int, full_build: int, keep: Path | None) -> None:
    base = Path(tempfile.mkdtemp(prefix=f"maisky-bench-{n}-", dir=keep))
    seeds, cache = base / "seeds", base / "cache"
    added = make_seeds(seeds, n)
    short = f" (asked for {n:,}: the prose ran out)" if added < n else ""
    print(f"\n== bundled sources + {added:,} prose passages{short}", flush=True)
    env = env_for(seeds, cache)
    wall, rss = ask(seeds, cache)
    print(f"first start, empty cache (read + index + encode the question's candidates): {wall:.2f} s, "
          f"peak RSS {rss:.0f} MB", flush=True)  # fmt: skip
    index_mb = size_of(cache) / 1e6
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.startup", "--child", str(seeds), str(cache), str(count)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    cold, warm, lex = r["cold"], r["warm"], r["lexical"]
    rate = sum(cold) / 1000 / max(r["encoded"], 1)
    print(f"{r['questions']} questions, ms per question: median / p95")
    print(f"  two stages, cold cache: {statistics.median(cold):8.1f} / {pct(cold, 0.95):8.1f}  "
          f"(max {max(cold):.0f}; {r['encoded']:,} texts and words encoded, {1000 * rate:.0f} ms each)")  # fmt: skip
    print(f"  two stages, warm cache: {statistics.median(warm):8.1f} / {pct(warm, 0.95):8.1f}")
    print(f"  lexical stage alone:    {statistics.median(lex):8.1f} / {pct(lex, 0.95):8.1f}")
    print(f"  peak RSS of that process through both passes: {r['rss']:.0f} MB", flush=True)
    walls, rsss = [], []
    for _ in range(repeat):
        w, m = ask(seeds, cache)
        walls.append(w)
        rsss.append(m)
    print(f"start-up to the first answer, warm cache, fresh `maisky ask` x{repeat}: median {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f}); peak RSS {statistics.median(rsss):.0f} MB", flush=True)  # fmt: skip
    total = size_of(cache) / 1e6
    full = (r["units"] + r["vocabulary"]) * (384 * 2 + 8) / 1e6 + index_mb
    print(f"cache on disk: {total:.0f} MB now (corpus + index {index_mb:.0f} MB); "
          f"with every passage encoded: {full:.0f} MB ({r['units']:,} texts, {r['vocabulary']:,} words)")  # fmt: skip
    if added <= full_build:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "adapters.cli", "index", "build", "--quiet"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        left = r["missing"]
        print(f"`maisky index build` (the {left:,} texts and words still missing): {time.perf_counter() - t:.0f} s, "
              f"measured")  # fmt: skip
    else:
        print(f"`maisky index build` (the {r['missing']:,} texts and words still missing): about "
              f"{r['missing'] * rate / 60:.0f} min, estimated at the cold pass's rate, mostly words, which cost less than texts (not run)")  # fmt: skip
    if keep is None:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=5, help="warm starts timed per size")
    ap.add_argument("--questions", type=int, default=60, help="questions timed per size (cold, then warm)")
    ap.add_argument("--full-build", type=int, default=1_000, help="largest size whose full encoding is timed")
    ap.add_argument("--keep", type=Path, help="keep the seeds and caches under this folder")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    for n in args.sizes:
        one_size(n, args.repeat, args.questions, args.full_build, args.keep)


if __name__ == "__main__":
    main()
