"""The store on its own: schema creation and upgrade under a lock with several real OS processes,
handled event ids across processes, and an old database upgraded in place. On SQLite, and on
PostgreSQL where CI provides one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.ops.store import MIGRATIONS, Status, Store
from tests.conftest import ROOT
from tests.daily_support import database_urls, fresh_database


@pytest.fixture(params=database_urls())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request.param, tmp_path)


OPEN = """
import sys, time
from bot.ops.store import Store
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # all processes open the fresh database at the same moment
store = Store(sys.argv[1])
print(store.version)
"""


def test_several_processes_creating_the_schema_at_once(url: str) -> None:
    for _ in range(3):
        if url.startswith("sqlite"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        else:
            url = fresh_database("postgresql", Path())
        start = time.time() + 2.0  # after every interpreter has started
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN, url, str(start)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err
            assert out.strip() == str(len(MIGRATIONS))
        engine = sa.create_engine(Store(url).engine.url)
        with engine.connect() as conn:
            versions = [r[0] for r in conn.execute(sa.text("SELECT version FROM maisky_schema ORDER BY version"))]
        engine.dispose()
        assert versions == list(range(1, len(MIGRATIONS) + 1))  # one row per version, however many raced


def test_a_version_1_database_is_upgraded_in_place(url: str) -> None:
    engine = sa.create_engine(Store(url).engine.url)
    with engine.begin() as conn:  # turn it back into what version 1 made
        for table in (
            "deliveries",
            "subscriptions",
            "handled_events",
            "button_questions",
            "daily_managers",
            "maisky_schema",
        ):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}" + (" CASCADE" if "postgres" in url else "")))
        conn.execute(sa.text("CREATE TABLE maisky_schema (version INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO maisky_schema VALUES (1)"))
        conn.execute(
            sa.text(
                "CREATE TABLE subscriptions (id INTEGER PRIMARY KEY, platform VARCHAR(16) NOT NULL, "
                "channel VARCHAR(64) NOT NULL, workspace VARCHAR(64) NOT NULL, post_time VARCHAR(5) NOT NULL, "
                "timezone VARCHAR(64) NOT NULL, created_by VARCHAR(64) NOT NULL, created_at FLOAT NOT NULL, "
                "active BOOLEAN NOT NULL, paused_reason TEXT, "
                "CONSTRAINT uq_subscription_channel UNIQUE (platform, channel))"
            )
        )
        conn.execute(
            sa.text("INSERT INTO subscriptions VALUES (1, 'slack', 'C1', 'T1', '09:00', 'UTC', 'U1', 0, true, NULL)")
        )
        conn.execute(
            sa.text(
                "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, subscription_id INTEGER NOT NULL REFERENCES "
                "subscriptions(id) ON DELETE CASCADE, local_date VARCHAR(10) NOT NULL, status VARCHAR(16) NOT NULL, "
                "quote_key VARCHAR(200) NOT NULL, cycle INTEGER NOT NULL, claim_token VARCHAR(36), claimed_at FLOAT, "
                "attempts INTEGER NOT NULL, next_attempt_at FLOAT NOT NULL, posted_at FLOAT, error TEXT, "
                "CONSTRAINT uq_delivery_day UNIQUE (subscription_id, local_date))"
            )
        )
        conn.execute(
            sa.text("INSERT INTO deliveries VALUES (1, 1, '2026-01-09', 'sending', 'k#0', 0, 't', 5, 0, 0, NULL, NULL)")
        )
    engine.dispose()
    store = Store(url)
    assert store.version == len(MIGRATIONS)
    (sub,) = store.due(1e9, ["slack"])  # an upgraded subscription is looked at by the next pass
    assert sub.channel == "C1" and sub.due_at == 0
    assert sub.quote_cycle == -1  # its quotation cursor is read from its history by its next post
    assert store.counts(sub.id).unconfirmed == 1  # a row left sending counts as sent, unconfirmed
    assert [d.status for _, d in store.settle_abandoned(100)] == [Status.UNCONFIRMED]
    assert store.first_time("Ev1", 0)


def test_handled_event_ids_are_shared_between_processes_and_expire(url: str) -> None:
    first, second = Store(url), Store(url)  # two processes, or one restarted
    assert first.first_time("slack:Ev1", now=1000.0, ttl=60)
    assert not second.first_time("slack:Ev1", now=1001.0, ttl=60)
    assert not first.first_time("slack:Ev1", now=1059.0, ttl=60)
    assert second.first_time("slack:Ev2", now=1001.0, ttl=60)
    assert second.first_time("slack:Ev1", now=1061.0, ttl=60)  # long gone: a new delivery with a reused id
    assert not first.first_time("slack:Ev1", now=1062.0, ttl=60)


def test_handled_event_ids_do_not_grow_without_bound(url: str) -> None:
    store = Store(url)
    for i in range(600):
        assert store.first_time(f"Ev{i}", now=float(i), ttl=10)
    with store.engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM handled_events")).scalar()
    assert left is not None and left < 200  # the expired ones were swept as new ones came


def test_postgres_gets_a_connect_timeout_unless_the_url_sets_one() -> None:
    pytest.importorskip("psycopg")
    from bot.ops.store import _engine

    for url, expected in (
        ("postgresql://u:p@db.invalid/db", 3),
        ("postgresql://u:p@db.invalid/db?connect_timeout=7", "7"),
    ):
        engine = _engine(url, connect_timeout=3)
        seen: dict[str, object] = {}

        def capture(
            dialect: object, record: object, cargs: object, cparams: dict[str, object], seen: dict[str, object] = seen
        ) -> None:
            seen.update(cparams)
            raise ConnectionRefusedError("not connecting in a test")

        sa.event.listen(engine, "do_connect", capture)

        with pytest.raises(ConnectionRefusedError):
            engine.connect()
        assert seen["connect_timeout"] == expected  # a host that never answers fails in seconds, not minutes


def test_ping_says_whether_the_database_answers(url: str, tmp_path: Path) -> None:
    store = Store(url)
    assert store.ping()
    store.engine.dispose()
    gone = Store(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    (tmp_path / "x.sqlite3").unlink()
    (tmp_path / "x.sqlite3").mkdir()  # the file is now a folder: nothing to open
    gone.engine.dispose()
    assert not gone.ping()


def test_a_database_where_tables_cannot_be_made_is_a_clear_config_error() -> None:
    from bot import ConfigError
    from tests.daily_support import POSTGRES

    if not POSTGRES:
        pytest.skip("needs the PostgreSQL server")
    with pytest.raises(ConfigError, match="DATABASE_URL: cannot set up the tables"):
        Store(f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options=-csearch_path%3Dno_such_schema")


def test_a_pooled_connection_the_server_dropped_is_replaced(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL connection idle in the pool is checked before use (as pool_pre_ping did, but
    only after it has been idle a while: see `_FRESH`), so a server restart costs no request."""
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: a SQLite file has no server to drop the connection")
    from bot.ops import store as store_module

    store = Store(url)
    store.subscribe("slack", "C1", "T1", "09:00", "UTC", "U1", 0.0)
    with store.engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    other = sa.create_engine(store.engine.url)
    with other.connect() as conn:  # as a restart or a proxy's idle timeout does, to that connection alone
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    other.dispose()
    monkeypatch.setattr(store_module, "_FRESH", 0.0)  # idle long enough to be checked
    assert store.subscription("slack", "C1") is not None
