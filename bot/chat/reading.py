"""Reading: how the front desk read a line, on its own or as a follow-up of the last turn (bot.chat.followup)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Move", "Reading"]


class Move(StrEnum):
    ALONE = "stands alone"
    MORE = "more on the same question"
    NEXT = "the following paragraph of the same source"
    LATER = "the next passage in time"
    EARLIER = "the passage before in time"
    WHY = "why, of the same question"
    WHO = "who, of the person just spoken of"
    SWAP = "the same question about something else"
    PRONOUN = "a pronoun, read as the person just spoken of"
    CONTEXT = "a short line, read with the question before"
    FIRST = "a follow-up with nothing to follow"


@dataclass(frozen=True)
class Reading:
    """How a line was read: the move, the question the sources were asked and a note for --explain."""

    move: Move
    question: str  # what the sources were asked (the line itself when it stands alone), or the passage shown
    note: str = ""

    @property
    def asks(self) -> bool:
        """Whether the sources were searched with `question` (not a passage shown by its place)."""
        return self.move not in (Move.NEXT, Move.LATER, Move.EARLIER, Move.WHO, Move.FIRST)

    @property
    def follows(self) -> bool:
        return self.move is not Move.ALONE
