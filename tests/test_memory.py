"""Conversation memory: turns under short keys, in the database (shared by processes) or in memory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.chat.memory import ConversationMemory, Turn, conversation, is_key
from bot.ops.store import Store
from tests.daily_support import database_urls, fresh_database

NOW = dt.datetime(2026, 9, 3, 8, 0, tzinfo=dt.UTC)


def turn(who: str = "U1", question: str = "Kennedy", at: dt.datetime = NOW, rank: int = 0) -> Turn:
    return Turn(conversation("slack", "T1", "C1", who), question, "p.1", rank, ("kennedy",), (1939,), at)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(params=database_urls())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request.param, tmp_path)


@pytest.fixture(params=["memory", "database"])
def make(request: pytest.FixtureRequest, url: str) -> object:
    def build(clock: Clock) -> ConversationMemory:
        return ConversationMemory(Store(url) if request.param == "database" else None, clock=clock)

    return build


def test_a_turn_comes_back_by_its_key_and_as_the_last(make: object) -> None:
    clock = Clock()
    memory = make(clock)  # type: ignore[operator]
    key = memory.remember(turn())
    assert is_key(key) and len(key) <= 100
    assert memory.turn(key) == turn()
    assert memory.last(turn().conversation) == turn()
    assert memory.turn("0123456789abcdef") is None
    assert memory.last(conversation("slack", "T1", "C1", "U2")) is None  # never another member's turn
    assert memory.last(conversation("slack", "T1", "C2", "U1")) is None  # nor another channel's


def test_the_last_turn_is_the_latest_and_forgotten_after_a_silence(make: object) -> None:
    clock = Clock()
    memory = make(clock)  # type: ignore[operator]
    first = memory.remember(turn())
    clock.now += dt.timedelta(minutes=1)
    memory.remember(turn(question="Halifax", at=clock.now))
    assert memory.last(turn().conversation).question == "Halifax"  # type: ignore[union-attr]
    clock.now += dt.timedelta(minutes=31)
    assert memory.last(turn().conversation) is None  # 30 minutes of silence: a new conversation
    assert memory.turn(first) is not None  # a button's turn is kept far longer
    clock.now += dt.timedelta(days=31)
    assert memory.turn(first) is None


def test_turns_are_shared_by_processes_over_the_database(url: str) -> None:
    key = ConversationMemory(Store(url), clock=Clock()).remember(turn())
    other = ConversationMemory(Store(url), clock=Clock())  # another process, or this one restarted
    assert other.turn(key) == turn() and other.last(turn().conversation) == turn()
    assert other.remembered() == 0


def test_the_database_is_opened_on_first_use(url: str) -> None:
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(Store(url))
        return opened[-1]

    memory = ConversationMemory(open_store, clock=Clock())
    assert not opened
    memory.remember(turn())
    memory.remember(turn())
    assert len(opened) == 1


def test_an_unreachable_database_keeps_the_turn_here(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'gone.sqlite3'}")
    store.engine.dispose()
    (tmp_path / "gone.sqlite3").unlink()
    (tmp_path / "gone.sqlite3").mkdir()  # the file is now a folder: nothing to write to
    memory = ConversationMemory(store, clock=Clock())
    key = memory.remember(turn())
    assert memory.turn(key) == turn() and memory.last(turn().conversation) == turn()


def test_memory_alone_is_bounded() -> None:
    memory = ConversationMemory(size=5, clock=Clock())
    keys = [memory.remember(turn(who=f"U{i}")) for i in range(100)]
    assert memory.remembered() == 5
    assert memory.turn(keys[0]) is None and memory.turn(keys[-1]) is not None
    assert memory.last(turn("U0").conversation) is None and memory.last(turn("U99").conversation) is not None
