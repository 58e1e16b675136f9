"""Per-user cooldown shared by the chat front ends."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["Cooldown"]


class Cooldown:
    """Allows one request per `seconds` per key; thread-safe, clock injected for tests.

    Only keys still inside their window are kept, oldest first, so each call forgets the expired
    ones at the front; beyond `max_keys` at once (more than the bot can answer in a window) the
    oldest are forgotten early, so memory stays bounded whatever the number of users."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def wait(self, key: str) -> float:
        """Seconds `key` must still wait; 0 means go ahead (and the wait starts now)."""
        if self.seconds <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.seconds:
                return self.seconds - (now - last)
            self._last[key] = now
            self._last.move_to_end(key)
            kept = self._last
            while kept and (len(kept) > self._max_keys or now - next(iter(kept.values())) >= self.seconds):
                kept.popitem(last=False)
            return 0.0

    def remembered(self) -> int:
        """How many keys are remembered (those still inside their window)."""
        with self._lock:
            return len(self._last)
