"""The long-running processes as they run for real: ready line, /healthz, JSON logs with request ids,
no secret in any log line, and a graceful stop on SIGTERM that lets a daily send finish (once)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest

from bot.ops.settings import default_http_processes
from bot.ops.store import Status, Store
from tests.adapters.discord_fakes import TOKEN, FakeDiscord, command
from tests.adapters.processes import START, base_env, free_port, kill, launch, stop, wait_for_line, wait_for_port
from tests.adapters.slack_fakes import SECRET, FakeSlack, post, slash
from tests.daily_support import POSTGRES, fresh_database

BOT_TOKEN = "xoxb-1111-2222-scanmeifyoucan"
MARK = "UNSIGNED-BODY-MARKER-91c2"


def due_now(store: Store, platform: str, channel: str) -> None:
    """A subscription whose time was a minute ago (UTC), made yesterday."""
    now = dt.datetime.now(dt.UTC)
    slot = (now - dt.timedelta(minutes=1)).strftime("%H:%M")
    store.subscribe(platform, channel, "W1", slot, "UTC", "U1", (now - dt.timedelta(days=1)).timestamp())


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of the log, each of which must be one JSON object."""
    entries = []
    for line in text.splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict) and {"time", "level", "logger", "message"} <= set(entry), line
        entries.append(entry)
    return entries


def assert_no_secret(text: str, secrets: list[str]) -> None:
    for n, line in enumerate(text.splitlines(), 1):
        for secret in secrets:
            assert secret not in line, f"log line {n} holds a secret: {line[:300]}"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"] if POSTGRES else ["sqlite"])
def test_slack_http_process_end_to_end(fake: FakeSlack, tmp_path: Path, kind: str) -> None:
    """Ready line, /healthz, JSON logs with request ids, no secret in any line at DEBUG, and SIGTERM in
    the middle of a daily send: the send completes, once, and the process exits 0 with one stop line."""
    db = fresh_database(kind, tmp_path)
    due_now(Store(db), "slack", "CDAILY")
    fake.delays["chat.postMessage"] = 3  # SIGTERM arrives while the daily post is on the wire
    port = free_port()
    env = base_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url,
                   HOST="127.0.0.1", PORT=str(port), DATABASE_URL=db, LOG_FORMAT="json", LOG_LEVEL="DEBUG",
                   MAISKY_COOLDOWN="0")  # fmt: skip
    proc = launch("slack", [sys.executable, "-m", "adapters.cli", "slack", "http"], env, tmp_path)
    try:
        wait_for_port(port, proc.popen)
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as resp:
            assert resp.status == 200
            # the same checks from every HTTP process (two by default on two cores or more)
            processes = {"processes": "ok"} if default_http_processes() > 1 else {}
            assert json.loads(resp.read()) == {"database": "ok", "scheduler": "ok", "answers": "ok", **processes}
        url = f"http://127.0.0.1:{port}/slack/events"
        assert slash(url, fake, "Was Eden made of iron?", user="UASK")[0] == 200
        assert post(url, urlencode({"text": MARK}), "application/x-www-form-urlencoded", secret="wrong")[0] == 401
        assert "soft clay" in json.dumps(fake.wait_for("/response/UASK")[0].body)
        fake.wait_for("/chat.postMessage")  # the daily post has reached Slack, which takes 3 s to answer
        assert stop(proc) == 0, proc.text()[-3000:]
    finally:
        kill(proc)
    err, out = proc.text(), proc.stdout()
    assert fake.count("/chat.postMessage") == 1
    sub = Store(db).subscription("slack", "CDAILY")
    assert sub is not None
    (delivery,) = Store(db).deliveries(sub.id)
    assert delivery.status == Status.POSTED  # the send finished before the process left

    entries = json_lines(err)
    messages = [e["message"] for e in entries]
    assert sum(m.startswith("ready: Slack over HTTP") for m in messages) == 1
    stops = [m for m in messages if m.startswith("stopped on SIGTERM")]
    assert len(stops) == 1 and "daily scheduler stopped" in stops[0]
    refused = [e for e in entries if e["message"].startswith("refused a Slack request")]
    assert len(refused) == 1 and refused[0]["request_id"]
    # the answer is worked out in the answer pool and sent by a sending thread, still under the request id
    answering = [e for e in entries if "/response/UASK" in e["message"]]
    assert answering and all(e.get("request_id") for e in answering)
    assert len({e["request_id"] for e in answering}) == 1 and answering[0]["request_id"] != refused[0]["request_id"]
    assert not any("As you gave `client` as well" in m for m in messages)  # no warning on every start
    # DEBUG really was on, so the scan below read the libraries' chattiest lines too (how many there are is
    # theirs to change: not counted)
    assert any(e["level"] == "DEBUG" for e in entries)
    password = [Store(db).engine.url.password] if kind == "postgresql" else []
    # CI's role password is "maisky", which every logger name ("maisky.slack") spells: scan for it only
    # when it is not part of the bot's own name
    assert_no_secret(err + out, [BOT_TOKEN, SECRET, MARK, *[p for p in password if p and p not in "maisky.slack"]])


def test_run_due_posts_and_logs_no_secret_at_debug(fake: FakeSlack, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'due.sqlite3'}"
    due_now(Store(db), "slack", "CDUE")
    env = base_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=fake.api_url, DATABASE_URL=db, LOG_LEVEL="DEBUG",
                   LOG_FORMAT="json")  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "adapters.cli", "daily", "run-due"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "posted 1" in proc.stdout and fake.count("/chat.postMessage") == 1
    assert any(e["level"] == "DEBUG" for e in json_lines(proc.stderr))  # every line JSON, DEBUG on
    assert_no_secret(proc.stdout + proc.stderr, [BOT_TOKEN])


def test_socket_mode_process_is_ready_answers_and_stops_on_sigterm(fake: FakeSlack, tmp_path: Path) -> None:
    from tests.adapters.test_slack_socket_mode import FakeSocket  # Slack's side of Socket Mode, on 127.0.0.1

    envelope = {
        "envelope_id": "env-run", "type": "slash_commands", "accepts_response_payload": True,
        "payload": {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/maisky", "api_app_id": "A1",
                    "text": "Was Eden made of iron?", "response_url": f"{fake.url}/response/socket", "trigger_id": "t"},
    }  # fmt: skip
    ws = FakeSocket(envelope)
    fake.ws_url = f"ws://127.0.0.1:{ws.port}/link"
    env = base_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-1-scan-app-token", SLACK_API_URL=fake.api_url,
                   MAISKY_DB=str(tmp_path / "s.sqlite3"), SLACK_MODE="socket", LOG_LEVEL="DEBUG")  # fmt: skip
    proc = launch("socket", [sys.executable, "-m", "adapters.cli", "slack"], env, tmp_path)
    try:
        assert ws.acked.wait(START), "the envelope was never acknowledged"
        assert "soft clay" in json.dumps(fake.wait_for("/response/socket")[0].body)
        # the envelope is answered by the handler's threads, which may be before the main thread installed
        # its SIGTERM handler and said it is ready: a SIGTERM before that would kill it
        wait_for_line(proc, "ready: Slack over Socket Mode")
        assert stop(proc) == 0, proc.text()[-3000:]
    finally:
        kill(proc)
        ws.close()
    err, out = proc.text(), proc.stdout()
    assert err.count("ready: Slack over Socket Mode") == 1 and err.count("stopped on SIGTERM") == 1
    assert_no_secret(err + out, [BOT_TOKEN, "xapp-1-scan-app-token"])


async def test_discord_process_is_ready_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    fake.events.append(
        ("INTERACTION_CREATE", command("ask", [{"type": 3, "name": "question", "value": "Was Eden made of iron?"}]))
    )
    env = base_env(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=fake.base, DISCORD_GATEWAY_URL=fake.gateway,
                   MAISKY_STATE_DIR=str(tmp_path / "state"), MAISKY_DB=str(tmp_path / "d.sqlite3"),
                   LOG_LEVEL="DEBUG", LOG_FORMAT="json")  # fmt: skip
    proc = launch("discord", [sys.executable, "-m", "adapters.cli", "discord"], env, tmp_path)
    try:
        await fake.answers(timeout=START)
        # discord.py calls itself ready a while after the gateway's READY (it waits for servers), which
        # may be after the answer: stopping before the ready line would lose the line
        await asyncio.to_thread(wait_for_line, proc, "ready: Discord as Maisky")
        assert await asyncio.to_thread(stop, proc) == 0, proc.text()[-3000:]
    finally:
        kill(proc)
        await fake.stop()
    log = proc.text()
    messages = [e["message"] for e in json_lines(log)]
    assert sum(m.startswith("ready: Discord as Maisky") for m in messages) == 1
    assert sum(m.startswith("stopped on SIGTERM") for m in messages) == 1
    assert not any("PyNaCl" in m or "davey" in m for m in messages)  # no warning on every start
    assert_no_secret(log + proc.stdout(), [TOKEN])


def test_oauth_process_starts_without_a_bot_token_and_serves_the_install_page(tmp_path: Path) -> None:
    """Many workspaces: no single bot token to check at start-up; the install page passes the guard."""
    port = free_port()
    env = base_env(SLACK_CLIENT_ID="123.456", SLACK_CLIENT_SECRET="client-secret-scan", SLACK_SIGNING_SECRET=SECRET,
                   HOST="127.0.0.1", PORT=str(port), MAISKY_DB=str(tmp_path / "o.sqlite3"))  # fmt: skip
    proc = launch("oauth", [sys.executable, "-m", "adapters.cli", "slack", "http"], env, tmp_path)
    try:
        wait_for_port(port, proc.popen)
        with urlopen(f"http://127.0.0.1:{port}/slack/install", timeout=60) as resp:
            assert resp.status == 200 and "oauth/v2/authorize" in resp.read().decode()
        wait_for_line(proc, "ready: Slack over HTTP")  # any process may have served the page before it
        assert stop(proc) == 0, proc.text()[-3000:]
    finally:
        kill(proc)
    err, out = proc.text(), proc.stdout()
    assert "ready: Slack over HTTP" in err and "stopped on SIGTERM" in err
    assert_no_secret(err + out, ["client-secret-scan", SECRET])


def test_a_wake_up_signal_that_comes_after_the_serving_loop_is_over_does_not_kill_the_process() -> None:
    """The drain wakes the serving loop with a SIGTERM of its own; one that arrives after the loop ended
    (even once Python has put the default action back at exit) must leave the exit code 0, not -15."""
    script = (
        "import os, signal\n"
        "from adapters.lifecycle import Stopper\n"
        "stopper = Stopper(1.0)\n"
        "stopper.install()\n"
        "stopper.begin('SIGTERM')\n"
        "assert stopper.done.wait(60)\n"
        "stopper.settle()  # as serve_http does once its loop returned\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "print('still here')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=base_env(), capture_output=True, text=True,
                          timeout=START, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "still here", done.stderr
