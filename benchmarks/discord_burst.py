"""A burst of /maisky ask on Discord: how long each member waits for the first response.

Run:  .venv/bin/python -m benchmarks.discord_burst [COUNT]   (default 300, as in issue 27)

Logs the real client in against the local fake Discord REST API (tests/adapters/discord_fakes.py),
hands COUNT ask interactions to discord.py's own gateway entry point at once, and prints how many
first responses (an answer, type 4, or a deferral, type 5) reached the fake more than 3 s after
their interaction was handed over, and the slowest; Discord refuses a first response after 3 s.
Not part of the test suite.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.discord.client import build_client
from bot import Settings, build
from tests.adapters.discord_fakes import TOKEN, FakeDiscord, command, settings
from tests.conftest import PERSONA, SEEDS

QUESTIONS = ("What did you think of Chamberlain?", "Was Eden made of iron?", "What about Churchill?")


class TimedFake(FakeDiscord):
    """The fake REST API, noting when each interaction's first response arrived."""

    seen: dict[str, float]

    async def _handle(self, request: web.Request) -> web.Response:
        if request.path.endswith("/callback"):
            self.seen.setdefault(request.path.split("/")[4], time.monotonic())
        return await super()._handle(request)


async def main(count: int) -> None:
    core = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    with tempfile.TemporaryDirectory() as here:
        fake = TimedFake()
        fake.seen = {}
        await fake.start()
        client = build_client(core, settings(fake, Path(here) / "state"))
        await client.login(TOKEN)
        seen = fake.seen
        fed: dict[str, float] = {}
        for n in range(count):
            iid = str(700_000 + n)
            payload: dict[str, Any] = command(
                "ask", [{"type": 3, "name": "question", "value": QUESTIONS[n % 3]}], interaction_id=iid, uid=str(n)
            )
            fed[iid] = time.monotonic()
            client._connection.parse_interaction_create(payload)
        await fake.answers(count, timeout=600)
        waits = sorted(seen[i] - fed[i] for i in fed if i in seen)
        late = sum(1 for w in waits if w > 3.0)
        kinds = [c.body["type"] for c in fake.calls if c.path.endswith("/callback")]
        print(f"{count} asks: {kinds.count(4)} answered at once, {kinds.count(5)} deferred; "
              f"first responses after 3 s: {late}; slowest {waits[-1]:.2f} s, median {waits[len(waits) // 2]:.2f} s")  # fmt: skip
        await client.close()
        await fake.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
