"""Per-user cooldown shared by the chat front ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Cooldown"]


class Cooldown:
    """Allows one request per `seconds` per key; thread-safe, clock injected for tests."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: dict[str, float] = {}
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
            if len(self._last) >= self._max_keys:  # forget the expired, so memory stays bounded
                self._last = {k: t for k, t in self._last.items() if now - t < self.seconds}
            self._last[key] = now
            return 0.0
