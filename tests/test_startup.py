"""Start-up failures of the real `maisky` process: one clear message naming what is wrong, exit 1,
no traceback. Each case runs the command a user runs, against local fakes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.discord_fakes import TOKEN, FakeDiscord
from tests.adapters.slack_fakes import SECRET, FakeSlack
from tests.conftest import ROOT

PLATFORM_VARS = ("SLACK_", "DISCORD_", "DATABASE_", "MAISKY_", "PORT", "HOST", "LOG_", "HTTP_", "DYNO")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLATFORM_VARS)}
    return env | extra


def maisky(*argv: str, env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *argv],
        cwd=cwd, env=env | {"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, check=False, timeout=timeout,
    )  # fmt: skip


def assert_one_clear_message(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 1, no traceback, and stderr ends in the message naming the problem."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-3000:]
    message = proc.stderr[proc.stderr.index("maisky: ") :]
    for text in expected:
        assert text in message, message
    assert len(message.strip().splitlines()) <= 4, message  # the message, and at most a few named problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.close()


def slack_env(fake: FakeSlack, tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {"SLACK_BOT_TOKEN": "xoxb-start-1", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url,
            "HOST": "127.0.0.1", "PORT": str(free_port()), "MAISKY_DB": str(tmp_path / "maisky.sqlite3")}  # fmt: skip
    return clean_env(**(base | extra))


def test_port_in_use(fake: FakeSlack, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = maisky("slack", "http", env=slack_env(fake, tmp_path, PORT=str(port)), cwd=tmp_path)
    assert_one_clear_message(proc, f"PORT: {port} is already in use")
    assert fake.count("/chat.postMessage") == 0


@pytest.mark.parametrize(
    ("host", "named"),
    [("no-such-host.invalid", "HOST: 'no-such-host.invalid'"), ("192.0.2.1", "HOST: '192.0.2.1'"),
     ("bad host", "HOST: 'bad host' is not a host name")],
)  # fmt: skip
def test_bad_host(fake: FakeSlack, tmp_path: Path, host: str, named: str) -> None:
    proc = maisky("slack", env=slack_env(fake, tmp_path, HOST=host), cwd=tmp_path)
    assert_one_clear_message(proc, named)


def test_rejected_slack_token(fake: FakeSlack, tmp_path: Path) -> None:
    fake.errors["auth.test"] = ["invalid_auth"] * 3
    proc = maisky("slack", env=slack_env(fake, tmp_path), cwd=tmp_path)
    assert_one_clear_message(proc, "SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)")
    assert "xoxb-start-1" not in proc.stderr


def test_rejected_app_token_in_socket_mode(fake: FakeSlack, tmp_path: Path) -> None:
    fake.errors["apps.connections.open"] = ["invalid_auth"] * 3
    env = slack_env(fake, tmp_path, SLACK_APP_TOKEN="xapp-start-2")
    proc = maisky("slack", "socket", env=env, cwd=tmp_path)
    assert_one_clear_message(proc, "SLACK_APP_TOKEN was rejected by Slack (invalid_auth)")
    # only ours: not slack_sdk's raw error line ("Failed to retrieve WSS URL: ... {'ok': False, ...}") before it
    assert "Failed to retrieve WSS URL" not in proc.stderr and "'ok': False" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("url", ["http://127.0.0.1:{closed}/api/", "http://no-such-host.invalid/api/"])
def test_unreachable_slack_api(fake: FakeSlack, tmp_path: Path, url: str) -> None:
    api = url.format(closed=free_port())
    proc = maisky("slack", env=slack_env(fake, tmp_path, SLACK_API_URL=api), cwd=tmp_path)
    assert_one_clear_message(proc, f"cannot reach Slack's Web API at {api} (SLACK_API_URL)")
    assert "Failed to send a request" not in proc.stderr  # the library's retry noise stays out


def test_socket_mode_needs_its_token_and_http_its_secret(fake: FakeSlack, tmp_path: Path) -> None:
    proc = maisky("slack", "socket", env=slack_env(fake, tmp_path), cwd=tmp_path)
    assert_one_clear_message(proc, "SLACK_APP_TOKEN: missing")
    env = slack_env(fake, tmp_path, SLACK_APP_TOKEN="xapp-start-2")
    del env["SLACK_SIGNING_SECRET"]
    proc = maisky("slack", env=env, cwd=tmp_path)  # an app token alone does not pick Socket Mode
    assert_one_clear_message(proc, "SLACK_SIGNING_SECRET: missing", "maisky slack socket")


@pytest.mark.parametrize(
    ("database", "named"),
    [
        ("postgresql://u:pw-secret@127.0.0.1:abc/db", "DATABASE_URL: the port 'abc' is not a number"),
        ("postgresql://u:pw-secret@127.0.0.1:99999/db", "DATABASE_URL: the port '99999'"),
        ("mysql://u:pw-secret@127.0.0.1/db", "DATABASE_URL: 'mysql' is not a supported database"),
        ("oracle+cx://u:pw-secret@h/db", "DATABASE_URL: 'oracle+cx' is not a supported database"),
        ("postgresql://u:pw-secret@127.0.0.1/db?sslmode=sometimes", "DATABASE_URL: sslmode='sometimes'"),
        ("postgresql://u:pw-secret@127.0.0.1/db?speed=fast", "DATABASE_URL: unknown connect option 'speed'"),
        ("postgresql://u:pw-secret@127.0.0.1/db?connect_timeout=soon", "connect_timeout='soon' is not a whole"),
        ("postgresql://u:pw-secret@127.0.0.1:{closed}/db", "DATABASE_URL: cannot open the database"),
        ("sqlite:////no/such/folder/maisky.sqlite3", "DATABASE_URL: the folder /no/such/folder does not exist"),
    ],
)
def test_bad_database_url(fake: FakeSlack, tmp_path: Path, database: str, named: str) -> None:
    env = slack_env(fake, tmp_path, DATABASE_URL=database.format(closed=free_port()))
    for argv in (("slack",), ("daily", "run-due")):
        proc = maisky(*argv, env=env, cwd=tmp_path)
        assert_one_clear_message(proc, named)
        assert "pw-secret" not in proc.stderr


def test_a_postgresql_host_that_never_answers_fails_fast(fake: FakeSlack, tmp_path: Path) -> None:
    """A server that accepts the connection and then says nothing: libpq's connect_timeout ends it."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(silent.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    url = f"postgresql://u:pw-secret@127.0.0.1:{silent.getsockname()[1]}/db"
    try:
        # without a connect timeout it would wait for ever, and the run would raise TimeoutExpired here: how
        # long the process took to start and give up is the machine's business, not the test's
        proc = maisky("daily", "run-due", env=slack_env(fake, tmp_path, DATABASE_URL=url, DATABASE_CONNECT_TIMEOUT="2"),
                      cwd=tmp_path, timeout=300)  # fmt: skip
    finally:
        stop.set()
        for conn in held:
            conn.close()
        silent.close()
    assert_one_clear_message(proc, "DATABASE_URL: cannot open the database", "timeout")  # libpq's timeout ended it


def test_corrupt_sqlite_file(fake: FakeSlack, tmp_path: Path) -> None:
    (tmp_path / "broken.sqlite3").write_bytes(b"this is not a database, it is a shopping list\n" * 50)
    env = slack_env(fake, tmp_path, MAISKY_DB=str(tmp_path / "broken.sqlite3"))
    assert_one_clear_message(maisky("slack", env=env, cwd=tmp_path), "MAISKY_DB:", "is not a SQLite database")


def test_sqlite_file_the_bot_cannot_write(fake: FakeSlack, tmp_path: Path) -> None:
    db = tmp_path / "kept.sqlite3"
    env = slack_env(fake, tmp_path, MAISKY_DB=str(db))
    assert maisky("daily", "run-due", env=env, cwd=tmp_path).returncode == 0  # creates it
    if os.geteuid() == 0:  # root writes through file modes: make it immutable instead
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(db)], check=False).returncode:
            pytest.skip("running as root where chattr +i is unavailable")
    else:
        db.chmod(0o444)
    try:
        proc = maisky("slack", env=env, cwd=tmp_path)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(db)], check=False)
        db.chmod(0o644)
    assert_one_clear_message(proc, "MAISKY_DB:", "is read-only")


def test_state_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a folder")
    env = clean_env(DISCORD_TOKEN=TOKEN, MAISKY_STATE_DIR=str(tmp_path / "state"))
    for argv in (("discord",), ("discord", "sync")):
        assert_one_clear_message(maisky(*argv, env=env, cwd=tmp_path), "MAISKY_STATE_DIR:", "is a file, not a folder")


@pytest.mark.parametrize(("name", "value", "named"), [
    ("LOG_LEVEL", "chatty", "LOG_LEVEL: 'chatty' is not one of"), ("LOG_FORMAT", "xml", "LOG_FORMAT: 'xml'"),
    ("HTTP_IDLE_TIMEOUT", "forever", "HTTP_IDLE_TIMEOUT: 'forever' is not a whole number"),
    ("HTTP_MAX_BODY_BYTES", "10", "HTTP_MAX_BODY_BYTES: 10 is not between"),
    ("SLACK_MODE", "carrier-pigeon", "SLACK_MODE: 'carrier-pigeon' is not http or socket"),
])  # fmt: skip
def test_bad_operational_settings(fake: FakeSlack, tmp_path: Path, name: str, value: str, named: str) -> None:
    assert_one_clear_message(maisky("slack", env=slack_env(fake, tmp_path, **{name: value}), cwd=tmp_path), named)


async def run_async(*argv: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", *argv, cwd=cwd, env=env | {"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode or 0, out.decode(), err.decode()


async def discord_case(tmp_path: Path, fail: dict[str, list[tuple[int, dict[str, object]]]] | None = None,
                       **extra: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    fake = FakeDiscord(fail=fail or {})
    await fake.start()
    try:
        env = clean_env(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=fake.base, DISCORD_GATEWAY_URL=fake.gateway,
                        MAISKY_STATE_DIR=str(tmp_path / "state"), MAISKY_DB=str(tmp_path / "d.sqlite3"))  # fmt: skip
        code, out, err = await run_async("discord", env=env | extra, cwd=tmp_path)
    finally:
        await fake.stop()
    return subprocess.CompletedProcess(["maisky", "discord"], code, out, err)


async def test_rejected_discord_token(tmp_path: Path) -> None:
    proc = await discord_case(tmp_path, fail={"/users/@me": [(401, {"message": "401: Unauthorized", "code": 0})]})
    assert_one_clear_message(proc, "DISCORD_TOKEN was rejected by Discord")
    assert TOKEN not in proc.stderr


async def test_unreachable_discord_gateway(tmp_path: Path) -> None:
    gateway = f"ws://127.0.0.1:{free_port()}/"
    proc = await discord_case(tmp_path, DISCORD_GATEWAY_URL=gateway)
    assert_one_clear_message(proc, f"cannot reach the Discord gateway at {gateway} (DISCORD_GATEWAY_URL)")


async def test_unreachable_discord_api(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}/api/v10"
    proc = await discord_case(tmp_path, DISCORD_API_BASE=base, DISCORD_GATEWAY_URL="")
    assert_one_clear_message(proc, f"{base} (DISCORD_API_BASE)")


def test_heroku_with_sqlite_warns_that_subscriptions_would_vanish(fake: FakeSlack, tmp_path: Path) -> None:
    env = slack_env(fake, tmp_path, DYNO="web.1")
    for argv in (("daily", "run-due"), ("db", "upgrade")):
        proc = maisky(*argv, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "Heroku wipes at every restart" in proc.stderr and "DATABASE_URL" in proc.stderr
    assert "Heroku wipes" not in maisky("daily", "run-due", env=slack_env(fake, tmp_path), cwd=tmp_path).stderr
