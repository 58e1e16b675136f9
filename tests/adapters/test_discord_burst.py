"""A burst of /maisky ask through discord.py's own dispatch: no member's first response (the answer,
or the deferral) waits for other members' answer work.

The loop's default executor is where the answers are worked out. The test holds it shut once a
few answers are ready, as a burst of slow answers would: every interaction must still get its first
response while it is shut (an answer that is ready goes out; the others are deferred), and its
answer once it opens."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.adapters.conftest import MakeCore
from tests.adapters.discord_fakes import command
from tests.adapters.test_discord import start

BURST = 300
QUESTIONS = ("What did you think of Chamberlain?", "Was Eden made of iron?", "What about Churchill?")


class HeldExecutor(ThreadPoolExecutor):
    """A default executor whose work that has not started can be held back (as if the work of the
    members before it took long), counting the jobs that finished."""

    def __init__(self) -> None:
        super().__init__(max_workers=8, thread_name_prefix="held")
        self.open = threading.Event()
        self.open.set()
        self.finished = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def held() -> Any:
            self.open.wait()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.finished += 1

        return super().submit(held)


async def test_every_first_response_goes_out_while_other_members_answers_hold_the_executor(
    tmp_path: Path, make_core: MakeCore
) -> None:
    loop = asyncio.get_running_loop()
    held = HeldExecutor()
    env = await start(tmp_path, make_core())
    loop.set_default_executor(held)
    try:
        ids = [str(900_000 + n) for n in range(BURST)]
        for n, iid in enumerate(ids):
            question = QUESTIONS[n % len(QUESTIONS)]
            env.feed(command("ask", [{"type": 3, "name": "question", "value": question}],
                             interaction_id=iid, uid=str(5000 + n)))  # fmt: skip
        deadline = time.monotonic() + 120
        while held.finished < 1:  # the first answers are ready; the rest of the burst is still queued
            assert time.monotonic() < deadline, "the first answers were never worked out"
            await asyncio.sleep(0.01)
        held.open.clear()  # from now on, other members' answer work holds the executor

        def first(c: Any) -> bool:
            return c.path.endswith("/callback")

        with contextlib.suppress(AssertionError):  # counted below
            await env.fake.wait_for(first, BURST, timeout=60)
        firsts = [c for c in env.fake.calls if first(c)]
        missing = set(ids) - {c.path.split("/")[2] for c in firsts}
        assert not missing, f"{len(missing)} of {BURST} had no first response while others' answers held the executor"
        kinds = [c.body["type"] for c in firsts]
        assert set(kinds) <= {4, 5}, kinds  # ready answers at once, the rest deferred
        held.open.set()
        answers = await env.fake.answers(BURST, timeout=300)
        assert all(a["content"].startswith("**Maisky as narrator**") for a in answers)
    finally:
        held.open.set()
        await env.client.close()
        await env.fake.stop()
        held.shutdown(wait=True)
