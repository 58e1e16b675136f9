"""No setting's secret in any message or log line: every settings case below carries passwords and
tokens, and every message it produces (errors, doctor's table, log lines as the processes write them)
is scanned for them."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.errors import MaiskyError, mask_userinfo
from bot.ops import doctor
from bot.ops.logs import setup
from bot.ops.settings import Settings
from bot.ops.store import Store
from tests.conftest import ROOT


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# (variable, value, the secrets it carries)
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("DATABASE_URL", "postgresql//user:pw-secret-01@host/db", ("pw-secret-01",)),  # the ':' missing
    ("DATABASE_URL", "postgresql:/user:pw-secret-02@host/db", ("pw-secret-02",)),
    ("DATABASE_URL", "user:pw-secret-03@host/db", ("pw-secret-03",)),  # no scheme at all
    ("DATABASE_URL", "mysql://user:pw-secret-04@host/db", ("pw-secret-04",)),
    ("DATABASE_URL", "postgresql://user:pw-secret-05@host:abc/db", ("pw-secret-05",)),
    ("DATABASE_URL", "postgresql://user:pw-secret-06/db", ("pw-secret-06",)),  # the host forgotten
    ("DATABASE_URL", "postgres ql://user:pw-secret-07@host/db", ("pw-secret-07",)),
    ("DATABASE_URL", "postgresql://user:pw%40secret-08@/db", ("pw%40secret-08", "pw@secret-08")),
    ("DATABASE_URL", "postgresql://user:pw@secret-09@host/db?sslmode=sometimes", ("pw@secret-09", "secret-09")),
    ("DATABASE_URL", "postgresql://user:pw-secret-10@127.0.0.1:{closed}/db", ("pw-secret-10",)),
    ("DATABASE_URL", "postgresql://user:pw-secret-11@host/db?speed=fast", ("pw-secret-11",)),
    ("DATABASE_URL", "sqlite://user:pw-secret-12@/no/such/folder/db.sqlite3", ("pw-secret-12",)),
    ("SLACK_API_URL", "ftp://user:api-secret-13@slack.example/api/", ("api-secret-13",)),
    ("SLACK_API_URL", "https//user:api-secret-14@slack.example/api/", ("api-secret-14",)),
    ("DISCORD_API_BASE", "discord://user:d-secret-15@discord.example", ("d-secret-15",)),
    ("DISCORD_GATEWAY_URL", "http://user:g-secret-16@gateway.example", ("g-secret-16",)),
    ("HOST", "user:h-secret-17@0.0.0.0", ("h-secret-17",)),
    ("SLACK_BOT_TOKEN", "xoxp-1234567890-token-secret-18", ("xoxp-1234567890-token-secret-18",)),
    ("SLACK_APP_TOKEN", "xoxb-1234567890-token-secret-19", ("xoxb-1234567890-token-secret-19",)),
    ("DISCORD_TOKEN", "d-token-secret-20", ("d-token-secret-20",)),
    ("SLACK_SIGNING_SECRET", "signing-secret-21", ("signing-secret-21",)),
]


def _messages(env: dict[str, str], tmp_path: Path) -> list[str]:
    """Every message the settings give: each error, doctor's table, and the log lines written meanwhile."""
    said: list[str] = []
    stream = io.StringIO()

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except MaiskyError as exc:
            said.append(str(exc))
            said.extend(getattr(exc, "problems", []))
            logging.getLogger("maisky.test").error("failed", exc_info=True)

    base = {"SLACK_BOT_TOKEN": "xoxb-0000-ok", "SLACK_SIGNING_SECRET": "s" * 12, "MAISKY_STATE_DIR": str(tmp_path),
            "DISCORD_TOKEN": "a" * 24 + "." + "b" * 6 + "." + "c" * 27}  # fmt: skip
    values = base | env
    settings: list[Settings] = []
    attempt(lambda: settings.append(Settings.from_env(values, dotenv=None)))
    if settings:
        s = settings[0]
        setup("DEBUG", "text", secret_values=s.secret_values(), stream=stream)
        for call in (s.check_database, s.slack, lambda: s.slack(mode="socket"), s.discord):
            attempt(call)
        if not any("DATABASE_URL" in m for m in said) and "DATABASE_URL" in env:
            attempt(lambda: Store(s.database_url, connect_timeout=2))
        found, _ = doctor.check_storage(s)
        said.append(doctor.table(found))
    said.append(doctor.table(doctor.check_settings(values, None)[0]))
    said.append(stream.getvalue())
    logging.getLogger().handlers.clear()
    return said


@pytest.mark.parametrize(("name", "value", "secrets"), CASES, ids=[f"{c[0]}={c[1]}" for c in CASES])
def test_no_message_or_log_line_carries_a_secret(
    tmp_path: Path, name: str, value: str, secrets: tuple[str, ...]
) -> None:
    env = {name: value.format(closed=_closed_port())}
    said = _messages(env, tmp_path)
    assert said
    for message in said:
        for secret in secrets:
            assert secret not in message, (secret, message)


def test_the_configuration_error_still_says_what_is_wrong(tmp_path: Path) -> None:
    said = "\n".join(_messages({"DATABASE_URL": "postgresql//user:pw-secret-01@host/db"}, tmp_path))
    assert "DATABASE_URL: 'postgresql//[redacted]@host/db' is not a supported database" in said
    assert "postgresql://USER:PASSWORD@HOST/DB" in said  # the form to use, shown whole


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql//u:pw@h/db", "postgresql//[redacted]@h/db"),
        ("at 'u:p@ss@h:5432' now", "at '[redacted]@h:5432' now"),
        ("https://u:pw@slack.example/api/", "https://[redacted]@slack.example/api/"),
        ("write to curator@example.org", "write to curator@example.org"),  # an address, not a URL
        ("<@U123> and <!channel>", "<@U123> and <!channel>"),
        ("no url here", "no url here"),
    ],
)
def test_mask_userinfo(text: str, masked: str) -> None:
    assert mask_userinfo(text) == masked


def test_the_command_line_never_prints_the_password(tmp_path: Path) -> None:
    """The issue's own case, through the real `maisky` process: one message, exit 1, no password."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "DATABASE_", "MAISKY_"))}
    env |= {"DATABASE_URL": "postgresql//user:secret-cli-22@host/db", "SLACK_BOT_TOKEN": "xoxb-cli-1",
            "PYTHONPATH": str(ROOT)}  # fmt: skip
    for argv in (["daily", "run-due"], ["doctor"]):
        proc = subprocess.run([sys.executable, "-m", "adapters.cli", *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert "secret-cli-22" not in proc.stdout + proc.stderr
        assert "DATABASE_URL" in proc.stdout + proc.stderr
