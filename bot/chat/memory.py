"""Conversation memory: what each conversation last asked, under short keys that buttons carry.

One turn is kept per answered question: the question, the passage shown and its rank, the people
and years it concerns. `remember` gives back a short key (it fits a Discord custom_id and a Slack
button value), `turn` reads a turn back by its key (a button click, in any process), and `last`
gives a conversation's latest turn unless the conversation has been silent too long ("another",
"more", and the follow-ups that build on what was just said).

Turns live in the database when there is one (shared by every process, kept 30 days) and in a
bounded dictionary otherwise. A conversation id is composed by `conversation()` from facts every
surface has (workspace, channel, thread, member), so context never crosses members or channels.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["KEEP", "SILENCE", "ConversationMemory", "Turn", "TurnStore", "conversation", "is_key"]

log = logging.getLogger(__name__)

SILENCE = dt.timedelta(minutes=30)  # after this long without a turn, "another" starts afresh
KEEP = dt.timedelta(days=30)  # how long a turn behind a button is kept in the database
KEY_CHARS = 16  # hex digits: 64 random bits, far within Discord's 100-character custom_id


@dataclass(frozen=True)
class Turn:
    """One answered question in a conversation."""

    conversation: str
    question: str  # as the member typed it (cleaned), never neutralised
    passage_id: str | None  # the passage shown; None when the turn showed none
    rank: int  # which of the matcher's passages was shown (0 the best)
    people: tuple[str, ...]  # people.toml ids the shown passage names or quotes
    years: tuple[int, ...]  # years the shown passage is dated in
    at: dt.datetime  # when, timezone-aware


def conversation(platform: str, workspace: str, channel: str, member: str, thread: str = "") -> str:
    """A conversation's id: one member's talk in one channel (and thread, where the platform has
    threads), so what one member asked never answers another's "more"."""
    return ":".join((platform, workspace, channel, thread, member))


def is_key(text: str) -> bool:
    """Whether `text` has the shape of a key `remember` gives (for adapters reading a button)."""
    return len(text) == KEY_CHARS and all(c in "0123456789abcdef" for c in text)


class TurnStore(Protocol):
    """Where turns are kept across processes (bot.ops.store.Store)."""

    def save_turn(self, key: str, turn: Turn) -> None: ...

    def load_turn(self, key: str, since: dt.datetime) -> Turn | None: ...

    def last_turn(self, conversation: str, since: dt.datetime) -> Turn | None: ...

    def recent_turns(self, conversation: str, since: dt.datetime, limit: int) -> list[Turn]: ...


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ConversationMemory:
    """The turns of every conversation: in `store` when given, else (and whenever the store cannot
    be reached) the latest `size` turns in this process. Thread-safe."""

    def __init__(
        self,
        store: TurnStore | Callable[[], TurnStore | None] | None = None,
        *,
        silence: dt.timedelta = SILENCE,
        keep: dt.timedelta = KEEP,
        size: int = 10_000,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._store = store
        self.silence = silence
        self.keep = keep
        self.clock = clock
        self._size = size
        self._turns: OrderedDict[str, Turn] = OrderedDict()  # key -> turn, the oldest first
        self._latest: dict[str, str] = {}  # conversation -> the key of its latest turn
        self._lock = threading.Lock()

    def store(self) -> TurnStore | None:
        """The database's turns, opened on first use (a console session opens it only when needed)."""
        with self._lock:
            if callable(self._store):
                self._store = self._store()
            return self._store

    def remember(self, turn: Turn) -> str:
        """Keep `turn` and give its key."""
        key = secrets.token_hex(KEY_CHARS // 2)
        store = self.store()
        if store is not None:
            try:
                store.save_turn(key, turn)
                return key
            except Exception:  # the answer still goes out; its button works in this process only
                log.exception("could not keep a conversation turn in the database; keeping it here")
        with self._lock:
            self._turns[key] = turn
            self._latest[turn.conversation] = key
            while len(self._turns) > self._size:
                _, old = self._turns.popitem(last=False)
                if self._latest.get(old.conversation) not in self._turns:
                    del self._latest[old.conversation]
        return key

    def turn(self, key: str) -> Turn | None:
        """The turn kept under `key`; None when unknown or older than `keep`."""
        since = self.clock() - self.keep
        with self._lock:
            here = self._turns.get(key)
        if here is not None:
            return here if here.at > since else None
        store = self.store()
        if store is None:
            return None
        try:
            return store.load_turn(key, since)
        except Exception:
            log.exception("could not read a conversation turn from the database")
            return None

    def last(self, conversation: str) -> Turn | None:
        """The conversation's latest turn; None when there is none or it is older than `silence`."""
        since = self.clock() - self.silence
        found: list[Turn] = []
        with self._lock:
            key = self._latest.get(conversation)
            if key is not None and key in self._turns:
                found.append(self._turns[key])
        store = self.store()
        if store is not None:
            try:
                stored = store.last_turn(conversation, since)
                if stored is not None:
                    found.append(stored)
            except Exception:
                log.exception("could not read a conversation's last turn from the database")
        fresh = [t for t in found if t.at > since]
        return max(fresh, key=lambda t: t.at) if fresh else None

    def recent(self, conversation: str, limit: int = 20) -> list[Turn]:
        """The conversation's latest turns since it was last silent too long, the latest first (what
        was asked already: a decline does not suggest it again)."""
        since = self.clock() - self.silence
        with self._lock:
            found = [t for t in reversed(self._turns.values()) if t.conversation == conversation and t.at > since]
        store = self.store()
        if store is not None:
            try:
                found += store.recent_turns(conversation, since, limit)
            except Exception:
                log.exception("could not read a conversation's turns from the database")
        found.sort(key=lambda t: t.at, reverse=True)
        return found[:limit]

    def remembered(self) -> int:
        """How many turns this process holds itself (bounded by `size`)."""
        with self._lock:
            return len(self._turns)
