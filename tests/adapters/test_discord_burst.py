"""A burst of /maisky ask through discord.py's own dispatch: no member's first response (the answer,
the deferral, or the busy reply) waits for other members' answer work.

Answers are worked out in the desk's answer pool, never in the loop's default executor. The tests
hold one or the other shut, as a burst of slow answers would hold them: with the default executor
shut, every ask is answered; with the pool's threads held, every ask is deferred, and answered once
they are free; with the pool full, every ask is told at once, privately, to ask again in a moment."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.chat.pool import AnswerPool
from tests.adapters.conftest import SHIPPED_QUICK, Blocked, MakeCore
from tests.adapters.discord_fakes import Call, command
from tests.adapters.test_discord import Env, start

BURST = 300
pytestmark = pytest.mark.usefixtures("shipped_quick")  # each first response, answer or deferral, at its usual time
QUESTIONS = ("What did you think of Chamberlain?", "Was Eden made of iron?", "What about Churchill?")
LABEL = "**Maisky as narrator**"


class HeldExecutor(ThreadPoolExecutor):
    """A default executor that runs nothing until opened (as if other members' work filled it)."""

    def __init__(self) -> None:
        super().__init__(max_workers=2, thread_name_prefix="held")
        self.open = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def held() -> Any:
            self.open.wait()
            return fn(*args, **kwargs)

        return super().submit(held)


def burst(env: Env, first_id: int) -> list[str]:
    ids = [str(first_id + n) for n in range(BURST)]
    for n, iid in enumerate(ids):
        question = QUESTIONS[n % len(QUESTIONS)]
        env.feed(command("ask", [{"type": 3, "name": "question", "value": question}],
                         interaction_id=iid, uid=str(5000 + n)))  # fmt: skip
    return ids


def first(c: Call) -> bool:
    return c.path.endswith("/callback")


async def firsts(env: Env, ids: list[str]) -> dict[str, Call]:
    calls = await env.fake.wait_for(first, len(ids), timeout=180)
    by_id = {c.path.split("/")[2]: c for c in calls}
    assert set(ids) <= set(by_id), f"{len(set(ids) - set(by_id))} of {len(ids)} had no first response"
    return by_id


async def test_a_burst_is_answered_while_the_loops_default_executor_is_held_shut(
    tmp_path: Path, make_core: MakeCore
) -> None:
    held = HeldExecutor()
    env = await start(tmp_path, make_core())
    asyncio.get_running_loop().set_default_executor(held)
    try:
        ids = burst(env, 900_000)
        await firsts(env, ids)
        answers = await env.fake.answers(BURST, timeout=300)  # while the default executor is still shut
        assert all(a["content"].startswith(LABEL) for a in answers)
    finally:
        held.open.set()
        await env.client.close()
        await env.fake.stop()
        held.shutdown(wait=True)


async def test_every_ask_is_deferred_while_other_members_work_holds_the_pool_and_answered_after(
    tmp_path: Path, make_core: MakeCore
) -> None:
    env = await start(tmp_path, make_core())
    pool = env.client.desk.pool = AnswerPool(threads=2, queue=BURST + 2)
    blocked = Blocked(pool, room=BURST)  # both threads held; a place in the queue for each ask
    try:
        ids = burst(env, 910_000)
        kinds = {iid: c.body["type"] for iid, c in (await firsts(env, ids)).items()}
        assert set(kinds.values()) == {5}, kinds  # deferred: no answer could be worked out yet
        assert all(c.body["type"] == 5 for c in env.fake.calls if first(c))
        blocked.open()
        answers = await env.fake.answers(BURST, timeout=300)
        assert all(a["content"].startswith(LABEL) for a in answers)
    finally:
        blocked.open()
        await env.client.close()
        await env.fake.stop()
        pool.shutdown(wait=True)


async def test_a_full_pool_answers_each_ask_at_once_and_privately_to_ask_again(
    tmp_path: Path, make_core: MakeCore
) -> None:
    env = await start(tmp_path, make_core())
    pool = env.client.desk.pool = AnswerPool(threads=2, queue=4)
    busy = env.client.desk.core.voice.persona["busy"]
    blocked = Blocked(pool)  # every thread and queue place taken
    try:
        ids = burst(env, 920_000)
        for c in (await firsts(env, ids)).values():
            assert c.body["type"] == 4 and c.body["data"]["flags"] == 64  # at once, only the asker sees it
            assert busy in c.body["data"]["content"] + str(c.body["data"].get("embeds"))
        blocked.open()
        env.feed(command("ask", [{"type": 3, "name": "question", "value": QUESTIONS[0]}], interaction_id="930000"))
        answers = await env.fake.answers(BURST + 1, timeout=180)
        assert answers[-1]["content"].startswith(LABEL) and busy not in str(answers[-1])
    finally:
        blocked.open()
        await env.client.close()
        await env.fake.stop()
        pool.shutdown(wait=True)


def test_the_shipped_quick_is_the_one_these_tests_use() -> None:
    """The adapter tests replace QUICK (tests/adapters/conftest.py); this one reads it as shipped."""
    import ast

    from adapters.discord import client

    tree = ast.parse(Path(client.__file__).read_text(encoding="utf-8"))
    (value,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "QUICK"]
    assert ast.literal_eval(value) == SHIPPED_QUICK
