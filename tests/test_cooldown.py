"""The per-member cooldown: in memory (the console, no database), and shared through the database by
every process of a deployment (two front desks on one database stand for two processes). The database
tests run on SQLite, and on PostgreSQL too where CI provides one."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import Maisky, Settings
from bot.chat.cooldown import Cooldown
from bot.chat.desk import Caller, FrontDesk
from bot.chat.reply import Kind
from bot.ops.bootstrap import build_daily, build_desk
from bot.ops.store import Store
from tests.conftest import PERSONA, SEEDS
from tests.daily_support import database_urls, fresh_database

NOW = dt.datetime(2026, 9, 3, 8, 0, tzinfo=dt.UTC)
ANN = Caller("slack", "T1", "C1", "UANN")
BOB = Caller("slack", "T1", "C1", "UBOB")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_request_per_window_per_key() -> None:
    clock = Clock()
    cd = Cooldown(5, clock=clock)
    assert cd.wait("alice") == 0
    assert cd.wait("bob") == 0
    clock.now += 2
    assert cd.wait("alice") == 3
    clock.now += 3
    assert cd.wait("alice") == 0


def test_zero_disables_and_memory_stays_bounded() -> None:
    assert Cooldown(0).wait("x") == 0 and Cooldown(0).wait("x") == 0
    clock = Clock()
    cd = Cooldown(1, clock=clock, max_keys=3)
    for k in "abc":
        cd.wait(k)
    clock.now += 2
    assert cd.wait("d") == 0
    assert cd.remembered() == 1


def test_only_keys_inside_their_window_are_kept() -> None:
    """A stream of new users never grows the table beyond those who asked within the window."""
    clock = Clock()
    cd = Cooldown(10, clock=clock)
    for i in range(1000):
        assert cd.wait(f"user{i}") == 0
        clock.now += 1
    assert cd.remembered() == 10
    assert cd.wait("user995") > 0  # still waiting: forgetting the old ones kept the fresh ones


def test_a_flood_within_one_window_is_bounded_too() -> None:
    clock = Clock()
    cd = Cooldown(60, clock=clock, max_keys=100)
    for i in range(1000):
        cd.wait(f"user{i}")
    assert cd.remembered() == 100
    assert cd.wait("user999") > 0 and cd.wait("user0") == 0  # the oldest were forgotten first


def test_a_clock_set_back_never_makes_a_member_wait_longer_than_the_window() -> None:
    clock = Clock()
    cd = Cooldown(5, clock=clock)
    assert cd.wait("alice") == 0
    clock.now -= 3600  # the wall clock corrected backwards by an hour
    assert cd.wait("alice") == 0


# shared through the database: two desks on one database, as two processes have


@pytest.fixture(params=database_urls())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request.param, tmp_path)


@pytest.fixture
def core(core: Maisky) -> Maisky:
    return Maisky(core.corpus, core.matcher, core.voice)


def process(core: Maisky, url: str, clock: Clock) -> FrontDesk:
    """One process's front desk: its own connection pool to the shared database, a 60-second cooldown."""
    return FrontDesk(core, clock=lambda: NOW, cooldown=Cooldown(60, clock=clock, store=Store(url)))


def test_a_member_who_asked_through_one_process_waits_on_the_other(core: Maisky, url: str) -> None:
    clock = Clock()
    a, b = process(core, url, clock), process(core, url, clock)
    assert a.handle_line("Was Eden made of iron?", ANN).reply.kind is Kind.ANSWER
    clock.now += 1
    refused = b.handle_line("Who was Churchill?", ANN)
    assert refused.reply.kind is Kind.COOLDOWN and refused.private
    assert "59" in refused.reply.narration  # the wait counts from the question process A answered
    assert a.handle_line("Kennedy", ANN).reply.kind is Kind.COOLDOWN  # and on A too, as before
    # another member, or the same member id in another workspace, is not held up
    assert b.handle_line("Who was Churchill?", BOB).reply.kind is not Kind.COOLDOWN
    elsewhere = Caller("slack", "T2", "C1", "UANN")
    assert b.handle_line("Who was Churchill?", elsewhere).reply.kind is not Kind.COOLDOWN
    assert b.handle_line("help", ANN).reply.kind is Kind.HELP  # help spends no cooldown, and is not refused
    clock.now += 59  # the window has passed, whichever process is asked next
    assert b.handle_line("Who was Churchill?", ANN).reply.kind is not Kind.COOLDOWN
    clock.now += 30
    assert a.handle_line("Kennedy", ANN).reply.kind is Kind.COOLDOWN  # B's answer started a new window
    assert a.cooldown.remembered() == b.cooldown.remembered() == 0  # nothing was counted in a process


def test_members_checking_at_once_through_two_processes_get_one_slot(url: str) -> None:
    """Sixteen checks of one member at the same moment, half through each process: exactly one goes ahead."""
    clock = Clock()
    stores = [Store(url), Store(url)]
    cooldowns = [Cooldown(60, clock=clock, store=stores[i % 2]) for i in range(16)]
    start = threading.Barrier(len(cooldowns))
    waits: list[float] = []

    def check(cd: Cooldown) -> None:
        start.wait(timeout=60)
        waits.append(cd.wait("slack:T1:UANN"))

    threads = [threading.Thread(target=check, args=(cd,)) for cd in cooldowns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert sorted(w == 0 for w in waits) == [False] * 15 + [True]


def test_rows_past_their_window_are_deleted(url: str) -> None:
    store = Store(url)
    for i in range(499):
        assert store.take_cooldown(f"slack:T1:U{i}", 100.0, 60) == 0
    assert store.take_cooldown("slack:T1:ULATE", 200.0, 60) == 0  # the 500th: those a window old go
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT key FROM cooldowns")).scalars().all() == ["slack:T1:ULATE"]


def test_a_clock_far_ahead_in_another_process_holds_no_one_longer_than_a_window(url: str) -> None:
    store = Store(url)
    assert store.take_cooldown("slack:T1:UANN", 10_000.0, 60) == 0  # a process whose clock runs hours ahead
    assert store.take_cooldown("slack:T1:UANN", 100.0, 60) == 0
    assert 0 < store.take_cooldown("slack:T1:UANN", 130.0, 60) <= 30


def test_an_unreachable_database_counts_the_cooldown_here(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'gone.sqlite3'}")
    store.engine.dispose()
    (tmp_path / "gone.sqlite3").unlink()
    (tmp_path / "gone.sqlite3").mkdir()  # the file is now a folder: nothing to write to
    clock = Clock()
    cd = Cooldown(60, clock=clock, store=store)
    assert cd.wait("slack:T1:UANN") == 0
    assert cd.wait("slack:T1:UANN") == 60


def test_the_composition_root_shares_the_cooldown_through_the_database(core: Maisky, url: str) -> None:
    store = Store(url)
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(store)
        return store

    settings = Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=3600)  # an hour: however slow the machine
    desk = build_desk(settings, core, store=open_store)
    assert desk.handle_line("Was Eden made of iron?", ANN).reply.kind is Kind.ANSWER
    assert desk.cooldown.store() is store and desk.memory.store() is store and len(opened) == 1
    other = build_desk(settings, core, store=Store(url))
    assert other.handle_line("Who was Churchill?", ANN).reply.kind is Kind.COOLDOWN
    # as `maisky slack http` and `maisky discord` build theirs: the daily posts' store is the shared one
    daily = build_daily(replace(settings, database_url=url), core)
    served = build_desk(settings, core, daily=daily)
    assert served.cooldown.store() is daily.store
    assert served.handle_line("Kennedy", ANN).reply.kind is Kind.COOLDOWN
    console = build_desk(settings, core)  # no database: counted in the process, as on the console
    assert console.cooldown.store() is None
    assert console.handle_line("Who was Churchill?", ANN).reply.kind is not Kind.COOLDOWN
    assert console.handle_line("Kennedy", ANN).reply.kind is Kind.COOLDOWN
