"""Per-member cooldown shared by the chat front ends: in the database when there is one, else in memory.

Behind several processes (Slack HTTP processes behind one address, Discord shards split over processes)
a member's requests reach any of them, so the window is kept where they all see it: each check is one
atomic statement in the database (bot.ops.store.Store.take_cooldown), which takes the member's slot only
if their last use is a window old. Without a database (the console), and whenever the database cannot be
reached, the window is counted in this process, as it was before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

__all__ = ["Cooldown", "CooldownStore"]

log = logging.getLogger(__name__)


class CooldownStore(Protocol):
    """Where the last use of each key is kept across processes (bot.ops.store.Store)."""

    def take_cooldown(self, key: str, now: float, seconds: float) -> float: ...


class Cooldown:
    """Allows one request per `seconds` per key; thread-safe, clock injected for tests.

    With `store` (or a call that opens it on first use) the window is shared by every process on the
    database; the clock is then the wall clock (seconds since the epoch), the same in every process.
    In memory, only keys still inside their window are kept, oldest first, so each call forgets the
    expired ones at the front; beyond `max_keys` at once (more than the bot can answer in a window) the
    oldest are forgotten early, so memory stays bounded whatever the number of users."""

    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.time,
        max_keys: int = 10_000,
        *,
        store: CooldownStore | Callable[[], CooldownStore | None] | None = None,
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._store = store

    def store(self) -> CooldownStore | None:
        """The database's cooldowns, opened on first use; None where there is no database."""
        with self._lock:
            if callable(self._store):
                self._store = self._store()
            return self._store

    def wait(self, key: str) -> float:
        """Seconds `key` must still wait; 0 means go ahead (and the wait starts now)."""
        if self.seconds <= 0:
            return 0.0
        now = self._clock()
        store = self.store()
        if store is not None:
            try:
                return store.take_cooldown(key, now, self.seconds)
            except Exception:  # the member is still answered; the window counts in this process meanwhile
                log.exception("could not check the cooldown in the database; counting it in this process")
        with self._lock:
            last = self._last.get(key)
            if last is not None and 0 <= now - last < self.seconds:
                return self.seconds - (now - last)
            self._last[key] = now
            self._last.move_to_end(key)
            kept = self._last
            while kept and (len(kept) > self._max_keys or now - next(iter(kept.values())) >= self.seconds):
                kept.popitem(last=False)
            return 0.0

    def remembered(self) -> int:
        """How many keys this process holds itself (those still inside their window)."""
        with self._lock:
            return len(self._last)
