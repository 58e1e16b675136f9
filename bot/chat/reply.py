"""The platform-neutral reply every front end formats for itself, and the mention guard."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from bot.search.matcher import Match

__all__ = ["Citation", "Kind", "Quotation", "Reply", "neutralise"]


class Kind(StrEnum):
    ANSWER = "answer"
    CLOSEST = "closest"  # not an answer: the passage nearest the question, said honestly and cited
    DECLINE = "decline"
    QUOTE = "quote"
    WHO = "who"
    SOURCES = "sources"
    ABOUT = "about"
    HELP = "help"
    INVALID = "invalid"
    ERROR = "error"
    COOLDOWN = "cooldown"
    NOTICE = "notice"  # a short message in the persona's words: daily-post settings, refusals
    QUIZ = "quiz"  # a quiz question, its reveal, or the scores
    TIMELINE = "timeline"  # dated passages in order, one line each


@dataclass(frozen=True)
class Citation:
    title: str
    author: str
    publication: str
    date: str  # ISO date of publication
    url: str
    passage_id: str
    paragraph: int
    line: str  # the citation as the persona words it


@dataclass(frozen=True)
class Quotation:
    text: str  # verbatim from seeds/, possibly its opening words only
    speaker: str
    context: str
    line: str  # the attribution as the persona words it


@dataclass(frozen=True)
class Reply:
    kind: Kind
    label: str
    disclosure: str
    narration: str
    passage: str = ""  # the passage's text, verbatim
    passage_by: str = ""  # whose text the passage is
    evidence: str = ""  # the sentences of the passage that answer (the reader's best window), when not all of it
    quotations: tuple[Quotation, ...] = ()
    citation: Citation | None = None
    suggestions: tuple[str, ...] = ()
    items: tuple[str, ...] = ()  # lines of a list reply (sources, people)
    question: str = ""  # the user's question, neutralised
    matches: tuple[Match, ...] = ()  # ranked passages behind an answer
    rank: int = 0  # which of the matches this reply shows
    note: str = ""  # a curator's content note about the passage, shown before it
    choices: tuple[str, ...] = ()  # a quiz question's options, in order (buttons, or lettered lines)
    token: str = ""  # what an option button sends back: the open question it answers

    @property
    def answered(self) -> bool:
        return self.kind in (Kind.ANSWER, Kind.WHO, Kind.QUOTE) and self.citation is not None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ZWSP = "\u200b"


def neutralise(text: str) -> str:
    """Make user text inert on every platform: no pings, no Slack controls, no control characters.

    A zero-width space after "@" stops Discord's @everyone/@here and user pings; one after "<" stops
    Slack's <!channel>, <@U…> and Discord's <@id>, <#id>, <@&role> forms.
    """
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    return text.replace("@", "@" + _ZWSP).replace("<", "<" + _ZWSP)
