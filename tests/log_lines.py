"""Waiting for our own log lines in pytest's caplog: a line written by another thread (bolt's
listeners, the answer pool, discord.py's tasks) is an event to wait for, never something to
sleep for and then assert."""

from __future__ import annotations

import asyncio
import time

import pytest

__all__ = ["awaited_log", "wait_for_log"]


def _found(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def _missing(caplog: pytest.LogCaptureFixture, text: str, timeout: float) -> str:
    return f"no log line with {text!r} in {timeout:.0f} s: {[r.getMessage() for r in caplog.records][-50:]}"


def wait_for_log(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 180) -> list[str]:
    """The log lines containing `text`, once there is one."""
    deadline = time.monotonic() + timeout
    while not (found := _found(caplog, text)):
        assert time.monotonic() < deadline, _missing(caplog, text, timeout)
        time.sleep(0.02)  # a poll interval
    return found


async def awaited_log(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 180) -> list[str]:
    """`wait_for_log` inside an event loop, which keeps running (the line may come from one of its tasks)."""
    deadline = time.monotonic() + timeout
    while not (found := _found(caplog, text)):
        assert time.monotonic() < deadline, _missing(caplog, text, timeout)
        await asyncio.sleep(0.02)  # a poll interval
    return found
