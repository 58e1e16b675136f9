"""Slow clients against a real `maisky slack http` process: how long signed requests wait while a
hundred connections trickle, and how long the trickling connections live.

Run:  .venv/bin/python -m benchmarks.slow_clients [SECONDS_BETWEEN_BYTES]   (default 5, as in issue 27)

Starts `python -m adapters.cli slack http` on 127.0.0.1 (fake Slack Web API, no database), opens 50
connections that send their headers one byte at a time and 50 that send their body one byte at a
time (each reopened when the server closes it), then, two intervals later, sends 11 signed /maisky
requests one after the other while they trickle. Prints each request's status and seconds, and the lifetimes of the closed
trickling connections. Not part of the test suite.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import tempfile
import time

from tests.adapters.slack_fakes import SECRET, FakeSlack
from tests.adapters.test_running import BOT_TOKEN, base_env, free_port, wait_for_port
from tests.adapters.test_slow_clients import ASKED, SLOW, Trickle, signed


def main() -> None:
    every = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    fake, port = FakeSlack(), free_port()
    env = base_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url,
                   HOST="127.0.0.1", PORT=str(port), MAISKY_COOLDOWN="0")  # fmt: skip
    with tempfile.TemporaryDirectory() as here:
        proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "slack", "http"], cwd=here, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            wait_for_port(port, proc)
            slow = [Trickle(port, SLOW, body=False, every=every), Trickle(port, SLOW, body=True, every=every)]
            url = f"http://127.0.0.1:{port}/slack/events"
            slow[0].stop.wait(2 * every)  # the trickling under way before the first request
            start = time.monotonic()
            for n in range(ASKED):
                t0 = time.monotonic()
                status = signed(url, "Was Eden made of iron?", f"U{n}")
                print(f"request {n + 1:2}: status {status or 'none in 30 s'}, {time.monotonic() - t0:.2f} s")
            print(f"{ASKED} requests in {time.monotonic() - start:.1f} s while {2 * SLOW} connections trickled")
            slow[0].stop.wait(max(3 * every, 20))  # let the trickling go on to see how long connections live
            for t in slow:
                t.close()
            for name, t in (("headers", slow[0]), ("body", slow[1])):
                lived = t.lived or [0.0]
                print(f"trickling {name} (a byte every {every:g} s): {t.closed} closed by the server; "
                      f"lived median {statistics.median(lived):.1f} s, max {max(lived):.1f} s")  # fmt: skip
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            fake.close()
    lines = [line for line in err.splitlines() if "deadline" in line or "connection limit" in line]
    print(f"server log lines about slow connections: {len(lines)}")


if __name__ == "__main__":
    main()
