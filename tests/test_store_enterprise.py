"""Version 7 of the schema: a subscription records the installation that serves it (Slack Enterprise
Grid). A version 6 database is upgraded in place, its rows kept as installs outside any organisation;
on SQLite, and on PostgreSQL where CI provides one."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.ops.store import MIGRATIONS, Store
from tests.daily_support import database_urls, fresh_database


@pytest.fixture(params=database_urls())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request.param, tmp_path)


def back_to_version_6(url: str) -> None:
    """What version 6 made: subscriptions without the installation columns, one subscription in it."""
    store = Store(url)
    store.subscribe("slack", "C1", "T1", "07:30", "UTC", "U1", 0.0)
    with store.engine.begin() as conn:
        for column in ("enterprise", "enterprise_install"):
            conn.execute(sa.text(f"ALTER TABLE subscriptions DROP COLUMN {column}"))
        conn.execute(sa.text("DELETE FROM maisky_schema WHERE version > 6"))
    store.engine.dispose()


def test_a_version_6_database_is_upgraded_keeping_its_rows(url: str) -> None:
    back_to_version_6(url)
    store = Store(url)
    assert store.version == len(MIGRATIONS) >= 7
    old = store.subscription("slack", "C1", "T1")
    assert old is not None and (old.post_time, old.enterprise, old.enterprise_install) == ("07:30", "", False)
    grid = store.subscribe("slack", "C2", "T3", "09:00", "UTC", "U1", 1.0, enterprise="E1")
    org = store.subscribe("slack", "C3", "T4", "09:00", "UTC", "U1", 1.0, enterprise="E2", enterprise_install=True)
    assert (grid.enterprise, grid.enterprise_install) == ("E1", False)
    assert (org.enterprise, org.enterprise_install) == ("E2", True)


def test_pausing_an_installation_pauses_only_what_it_served(url: str) -> None:
    store = Store(url)
    store.subscribe("slack", "C1", "T1", "09:00", "UTC", "U1", 0.0)  # outside any organisation
    store.subscribe("slack", "C2", "T3", "09:00", "UTC", "U1", 0.0, enterprise="E1")  # T3's own install in E1
    store.subscribe("slack", "C3", "T3", "09:00", "UTC", "U1", 0.0, enterprise="E1", enterprise_install=True)
    store.subscribe("slack", "C4", "T4", "09:00", "UTC", "U1", 0.0, enterprise="E1", enterprise_install=True)
    store.subscribe("discord", "C1", "T1", "09:00", "UTC", "U1", 0.0)
    assert store.pause_installation("slack", "org gone", enterprise="E1", workspace=None) == 2
    assert store.pause_installation("slack", "T1 gone", enterprise="", workspace="T1") == 1
    assert {(s.platform, s.channel) for s in store.active()} == {("slack", "C2"), ("discord", "C1")}
    assert {s.channel: s.paused_reason for s in store.paused()} == {"C1": "T1 gone", "C3": "org gone", "C4": "org gone"}
    store.unsubscribe("slack", "C2", "T3")  # turned off, not paused: not listed with the paused
    assert {s.channel for s in store.paused()} == {"C1", "C3", "C4"}
