"""Running the Discord client until stopped: one "ready" line, and a bounded graceful stop.

On SIGTERM or SIGINT: the daily scheduler stops after the send in progress (its posts go through
this event loop, so the loop keeps running meanwhile), the interactions and mentions being
answered finish, then the client closes its gateway and HTTP connections, and one line says how
it went. A second signal stops at once.

The client tells this module about its scheduler through two attributes, `daily_stop` (an Event
the scheduler thread watches) and `daily_thread` (the thread, or None).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from typing import Any

__all__ = ["serve_until_stopped"]

log = logging.getLogger("maisky.discord")

# discord.py's names for the tasks that answer one event: slash commands, buttons, messages.
_HANDLERS = ("CommandTree-invoker", "discord-ui-view-dispatch", "discord-ui-dynamic", "discord.py: on_message")


def _answering(task: asyncio.Task[Any]) -> bool:
    return task.get_name().startswith(_HANDLERS) and not task.done()


def _halt_daily(client: Any, deadline: float) -> str | None:
    stop: threading.Event | None = getattr(client, "daily_stop", None)
    thread: threading.Thread | None = getattr(client, "daily_thread", None)
    if stop is None:
        return None
    stop.set()
    if thread is None:
        return None
    thread.join(max(0.0, deadline - time.monotonic()))
    return "daily scheduler still sending at the deadline" if thread.is_alive() else "daily scheduler stopped"


async def _announce(client: Any) -> None:
    await client.wait_until_ready()
    me = client.user
    shards = ""
    if getattr(client, "shard_count", None):  # an auto-sharded client: which of the shards this process runs
        ids = getattr(client, "shard_ids", None) or range(client.shard_count)
        shards = f", shard(s) {','.join(map(str, ids))} of {client.shard_count}"
    log.info("ready: Discord as %s (id %s) in %d server(s)%s", me, getattr(me, "id", "?"), len(client.guilds), shards)


async def serve_until_stopped(client: Any, token: str, timeout: float) -> str:
    """Run `client.start(token)` until a stop signal; returns the stop line ('' if it ended by itself)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    received: list[str] = []
    runner = asyncio.create_task(client.start(token), name="maisky-discord-client")

    def on_signal(sig: signal.Signals) -> None:
        if stopping.is_set():
            log.warning("second %s: stopping now, without waiting", sig.name)
            logging.shutdown()
            os._exit(1)
        received.append(sig.name)
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    announce = asyncio.create_task(_announce(client))
    waiter = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()  # a login or connection failure surfaces here, for the caller to explain
            return ""
        started = time.monotonic()
        deadline = started + timeout
        notes = []
        halted = await asyncio.to_thread(_halt_daily, client, deadline)
        if halted:
            notes.append(halted)
        answering = [t for t in asyncio.all_tasks() if _answering(t)]
        if answering:
            _, late = await asyncio.wait(answering, timeout=max(0.0, deadline - time.monotonic()))
            finished = len(answering) - len(late)
            notes.append(f"{finished} answer(s) in flight finished" + (f", {len(late)} cut off" if late else ""))
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
        took = time.monotonic() - started
        return f"stopped on {received[0]} after {took:.1f} s: {'; '.join(notes) or 'nothing was in flight'}"
    finally:
        for task in (announce, waiter):
            task.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
