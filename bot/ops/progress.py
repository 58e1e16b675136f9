"""Progress of long work: what it does and how many at once, then how far it is, so a first run never looks hung.

On a terminal a bar, elsewhere a line in the log.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

__all__ = ["Bar", "Lines", "Progress", "for_stream"]

log = logging.getLogger(__name__)


class Progress:
    """Silent; the base of the reports below. `start` says what is about to happen and how many
    items, `step` counts items done, `finish` closes the report."""

    def start(self, total: int, what: str) -> None:
        """`what`: a phrase that follows a count ("sentences and words to encode ...")."""

    def step(self, count: int) -> None:
        """`count` more items are done."""

    def finish(self) -> None:
        """All done (or given up)."""


class Bar(Progress):
    """A bar redrawn in place on a terminal (stderr): count, share, items per second."""

    def __init__(self, stream: TextIO, width: int = 24, every: float = 0.1) -> None:
        self.stream = stream
        self.width = width
        self.every = every
        self._lock = threading.Lock()
        self._total = self._done = 0
        self._what = ""
        self._started = self._drawn = 0.0

    def start(self, total: int, what: str) -> None:
        with self._lock:
            self._total, self._done, self._what = total, 0, what
            self._started = time.monotonic()
            self.stream.write(f"maisky: {total:,} {what}\n")
            self._draw(force=True)

    def step(self, count: int) -> None:
        with self._lock:
            self._done = min(self._total, self._done + count)
            self._draw()

    def finish(self) -> None:
        with self._lock:
            self._draw(force=True)
            took = time.monotonic() - self._started
            self.stream.write(f" done in {took:.1f} s\n")
            self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < self.every:
            return
        self._drawn = now
        share = self._done / self._total if self._total else 1.0
        filled = round(share * self.width)
        self.stream.write(
            f"\r  [{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%}  {self._done:,}/{self._total:,}"
            f"{_left(self._done, self._total, now - self._started)}   "
        )
        self.stream.flush()


class Lines(Progress):
    """One line when the work starts and one when it ends (and one every `every` seconds between),
    to a stream, or to the log when no stream is given (servers: the log's format and filters)."""

    def __init__(self, stream: TextIO | None = None, every: float = 30.0) -> None:
        self.stream = stream
        self.every = every
        self._lock = threading.Lock()
        self._total = self._done = 0
        self._started = self._said = 0.0

    def _say(self, text: str) -> None:
        if self.stream is None:
            log.info("%s", text)
        else:
            self.stream.write(f"maisky: {text}\n")
            self.stream.flush()

    def start(self, total: int, what: str) -> None:
        with self._lock:
            self._total, self._done = total, 0
            self._started = self._said = time.monotonic()
            self._say(f"{total:,} {what}")

    def step(self, count: int) -> None:
        with self._lock:
            self._done = min(self._total, self._done + count)
            now = time.monotonic()
            if now - self._said >= self.every:
                self._said = now
                self._say(f"  {self._done:,}/{self._total:,} done{_left(self._done, self._total, now - self._started)}")

    def finish(self) -> None:
        with self._lock:
            self._say(f"  {self._done:,}/{self._total:,} done in {time.monotonic() - self._started:.1f} s")


def _left(done: int, total: int, seconds: float) -> str:
    """ ", about 40 s left", once there is a rate to go by."""
    if done <= 0 or done >= total or seconds < 1:
        return ""
    return f", about {(total - done) * seconds / done:,.0f} s left"


def for_stream(stream: TextIO | None = None) -> Progress:
    """A bar where `stream` (default stderr) is a terminal, else plain lines on it."""
    out = stream if stream is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    return Bar(out) if isatty is not None and isatty() else Lines(out)
