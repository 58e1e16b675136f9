"""Warm starts of `maisky ask` from two checkouts, interleaved, so both run under the same load.

Run:  nice -n 10 .venv/bin/python -m benchmarks.warm_starts --repeat 3 \\
          main=/path/to/main-checkout:SEEDS:MAIN_CACHE  branch=.:SEEDS:BRANCH_CACHE

Each argument names a checkout, a seeds folder and a cache folder already filled by a first start
of that checkout (`benchmarks.startup --keep FOLDER` leaves both); each cache keeps its own files,
since the two checkouts may write different ones. Every run is a fresh process of this interpreter
with the checkout first on its path; printed: the median wall time, CPU time (user + system) and
peak RSS from wait4, the range of CPU times, and the load average.

Each checkout's modules run from bytecode, as an installed bot's do (pip compiles them at install):
the runs write and read it under a temporary folder (PYTHONPYCACHEPREFIX, so nothing is written
into the checkouts), after one untimed start of each. `--source` keeps PYTHONDONTWRITEBYTECODE as
the environment has it: a checkout whose modules have no bytecode is then compiled at every start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "What did Maisky think of Chamberlain?"


def ask(root: Path, seeds: Path, cache: Path, bytecode: Path | None) -> tuple[float, float, float, float]:
    """One fresh `maisky ask`: wall and CPU seconds, peak RSS (MB), the load average when it ended.
    With `bytecode`, the modules' bytecode is kept in that folder."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MAISKY_", "SLACK_", "DISCORD_", "DATABASE_"))}
    env = keep | {"MAISKY_SEEDS": str(seeds), "MAISKY_CACHE_DIR": str(cache), "PYTHONPATH": str(root)}
    if bytecode is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "ask", QUESTION],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            raise SystemExit(f"maisky ask failed in {root}:\n{err.read().decode(errors='replace')[-3000:]}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="NAME=CHECKOUT:SEEDS:CACHE")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--source", action="store_true", help="no bytecode folder: the environment decides")
    args = ap.parse_args()
    specs = []
    for run in args.runs:
        name, _, where = run.partition("=")
        root, seeds, cache = (Path(p).resolve() for p in where.split(":"))
        specs.append((name, root, seeds, cache))
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
          f"{'; modules compiled as the environment says' if args.source else '; modules run from bytecode'}")  # fmt: skip
    results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, *_ in specs}
    with tempfile.TemporaryDirectory(prefix="maisky-bytecode-") as folder:
        bytecode = None if args.source else Path(folder)
        for _, root, seeds, cache in specs:  # untimed: writes the bytecode, reads the files once
            ask(root, seeds, cache, bytecode)
        for _ in range(args.repeat):
            for name, root, seeds, cache in specs:
                results[name].append(ask(root, seeds, cache, bytecode))
    for name, runs in results.items():
        wall, cpu, rss, load = (statistics.median(r[i] for r in runs) for i in range(4))
        print(f"{name}: warm start x{len(runs)}, medians {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MB "
              f"(load {load:.1f}); CPU {min(r[1] for r in runs):.2f}-{max(r[1] for r in runs):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
