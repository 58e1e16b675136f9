"""Slack HTTP memory under new words, with the app, the fake Slack and the clients in one process.

Run:  .venv/bin/python -m benchmarks.slack_memory --levels 8 --requests 4 --latency 0 --new-words 10000
      .venv/bin/python -m benchmarks.slack_memory --core 5000

The in-process harness the load benchmark used to be (benchmarks/slack_load.py now runs the bot as
its own process): the real bolt app (as `maisky slack http` builds it) under waitress on 127.0.0.1
and a local fake Slack answering after `--latency` seconds. Its ack figures are kinder than real use
(the clients share the bot's interpreter); it is kept for what only one process can show.
`--new-words N` asks N questions made of words nobody used before and prints the process's resident
memory (the app and the fake share it) after each tenth of them, with what glibc's malloc holds (in
use, and free but kept: fragmentation) and Python's allocated blocks: it must stay flat, since no
cache may grow with a user's words. `--trace N` adds the N places whose Python allocations grew most
between the first tenth and the end (tracemalloc: slow). `--core N` asks N such questions of the
core alone, in one thread, without Slack.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from benchmarks.fake_api import JsonHandler

ROOT = Path(__file__).resolve().parent.parent
SECRET = "load-signing-secret"


class SlowSlack:
    """Slack's Web API and response_url, each answer `latency` seconds late; records reply times."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.replies = 0  # replies received at response_url (a count: the fake must not grow with them)
        self.last_reply = 0.0  # perf_counter() of the latest
        self.connections = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake.connections += 1

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(fake.latency)
                if self.path.startswith("/response/"):
                    with fake._lock:
                        fake.replies += 1
                        fake.last_reply = time.perf_counter()
                    data = b"ok"
                else:
                    data = json.dumps({"ok": True, "user": {"is_admin": False}}).encode()
                self._send(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.replies >= count:
                    return
            time.sleep(0.01)
        raise SystemExit(f"only {self.replies} of {count} answers arrived within {timeout:.0f} s")


def signed(body: str) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
    }


def run_level(
    port: int, fake: SlowSlack, questions: list[str], level: int, per_client: int, tag: str = ""
) -> dict[str, float]:
    """`level` clients each sending `per_client` slash commands back to back; acks timed client-side.
    `tag` makes user and trigger ids unique across calls (a repeated trigger id is a retry: no answer)."""
    acks: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    before = fake.replies
    opened = fake.connections
    start = time.perf_counter()

    def client(n: int) -> None:
        for i in range(per_client):
            user = f"ULOAD{tag}{level}x{n}x{i}"
            form = {"token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": user, "user_name": "member",
                    "command": "/maisky", "text": questions[(n * per_client + i) % len(questions)],
                    "response_url": f"{fake.url}/response/{user}", "trigger_id": f"trig-{user}",
                    "api_app_id": "A1"}  # fmt: skip
            body = urlencode(form)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            sent = time.perf_counter()
            try:
                conn.request("POST", "/slack/events", body=body, headers=signed(body))
                status = conn.getresponse().status
                took = time.perf_counter() - sent
            finally:
                conn.close()
            with lock:
                acks.append(took)
                if status != 200:
                    failures.append(str(status))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(level)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = level * per_client
    fake.wait_for(before + total, timeout=120)
    last = fake.last_reply
    if failures:
        raise SystemExit(f"{len(failures)} slash commands were not acknowledged with 200: {failures[:5]}")
    ordered = sorted(acks)
    return {
        "requests": total,
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "max": ordered[-1],
        "answers_per_s": total / (last - start),
        "connections": fake.connections - opened,
    }


def rss_mb() -> float:
    """This process's resident set size, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS in /proc/self/status: --new-words needs Linux")


def heap_mb() -> tuple[float, float] | None:
    """glibc's malloc: (MB in use, MB free but kept) over every arena; None without glibc 2.33+.
    Free-but-kept memory that grows is fragmentation, not a cache."""
    import ctypes
    import ctypes.util

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                          "fsmblks", "uordblks", "fordblks", "keepcost")]  # fmt: skip

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        call = libc.mallinfo2
    except (OSError, AttributeError, TypeError):
        return None
    call.restype = MallInfo2
    info = call()
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def invented(n: int) -> str:
    """A question of three words no dictionary or corpus holds, different for every n."""
    letters = "bcdfghjklmnpqrstvwxz"
    words = []
    for k in range(3):
        m, w = n * 3 + k + 7919, ""
        while m:
            m, r = divmod(m, len(letters))
            w += letters[r] + "aeiou"[r % 5]
        words.append(w)
    return "What did Maisky think of " + " ".join(words) + "?"


def new_words(port: int, fake: SlowSlack, total: int, level: int = 8, trace: int = 0) -> None:
    """`total` questions of never-seen words, `level` clients at once; RSS after each tenth.
    With `trace`, also the `trace` places whose Python allocations grew most from the first tenth to
    the last (tracemalloc, which slows the run and adds its own memory to the RSS)."""
    import gc
    import tracemalloc

    step = max(1, total // 10)
    print(f"RSS over {total:,} questions made of new words ({level} clients at once):")
    print(f"{'questions':>10}  {'RSS MB':>8}  {'vs first':>8}  {'malloc used':>11}  {'malloc free':>11}  "
          f"{'Python blocks':>14}")  # fmt: skip
    first = 0.0
    if trace:
        tracemalloc.start(8)
    snapshot = None
    for done in range(0, total, step):
        batch = [invented(done + i) for i in range(step)]
        run_level(port, fake, batch, level, max(1, step // level), tag=f"w{done}x")
        gc.collect()
        rss = rss_mb()
        first = first or rss
        heap = heap_mb()
        used, free = (f"{heap[0]:9.1f}MB", f"{heap[1]:9.1f}MB") if heap else ("?", "?")
        print(f"{done + step:>10,}  {rss:>8.1f}  {rss / first - 1:>+8.1%}  {used:>11}  {free:>11}  "
              f"{sys.getallocatedblocks():>14,}")  # fmt: skip
        if trace and snapshot is None:
            snapshot = tracemalloc.take_snapshot()
    if trace and snapshot is not None:
        grown = tracemalloc.take_snapshot().compare_to(snapshot, "traceback")
        print(f"Python allocations that grew most after the first {step:,} questions (tracemalloc):")
        for stat in grown[:trace]:
            print(f"  {stat.size_diff / 1024:+9.1f} KB  {stat.count_diff:+8,} blocks")
            for line in stat.traceback.format(limit=6, most_recent_first=True):
                print("      " + line.strip())


def core_alone(core: Any, total: int) -> None:
    """`total` questions of new words straight to `Maisky.ask` in this thread (no Slack, no threads):
    what the core itself keeps, without the arenas of many threads blurring it."""
    import gc

    step = max(1, total // 5)
    for i in range(step):  # warm-up: the query-word cache fills
        core.ask(invented(10_000_000 + i))
    gc.collect()
    base = heap_mb()
    print(f"The core alone, {total:,} more questions made of new words (one thread):")
    print(f"{'questions':>10}  {'RSS MB':>8}  {'malloc used vs start':>20}  {'Python blocks':>14}")
    for done in range(0, total, step):
        for i in range(step):
            core.ask(invented(20_000_000 + done + i))
        gc.collect()
        heap = heap_mb()
        grown = f"{heap[0] - base[0]:+.2f} MB" if heap and base else "?"
        print(f"{done + step:>10,}  {rss_mb():>8.1f}  {grown:>20}  {sys.getallocatedblocks():>14,}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients (default 1 8 32)")
    p.add_argument("--requests", type=int, default=12, help="slash commands per client (default 12)")
    p.add_argument("--latency", type=float, default=0.2, help="seconds the fake Slack takes to answer (default 0.2)")
    p.add_argument("--workers", type=int, help="answering threads (default: MAISKY_SLACK_WORKERS's default)")
    p.add_argument("--http-threads", type=int, default=8, help="waitress threads taking requests (default 8)")
    p.add_argument("--new-words", type=int, default=0, help="then N questions of new words, printing RSS (e.g. 10000)")
    p.add_argument("--trace", type=int, default=0, help="with --new-words: the N places whose allocations grew most")
    p.add_argument("--all-arenas", action="store_true", help="leave glibc's malloc arenas uncapped (before 2026-11-27)")
    p.add_argument(
        "--core", type=int, default=0, help="only N questions of new words to the core, no Slack (e.g. 5000)"
    )
    args = p.parse_args()

    import logging

    import waitress.server
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from adapters.slack.app import PREFIX, build_app
    from bot import Settings, build
    from bot.ops.bootstrap import build_desk
    from bot.ops.settings import SlackSettings

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" is what we measure
    settings = Settings(seeds_dir=ROOT / "seeds", persona_dir=ROOT / "persona", cooldown=0)
    core = build(settings)
    if args.core:
        core_alone(core, args.core)
        return
    questions = [str(q["q"]) for q in yaml.safe_load((ROOT / "tests/data/club-questions.yaml").read_text())]
    if not args.all_arenas:
        from adapters.slack.malloc import limit_arenas

        limit_arenas()  # as `maisky slack` does (adapters.slack.app.run)
    fake = SlowSlack(args.latency)
    slack = SlackSettings("xoxb-load", SECRET, "", fake.url + "/api/", 0)
    if args.workers:
        from dataclasses import replace

        slack = replace(slack, workers=args.workers)
    app = build_app(build_desk(settings, core, prefix=PREFIX), slack)
    server = waitress.server.create_server(
        SlackRequestHandler(app), host="127.0.0.1", port=0, threads=args.http_threads, connection_limit=1000
    )
    port = int(server.effective_port)  # type: ignore[union-attr]
    threading.Thread(target=server.run, daemon=True).start()
    run_level(port, fake, questions, 2, 2)  # warm up: first requests compile templates, open pools

    print(f"Slack HTTP load: fake Slack answering in {args.latency * 1000:.0f} ms; {slack.workers} answering "
          f"threads, {args.http_threads} waitress threads; {args.requests} slash commands per client")  # fmt: skip
    print(f"{'concurrent':>10}  {'requests':>8}  {'ack p50':>8}  {'ack p99':>8}  {'ack max':>8}  "
          f"{'answers/s':>9}  {'reply conns':>11}")  # fmt: skip
    for level in args.levels:
        r = run_level(port, fake, questions, level, args.requests)
        print(f"{level:>10}  {r['requests']:>8.0f}  {r['p50'] * 1000:>6.1f}ms  {r['p99'] * 1000:>6.1f}ms  "
              f"{r['max'] * 1000:>6.1f}ms  {r['answers_per_s']:>9.1f}  {r['connections']:>11.0f}")  # fmt: skip
    if args.new_words:
        new_words(port, fake, args.new_words, trace=args.trace)
    server.close()


if __name__ == "__main__":
    main()
