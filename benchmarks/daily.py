"""Daily posts as a user runs them: real `maisky daily run-due` processes sharing the work, against a
fake Slack API in a process of its own, counting every post at the fake.

Run:  .venv/bin/python -m benchmarks.daily                                   (SQLite, 0 and 100 ms)
      .venv/bin/python -m benchmarks.daily --postgres postgresql://maisky:maisky@127.0.0.1:5432/maisky_test
      .venv/bin/python -m benchmarks.daily --channels 2000 --latency 0     (a quick look)
      .venv/bin/python -m benchmarks.daily --startup                       (run-due start-up, 100,000 passages)

For each database and API latency: N subscriptions due at 09:00 UTC spread over W workspaces, then
P `maisky daily run-due --now 09:05` processes started at once, as cron would start them on P hosts.
Prints wall time (first start to last exit), CPU time of the run-due processes and of the fake,
the load average before and after, posts a second, and what the fake received per channel-day:
duplicates (more than one post) and missing (none). Then the idle pass: the same processes' work
with nothing due, in process (SQL statements, transactions, median time) and as a real run-due; and
the writes a post costs, counted in process over a pass of --tx-channels posts (transactions and SQL
statements a post, CPU a post).
Not part of the test suite; figures depend on the machine and its load, printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.request import urlopen

from benchmarks.fake_api import JsonHandler, serve

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-01-10T09:05:00+00:00"  # the posts are due at 09:00 UTC
CREATED = dt.datetime(2026, 1, 9, 10, 0, tzinfo=dt.UTC).timestamp()  # after yesterday's slot: only today is due


# the fake Slack, in a process of its own so that it shares no interpreter with the posters


def serve_fake(latency: float, port_file: str) -> None:
    posts: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            with lock:
                data = json.dumps(posts).encode()
            self._send(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw or "{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
            if latency:
                time.sleep(latency)
            with lock:  # one post per channel-day is expected: every run posts the same day
                posts[str(body.get("channel"))] += 1
            self._send(json.dumps({"ok": True, "channel": body.get("channel"), "ts": "1.0"}).encode())

    server = serve(Handler, queue=512)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def start_fake(latency: float, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / f"fake-port-{latency}"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.daily", "--serve-fake", str(latency), str(port_file)],
                            cwd=ROOT)  # fmt: skip
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline:
            raise RuntimeError("the fake Slack did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}"


def reap(proc: subprocess.Popen[Any]) -> float:
    """Wait for a child and return the CPU seconds (user + system) it used."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


# the database


def fresh(url: str | None, workdir: Path, name: str) -> str:
    if not url:
        path = workdir / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import sqlalchemy as sa

    from bot.ops.store import database_url

    schema = f"bench_{name}"
    engine = sa.create_engine(database_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def subscribe_many(url: str, n: int, workspaces: int) -> None:
    """N subscriptions at 09:00 UTC over `workspaces` Slack workspaces, as `daily on` leaves them (in bulk)."""
    from bot.ops.store import Cursor, Store, subscriptions

    store = Store(url)
    cursor = {"quote_cycle": Cursor().cycle, "quote_mark": Cursor().mark, "quote_ahead": "[]"}
    rows = [{"platform": "slack", "channel": f"C{i:05d}", "workspace": f"T{i % workspaces:03d}",
             "post_time": "09:00", "timezone": "UTC", "created_by": "U1", "created_at": CREATED, "active": True,
             "paused_reason": None, "due_at": 0.0, "due_day": None, **cursor} for i in range(n)]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(subscriptions.insert(), rows)
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE subscriptions")  # as autovacuum does after a bulk load
    store.engine.dispose()


def environment(url: str, fake: str, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "MAISKY_", "DATABASE_"))}
    return env | {"DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_API_URL": fake + "/api/",
                  "MAISKY_STATE_DIR": str(state)}  # fmt: skip


# the figures


def posting(args: argparse.Namespace, workdir: Path, database: str, latency: float) -> None:
    name = f"{database}_{int(latency * 1000)}ms"
    url = fresh(args.postgres if database == "PostgreSQL" else None, workdir, name)
    subscribe_many(url, args.channels, args.workspaces)
    fake, fake_url = start_fake(latency, workdir)
    env = environment(url, fake_url, workdir / "state")
    try:
        load_before = os.getloadavg()
        start = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, "-m", "adapters.cli", "daily", "run-due", "--now", NOW], cwd=ROOT,
                             env=env, stdout=(workdir / f"{name}-{k}.log").open("w"), stderr=subprocess.STDOUT)
            for k in range(args.processes)
        ]  # fmt: skip
        cpu = sum(reap(p) for p in procs)
        wall = time.perf_counter() - start
        load_after = os.getloadavg()
        codes = [p.returncode for p in procs]
        with urlopen(fake_url + "/stats", timeout=60) as resp:
            per: dict[str, int] = json.loads(resp.read())
        shares = [summary(workdir / f"{name}-{k}.log") for k in range(args.processes)]
    finally:
        fake.terminate()
    fake_cpu = reap(fake)
    channels = [f"C{i:05d}" for i in range(args.channels)]
    duplicates = sum(1 for c in channels if per.get(c, 0) > 1)
    missing = sum(1 for c in channels if per.get(c, 0) == 0)
    posts = sum(per.values())
    print(f"{database}, fake Slack answering in {latency * 1000:.0f} ms, {args.channels:,} channels in "
          f"{args.workspaces} workspaces, {args.processes} run-due processes:")  # fmt: skip
    print(f"  wall {wall:.1f} s, {posts / wall:.0f} posts/s; CPU {cpu:.1f} s in run-due ({cpu / max(1, posts) * 1000:.2f} ms "
          f"a post), {fake_cpu:.1f} s in the fake; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")  # fmt: skip
    print(f"  posts {posts:,}; channel-days with more than one post {duplicates}, with none {missing}; exit codes "
          f"{codes}; each process: {'; '.join(shares)}")  # fmt: skip
    if database == args.idle_on and latency == args.latency[0]:
        idle(args, url, env)
    if latency == args.latency[0]:
        writes(args, workdir, database)


def summary(log: Path) -> str:
    lines = [x for x in log.read_text().splitlines() if x.startswith("daily posts: posted")]
    return lines[-1].removeprefix("daily posts: ") if lines else log.read_text()[-500:]


def idle(args: argparse.Namespace, url: str, env: dict[str, str]) -> None:
    """A pass with nothing due, at the same number of subscriptions: in process, and as a run-due."""
    import sqlalchemy as sa

    from bot import Settings
    from bot.club.daily import Daily, DailyConfig
    from bot.ops.bootstrap import build
    from bot.ops.store import Store

    core = build(Settings(seeds_dir=ROOT / "seeds", persona_dir=ROOT / "persona"), index=False)
    d = Daily(Store(url), core.corpus, core.voice, DailyConfig())
    now = dt.datetime.fromisoformat(NOW) + dt.timedelta(hours=1)
    seen: list[str] = []
    begun = [0]

    def statement(conn: Any, cursor: Any, text: str, *rest: Any) -> None:
        if not text.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SELECT 1")):
            seen.append(text)

    def begin(conn: Any) -> None:
        begun[0] += 1

    class Never:
        def post(self, *a: Any, **k: Any) -> None:
            raise AssertionError("nothing is due")

    times = []
    for k in range(15):
        seen.clear()
        begun[0] = 0
        sa.event.listen(d.store.engine, "before_cursor_execute", statement)
        sa.event.listen(d.store.engine, "begin", begin)
        start = time.perf_counter()
        d.run_due(now + dt.timedelta(minutes=k), {"slack": Never()})
        times.append(time.perf_counter() - start)
        sa.event.remove(d.store.engine, "before_cursor_execute", statement)
        sa.event.remove(d.store.engine, "begin", begin)
    d.store.engine.dispose()
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "adapters.cli", "daily", "run-due", "--now", now.isoformat()],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # fmt: skip
        runs.append(time.perf_counter() - start)
        if proc.returncode != 0 or "posted 0" not in proc.stdout:
            raise RuntimeError(proc.stdout + proc.stderr)
    print(f"  idle pass (nothing due, {args.channels:,} subscriptions): {len(seen)} SQL statement(s) in {begun[0]} "
          f"transaction(s), median {statistics.median(times) * 1000:.2f} ms in process (max {max(times) * 1000:.2f}); "
          f"a whole `maisky daily run-due` with nothing due: median {statistics.median(runs):.2f} s")  # fmt: skip


def writes(args: argparse.Namespace, workdir: Path, database: str) -> None:
    """What a post costs the database, counted in process: a pass over `--tx-channels` fresh
    subscriptions with a poster that answers at once (unpaced), SQL statements and transactions."""
    import sqlalchemy as sa

    from bot import Settings
    from bot.club.daily import Daily, DailyConfig
    from bot.ops.bootstrap import build
    from bot.ops.store import Store

    url = fresh(args.postgres if database == "PostgreSQL" else None, workdir, f"{database}_writes")
    subscribe_many(url, args.tx_channels, args.workspaces)
    core = build(Settings(seeds_dir=ROOT / "seeds", persona_dir=ROOT / "persona"), index=False)
    d = Daily(Store(url), core.corpus, core.voice, DailyConfig())
    counts = Counter[str]()

    def statement(conn: Any, cursor: Any, text: str, *rest: Any) -> None:
        counts["statements"] += 1

    def begin(conn: Any) -> None:
        counts["transactions"] += 1

    class Instant:
        def post(self, *a: Any, **k: Any) -> None:
            counts["posts"] += 1

    sa.event.listen(d.store.engine, "before_cursor_execute", statement)
    sa.event.listen(d.store.engine, "begin", begin)
    cpu, start = time.process_time(), time.perf_counter()
    report = d.run_due(dt.datetime.fromisoformat(NOW), {"slack": Instant()})
    cpu, wall = time.process_time() - cpu, time.perf_counter() - start
    d.store.engine.dispose()
    posts = max(1, counts["posts"])
    print(f"  in process, {len(report.posted):,} posts to a poster that answers at once: {counts['transactions']} "
          f"transactions ({counts['transactions'] / posts:.2f} a post), {counts['statements']} SQL statements "
          f"({counts['statements'] / posts:.2f} a post); {wall:.1f} s wall, CPU {cpu / posts * 1000:.2f} ms a post")  # fmt: skip


def startup(args: argparse.Namespace, workdir: Path) -> None:
    seeds = workdir / "seeds"
    make_corpus(seeds, args.passages)
    db = f"sqlite:///{workdir / 'startup.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "MAISKY_", "DATABASE_"))}
    # as cron runs it for Slack (nothing is due, so the API is never called)
    env |= {"MAISKY_SEEDS": str(seeds), "DATABASE_URL": db, "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_API_URL": "http://127.0.0.1:9/api/", "MAISKY_STATE_DIR": str(workdir / "startup-state")}  # fmt: skip
    times = []
    for _ in range(args.repeat + 1):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "adapters.cli", "daily", "run-due"], cwd=workdir,
                              env=env, capture_output=True, text=True, check=False)  # fmt: skip
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout + proc.stderr)
    first, times = times[0], times[1:]  # the first run loads the full corpus and writes the quotation cache
    print(f"`maisky daily run-due` start-up to exit, nothing due, {args.passages:,}-passage corpus: median "
          f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
          f"the first run after the seeds change, which validates them all and writes the cache: {first:.2f} s")  # fmt: skip


def make_corpus(folder: Path, n: int) -> None:
    """The bundled sources plus `n` passages of their words reshuffled, in files of 10,000."""
    from bot.search.analysis import words
    from bot.sources.corpus import load_corpus

    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "seeds", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py", "*.md"))
    real = load_corpus(ROOT / "seeds")
    vocab = [w for p in real.passages for w in words(p.text)]
    rng = random.Random(20261127)
    for k in range(0, n, 10_000):
        out = [f'[source]\nid = "bench-{k}"\ntitle = "Bench {k}"\nauthor = "Bench"\npublication = "Bench"\n'
               f'date = 2020-01-01\nurl = "https://example.org/{k}"\n']  # fmt: skip
        for i in range(k, min(n, k + 10_000)):
            text = " ".join(rng.choices(vocab, k=rng.randint(40, 120))).capitalize() + "."
            out.append(f'[[passage]]\nid = "b{i}"\nparagraph = {i - k + 1}\ntext = """{text}"""\n')
        (folder / f"bench-{k // 10_000:03d}.toml").write_text("\n".join(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--channels", type=int, default=10_000)
    p.add_argument("--workspaces", type=int, default=100, help="Slack workspaces the channels are spread over")
    p.add_argument("--latency", type=lambda t: [float(x) for x in t.split(",")], default=[0.0, 0.1],
                   help="seconds the fake Slack takes per post, comma-separated (default 0,0.1)")  # fmt: skip
    p.add_argument("--processes", type=int, default=2, help="run-due processes started at once")
    p.add_argument("--tx-channels", type=int, default=1000, help="channels of the in-process count of writes a post")
    p.add_argument("--postgres", default="", help="a PostgreSQL URL: run on it as well as on SQLite")
    p.add_argument("--only-postgres", action="store_true", help="with --postgres, skip SQLite")
    p.add_argument("--startup", action="store_true", help="also measure run-due start-up on a large corpus")
    p.add_argument("--passages", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--serve-fake", nargs=2, metavar=("LATENCY", "PORT_FILE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_fake:
        serve_fake(float(args.serve_fake[0]), args.serve_fake[1])
        return
    import platform

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")), cpu)
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
    databases = (["SQLite"] if not args.only_postgres else []) + (["PostgreSQL"] if args.postgres else [])
    args.idle_on = databases[0] if databases else ""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for database in databases:
            for latency in args.latency:
                posting(args, workdir, database, latency)
        if args.startup:
            startup(args, workdir)


if __name__ == "__main__":
    main()
