"""What one Slack request costs the process that acknowledges it, and what the processes weigh.

Run:  .venv/bin/python -m benchmarks.slack_ack_cost                     (200 requests of each kind)
      .venv/bin/python -m benchmarks.slack_ack_cost --maisky /path/to/other/checkout/.venv/bin/maisky

Starts `maisky slack http` as a user starts it (the given `maisky`, its default SQLite database in a
temporary folder) against a fake Slack that answers at once (benchmarks/slack_load.py's), with
`HTTP_PROCESSES=1` unless `--env` says otherwise, so that one process takes every request, and an answer
queue (`MAISKY_ANSWER_QUEUE=10000`) that takes every question, so none gets the busy reply. Then, one
request at a time, each on a new connection as Slack sends them:

1. `--requests` clicks on the "Source" button, which the bot only acknowledges: the CPU of the
   acknowledging process (user + system from /proc, its answer process not counted) per request;
2. `--requests` slash commands, each answered: the same, once every answer reached the fake. What it
   adds to the first is what handing an answer over (and, where the acknowledging process delivers
   answers itself, delivering them) costs that process;
3. the memory of the whole process tree after the answers, from /proc/PID/smaps_rollup: resident
   (each process counted whole) and proportional (pages shared copy-on-write divided among the
   processes that share them), with `--processes` listing HTTP_PROCESSES values to weigh in turn.

Prints the figures with the load average. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.slack_load import SECRET, free_port, signed, stats, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ("What did Maisky think of Chamberlain?", "Who was Eden?", "What did you think of Churchill?")


def own_cpu(pid: int) -> float:
    """User + system CPU seconds of `pid` itself (every thread; not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """`pid` and every process under it."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += tree(int(child))
    return found


def memory(pid: int) -> tuple[int, float, float]:
    """(processes, resident MB summed, proportional MB summed) over the tree under `pid`."""
    rss = pss = 0
    pids = tree(pid)
    for p in pids:
        for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            if key == "Rss":
                rss += int(value.split()[0])
            elif key == "Pss":
                pss += int(value.split()[0])
    return len(pids), rss / 1024, pss / 1024


def send(port: int, request: bytes) -> bytes:
    """One request on a new connection; the whole answer (the bot closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"the bot answered {answer[:200]!r}")
    return answer


class Bot:
    """`maisky slack http` and its fake Slack, until closed."""

    def __init__(self, maisky: Path, extra: dict[str, str]) -> None:
        self.folder = tempfile.TemporaryDirectory()
        fake_port, self.port = free_port(), free_port()
        self.fake = f"http://127.0.0.1:{fake_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "DATABASE_", "MAISKY_"))}
        env = {k: v for k, v in env.items() if not k.startswith("HTTP_")}
        env |= {"SLACK_BOT_TOKEN": "xoxb-ack-cost", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": f"{self.fake}/api/",
                "HOST": "127.0.0.1", "PORT": str(self.port), "MAISKY_COOLDOWN": "0", "LOG_LEVEL": "WARNING",
                "HTTP_PROCESSES": "1", "MAISKY_ANSWER_QUEUE": "10000"} | extra  # fmt: skip
        self.procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.slack_load", "fake", str(fake_port), "0"],
                                       cwd=ROOT)]  # fmt: skip
        log = open(Path(self.folder.name) / "bot.log", "wb")  # noqa: SIM115  (closed with the folder)
        self.bot = subprocess.Popen([str(maisky), "slack", "http"], cwd=self.folder.name, env=env, stdout=log,
                                    stderr=log)  # fmt: skip
        self.procs.append(self.bot)
        wait_until_up(f"{self.fake}/stats", self.procs[0])
        wait_until_up(f"http://127.0.0.1:{self.port}/healthz", self.bot)

    def slash(self, n: int) -> bytes:
        form = {"token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": f"U{n}", "user_name": "member",
                "command": "/maisky", "text": QUESTIONS[n % len(QUESTIONS)], "api_app_id": "A1",
                "response_url": f"{self.fake}/response/U{n}", "trigger_id": f"slash-{n}-{time.time()}"}  # fmt: skip
        return signed(urlencode(form), int(time.time())).encode()

    def source(self, n: int) -> bytes:
        payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": f"U{n}"}, "api_app_id": "A1",
                   "channel": {"id": "C1"}, "trigger_id": f"source-{n}-{time.time()}",
                   "response_url": f"{self.fake}/response/source",
                   "actions": [{"action_id": "maisky_source", "value": "x", "type": "button", "block_id": "b"}]}  # fmt: skip
        return signed(urlencode({"payload": json.dumps(payload)}), int(time.time())).encode()

    def answers(self) -> float:
        return stats(self.fake)["answers"]

    def close(self) -> None:
        self.bot.terminate()
        try:
            self.bot.wait(60)
        except subprocess.TimeoutExpired:
            self.bot.kill()
        self.procs[0].kill()
        self.procs[0].wait()
        self.folder.cleanup()


def cost(bot: Bot, make: Callable[[int], bytes], count: int, answered: bool) -> tuple[float, float]:
    """(CPU ms of the acknowledging process per request, median ack ms), `count` requests one at a time."""
    before = bot.answers()
    cpu = own_cpu(bot.bot.pid)
    acks = []
    for n in range(count):
        request = make(n)  # signed before the clock starts
        started = time.perf_counter()
        send(bot.port, request)
        acks.append(time.perf_counter() - started)
    if answered:
        deadline = time.monotonic() + 600
        while bot.answers() - before < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {bot.answers() - before:.0f} of {count} answers arrived in 600 s")
            time.sleep(0.1)
    acks.sort()
    return (own_cpu(bot.bot.pid) - cpu) / count * 1000, acks[count // 2] * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=200, help="requests of each kind (default 200)")
    p.add_argument("--maisky", type=Path, default=Path(sys.executable).with_name("maisky"),
                   help="the `maisky` to start (another checkout's, for a baseline)")  # fmt: skip
    p.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE", help="more settings for the bot")
    p.add_argument("--processes", type=int, nargs="*", default=[1, 2, 4], metavar="N",
                   help="HTTP_PROCESSES values to weigh (default 1 2 4; none: skip the memory figures)")  # fmt: skip
    args = p.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    print(f"Slack ack cost: {args.maisky}; {args.requests} requests of each kind, one at a time; "
          f"{os.cpu_count()} cores; settings {extra or 'HTTP_PROCESSES=1'}")  # fmt: skip
    bot = Bot(args.maisky, extra)
    try:
        for n in range(5):  # the first requests compile templates and open pools
            send(bot.port, bot.slash(10_000 + n))
            send(bot.port, bot.source(10_000 + n))
        deadline = time.monotonic() + 600
        while bot.answers() < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        for label, make, answered in (("Source button (ack only)", bot.source, False),
                                      ("slash command (answered)", bot.slash, True)):  # fmt: skip
            load = os.getloadavg()[0]
            cpu, ack = cost(bot, make, args.requests, answered)
            print(f"  {label:28} {cpu:6.2f} ms of the acknowledging process's CPU a request; "
                  f"ack median {ack:.2f} ms; load {load:.1f}-{os.getloadavg()[0]:.1f}")  # fmt: skip
    finally:
        bot.close()
    for count in args.processes:
        bot = Bot(args.maisky, extra | {"HTTP_PROCESSES": str(count)})
        try:
            for n in range(40):
                send(bot.port, bot.slash(n))
            deadline = time.monotonic() + 600
            while bot.answers() < 40 and time.monotonic() < deadline:
                time.sleep(0.1)
            procs, rss, pss = memory(bot.bot.pid)
            print(f"  HTTP_PROCESSES={count}: {procs} processes after 40 answers, resident {rss:,.0f} MB summed, "
                  f"proportional {pss:,.0f} MB")  # fmt: skip
        finally:
            bot.close()


if __name__ == "__main__":
    main()
