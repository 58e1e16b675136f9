"""Slack HTTP load: ack latency, busy replies and answers per second, each party in its own process.

Run:  .venv/bin/python -m benchmarks.slack_load                      (1, 8, 32 and 64 concurrent, 2 CPU hogs)
      .venv/bin/python -m benchmarks.slack_load --levels 64 --requests 12 --hogs 0 --latency 0.2

Starts, each as its own process: a fake Slack (Web API and response_url, every call answered after
`--latency` seconds, over HTTP/1.1 keep-alive like Slack's own servers); the bot as a user starts it,
`maisky slack http` on 127.0.0.1 with its default SQLite database in a temporary folder; `--hogs`
CPU hogs (`while True: pass`) at the bot's own priority; and, per level, one client process whose
`level` clients send signed `/maisky` slash commands (questions from tests/data/club-questions.yaml,
each from its own member and with its own trigger id), `--requests` each, back to back, each on a new
connection as Slack does. The ack is the HTTP answer to the slash command, timed by the client; an ack
that says the bot is busy (the answer pool is full) counts as a busy reply, and every other is followed
by an answer at the fake's response_url. Prints, per level: ack p50 / p99 / max, requests not
acknowledged within 3 s (Slack's window), busy acks, answers per second (answers over the time from
the level's first request to its last answer), CPU seconds of the bot (its answer process included)
and of the clients beside the wall time, and the load average before and after. Not part of the test
suite.

`--floor guard` starts, in the bot's place, the least a Slack HTTP server of ours does: the same
waitress server with its deadlines and limits (adapters/slack/deadlines.py), in as many processes as
HTTP_PROCESSES gives (default: 2 on 2 cores) over one socket, and the guard (adapters/slack/http.py)
checking each request's size, shape and signature, then acknowledging it with the busy line, so no
bolt, no answers and no database. `--floor bare` leaves out the guard too: waitress alone, answering
every request with the busy line. `--floor raw` is one asyncio process with no HTTP library: it reads
the request and writes the same answer back, which is what the machine itself (the clients, the
kernel and the hogs) costs a request. A floor is the ack latency no listener or answer path can beat on
this machine under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

from benchmarks.fake_api import JsonHandler, serve

ROOT = Path(__file__).resolve().parent.parent
SECRET = "load-signing-secret"
WINDOW = 3.0  # seconds: Slack's limit for the acknowledgement


def busy_words() -> str:
    """The persona's busy line, which marks an ack (or reply) that asks the member to ask again."""
    with (ROOT / "persona" / "persona.toml").open("rb") as fh:
        return str(tomllib.load(fh)["busy"])


# the fake Slack (its own process)


def fake_slack(port: int, latency: float) -> None:
    """Serve until killed: every call answered after `latency` s; GET /stats reports the replies."""
    busy = busy_words().encode()
    lock = threading.Lock()
    stats: dict[str, float] = {"answers": 0, "busy": 0, "api_calls": 0, "last": 0.0}

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            with lock:
                data = json.dumps(stats).encode()
            self._send(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(latency)
            with lock:
                if self.path.startswith("/response/"):
                    stats["busy" if busy in raw else "answers"] += 1
                    stats["last"] = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process
                else:
                    stats["api_calls"] += 1
            if self.path.startswith("/response/"):
                self._send(b"ok")
            else:
                self._send(json.dumps({"ok": True, "user": {"is_admin": False}}).encode())

    serve(Handler, port).serve_forever()


# the floor (its own processes): the server without bolt or answers


def floor(kind: str, port: int) -> None:
    """Serve until SIGTERM: `kind` "guard" (the guard in front of a canned busy ack) or "bare" (the canned
    ack alone), under the bot's own waitress server, in HTTP_PROCESSES processes (its default) over one socket."""
    if kind == "raw":
        raw_floor(port)
        return
    from adapters.slack.deadlines import create_server, listen
    from adapters.slack.http import Guard, Health
    from adapters.slack.serve import _server_options
    from bot.ops.settings import SlackSettings, default_http_processes

    body = json.dumps({"text": busy_words()}).encode()

    def busy(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    slack = SlackSettings(bot_token="", signing_secret=SECRET, app_token="", api_url="", port=port, host="127.0.0.1")
    app = Guard(busy, SECRET, max_body=slack.max_body, health=Health({})) if kind == "guard" else busy
    options = _server_options(slack)
    sockets = listen(**options)
    count = int(os.environ.get("HTTP_PROCESSES") or default_http_processes())
    others: list[int] = []
    for _ in range(count - 1):
        pid = os.fork()
        if pid == 0:
            others = []
            break
        others.append(pid)

    def stop(*_: Any) -> None:
        for pid in others:
            os.kill(pid, signal.SIGKILL)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    create_server(app, sockets=sockets, **options).run()


def raw_floor(port: int) -> None:
    """Serve until killed, in one asyncio process and no HTTP library: read a request's head and its
    Content-Length bytes, write the busy line back and close. What the machine itself costs a request."""
    body = json.dumps({"text": busy_words()}).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
        await reader.readexactly(length)
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(serve())


# the clients (their own process)


def signed(body: str, now: int) -> str:
    import hashlib
    import hmac

    digest = hmac.new(SECRET.encode(), f"v0:{now}:{body}".encode(), hashlib.sha256).hexdigest()
    return (
        "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body.encode())}\r\nX-Slack-Request-Timestamp: {now}\r\n"
        f"X-Slack-Signature: v0={digest}\r\n\r\n{body}"
    )


async def one(port: int, request: bytes, busy: bytes) -> tuple[float, int, bool]:
    """(seconds to the ack, its status (0: none within 30 s), whether it said busy)."""
    sent = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)  # Connection: close: the whole answer
        took = time.monotonic() - sent
        writer.close()
    except (TimeoutError, OSError):
        return time.monotonic() - sent, 0, False
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return took, status, busy in answer


async def clients(port: int, fake: str, level: int, per_client: int, tag: str) -> dict[str, Any]:
    import yaml

    busy = busy_words().encode()
    questions = [str(q["q"]) for q in yaml.safe_load((ROOT / "tests/data/club-questions.yaml").read_text())]

    def request(n: int, i: int) -> bytes:
        user = f"U{tag}x{level}x{n}x{i}"
        form = {"token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": user, "user_name": "member",
                "command": "/maisky", "text": questions[(n * per_client + i) % len(questions)],
                "response_url": f"{fake}/response/{user}", "trigger_id": f"trig-{user}",
                "api_app_id": "A1"}  # fmt: skip
        return signed(urlencode(form), int(time.time())).encode()

    results: list[tuple[float, int, bool]] = []

    async def client(n: int) -> None:
        for i in range(per_client):
            req = request(n, i)  # signed before the clock starts
            results.append(await one(port, req, busy))

    cpu, start = time.process_time(), time.monotonic()
    await asyncio.gather(*(client(n) for n in range(level)))
    return {"acks": results, "start": start, "end": time.monotonic(), "cpu": time.process_time() - cpu}


# the run (this process)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process and of the processes it started (the answer process),
    every thread included (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    return own + sum(cpu_seconds(child) for child in children)


def stats(fake: str) -> dict[str, float]:
    with urlopen(f"{fake}/stats", timeout=30) as resp:
        return dict(json.loads(resp.read()))


def wait_until_up(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the process exited with {proc.returncode} before it listened")
        try:
            with urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} never answered")


def run_level(port: int, fake: str, bot: int, level: int, per_client: int, tag: str, nice: int = 0) -> dict[str, float]:
    before = stats(fake)
    load = os.getloadavg()[0]
    bot_cpu = cpu_seconds(bot)
    argv = ["clients", str(port), fake, str(level), str(per_client), tag]
    out = subprocess.run(
        [*_niced(nice), sys.executable, "-m", "benchmarks.slack_load", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    done = json.loads(out)
    acks = done["acks"]
    taken = sum(1 for _, status, busy in acks if status == 200 and not busy)
    deadline = time.monotonic() + 600
    while (now := stats(fake))["answers"] - before["answers"] < taken:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {now['answers'] - before['answers']:.0f} of {taken} answers arrived in 600 s")
        time.sleep(0.1)
    times = sorted(t for t, _, _ in acks)
    answers = now["answers"] - before["answers"]
    wall = max(now["last"], done["end"]) - done["start"]
    return {
        "requests": len(acks),
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
        "max": times[-1],
        "late": sum(1 for t, status, _ in acks if status == 0 or t > WINDOW),
        "failed": sum(1 for _, status, _ in acks if status not in (0, 200)),
        "busy": sum(1 for _, status, busy in acks if status == 200 and busy) + now["busy"] - before["busy"],
        "answers_per_s": answers / (now["last"] - done["start"]) if answers else 0.0,
        "wall": wall,
        "bot_cpu": cpu_seconds(bot) - bot_cpu,
        "client_cpu": done["cpu"],
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def _niced(nice: int) -> list[str]:
    """The command prefix that runs Slack's side (the fake and the clients) `nice` away from the bot's
    priority (a negative value needs root)."""
    return ["nice", "-n", str(nice)] if nice else []


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "fake":
        fake_slack(int(sys.argv[2]), float(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "floor":
        floor(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "clients":
        target, fake, level, per_client, tag = sys.argv[2:7]
        print(json.dumps(asyncio.run(clients(int(target), fake, int(level), int(per_client), tag))))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64], help="concurrent clients (1 8 32 64)")
    p.add_argument("--requests", type=int, default=12, help="slash commands per client (default 12)")
    p.add_argument("--latency", type=float, default=0.2, help="seconds the fake Slack takes to answer (default 0.2)")
    p.add_argument("--hogs", type=int, default=2, help="CPU hogs at the bot's own priority (default 2)")
    p.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE", help="more settings for the bot process")
    p.add_argument("--slack-nice", type=int, default=0, metavar="N",
                   help="run the fake Slack and the clients at nice N (default 0, the bot's own; Slack's servers "
                        "are not on the bot's machine: -10, as root, keeps them from queueing behind the hogs)")  # fmt: skip
    p.add_argument("--floor", choices=["guard", "bare", "raw"],
                   help="start a floor instead of the bot: waitress and the guard acknowledging with the busy line "
                        "(guard), waitress alone (bare), or no HTTP library at all (raw); see above")  # fmt: skip
    args = p.parse_args()

    fake_port, port = free_port(), free_port()
    fake = f"http://127.0.0.1:{fake_port}"
    extra = dict(item.split("=", 1) for item in args.env)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "DATABASE_", "MAISKY_"))}
    env |= {"SLACK_BOT_TOKEN": "xoxb-load", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": f"{fake}/api/",
            "HOST": "127.0.0.1", "PORT": str(port), "MAISKY_COOLDOWN": "0", "LOG_LEVEL": "WARNING"} | extra  # fmt: skip
    maisky = Path(sys.executable).with_name("maisky")
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as here:
        try:
            fake_proc = subprocess.Popen([*_niced(args.slack_nice), sys.executable, "-m", "benchmarks.slack_load",
                                          "fake", str(fake_port), str(args.latency)], cwd=ROOT)  # fmt: skip
            procs.append(fake_proc)
            log = open(Path(here) / "bot.log", "wb")  # noqa: SIM115  (closed with the folder)
            command = [sys.executable, "-m", "benchmarks.slack_load", "floor", args.floor, str(port)] if args.floor else [
                str(maisky), "slack", "http"]  # fmt: skip
            bot = subprocess.Popen(command, cwd=ROOT if args.floor else here, env=env, stdout=log, stderr=log)
            procs.append(bot)
            wait_until_up(f"{fake}/stats", fake_proc)
            wait_until_up(f"http://127.0.0.1:{port}/healthz", bot)
            run_level(port, fake, bot.pid, 2, 2, "warm")  # first requests compile templates, open pools
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
            procs += hogs
            server = f"the floor ({args.floor})" if args.floor else "`maisky slack http`"
            print(f"Slack HTTP load: {server} against a fake Slack answering in {args.latency * 1000:.0f} ms; "
                  f"{args.hogs} CPU hogs at its priority; Slack's side at nice {args.slack_nice}; "
                  f"{args.requests} slash commands per client; "
                  f"{os.cpu_count()} cores; settings {extra or 'as shipped'}")  # fmt: skip
            print(f"{'concurrent':>10} {'requests':>8} {'ack p50':>8} {'ack p99':>8} {'ack max':>8} {'>3 s':>5} "
                  f"{'busy':>5} {'answers/s':>9} {'wall s':>7} {'bot CPU s':>9} {'client CPU s':>12} {'load':>11}")  # fmt: skip
            for run, level in enumerate(args.levels):
                # each run its own members and trigger ids: a repeated one would be dropped as Slack's retry
                r = run_level(port, fake, bot.pid, level, args.requests, f"L{level}r{run}", args.slack_nice)
                if r["failed"]:
                    print(f"  {r['failed']:.0f} acks were neither 200 nor missing")
                print(f"{level:>10} {r['requests']:>8.0f} {r['p50'] * 1000:>6.1f}ms {r['p99'] * 1000:>6.1f}ms "
                      f"{r['max'] * 1000:>6.1f}ms {r['late']:>5.0f} {r['busy']:>5.0f} {r['answers_per_s']:>9.1f} "
                      f"{r['wall']:>7.1f} {r['bot_cpu']:>9.1f} {r['client_cpu']:>12.1f} "
                      f"{r['load_before']:>5.1f}-{r['load_after']:<5.1f}", flush=True)  # fmt: skip
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM if proc is procs[1] else signal.SIGKILL)
            for proc in procs:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            errors = [line for line in (Path(here) / "bot.log").read_text(errors="replace").splitlines()
                      if "ERROR" in line or "Traceback" in line]  # fmt: skip
            if errors:
                print(f"bot log: {len(errors)} error lines, the first: {errors[0][:200]}")


if __name__ == "__main__":
    main()
