"""Real `maisky` processes in tests: started with a clean environment, their log in a file, and
waited on by events (a port that listens, a line the process logged), never by a fixed sleep.

Every wait is generous (a loaded 2-core machine starts a process in tens of seconds) and ends as
soon as its event comes. A process is stopped only once it has said it is ready: a SIGTERM that
comes before the process installed its handler, or before it logged its ready line, is a race the
test would lose on a faster machine.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

__all__ = [
    "START", "Process", "base_env", "free_port", "kill", "launch", "stop", "wait_for_line", "wait_for_port",
]  # fmt: skip

START = 300.0  # seconds a process may take to start (or to log a line) on a loaded machine
APP_NAMES = ("SLACK_", "DISCORD_", "DATABASE_", "MAISKY_", "PORT", "HOST", "LOG_", "HTTP_", "DYNO")


def base_env(**extra: str) -> dict[str, str]:
    """This environment without any of the app's settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(APP_NAMES)}
    return env | {"PYTHONPATH": str(ROOT)} | extra


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _said(proc: subprocess.Popen[Any]) -> str:
    """What a process that has exited said on stderr (or on its combined output), for a failure message."""
    out, err = proc.communicate()
    said = err if err is not None else out
    if said is None:
        return "(its output went to a file)"
    return (said.decode(errors="replace") if isinstance(said, bytes) else said)[-3000:]


def wait_for_port(port: int, proc: subprocess.Popen[Any], timeout: float = START) -> None:
    """Wait until `proc` listens on `port`; fails at once if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the process exited ({proc.returncode}) before it listened:\n{_said(proc)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)  # a poll interval, not a wait that decides anything
    raise AssertionError(f"the process never listened on port {port} in {timeout:.0f} s")


@dataclass
class Process:
    """A running process whose stderr (its log) and stdout each go to a file (a file, not a pipe: a
    chatty process never blocks on a full pipe, and the test can read the log while the process runs)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    out: Path

    def text(self) -> str:
        """The log (stderr) so far."""
        return self.log.read_text(errors="replace")

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")


def launch(name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Process:
    """Start `argv` in `cwd/name/`, its stderr in `cwd/name/log` and its stdout in `cwd/name/out`."""
    folder = cwd / name
    folder.mkdir(parents=True, exist_ok=True)
    log, out = folder / "log", folder / "out"
    with log.open("wb") as err_file, out.open("wb") as out_file:
        popen = subprocess.Popen(argv, cwd=folder, env=env, stdout=out_file, stderr=err_file)
    return Process(name, popen, log, out)


def stop(process: Process, timeout: float = START) -> int:
    """SIGTERM, and wait for the process to leave (killed, and the test failed, if it never does)."""
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
    try:
        return process.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.popen.kill()
        process.popen.wait()
        raise AssertionError(f"{process.name} did not stop on SIGTERM:\n{process.text()[-3000:]}") from None


def kill(process: Process) -> None:
    """For a test's `finally`: a process still running is killed."""
    if process.popen.poll() is None:
        process.popen.kill()
        process.popen.wait()


def wait_for_line(process: Process, pattern: str, timeout: float = START) -> re.Match[str]:
    """Wait until the process has logged a line matching `pattern` (its log file is the event);
    fails at once if the process exits without it."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, process.text())
        if found:
            return found
        if process.popen.poll() is not None:  # read once more: the line may have come just before it exited
            found = re.search(pattern, process.text())
            if found:
                return found
            raise AssertionError(f"{process.name} exited without logging {pattern!r}:\n{process.text()[-3000:]}")
        if time.monotonic() > deadline:
            said = process.text()[-3000:]
            raise AssertionError(f"{process.name} never logged {pattern!r} in {timeout:.0f} s:\n{said}")
        time.sleep(0.1)  # a poll interval
