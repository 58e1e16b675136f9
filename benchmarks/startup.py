"""Start-up, time per question, cache size and memory at 10,000 / 100,000 paragraph passages.

Run:  nice -n 10 .venv/bin/python -m benchmarks.startup --sizes 10000 100000

For each size: a seeds folder of the bundled sources plus N passages of real prose in one more
source file (benchmarks/prose.py: scripture, dictionaries and manuals in ~64-word paragraphs, as
an imported book gives), and an empty cache folder. Every figure is a fresh process as a user
starts it, with its wall time, its CPU time (user + system, from wait4) and the load average, its
modules run from bytecode kept beside the cache folder (as pip compiles an installed bot's):

1. the first start with an empty cache, `maisky ask` (the corpus is read and indexed, the model
   written, the question's candidates encoded; every stage loaded: matcher, semantic stage, reader);
2. questions in a child process, cold then warm (median, p95), and the lexical stage alone;
3. `--repeat` warm starts of `maisky ask`: median wall, CPU and peak RSS of the whole process;
4. a server's start, twice (`--server`: the core, daily posts and quiz as `maisky slack`/`discord`
   build them, then one question): the first computes the quotation and quiz pools, the second
   reads them from the cache folder;
5. the cache on disk, and with every passage encoded: measured with `maisky index build` at sizes
   up to `--full-build`; above, projected from a measured slice (`--slice` passages encoded by
   `maisky index build`, texts and words timed apart) and the size's own counts of texts and words.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """The environment of a process on these seeds and cache; the modules run from bytecode kept
    beside the cache folder, as an installed bot's do (pip compiles them), not compiled at every start."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MAISKY_", "SLACK_", "DISCORD_", "DATABASE_"))}
    keep.pop("PYTHONDONTWRITEBYTECODE", None)
    return keep | {
        "MAISKY_SEEDS": str(seeds), "MAISKY_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT),
        "PYTHONPYCACHEPREFIX": str(cache.parent / "bytecode"),
    }  # fmt: skip


@dataclass
class Run:
    """One fresh process: wall and CPU seconds, peak RSS (MB) and the load average when it ended."""

    wall: float
    cpu: float
    rss: float
    load: float
    out: str = ""

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU, peak RSS {self.rss:.0f} MB (load {self.load:.1f})"


def run(args: list[str], env: dict[str, str]) -> Run:
    """A fresh process of this interpreter: its wall time, CPU time and peak RSS (from wait4)."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            raise SystemExit(f"{' '.join(args[:4])} failed:\n{err.read().decode(errors='replace')[-3000:]}")
        out.seek(0)
        text = out.read().decode(errors="replace")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.getloadavg()[0], text)


def ask(seeds: Path, cache: Path) -> Run:
    """A fresh `maisky ask` process."""
    return run(["-m", "adapters.cli", "ask", QUESTION], env_for(seeds, cache))


def server(seeds: Path, cache: Path) -> None:
    """What a Slack or Discord server builds at start (the core with every stage, daily posts, the
    quiz), then one question; prints whether the quotation and quiz pools were scanned."""
    from bot.club import quiz
    from bot.ops.bootstrap import build, build_daily, build_desk, build_quiz
    from bot.ops.settings import Settings
    from bot.sources import quotes

    scans = {"quotations": 0, "quiz": 0}

    def counted(name: str, scan: Any) -> Any:
        def wrapped(*a: Any) -> Any:
            scans[name] += 1
            return scan(*a)

        return wrapped

    quotes.maisky_quotes = counted("quotations", quotes.maisky_quotes)
    quiz.questions = counted("quiz", quiz.questions)
    settings = Settings.from_env(dotenv=None)
    core = build(settings)
    daily = build_daily(settings, core)
    desk = build_desk(settings, core, daily=daily, quiz=build_quiz(settings, core, daily))
    assert desk is not None and core.ask(QUESTION).citation is not None
    print(json.dumps({"scans": scans, "pool": len(daily.pool)}))


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


def encode_slice(seeds: Path, cache: Path) -> None:
    """In one process with one thread, as `maisky index build` does: encode every text, then every
    word, of the corpus, timed apart (wall and CPU)."""
    from bot.ops.runtime import use_threads
    from bot.search.analysis import Analyzer
    from bot.search.embedding import load_encoder
    from bot.search.index_store import cached_corpus
    from bot.search.matcher import Matcher

    use_threads(1)
    corpus, key = cached_corpus(seeds, cache)
    m = Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues), encoder=load_encoder(cache),
                cache_dir=cache, fingerprint=key)  # fmt: skip
    assert m.semantic is not None
    everything = range(len(corpus.passages))
    out: dict[str, float] = {}
    for part, todo in (("texts", m.semantic.texts.prepare), ("words", None)):
        w, c = time.perf_counter(), time.process_time()
        before = m.semantic.encoded
        if todo is not None:
            todo(everything)
        else:
            m.semantic.vectors.prepare(m.semantic._word_ids(everything))
        out[part] = m.semantic.encoded - before
        out[f"{part}_wall"] = time.perf_counter() - w
        out[f"{part}_cpu"] = time.process_time() - c
    print(json.dumps(out))


def counts(seeds: Path, cache: Path) -> tuple[int, int]:
    """The texts and words the semantic stage would encode for this corpus (its index's counts)."""
    from bot.search.analysis import Analyzer
    from bot.search.index_store import cached_corpus
    from bot.search.matcher import Matcher

    corpus, key = cached_corpus(seeds, cache)
    index = Matcher(
        corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues), cache_dir=cache, fingerprint=key
    ).index
    return len(set(index.units.tolist())), len(index.vocabulary)


def one_size(n: int, repeat: int, count: int, full_build: int, slice_n: int, keep: Path | None) -> None:
    base = Path(tempfile.mkdtemp(prefix=f"maisky-bench-{n}-", dir=keep))
    seeds, cache = base / "seeds", base / "cache"
    added = make_seeds(seeds, n)
    short = f" (asked for {n:,}: the prose ran out)" if added < n else ""
    print(f"\n== bundled sources + {added:,} prose passages{short}", flush=True)
    env = env_for(seeds, cache) | {"DATABASE_URL": f"sqlite:///{base / 'bench.sqlite3'}"}
    print(f"first start, empty cache (read + index + write the model + encode the question's candidates): "
          f"{ask(seeds, cache)}", flush=True)  # fmt: skip
    index_mb = size_of(cache) / 1e6
    if count:
        child = run(["-m", "benchmarks.startup", "--child", str(seeds), str(cache), str(count)], env)
        r = json.loads(child.out.strip().splitlines()[-1])
        cold, warm, lex = r["cold"], r["warm"], r["lexical"]
        rate = sum(cold) / 1000 / max(r["encoded"], 1)
        print(f"{r['questions']} questions, ms per question: median / p95 (the whole process: {child})")
        print(f"  two stages, cold cache: {statistics.median(cold):8.1f} / {pct(cold, 0.95):8.1f}  "
              f"(max {max(cold):.0f}; {r['encoded']:,} texts and words encoded, {1000 * rate:.0f} ms each)")  # fmt: skip
        print(f"  two stages, warm cache: {statistics.median(warm):8.1f} / {pct(warm, 0.95):8.1f}")
        print(f"  lexical stage alone:    {statistics.median(lex):8.1f} / {pct(lex, 0.95):8.1f}")
        print(f"  peak RSS of that process through both passes: {r['rss']:.0f} MB", flush=True)
    runs = [ask(seeds, cache) for _ in range(repeat)]
    med = Run(*(statistics.median(getattr(x, f) for x in runs) for f in ("wall", "cpu", "rss", "load")))
    print(f"warm start to the first answer, fresh `maisky ask` x{repeat}, medians: {med} "
          f"(wall {min(x.wall for x in runs):.2f}-{max(x.wall for x in runs):.2f} s)", flush=True)  # fmt: skip
    for label in ("server start, pools scanned", "server start again, pools read"):
        r = run(["-m", "benchmarks.startup", "--server", str(seeds), str(cache)], env)
        print(f"{label}: {r}; {json.loads(r.out.strip().splitlines()[-1])['scans']}", flush=True)
    units, vocabulary = counts(seeds, cache)
    row = 384 * 2 + 8  # a float16 vector and its key
    print(f"cache on disk now: {size_of(cache) / 1e6:.0f} MB (corpus + index + model {index_mb:.0f} MB); with every "
          f"passage encoded: {(units + vocabulary) * row / 1e6 + index_mb:.0f} MB "
          f"({units:,} distinct texts and {vocabulary:,} words at {row} bytes)")  # fmt: skip
    if added <= full_build:
        r = run(["-m", "adapters.cli", "index", "build", "--quiet"], env)
        print(f"`maisky index build` (everything not yet encoded), measured: {r}; cache then "
              f"{size_of(cache) / 1e6:.0f} MB", flush=True)  # fmt: skip
    elif slice_n:
        part = base / f"slice-{slice_n}"
        make_seeds(part / "seeds", slice_n)
        ask(part / "seeds", part / "cache")  # the index and the model, so that only encoding is timed
        r = run(["-m", "benchmarks.startup", "--encode", str(part / "seeds"), str(part / "cache")], env)
        e = json.loads(r.out.strip().splitlines()[-1])
        per_text, per_word = e["texts_cpu"] / max(e["texts"], 1), e["words_cpu"] / max(e["words"], 1)
        wall_ratio = (e["texts_wall"] + e["words_wall"]) / max(e["texts_cpu"] + e["words_cpu"], 1e-9)
        cpu = units * per_text + vocabulary * per_word
        print(f"`maisky index build` on a {slice_n:,}-passage slice, measured: {e['texts']:,} texts in "
              f"{e['texts_cpu']:.0f} s CPU ({1000 * per_text:.1f} ms each), {e['words']:,} words in {e['words_cpu']:.0f} s "
              f"CPU ({1000 * per_word:.1f} ms each); wall / CPU {wall_ratio:.2f}; process {r}")  # fmt: skip
        print(f"`maisky index build` at {added:,}, projected: {cpu / 60:.0f} min of CPU on one thread "
              f"({units:,} texts, {vocabulary:,} words at the slice's rates; "
              f"{cpu * wall_ratio / 60:.0f} min wall at this load)", flush=True)  # fmt: skip
    if keep is None:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=5, help="warm starts timed per size")
    ap.add_argument("--questions", type=int, default=30, help="questions timed per size (cold, then warm); 0: none")
    ap.add_argument("--full-build", type=int, default=1_000, help="largest size whose full encoding is timed")
    ap.add_argument("--slice", type=int, default=5_000, help="passages encoded to project larger sizes; 0: none")
    ap.add_argument("--keep", type=Path, help="keep the seeds and caches under this folder")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--server", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--encode", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return
    if args.server:
        server(Path(args.server[0]), Path(args.server[1]))
        return
    if args.encode:
        encode_slice(Path(args.encode[0]), Path(args.encode[1]))
        return
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    for n in args.sizes:
        one_size(n, args.repeat, args.questions, args.full_build, args.slice, args.keep)


if __name__ == "__main__":
    main()
