"""Daily-post load script: posting at scale, the idle pass, long histories, and run-due start-up.

Run:  .venv/bin/python -m benchmarks.daily                      (all four, 10,000 channels)
      .venv/bin/python -m benchmarks.daily --channels 2000 --skip-startup
      .venv/bin/python -m benchmarks.daily --postgres postgresql://maisky:maisky@127.0.0.1:5432/maisky_test

Prints:
  1. run-due with N due channels against a fake Slack (its own process) answering every
     chat.postMessage in --latency seconds: wall time, posts per second, and whether every channel
     got exactly one post; statements per post.
  2. a pass with nothing due at N subscriptions: median time and SQL statements.
  3. per-post cost with a year of history per channel against a day of history.
  4. `maisky daily run-due` start-up (a real process, nothing due) on a corpus of --passages passages.
Not part of the test suite; figures depend on the machine (the README gives the one they came from).
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 1, 10, 9, 5, tzinfo=dt.UTC)
CREATED = dt.datetime(2026, 1, 9, 10, 0, tzinfo=dt.UTC).timestamp()  # after yesterday's slot: only today is due


# the fake Slack, in a process of its own so that it does not share the poster's interpreter


def serve_fake(latency: float, port_file: str) -> None:
    posts: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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
            time.sleep(latency)
            with lock:
                posts[str(body.get("channel"))] += 1
            self._send(json.dumps({"ok": True, "channel": body.get("channel"), "ts": "1.0"}).encode())

        def _send(self, data: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def start_fake(latency: float, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / "fake-port"
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.daily", "--serve-fake", str(latency), str(port_file)],
                            cwd=ROOT)  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline:
            raise RuntimeError("the fake Slack did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}"


# helpers


def core():  # type: ignore[no-untyped-def]
    from bot import Settings
    from bot.ops.bootstrap import build

    return build(Settings(seeds_dir=ROOT / "seeds", persona_dir=ROOT / "persona"), index=False)


def daily_over(url: str, **config: Any):  # type: ignore[no-untyped-def]
    from bot.club.daily import Daily, DailyConfig
    from bot.ops.store import Store

    c = core()
    return Daily(Store(url), c.corpus, c.voice, DailyConfig(**config))


def fresh(url: str | None, workdir: Path, name: str) -> str:
    if not url:
        return f"sqlite:///{workdir / name}.sqlite3"
    import sqlalchemy as sa

    from bot.ops.store import database_url

    schema = f"bench_{name}"
    engine = sa.create_engine(database_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def subscribe_many(store: Any, n: int, workspaces: int, prefix: str = "C") -> None:
    """N subscriptions at 09:00 UTC, spread over `workspaces` Slack workspaces (bulk, for speed)."""
    from bot.ops.store import subscriptions

    rows = [{"platform": "slack", "channel": f"{prefix}{i:05d}", "workspace": f"T{i % workspaces:03d}",
             "post_time": "09:00", "timezone": "UTC", "created_by": "U1", "created_at": CREATED, "active": True,
             "paused_reason": None, "due_at": 0.0, "due_day": None} for i in range(n)]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(subscriptions.insert(), rows)


class Statements:
    """Counts the SQL statements an engine sends (transaction control and pings aside)."""

    def __init__(self, engine: Any) -> None:
        import sqlalchemy as sa

        self.count = 0
        self.engine = engine
        self._sa = sa
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SELECT 1")):
            self.count += 1

    def close(self) -> None:
        self._sa.event.remove(self.engine, "before_cursor_execute", self._seen)


class Instant:
    """A poster that returns at once: for costs on our side alone."""

    def post(self, channel: str, reply: Any, key: str) -> None:
        pass


# the figures


def posting(args: argparse.Namespace, workdir: Path) -> None:
    from slack_sdk import WebClient

    from adapters.slack.posting import SlackPoster

    proc, fake = start_fake(args.latency, workdir)
    try:
        url = fresh(args.postgres, workdir, "posting")
        d = daily_over(url, **({"workers": args.workers} if args.workers else {}))
        subscribe_many(d.store, args.channels, args.workspaces)
        poster = SlackPoster(WebClient(token="xoxb-bench", base_url=fake + "/api/"))
        counter = Statements(d.store.engine)
        start = time.perf_counter()
        report = d.run_due(NOW, {"slack": poster})
        took = time.perf_counter() - start
        counter.close()
        with urlopen(fake + "/stats", timeout=30) as resp:
            per = json.loads(resp.read())
        once = sum(1 for v in per.values() if v == 1)
        twice = sum(1 for v in per.values() if v > 1)
        print(f"1. run-due, {args.channels:,} due channels in {args.workspaces} workspaces, fake Slack answering in "
              f"{args.latency * 1000:.0f} ms, {d.config.workers} workers, {'PostgreSQL' if args.postgres else 'SQLite'}:")  # fmt: skip
        print(f"   all done in {took:.1f} s ({len(report.posted) / took:.0f} posts/s); posted {len(report.posted):,}, "
              f"channels with exactly one post {once:,}, with more than one {twice}, failed {len(report.failed)}, "
              f"unconfirmed {len(report.unconfirmed)}; {counter.count / max(1, args.channels):.1f} SQL statements "
              f"per post (target: within 180 s, exactly once)")  # fmt: skip
        idle(d, args)
    finally:
        proc.terminate()
        proc.wait(10)


def idle(d: Any, args: argparse.Namespace) -> None:
    times, counts = [], []
    for k in range(7):
        counter = Statements(d.store.engine)
        start = time.perf_counter()
        report = d.run_due(NOW + dt.timedelta(hours=1, minutes=k), {"slack": Instant()})
        times.append(time.perf_counter() - start)
        counter.close()
        counts.append(counter.count)
        assert not report.posted
    print(f"2. a pass with nothing due at {args.channels:,} subscriptions: median {statistics.median(times) * 1000:.1f} ms "
          f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}), {max(counts)} SQL statements "
          f"(target: < 500 ms, < 10 statements)")  # fmt: skip


def history(args: argparse.Namespace, workdir: Path) -> None:
    from bot.ops.store import Status, deliveries

    n = args.history_channels
    dailies = {}
    for label, days in (("a day", 1), ("a year", 365)):
        url = fresh(args.postgres, workdir, f"history{days}")
        d = daily_over(url, workers=1, pace={})  # no pacing: our own cost alone
        subscribe_many(d.store, n, 10, prefix="H")
        pool = [q.key for q in d.pool]
        with d.store.engine.begin() as conn:
            rows = []
            for sub_id in range(1, n + 1):
                for k in range(days):
                    day = (NOW.date() - dt.timedelta(days=days - k)).isoformat()  # up to yesterday
                    rows.append({"subscription_id": sub_id, "local_date": day, "status": Status.POSTED,
                                 "quote_key": pool[k % len(pool)], "cycle": k // len(pool), "claim_token": "x",
                                 "claimed_at": 0.0, "attempts": 0, "next_attempt_at": 0.0, "posted_at": 0.0,
                                 "error": None})  # fmt: skip
            conn.execute(deliveries.insert(), rows)
        if args.postgres:
            with d.store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")  # as autovacuum does after a bulk load
        dailies[label] = d
    times: dict[str, list[float]] = {label: [] for label in dailies}
    for k in range(7):  # interleaved, so that the machine's other load falls on both alike
        for label, d in dailies.items():
            start = time.perf_counter()
            report = d.run_due(NOW + dt.timedelta(days=k), {"slack": Instant()})
            times[label].append((time.perf_counter() - start) / max(1, len(report.posted)))
    day, year = statistics.median(times["a day"]), statistics.median(times["a year"])
    print(f"3. our side of one post ({n} channels, instant platform, one worker, median of 7 interleaved passes): "
          f"{day * 1000:.2f} ms with a day of history, {year * 1000:.2f} ms with a year "
          f"(x{year / day:.2f}; target: no more than a day)")  # fmt: skip


def startup(args: argparse.Namespace, workdir: Path) -> None:
    seeds = workdir / "seeds"
    make_corpus(seeds, args.passages)
    db = f"sqlite:///{workdir / 'startup.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "MAISKY_", "DATABASE_"))}
    # as cron runs it for Slack (nothing is due, so the API is never called)
    env |= {"MAISKY_SEEDS": str(seeds), "DATABASE_URL": db, "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_API_URL": "http://127.0.0.1:9/api/"}  # fmt: skip
    times = []
    for _ in range(args.repeat + 1):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "adapters.cli", "daily", "run-due"], cwd=workdir,
                              env=env, capture_output=True, text=True, check=False)  # fmt: skip
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout + proc.stderr)
    first, times = times[0], times[1:]  # the first run loads the full corpus and writes the quotation cache
    print(f"4. `maisky daily run-due` start-up to exit, nothing due, {args.passages:,}-passage corpus: median "
          f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}; target < 1 s); "
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
    p.add_argument("--latency", type=float, default=0.1, help="seconds the fake Slack takes per post")
    p.add_argument("--workers", type=int, default=0, help="posting workers (default: the bot's default)")
    p.add_argument("--postgres", default="", help="a PostgreSQL URL to use instead of SQLite")
    p.add_argument("--history-channels", type=int, default=200)
    p.add_argument("--passages", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-startup", action="store_true")
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
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        posting(args, workdir)
        history(args, workdir)
        if not args.skip_startup:
            startup(args, workdir)


if __name__ == "__main__":
    main()
