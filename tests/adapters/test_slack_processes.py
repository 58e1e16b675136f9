"""`maisky slack http` as several processes on one socket (HTTP_PROCESSES): every process takes
requests and answers them, each answer sent once; a stop signal to the first stops them all, and the
others stop on their own when the first is killed."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest

from bot.errors import ConfigError
from bot.ops.settings import Settings
from tests.adapters.processes import START, Process, base_env, free_port, kill, launch, stop, wait_for_line
from tests.adapters.slack_fakes import SECRET, FakeSlack, slash

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the HTTP processes are forked")

TOKEN = "xoxb-1111-2222-processes"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.close()


def children(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc: every thread's children)."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def gone(pid: int, timeout: float = START) -> bool:
    """Whether `pid` has ended (or is a zombie nobody reaped yet) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)  # a poll interval
    return False


def start(fake: FakeSlack, tmp_path: Path, processes: int = 2) -> tuple[Process, int]:
    port = free_port()
    env = base_env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url, HOST="127.0.0.1",
                   PORT=str(port), MAISKY_DB=str(tmp_path / "p.sqlite3"), MAISKY_COOLDOWN="0",
                   HTTP_PROCESSES=str(processes))  # fmt: skip
    proc = launch("slack", [sys.executable, "-m", "adapters.cli", "slack", "http"], env, tmp_path)
    wait_for_line(proc, r"ready: Slack over HTTP .*2 processes")
    wait_for_line(proc, r"HTTP process 2 of 2 \(pid \d+\) ready")
    return proc, port


def answered_while_paused(paused: int, url: str, fake: FakeSlack, user: str) -> None:
    """With the process `paused` stopped (SIGSTOP), a slash command is still acknowledged and answered."""
    os.kill(paused, signal.SIGSTOP)
    try:
        assert slash(url, fake, "Was Eden made of iron?", user=user) == (200, "")
        assert "soft clay" in json.dumps(fake.wait_for(f"/response/{user}")[0].body)
    finally:
        os.kill(paused, signal.SIGCONT)


def test_every_process_takes_requests_and_each_answer_is_sent_once(fake: FakeSlack, tmp_path: Path) -> None:
    proc, port = start(fake, tmp_path)
    first = proc.popen.pid
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        other = int(wait_for_line(proc, r"HTTP process 2 of 2 \(pid (\d+)\) ready").group(1))
        assert other in children(first)
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as resp:
            report = json.loads(resp.read())  # whichever process took it: its database and answer process
        assert report.get("database") == report.get("answers") == "ok"
        answered_while_paused(first, url, fake, "UOTHER")  # only the other can take it, answer it and send it
        answered_while_paused(other, url, fake, "UFIRST")  # and the other way round
        for n in range(8):  # both running: each request answered once, whichever takes it
            assert slash(url, fake, "What did you think of Chamberlain?", user=f"UBOTH{n}")[0] == 200
        for n in range(8):
            fake.wait_for(f"/response/UBOTH{n}")
        assert stop(proc) == 0, proc.text()[-3000:]
        assert gone(other)
    finally:
        kill(proc)
    for user in ("UOTHER", "UFIRST", *(f"UBOTH{n}" for n in range(8))):
        assert fake.count(f"/response/{user}") == 1, user
    log = proc.text()
    assert log.count("ready: Slack over HTTP") == 1
    stops = [line for line in log.splitlines() if "stopped on SIGTERM" in line]
    assert len(stops) == 2, log[-3000:]  # one line each
    assert any("1 other HTTP process(es) stopped" in line for line in stops)
    assert any("HTTP process 2 of 2" in line for line in stops)


def test_the_others_stop_when_the_first_is_killed(fake: FakeSlack, tmp_path: Path) -> None:
    proc, _ = start(fake, tmp_path)
    try:
        other = int(wait_for_line(proc, r"HTTP process 2 of 2 \(pid (\d+)\) ready").group(1))
        answers = children(other)  # its own answer process
        assert answers
        proc.popen.kill()  # kill -9: no word to the others
        proc.popen.wait()
        assert gone(other), "the other HTTP process went on without the first"
        assert all(gone(pid) for pid in answers)
    finally:
        kill(proc)
    assert "the first HTTP process is gone; stopping" in proc.text()


def test_a_ctrl_c_to_the_whole_group_stops_every_process_once(fake: FakeSlack, tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches every process of the group: only the first acts on it, and the
    others stop when it tells them (a second signal would have stopped them without their drain)."""
    proc, _ = start(fake, tmp_path)
    try:
        other = int(wait_for_line(proc, r"HTTP process 2 of 2 \(pid (\d+)\) ready").group(1))
        os.kill(other, signal.SIGINT)  # as the terminal sends it to each process of the group
        proc.popen.send_signal(signal.SIGINT)
        assert proc.popen.wait(timeout=START) == 0, proc.text()[-3000:]
        assert gone(other)
    finally:
        kill(proc)
    log = proc.text()
    assert "second SIGINT" not in log and "second SIGTERM" not in log
    assert "stopped on SIGINT" in log and "HTTP process 2 of 2" in log


@pytest.mark.parametrize("value", ["0", "65", "two"])
def test_http_processes_out_of_range_is_named(value: str) -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "HTTP_PROCESSES": value})
    with pytest.raises(ConfigError, match="HTTP_PROCESSES"):
        settings.slack(mode="http")
