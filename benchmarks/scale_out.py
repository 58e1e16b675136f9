"""Slack past one process: one, then two `maisky slack http` processes behind a round-robin proxy on one
PostgreSQL, the same questions and daily posts for each, in one run.

Run:  MAISKY_TEST_POSTGRES_URL=postgresql://... .venv/bin/python -m benchmarks.scale_out [QUESTIONS] [CONCURRENT] [REPEATS]
      (defaults 48, 8, 3)

Each repeat starts the processes on 127.0.0.1 (fake Slack Web API, a fresh schema), with 12 daily posts due,
sends QUESTIONS signed /maisky requests through the proxy, CONCURRENT at a time, waits for every answer,
then stops the processes with SIGTERM. Prints medians over the repeats: start-up (spawn to listening),
ack and answer seconds (p50, p99), answers per second, the CPU seconds and peak RSS of each process,
how the daily posts were shared, and the duplicates (answers and posts): the ratio column is two
processes against one, measured in the same run. Not part of the test suite.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bot.ops.store import Store
from tests.adapters.scale_support import RoundRobinProxy
from tests.adapters.slack_fakes import SECRET, FakeSlack, slash
from tests.adapters.test_running import base_env, free_port, wait_for_port
from tests.daily_support import POSTGRES, fresh_database

DAILY = [f"CB{i}" for i in range(12)]
QUESTIONS = ["Was Eden made of iron?", "What did you think of Chamberlain?", "Who was Churchill?", "Kennedy"]


@dataclass
class Run:
    start: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    per_second: float = 0.0
    cpu: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    posted: list[int] = field(default_factory=list)
    duplicate_answers: int = 0
    duplicate_posts: int = 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def peak_rss_mb(pid: int) -> float:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


def once(processes: int, questions: int, concurrent: int, here: Path) -> Run:
    run = Run()
    database = fresh_database("postgresql", here)
    store = Store(database)
    now = time.time()
    slot = time.strftime("%H:%M", time.gmtime(now - 60))
    for channel in DAILY:
        store.subscribe("slack", channel, "T1", slot, "UTC", "UADMIN", now - 86400)
    store.engine.dispose()
    fake = FakeSlack()
    ports = [free_port() for _ in range(processes)]
    procs = []
    for n, port in enumerate(ports):
        folder = here / f"p{n}"
        folder.mkdir()
        env = base_env(SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url,
                       HOST="127.0.0.1", PORT=str(port), DATABASE_URL=database, MAISKY_COOLDOWN="0")  # fmt: skip
        log = (folder / "log").open("wb")
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "slack", "http"], cwd=folder, env=env,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        procs.append((proc, folder / "log", t0))
    proxy = RoundRobinProxy([("127.0.0.1", p) for p in ports])
    try:
        for (proc, _, t0), port in zip(procs, ports, strict=True):
            wait_for_port(port, proc, 300)
            run.start.append(time.monotonic() - t0)
        url = proxy.url + "/slack/events"

        def ask(n: int) -> tuple[float, float]:
            t0 = time.monotonic()
            status, _ = slash(url, fake, QUESTIONS[n % len(QUESTIONS)], user=f"UB{n}")
            acked = time.monotonic() - t0
            assert status == 200, status
            fake.wait_for(f"/response/UB{n}", timeout=300)
            return acked, time.monotonic() - t0

        began = time.monotonic()
        with ThreadPoolExecutor(concurrent) as pool:
            timings = list(pool.map(ask, range(questions)))
        run.per_second = questions / (time.monotonic() - began)
        run.acks = [a for a, _ in timings]
        run.answers = [b for _, b in timings]
        fake.wait_until(lambda calls: len({c.body.get("channel") for c in calls if c.path.endswith("/chat.postMessage")})
                        >= len(DAILY) or None, timeout=300)  # fmt: skip
        for proc, _, _ in procs:
            run.cpu.append(cpu_seconds(proc.pid))
            run.rss_mb.append(peak_rss_mb(proc.pid))
    finally:
        for proc, _, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _, _ in procs:
            proc.wait(120)
        proxy.close()
        fake.close()
    for _, log, _ in procs:
        run.posted.append(
            sum(int(n) for n in re.findall(r"daily posts: posted (\d+)", log.read_text(errors="replace")))
        )
    responses = [c.path for c in fake.calls if c.path.startswith("/response/")]
    run.duplicate_answers = len(responses) - len(set(responses))
    posts = [c.body.get("channel") for c in fake.calls if c.path.endswith("/chat.postMessage")]
    run.duplicate_posts = len(posts) - len(set(posts))
    return run


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    if not POSTGRES:
        sys.exit("set MAISKY_TEST_POSTGRES_URL to a PostgreSQL database (as the tests use)")
    questions, concurrent, repeats = (
        (int(a) for a in [*sys.argv[1:], "48", "8", "3"][:3]) if len(sys.argv) > 1 else (48, 8, 3)
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    print(f"{questions} questions, {concurrent} at a time, {len(DAILY)} daily posts due; medians of {repeats} runs")
    results: dict[int, list[Run]] = {1: [], 2: []}
    wall = time.monotonic()
    for _ in range(repeats):
        for processes in (1, 2):
            with tempfile.TemporaryDirectory() as here:
                results[processes].append(once(processes, questions, concurrent, Path(here)))
    med = statistics.median
    rows = {
        "start-up, s (slowest process)": [med([max(r.start) for r in runs]) for runs in results.values()],
        "ack p50, s": [med([p(r.acks, 0.5) for r in runs]) for runs in results.values()],
        "ack p99, s": [med([p(r.acks, 0.99) for r in runs]) for runs in results.values()],
        "answer p50, s": [med([p(r.answers, 0.5) for r in runs]) for runs in results.values()],
        "answer p99, s": [med([p(r.answers, 0.99) for r in runs]) for runs in results.values()],
        "answers per second": [med([r.per_second for r in runs]) for runs in results.values()],
        "CPU s, all processes": [med([sum(r.cpu) for r in runs]) for runs in results.values()],
        "peak RSS MB, per process": [med([max(r.rss_mb) for r in runs]) for runs in results.values()],
    }
    print(f"{'':32} {'1 process':>10} {'2 processes':>12} {'ratio':>7}")
    for name, (one, two) in rows.items():
        print(f"{name:32} {one:10.2f} {two:12.2f} {two / one if one else 0:7.2f}")
    for processes, runs in results.items():
        shares = ["/".join(map(str, r.posted)) for r in runs]
        dupes = sum(r.duplicate_answers for r in runs), sum(r.duplicate_posts for r in runs)
        print(f"{processes} process(es): daily posts made by each process per run {', '.join(shares)}; "
              f"duplicate answers {dupes[0]}, duplicate posts {dupes[1]}")  # fmt: skip
    print(f"wall {time.monotonic() - wall:.0f} s; load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
