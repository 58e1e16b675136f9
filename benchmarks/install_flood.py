"""Anonymous install pages: what 1,000 GET /slack/install from one address leave behind.

Run:  .venv/bin/python -m benchmarks.install_flood

Serves the bot with OAuth on (fake Slack Web API, a SQLite file) as `maisky slack http` does, behind
the guard in waitress on 127.0.0.1, asks for the install page 1,000 times and prints how many were
served and refused, the rows left in slack_oauth_states, and the log lines about the limiting.
Not part of the test suite.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from pathlib import Path

from adapters.slack.app import build_app
from bot.ops.settings import SlackSettings
from tests.adapters.slack_fakes import SECRET, FakeSlack
from tests.adapters.test_slack_oauth import get, guarded, make, states


def main(count: int = 1000) -> None:
    stream = io.StringIO()
    logging.basicConfig(level=logging.INFO, handlers=[logging.StreamHandler(stream)])
    fake = FakeSlack()
    with tempfile.TemporaryDirectory() as here:
        core, daily = make(Path(here))
        ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
        with guarded(build_app(core, ss, daily=daily), ss) as base:
            start = time.monotonic()
            statuses = [get(base + "/slack/install")[0] for _ in range(count)]
            took = time.monotonic() - start
        lines = [line for line in stream.getvalue().splitlines() if "limited /slack/install" in line]
        print(f"{count} anonymous GET /slack/install from one address in {took:.1f} s: {statuses.count(200)} served, "
              f"{statuses.count(429)} refused (429); rows in slack_oauth_states: {states(daily)}; "
              f"log lines about the limiting: {len(lines)}")  # fmt: skip
    fake.close()


if __name__ == "__main__":
    main()
