"""What the shared cooldown costs a question: one check in memory, on a SQLite file, and on PostgreSQL.

Run:  [MAISKY_TEST_POSTGRES_URL=postgresql://...] .venv/bin/python -m benchmarks.cooldown [CHECKS] [REPEATS]
      (defaults 2000, 3)

Each repeat makes CHECKS checks, half by members asking for the first time (the slot is taken: an upsert
that inserts), half by members inside their window (refused: an upsert that changes nothing, then a read
of how long to wait), with a fresh store each repeat. Prints medians over the repeats: microseconds per
check (p50 and p99), wall and CPU seconds of the whole run, the ratio against memory measured in the same
run, and the load average. PostgreSQL is measured only where MAISKY_TEST_POSTGRES_URL is set. Not part of
the test suite.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.chat.cooldown import Cooldown
from bot.ops.store import Store
from tests.daily_support import POSTGRES, fresh_database


def run(make: Callable[[], Cooldown], checks: int) -> tuple[float, float, float, float]:
    """p50 and p99 microseconds per check, wall and CPU seconds."""
    cooldown = make()
    times: list[float] = []
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(checks):
        key = f"slack:T1:U{i // 2}"  # each member twice in a row: taken, then refused
        start = time.perf_counter()
        cooldown.wait(key)
        times.append((time.perf_counter() - start) * 1e6)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)], wall, cpu


def main() -> None:
    checks = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        kinds: dict[str, Callable[[], Cooldown]] = {"memory": lambda: Cooldown(60)}
        made = iter(range(1_000_000))

        def on(kind: str) -> Callable[[], Cooldown]:
            def make() -> Cooldown:
                where = Path(tmp) / str(next(made))
                where.mkdir()
                return Cooldown(60, store=Store(fresh_database(kind, where)))

            return make

        kinds["sqlite"] = on("sqlite")
        if POSTGRES:
            kinds["postgresql"] = on("postgresql")
        rows = {name: [run(make, checks) for _ in range(repeats)] for name, make in kinds.items()}
    base = statistics.median(r[0] for r in rows["memory"])
    print(f"{checks} checks (half taken, half refused), median of {repeats} runs; load {os.getloadavg()}")
    print(f"{'where':<12}{'p50 us':>10}{'p99 us':>10}{'wall s':>9}{'cpu s':>8}{'p50 / memory':>14}")
    for name, runs in rows.items():
        p50, p99, wall, cpu = (statistics.median(r[i] for r in runs) for i in range(4))
        print(f"{name:<12}{p50:>10.1f}{p99:>10.1f}{wall:>9.2f}{cpu:>8.2f}{p50 / base:>14.0f}")


if __name__ == "__main__":
    main()
