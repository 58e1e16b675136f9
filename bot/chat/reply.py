"""The platform-neutral reply every surface marks up, with its layout words, lettered options and buttons.

Its parts, the persona's words to lay them out with, its lettered choices and its buttons (which
replies get which, and the values they carry); and the mention guard."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from bot.chat.reading import Reading
from bot.search.matcher import Match, MatchResult

__all__ = [
    "LETTERS",
    "Action",
    "ActionKind",
    "Citation",
    "Kind",
    "Quotation",
    "Reply",
    "Words",
    "neutralise",
    "read_option",
]

LETTERS = "ABCDEFGHIJ"  # quiz options are lettered in text, so no meaning rests on a button's place
__all__ = ["Citation", "Kind", "Quotation", "Reply", "inert_name", "neutralise"]


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
class Words:
    """The persona's words for laying a reply out (persona.toml's [layout]): every surface uses these."""

    content_note: str = ""
    quoted: str = ""
    source: str = ""
    another: str = ""
    passage: str = ""  # "Passage {id}"


class ActionKind(StrEnum):
    ANOTHER = "another"  # the next passage for the same question; the value is the conversation turn's key
    SOURCE = "source"  # opens the citation's URL; the value is the URL
    OPTION = "option"  # a quiz option; the value names the open question and the option ("token:n")


@dataclass(frozen=True)
class Action:
    """A button: what it does, its label in the persona's words, and the value it carries."""

    kind: ActionKind
    label: str
    value: str


def read_option(value: str) -> tuple[str, int] | None:
    """The open question and the option an OPTION action's value names; None if it names none."""
    token, _, option = value.partition(":")
    return (token, int(option)) if token.isdigit() and option.isdigit() else None


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
    search: MatchResult | None = None  # the matcher's whole result behind an answer or decline (`--explain`)
    reading: Reading | None = None  # how the desk read the question: alone or as a follow-up (`--explain`)
    turn: str = ""  # the conversation turn this answer recorded (bot.chat.memory): what "Another passage" carries
    words: Words = Words()  # the persona's layout words (the voice fills them in)

    @property
    def answered(self) -> bool:
        return self.kind in (Kind.ANSWER, Kind.WHO, Kind.QUOTE) and self.citation is not None

    @property
    def lettered(self) -> tuple[str, ...]:
        """A quiz question's options as lettered lines ("A. Winston Churchill"), readable without buttons."""
        return tuple(f"{LETTERS[n]}. {choice}" for n, choice in enumerate(self.choices))

    @property
    def passage_label(self) -> str:
        """The passage shown, named in the persona's words ("" when none is cited)."""
        return self.words.passage.format(id=self.citation.passage_id) if self.citation else ""

    @property
    def actions(self) -> tuple[Action, ...]:
        """The reply's buttons, decided here for every surface: an answer offers another passage (when
        its turn was remembered) and its source, a who reply its source, a quiz question its options."""
        found: list[Action] = []
        if self.citation and self.kind in (Kind.ANSWER, Kind.WHO):
            if self.kind is Kind.ANSWER and self.turn:  # "another" re-asks the question; a who reply has none
                found.append(Action(ActionKind.ANOTHER, self.words.another, self.turn))
            found.append(Action(ActionKind.SOURCE, self.words.source, self.citation.url))
        if self.choices and self.token:
            found += [Action(ActionKind.OPTION, line, f"{self.token}:{n}") for n, line in enumerate(self.lettered)]
        return tuple(found)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ZWSP = "\u200b"


def neutralise(text: str) -> str:
    """Make user text inert on every platform: no pings, no Slack controls, no control characters.

    A zero-width space after "@" stops Discord's @everyone/@here and user pings; one after "<" stops
    Slack's <!channel>, <@U…> and Discord's <@id>, <#id>, <@&role> forms.
    """
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    return text.replace("@", "@" + _ZWSP).replace("<", "<" + _ZWSP)


# Look-alikes for the characters a link needs (Slack links "www.x.y" and "x.com" as well as "https://").
_UNLINK = str.maketrans({".": "\u2024", ":": "\u2236", "/": "\u2215"})


def inert_name(name: str) -> str:
    """A member's display name as plain text on every platform: neutralised, and with look-alikes for
    the dots, colons and slashes that would let Slack or Discord turn it into a link."""
    return neutralise(name).translate(_UNLINK)
