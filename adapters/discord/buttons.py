"""The "Another passage" button. Its custom_id (100 characters at most) carries a key for the
question and the rank to show; the question itself is kept by that key in a question book: the
store where there is one (it survives restarts and is shared by processes), else memory."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import discord

from bot.chat.commands import Another, Quiz, QuizAction

if TYPE_CHECKING:
    from adapters.discord.client import MaiskyClient

__all__ = ["AnotherPassage", "MemoryBook", "QuestionBook", "QuestionStore", "QuizOption", "StoreBook", "question_key"]


def question_key(question: str) -> str:
    """A short key for a question: the same question always has the same key."""
    return hashlib.sha256(question.encode()).hexdigest()[:16]


class QuestionBook(Protocol):
    def remember(self, key: str, question: str) -> None: ...

    def recall(self, key: str) -> str | None: ...


@runtime_checkable
class QuestionStore(Protocol):
    """What the daily-post store offers for buttons (bot.ops.store.Store)."""

    def remember_question(self, key: str, question: str, now: float, ttl: float = ...) -> None: ...

    def question(self, key: str, now: float) -> str | None: ...


class StoreBook:
    """Questions kept in the store, so a button answers after a restart and in any process."""

    def __init__(self, store: QuestionStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def remember(self, key: str, question: str) -> None:
        self.store.remember_question(key, question, self.clock())

    def recall(self, key: str) -> str | None:
        return self.store.question(key, self.clock())


class MemoryBook:
    """Questions held in memory, the most recent `size` of them."""

    def __init__(self, size: int = 10_000) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def remember(self, key: str, question: str) -> None:
        with self._lock:
            self._items[key] = question
            self._items.move_to_end(key)
            if len(self._items) > self._size:
                self._items.popitem(last=False)

    def recall(self, key: str) -> str | None:
        with self._lock:
            return self._items.get(key)


class AnotherPassage(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"maisky:another:(?P<key>[0-9a-f]{16}):(?P<rank>[0-9]{1,3})",
):
    """The next-best passage for the same question, shown only to whoever clicks."""

    def __init__(self, key: str, rank: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Another passage", style=discord.ButtonStyle.secondary, custom_id=f"maisky:another:{key}:{rank}"
            )
        )
        self.key, self.rank = key, rank

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnotherPassage:
        return cls(match["key"], int(match["rank"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: MaiskyClient = interaction.client
        question = await client.recall(self.key)
        if question is None:
            await client.send_expired(interaction)
        else:
            await client.answer(interaction, Another(question, self.rank))


class QuizOption(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"maisky:quiz:(?P<token>[0-9]{1,18}):(?P<option>[0-9])",
):
    """One option of a quiz question; its custom_id names the question, so a click on an old
    question's button finds that question closed."""

    def __init__(self, token: str, option: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=(label or str(option))[:80], style=discord.ButtonStyle.secondary,
                custom_id=f"maisky:quiz:{token}:{option}",
            )
        )  # fmt: skip
        self.token, self.option = token, option

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> QuizOption:
        return cls(match["token"], int(match["option"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: MaiskyClient = interaction.client
        await client.answer(interaction, Quiz(QuizAction.CHOOSE, token=self.token, option=self.option))
