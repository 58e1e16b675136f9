"""`maisky doctor` with Slack configured, against the local fake Web API: good settings, then each broken one."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from adapters.cli import main
from adapters.slack.checks import SCOPES
from bot.ops.store import Store
from tests.adapters.slack_fakes import FakeSlack
from tests.conftest import ROOT

PUBLIC = {"id": "C1", "is_channel": True, "is_private": False, "is_archived": False, "is_member": True}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    f.scopes = ",".join(sorted(SCOPES))
    f.channels["C1"] = dict(PUBLIC)
    yield f
    f.close()


@pytest.fixture
def store(fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    for name in ("SLACK_APP_TOKEN", "SLACK_MODE", "DISCORD_TOKEN", "MAISKY_DB"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'maisky.sqlite3'}"
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s3cret", "SLACK_API_URL": fake.api_url,
           "DATABASE_URL": url}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Store(url)
    s.subscribe("slack", "C1", "T1", "09:00", "UTC", "UADMIN", 0.0)
    return s


def doctor() -> tuple[int, str]:
    out = io.StringIO()
    code = main(["doctor"], out)
    return code, out.getvalue()


def row(text: str, subject: str) -> str:
    return next(line for line in text.splitlines() if subject in line)


def test_all_is_well(fake: FakeSlack, store: Store) -> None:
    code, text = doctor()
    assert code == 0, text
    assert text.splitlines()[-1] == "all is well"
    assert "ok" in row(text, "slack C1 (T1)")
    assert fake.count("/auth.test") == 1 and fake.count("/conversations.info") == 1


def test_a_token_slack_refuses(fake: FakeSlack, store: Store) -> None:
    fake.errors["auth.test"] = ["invalid_auth"]
    code, text = doctor()
    assert code == 1
    assert "FAIL" in row(text, "SLACK_BOT_TOKEN") and "invalid_auth" in text
    assert "Bot User OAuth Token" in text
    assert "xoxb-test" not in text


def test_a_missing_scope(fake: FakeSlack, store: Store) -> None:
    fake.scopes = ",".join(sorted(SCOPES - {"chat:write.public"}))
    code, text = doctor()
    assert code == 1
    assert "missing: chat:write.public" in row(text, "scopes")
    assert "reinstall the app" in text


def test_a_private_channel_the_bot_left(fake: FakeSlack, store: Store) -> None:
    fake.channels["C2"] = {"id": "C2", "is_private": True, "is_archived": False, "is_member": False}
    store.subscribe("slack", "C2", "T1", "09:00", "UTC", "UADMIN", 0.0)
    code, text = doctor()
    assert code == 1
    assert "FAIL" in row(text, "slack C2") and "/invite @Maisky" in text
    assert "ok" in row(text, "slack C1")


def test_a_public_channel_without_chat_write_public(fake: FakeSlack, store: Store) -> None:
    fake.channels["C1"] = {**PUBLIC, "is_member": False}
    assert doctor()[0] == 0  # chat:write.public lets the bot post without an invitation
    fake.scopes = ",".join(sorted(SCOPES - {"chat:write.public"}))
    code, text = doctor()
    assert code == 1 and "FAIL" in row(text, "slack C1")


def test_deleted_and_archived_channels(fake: FakeSlack, store: Store) -> None:
    store.subscribe("slack", "CGONE", "T1", "09:00", "UTC", "UADMIN", 0.0)
    fake.channels["CGONE"] = None
    fake.channels["C1"] = {**PUBLIC, "is_archived": True}
    code, text = doctor()
    assert code == 1
    assert "archived" in row(text, "slack C1") and "gone" in row(text, "slack CGONE")


def test_a_subscription_of_another_workspace(fake: FakeSlack, store: Store) -> None:
    store.subscribe("slack", "C9", "T9", "09:00", "UTC", "UADMIN", 0.0)
    code, text = doctor()
    assert code == 1 and "another workspace" in row(text, "slack C9")
    assert fake.count("/conversations.info") == 1  # only C1 was asked about


def test_a_paused_subscription_is_listed_with_its_reason_and_fix(fake: FakeSlack, store: Store) -> None:
    paused = store.subscribe("slack", "CPAUSED", "T1", "09:00", "UTC", "UADMIN", 0.0)
    store.pause(paused.id, "channel_not_found")  # as a daily run leaves it
    fake.channels["CPAUSED"] = None
    store.subscribe("slack", "COFF", "T1", "09:00", "UTC", "UADMIN", 0.0)
    store.unsubscribe("slack", "COFF", "T1")  # turned off on purpose: nothing to fix
    code, text = doctor()
    assert code == 1, text
    line = text[text.index("slack CPAUSED") :]
    assert "FAIL" in line.splitlines()[0] and "paused: channel_not_found" in line and "gone" in line
    assert "/invite @Maisky" in line and "`/maisky daily on`" in line
    assert "COFF" not in text and text.splitlines()[-1] == "1 problem to fix"
    fake.channels["CPAUSED"] = dict(PUBLIC, id="CPAUSED")  # the bot is back in the channel: still paused
    code, text = doctor()
    assert code == 1 and "the bot can post there now" in text[text.index("slack CPAUSED") :]


def test_bad_settings_are_rows_and_exit_1(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-a-user-token")
    code, text = doctor()
    assert code == 1 and "FAIL" in row(text, "SLACK_BOT_TOKEN") and "xoxb-" in text
    assert "Traceback" not in text


def test_an_unreachable_database(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://maisky:pw@127.0.0.1:9/maisky")
    code, text = doctor()
    assert code == 1 and "cannot reach the database" in row(text, "connection")


def test_the_scopes_checked_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == SCOPES
    assert "im:write" not in SCOPES  # the bot opens no conversations (im:read, mpim:read: conversations.info)


def test_socket_mode_checks_the_app_token(fake: FakeSlack, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    code, text = doctor()  # only the app token set: Socket Mode, so no signing secret is needed
    assert code == 0, text
    assert "ok" in row(text, "SLACK_APP_TOKEN") and fake.count("/apps.connections.open") == 1
    fake.errors["apps.connections.open"] = ["invalid_auth"]
    code, text = doctor()
    assert code == 1 and "FAIL" in row(text, "SLACK_APP_TOKEN")
    out = io.StringIO()
    assert main(["doctor", "--slack", "http"], out) == 1  # HTTP needs the signing secret
    assert "FAIL" in row(out.getvalue(), "SLACK_SIGNING_SECRET")
