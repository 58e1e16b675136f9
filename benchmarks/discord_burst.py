"""A burst of /maisky ask on Discord: how long each member waits for the first response.

Run:  .venv/bin/python -m benchmarks.discord_burst [--count 300] [--hogs 2] [--env NAME=VALUE ...]

Starts, each as its own process: a fake Discord (REST API and gateway, tests/adapters/discord_fakes.py);
the bot as a user starts it, `maisky discord`, logging in and connecting to the fake's gateway; and
`--hogs` CPU hogs (`while True: pass`) at the bot's own priority. Once the bot has answered one warm-up
ask, the fake sends COUNT ask interactions over the gateway at once and notes, in its own process,
when each was sent and when its first response (an answer, type 4, a deferral, type 5, or the busy
reply, an ephemeral type 4) arrived. Prints how many first responses came after 3 s (Discord refuses
them then), their median, p99 and slowest, how many were answers, deferrals and busy replies, the
answers per second, the bot's CPU seconds beside the wall time, and the load average. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from aiohttp import web

from benchmarks.slack_load import busy_words, cpu_seconds, free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ("What did you think of Chamberlain?", "Was Eden made of iron?", "What about Churchill?")
WINDOW = 3.0


async def fake_discord(port: int) -> None:
    """Serve until killed: the fake REST API and gateway; GET /burst?n=N sends N asks over the gateway,
    GET /stats reports when each was sent and first answered (CLOCK_MONOTONIC, shared by processes)."""
    from tests.adapters.discord_fakes import APP_ID, BOT_USER, FakeDiscord, command

    busy = busy_words()

    class TimedFake(FakeDiscord):
        ws: web.WebSocketResponse | None = None
        seq = 0
        sent: dict[str, float]
        first: dict[str, tuple[float, int, bool]]
        answered = 0
        last = 0.0

        async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}})
            async for msg in ws:
                data = json.loads(msg.data)
                if data["op"] == 1:
                    await ws.send_json({"op": 11})
                elif data["op"] == 2:
                    self.seq += 1
                    ready = {
                        "v": 10, "user": BOT_USER, "guilds": [], "session_id": "s1", "resume_gateway_url": self.gateway,
                        "application": {"id": APP_ID, "flags": 0}, "private_channels": [], "relationships": [],
                    }  # fmt: skip
                    await ws.send_json({"op": 0, "t": "READY", "s": self.seq, "d": ready})
                    self.ws = ws
            return ws

        async def _handle(self, request: web.Request) -> web.Response:
            path = request.path
            if path == "/burst":
                return await self._burst(int(request.query.get("n", "1")), int(request.query.get("first", "0")))
            if path == "/stats":
                data = {"sent": self.sent, "first": self.first, "answered": self.answered, "last": self.last}
                return web.Response(body=json.dumps(data).encode(), content_type="application/json")
            now = time.monotonic()
            raw = await request.read()
            body = json.loads(raw) if raw and request.content_type == "application/json" else {}
            if path.endswith("/callback"):
                iid = path.split("/")[4]
                data = body.get("data") or {}
                said_busy = busy in json.dumps(data)
                self.first.setdefault(iid, (now, int(body.get("type", 0)), said_busy))
                if body.get("type") == 4 and not said_busy:
                    self.answered, self.last = self.answered + 1, now
            elif "/webhooks/" in path and request.method in ("PATCH", "POST"):
                self.answered, self.last = self.answered + 1, now
            return await super()._handle(request)

        async def _burst(self, n: int, first: int) -> web.Response:
            if self.ws is None:
                return web.Response(status=503, text="the bot has not connected yet")
            for k in range(n):
                iid = str(first + k)
                payload = command("ask", [{"type": 3, "name": "question", "value": QUESTIONS[k % 3]}],
                                  interaction_id=iid, uid=str(10_000 + first + k))  # fmt: skip
                self.seq += 1
                self.sent[iid] = time.monotonic()
                await self.ws.send_json({"op": 0, "t": "INTERACTION_CREATE", "s": self.seq, "d": payload})
            return web.Response(text="sent")

    fake = TimedFake()
    fake.sent, fake.first = {}, {}
    app = web.Application()
    app.router.add_get("/gateway", fake._gateway)
    app.router.add_route("*", "/{tail:.*}", fake._handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.base = f"http://127.0.0.1:{port}/api/v10"
    fake.gateway = f"ws://127.0.0.1:{port}/gateway"
    fake.calls = []  # the base class records calls; unbounded, but a burst is a few thousand
    await asyncio.Event().wait()


def get(url: str) -> Any:
    with urlopen(url, timeout=60) as resp:
        return json.loads(resp.read()) if "stats" in url else resp.read()


def wait_answered(fake: str, count: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (stats := get(f"{fake}/stats"))["answered"] < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {stats['answered']} of {count} answers arrived in {timeout:.0f} s")
        time.sleep(0.2)
    return dict(stats)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "fake":
        asyncio.run(fake_discord(int(sys.argv[2])))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=300, help="asks in the burst (default 300, as in issue 27)")
    p.add_argument("--hogs", type=int, default=2, help="CPU hogs at the bot's own priority (default 2)")
    p.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE", help="more settings for the bot process")
    args = p.parse_args()

    from tests.adapters.discord_fakes import TOKEN

    port = free_port()
    fake = f"http://127.0.0.1:{port}"
    extra = dict(item.split("=", 1) for item in args.env)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as here:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "DATABASE_", "MAISKY_"))}
        env |= {"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": f"{fake}/api/v10", "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{port}/gateway",
                "MAISKY_STATE_DIR": str(Path(here) / "state"), "MAISKY_COOLDOWN": "0", "LOG_LEVEL": "WARNING"} | extra  # fmt: skip
        try:
            procs.append(
                subprocess.Popen([sys.executable, "-m", "benchmarks.discord_burst", "fake", str(port)], cwd=ROOT)
            )
            wait_until_up(f"{fake}/stats", procs[0])
            log = open(Path(here) / "bot.log", "wb")  # noqa: SIM115  (closed with the folder)
            bot = subprocess.Popen([str(Path(sys.executable).with_name("maisky")), "discord"], cwd=here, env=env,
                                   stdout=log, stderr=log)  # fmt: skip
            procs.append(bot)
            deadline = time.monotonic() + 300
            while True:  # the bot connects; the warm-up ask is answered
                if bot.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the bot never answered the warm-up ask")
                try:
                    get(f"{fake}/burst?n=1&first=600000")
                    break
                except OSError:
                    time.sleep(0.5)
            wait_answered(fake, 1, 300)
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
            procs += hogs
            time.sleep(1)
            load, cpu, start = os.getloadavg()[0], cpu_seconds(bot.pid), time.monotonic()
            get(f"{fake}/burst?n={args.count}&first=700000")
            stats = wait_answered(fake, 1, 600)
            deadline = time.monotonic() + 900
            while len((stats := get(f"{fake}/stats"))["first"]) < args.count + 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            firsts = {i: f for i, f in stats["first"].items() if i in stats["sent"] and i != "600000"}
            busy = sum(1 for _, kind, said_busy in firsts.values() if said_busy)
            stats = wait_answered(fake, 1 + args.count - busy, 900)
            wall, used = stats["last"] - start, cpu_seconds(bot.pid) - cpu
            waits = sorted(firsts[i][0] - stats["sent"][i] for i in firsts)
            kinds = [kind for _, kind, said_busy in firsts.values() if not said_busy]
            late = sum(1 for w in waits if w > WINDOW) + (args.count - len(waits))
            p99 = waits[min(len(waits) - 1, round(0.99 * (len(waits) - 1)))]
            print(f"Discord burst: `maisky discord` against a fake Discord; {args.count} asks at once; {args.hogs} CPU "
                  f"hogs at its priority; {os.cpu_count()} cores; settings {extra or 'as shipped'}")  # fmt: skip
            print(f"first responses after 3 s: {late}; median {statistics.median(waits):.2f} s, p99 {p99:.2f} s, "
                  f"slowest {waits[-1]:.2f} s; {kinds.count(4)} answered at once, {kinds.count(5)} deferred, "
                  f"{busy} told to ask again")  # fmt: skip
            answered = args.count - busy
            print(f"answers: {answered} in {wall:.1f} s ({answered / wall:.1f} a second); bot CPU {used:.1f} s; "
                  f"load {load:.1f}-{os.getloadavg()[0]:.1f}")  # fmt: skip
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM if proc is procs[min(1, len(procs) - 1)] else signal.SIGKILL)
            for proc in procs:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            lines = (Path(here) / "bot.log").read_text(errors="replace").splitlines() if len(procs) > 1 else []
            errors = [line for line in lines if "ERROR" in line or "Traceback" in line]
            if errors:
                print(f"bot log: {len(errors)} error lines, the first: {errors[0][:200]}")


if __name__ == "__main__":
    main()
