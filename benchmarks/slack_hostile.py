"""Hostile Slack HTTP requests, against plain bolt and against the bot's guarded server.

Run:  .venv/bin/python -m benchmarks.slack_hostile

Serves the real bolt app twice on 127.0.0.1 under waitress: once as bolt's WSGI adapter alone, once
behind adapters.slack.http.Guard as `maisky slack http` serves it. Sends every case of
tests/adapters/test_slack_http.py to both and prints, per case, the status each answered and how
many log lines it wrote; then the totals: 5xx answers, log bytes, and whether a request body
reached the log. Not part of the test suite.
"""

from __future__ import annotations

import io
import logging
import threading
from typing import Any

import waitress.server
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from adapters.slack.app import build_app
from adapters.slack.http import Health
from adapters.slack.serve import make_server
from bot import Settings, build
from bot.ops.settings import SlackSettings
from tests.adapters import test_slack_http as cases
from tests.adapters.slack_fakes import SECRET, FakeSlack
from tests.conftest import PERSONA, SEEDS


def serve(app: Any) -> tuple[Any, int]:
    server = app if hasattr(app, "effective_port") else waitress.server.create_server(app, host="127.0.0.1", port=0)
    threading.Thread(target=server.run, daemon=True).start()
    return server, server.effective_port


def main() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.basicConfig(level=logging.DEBUG, handlers=[handler])
    fake = FakeSlack()
    slack = SlackSettings("xoxb-bench", SECRET, "", fake.api_url, 0, host="127.0.0.1", mode="http")
    core = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    plain_app = build_app(core, slack, WebClient(token="xoxb-bench", base_url=fake.api_url))
    guarded_app = build_app(core, slack, WebClient(token="xoxb-bench", base_url=fake.api_url))
    _, plain_port = serve(SlackRequestHandler(plain_app))
    guarded_server, _ = make_server(guarded_app, slack, Health())
    _, guarded_port = serve(guarded_server)
    plain, guarded = cases.Served(fake, plain_port, Health()), cases.Served(fake, guarded_port, Health())

    rows = [(f"{name} (unsigned)", body, headers) for name, body, headers, _ in cases.unsigned_cases()]
    rows += [(f"{name} (signed)", body, cases.signed(body, ct)) for name, body, ct, _ in cases.signed_cases()]
    totals = {"plain": [0, 0, False], "guarded": [0, 0, False]}
    print(f"{'case':<52} {'plain bolt':>10} {'lines':>6} {'guarded':>8} {'lines':>6}")
    for name, body, headers in rows:
        line = f"{name[:52]:<52}"
        for label, target in (("plain", plain), ("guarded", guarded)):
            before = len(stream.getvalue())
            status, _ = target.send(body, headers)
            written = stream.getvalue()[before:]
            totals[label][0] += status >= 500
            totals[label][1] += len(written)
            totals[label][2] = bool(totals[label][2]) or cases.MARK in written
            width = 10 if label == "plain" else 8
            line += f" {status:>{width}} {written.count(chr(10)):>6}"
        print(line)
    for label, (errors, size, leaked) in totals.items():
        print(f"{label}: {errors} of {len(rows)} got 5xx; {size} bytes of log; a request body in the log: {leaked}")
    fake.close()


if __name__ == "__main__":
    main()
