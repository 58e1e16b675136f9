"""bot/ops/doctor.py: the platform-free checks (settings, database, subscribed channels) and the table."""

from __future__ import annotations

import importlib.util
import socket
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

from adapters.discord import checks as discord_checks
from adapters.slack import checks as slack_checks
from bot.errors import ConfigError
from bot.ops.doctor import (
    Finding,
    Place,
    Reach,
    Trouble,
    advice,
    check_database,
    check_places,
    check_settings,
    healthy,
    table,
)
from bot.ops.settings import Settings
from bot.ops.store import MIGRATIONS, Store


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'maisky.sqlite3'}"


def test_settings_problems_are_rows_naming_the_variable() -> None:
    found, settings = check_settings({"MAISKY_COOLDOWN": "soon", "SLACK_BOT_TOKEN": "xoxp-user"}, dotenv=None)
    assert settings is None  # and still every problem in one pass, the front end's too
    assert [(f.subject, f.ok) for f in found] == [
        ("MAISKY_COOLDOWN", False),
        ("SLACK_BOT_TOKEN", False),
        ("SLACK_SIGNING_SECRET", False),
    ]
    found, _ = check_settings({"LOG_LEVEL": "LOUD", "SLACK_BOT_TOKEN": "xoxb-1", "PORT": "abc"}, dotenv=None)
    assert {f.subject for f in found if not f.ok} == {"LOG_LEVEL", "PORT", "SLACK_SIGNING_SECRET"}
    found, settings = check_settings({"SLACK_BOT_TOKEN": "xoxp-user"}, dotenv=None)
    assert settings is not None
    bad = [f for f in found if not f.ok]
    assert {f.subject for f in bad} == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}
    assert all(f.fix for f in bad)


def test_settings_with_no_platform_are_the_console_only() -> None:
    found, settings = check_settings({}, dotenv=None)
    assert settings is not None and healthy(found)
    assert "console" in found[-1].detail


def test_database_current_with_its_subscriptions(tmp_path: Path) -> None:
    store = Store(_url(tmp_path))
    store.subscribe("slack", "C1", "T1", "09:00", "UTC", "U1", 0.0)
    store.subscribe("discord", "5000", "400", "09:00", "UTC", "U1", 0.0)
    store.subscribe("slack", "COFF", "T1", "09:00", "UTC", "U1", 0.0)
    store.unsubscribe("slack", "COFF")
    found, places = check_database(_url(tmp_path))
    assert healthy(found), found
    assert f"schema version {len(MIGRATIONS)}" in found[0].detail
    assert places == [Place("slack", "T1", "C1"), Place("discord", "400", "5000")]


def test_database_not_created_yet_is_fine_and_not_created_by_the_check(tmp_path: Path) -> None:
    found, places = check_database(_url(tmp_path))
    assert healthy(found) and places == []
    assert not (tmp_path / "maisky.sqlite3").exists()


def test_database_with_an_old_schema_says_how_to_upgrade(tmp_path: Path) -> None:
    Store(_url(tmp_path))
    with sqlite3.connect(tmp_path / "maisky.sqlite3") as conn:
        conn.execute("DELETE FROM maisky_schema")
        conn.execute("INSERT INTO maisky_schema VALUES (?)", (len(MIGRATIONS) - 1,))
    found, _ = check_database(_url(tmp_path))
    assert not healthy(found)
    assert "this code needs" in found[0].detail and "upgrades the schema" in found[0].fix


def test_database_newer_than_the_code(tmp_path: Path) -> None:
    Store(_url(tmp_path))
    with sqlite3.connect(tmp_path / "maisky.sqlite3") as conn:
        conn.execute("INSERT INTO maisky_schema VALUES (?)", (len(MIGRATIONS) + 1,))
    found, _ = check_database(_url(tmp_path))
    assert not healthy(found) and "newer" in found[0].detail


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_database_is_a_row_not_a_traceback() -> None:
    found, places = check_database(f"postgresql://maisky:secret-pw@127.0.0.1:{_closed_port()}/maisky")
    assert places == []
    assert [(f.area, f.subject, f.ok) for f in found] == [("database", "connection", False)]
    assert "cannot reach" in found[0].detail and "DATABASE_URL" in found[0].fix
    assert "secret-pw" not in table(found)


class _Probe:
    platform = "slack"

    def __init__(self, reaches: dict[str, Reach]) -> None:
        self.reaches = reaches

    def account(self) -> list[Finding]:
        return []

    def reach(self, place: Place) -> Reach:
        return self.reaches[place.channel]

    def advice(self, reach: Reach) -> tuple[str, str] | None:
        return slack_checks.advice(reach)  # a Slack deployment's probe words its troubles so

    def close(self) -> None:
        pass


def test_each_channel_is_judged_from_the_platforms_facts() -> None:
    probe = _Probe({"C1": Reach(), "C2": Reach(Trouble.GONE), "C3": Reach(Trouble.NOT_MEMBER, private=True)})
    places = [Place("slack", "T1", c) for c in ("C1", "C2", "C3")] + [
        Place("discord", "1", "2"),
        Place("console", "local", "x"),
    ]
    found = check_places(places, {"slack": probe})
    assert [(f.subject, f.ok) for f in found] == [
        ("slack C1 (T1)", True), ("slack C2 (T1)", False), ("slack C3 (T1)", False), ("discord 2 (1)", False),
    ]  # fmt: skip
    assert "/invite @Maisky" in found[2].fix
    assert "not configured" in found[3].detail


@pytest.mark.parametrize("trouble", [t for t in Trouble if t is not Trouble.NONE])
@pytest.mark.parametrize("platform", [slack_checks, discord_checks])
def test_every_trouble_has_advice(platform: ModuleType, trouble: Trouble) -> None:
    """Each platform words its own troubles (adapters/*/checks.py); the doctor words the rest."""
    reach = Reach(trouble, ("send_messages",), detail="boom")
    what, fix = platform.advice(reach) or advice(reach)
    assert what and fix


def test_missing_discord_permission_is_named() -> None:
    what, fix = discord_checks.advice(Reach(Trouble.MISSING, ("send_messages", "embed_links"))) or ("", "")
    assert "send_messages, embed_links" in what and "send_messages, embed_links" in fix


def test_table_shows_problems_with_their_fix_and_sums_up() -> None:
    rows = [
        Finding("settings", "Slack", True, "set"),
        Finding("slack", "scopes", False, "missing: chat:write.public", "add it and reinstall the app"),
    ]
    text = table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["CHECK", "SUBJECT", "STATUS", "DETAIL"]
    assert any("FAIL" in line and "chat:write.public" in line for line in lines)
    assert "fix: add it and reinstall the app" in text
    assert lines[-1] == "1 problem to fix"
    assert table(rows[:1]).splitlines()[-1] == "all is well"


def test_names_and_reasons_from_the_database_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """Red team: a channel, workspace and pause reason kept in the database reach the terminal through
    doctor's table. Their control characters (an escape sequence that clears the screen or sets the
    window title, a carriage return and line feed that start a forged "all is well" line, a bell, a
    right-to-left override) are written out, never sent to the terminal."""
    store = Store(_url(tmp_path))
    hostile = "C1\x1b]0;pwned\x07\r\nall is well\u202e"
    sub = store.subscribe("slack", hostile, "T\x1b[2J", "09:00", "UTC", "U1", 0.0)
    store.pause(sub.id, "gone\x1b[8m\rhidden\x9b31m\x00")
    found, places = check_database(_url(tmp_path))
    assert places[0].channel == hostile  # kept as it came
    text = table(found + check_places(places, {}))
    assert not [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c == "\u202e"], text
    lines = text.splitlines()
    assert lines[-1] == "1 problem to fix" and lines.count("all is well") == 0
    assert "\\x1b]0;pwned\\x07" in text and "\\x1b[8m" in text  # what was there, shown as escapes


def test_a_broken_corpus_is_named(seeds_copy: Path) -> None:
    from bot.ops.doctor import check_corpus

    _, settings = check_settings({"MAISKY_SEEDS": str(seeds_copy)}, dotenv=None)
    assert settings is not None
    assert healthy(check_corpus(settings))
    victim = next(seeds_copy.glob("*.toml"))
    victim.write_text(victim.read_text() + "\n[[passages]]\nid = 3\n")
    (found,) = check_corpus(settings)
    assert not found.ok and victim.name in found.detail


def test_sqlite_on_heroku_and_a_bad_url_are_named(tmp_path: Path) -> None:
    from bot.ops.doctor import check_storage

    _, settings = check_settings({"DYNO": "web.1", "MAISKY_DB": str(tmp_path / "m.sqlite3")}, dotenv=None)
    assert settings is not None
    found, _ = check_storage(settings)
    assert not healthy(found) and "Heroku Postgres" in found[0].fix
    _, settings = check_settings({"DATABASE_URL": "mysql://x@h/db"}, dotenv=None)
    assert settings is not None
    found, _ = check_storage(settings)
    assert [(f.subject, f.ok) for f in found] == [("DATABASE_URL", False)]


def test_a_postgresql_url_without_its_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a))
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u:p@db.example/maisky"}, dotenv=None)
    with pytest.raises(ConfigError, match=r"maisky-bot\[postgres\]"):
        settings.check_database()


def test_the_documented_sample_says_what_the_doctor_says_of_this_code(tmp_path: Path) -> None:
    from bot.ops.doctor import check_corpus
    from tests.conftest import PERSONA, ROOT, SEEDS

    Store(_url(tmp_path))  # a database the bot created: its schema is this code's
    (schema,), _ = check_database(_url(tmp_path))
    (corpus,) = check_corpus(Settings(seeds_dir=SEEDS, persona_dir=PERSONA))
    sample = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8").split("$ maisky doctor", 1)[1]
    assert f"schema                ok      {schema.detail}\n" in sample
    assert f"seeds                 ok      {corpus.detail}\n" in sample
