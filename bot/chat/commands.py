"""Commands as values, each with its policy beside it, and the one parser every text surface uses.

A line is a command only when it is a command word with the arguments that word takes ("who
Churchill", "help", "quote", "daily status"). Anything else is a question, including questions
that happen to begin with a command word ("Who found the diary?", "Help me understand Munich").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from rapidfuzz import fuzz

from bot.sources.timeline import parse_span

__all__ = [
    "WORDS", "About", "Another", "Ask", "Command", "Daily", "DailyAction", "Help", "Policy", "Quiz", "QuizAction",
    "Quote", "Sources", "Timeline", "Who", "parse",
]  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """What the front desk checks before a command runs, declared beside the command. Whatever a
    command's policy, a reply that is an invalid question, an error, a cooldown note or a notice is
    shown only to the caller (bot.chat.desk.PRIVATE_KINDS)."""

    cooldown: bool = False  # spends the caller's cooldown (they wait before the next one)
    private: bool = False  # only the caller sees the reply
    manage: bool = False  # only those who manage the channel, or were granted the right, may do it
    admin: bool = False  # only the workspace's admins may do it
    daily: bool = False  # needs daily posts configured; else the persona says they are not
    quiz: bool = False  # needs the quiz's store configured; else the persona says it is not


_OPEN = Policy()
_PRIVATE = Policy(private=True)


@dataclass(frozen=True)
class Ask:
    """A question for the sources."""

    question: str
    private: bool = False  # the asker asked that only they see the answer (Discord's `private` option)
    name: ClassVar[str] = "ask"

    @property
    def policy(self) -> Policy:
        return Policy(cooldown=True, private=self.private)


@dataclass(frozen=True)
class Another:
    """The next passage: after the conversation turn `turn` (the key a button carries), or, with no
    key, after the caller's last answered question in this conversation."""

    turn: str = ""
    name: ClassVar[str] = "another"
    policy: ClassVar[Policy] = Policy(cooldown=True, private=True)  # shows only to whoever clicks


@dataclass(frozen=True)
class Who:
    person: str
    name: ClassVar[str] = "who"
    policy: ClassVar[Policy] = Policy(cooldown=True)


@dataclass(frozen=True)
class Quote:
    name: ClassVar[str] = "quote"
    policy: ClassVar[Policy] = _OPEN


@dataclass(frozen=True)
class Sources:
    name: ClassVar[str] = "sources"
    policy: ClassVar[Policy] = _OPEN


@dataclass(frozen=True)
class About:
    name: ClassVar[str] = "about"
    policy: ClassVar[Policy] = _PRIVATE


@dataclass(frozen=True)
class Help:
    name: ClassVar[str] = "help"
    policy: ClassVar[Policy] = _PRIVATE


class DailyAction(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    STATUS = "status"
    PREVIEW = "preview"
    GRANT = "grant"  # let `user` manage daily posts in the workspace (admins only)
    REVOKE = "revoke"


@dataclass(frozen=True)
class Daily:
    """A daily-quotation command for the caller's channel; `time` and `zone` as typed (may be empty);
    `user` the platform's id of whoever `grant` or `revoke` names ("" when none could be read), or
    `typed` the name as typed after an @ when it came as plain text (Slack's /maisky without escaping
    sends "@teacher", not a mention): the platform looks it up, if it can."""

    action: DailyAction = DailyAction.STATUS
    time: str = ""
    zone: str = ""
    user: str = ""
    typed: str = ""

    @property
    def name(self) -> str:
        return f"daily {self.action}"

    @property
    def policy(self) -> Policy:
        """Every daily command is private and needs daily posts; changing them needs the right to
        manage them, and granting that right needs a workspace admin."""
        manage = self.action in (DailyAction.SUBSCRIBE, DailyAction.UNSUBSCRIBE)
        admin = self.action in (DailyAction.GRANT, DailyAction.REVOKE)
        return Policy(private=True, manage=manage, admin=admin, daily=True)


class QuizAction(StrEnum):
    ASK = "ask"  # a question for the channel (or the open one again)
    ANSWER = "answer"  # a typed answer: a name, a year, or an option's letter
    CHOOSE = "choose"  # an option button: `token` names the question, `option` the choice
    STOP = "stop"
    SCORES = "scores"


@dataclass(frozen=True)
class Quiz:
    """A quiz command for the caller's channel."""

    action: QuizAction = QuizAction.ASK
    answer: str = ""
    token: str = ""
    option: int = -1

    @property
    def name(self) -> str:
        return "quiz" if self.action is QuizAction.ASK else f"quiz {self.action}"

    @property
    def policy(self) -> Policy:
        """A new question spends the cooldown; a wrong or unclear answer is a notice, so only the one
        who gave it sees the reply."""
        return Policy(cooldown=self.action is QuizAction.ASK, quiz=True)


@dataclass(frozen=True)
class Timeline:
    """The dated passages in order; `span` a year, a decade or a range as typed ("" for all)."""

    span: str = ""
    name: ClassVar[str] = "timeline"
    policy: ClassVar[Policy] = _OPEN


Command = Ask | Another | Who | Quote | Sources | About | Help | Daily | Quiz | Timeline

# One builder per command word: the argument text -> the command, or None when the line does not
# have the shape of that command (then it is a question). `knows(name)` says whether the sources
# know a person by that name.
Builder = Callable[[str, Callable[[str], bool]], Command | None]


def _bare(command: Command) -> Builder:
    """A command that takes no argument: with one, the line is a question."""
    return lambda arg, knows: None if arg else command


def _ask(arg: str, knows: Callable[[str], bool]) -> Command:
    return Ask(arg) if arg else Help()


def _who(arg: str, knows: Callable[[str], bool]) -> Command | None:
    """`who NAME`: a name is a few words, never a question, and either known to the sources or written
    like a name ("who Zorro" still gets the list of people; "who found the diary" is a question)."""
    if not arg:
        return Help()
    words = arg.split()
    if arg.endswith("?") or len(words) > 4:
        return None
    if knows(arg) or all(w[:1].isupper() for w in words):
        return Who(arg)
    return None


_DAILY_ACTIONS = {
    "subscribe": DailyAction.SUBSCRIBE, "on": DailyAction.SUBSCRIBE, "start": DailyAction.SUBSCRIBE,
    "unsubscribe": DailyAction.UNSUBSCRIBE, "off": DailyAction.UNSUBSCRIBE, "stop": DailyAction.UNSUBSCRIBE,
    "status": DailyAction.STATUS, "preview": DailyAction.PREVIEW,
    "grant": DailyAction.GRANT, "revoke": DailyAction.REVOKE,
}  # fmt: skip
# A person named in a command: a Slack mention <@U123> or <@U123|name>, a Discord one <@123> or <@!123>,
# or a bare id (Slack's U.../W..., Discord's snowflake). Only the id is kept, so no reply can ping.
_PERSON = re.compile(r"<@!?([A-Z0-9]{2,24}|\d{15,21})(?:\|[^>]{0,80})?>|([UW][A-Z0-9]{2,24}|\d{15,21})")
# A name typed after @ (a display name may have spaces): never one of the words that address everyone.
_TYPED = re.compile(r"@([^\s<>@][^<>@]{0,79})")
_EVERYONE = frozenset({"everyone", "channel", "here"})


def _daily(arg: str, knows: Callable[[str], bool]) -> Command | None:
    """`daily [ACTION] [HH:MM] [Area/City]`, time and zone in either order."""
    words = arg.split()
    if not words:
        return Daily(DailyAction.STATUS)
    action = _DAILY_ACTIONS.get(words[0].lower())
    rest = words[1:]
    if action in (DailyAction.GRANT, DailyAction.REVOKE):
        typed = _TYPED.fullmatch(" ".join(rest))
        if typed and len(rest) <= 4:  # "@teacher", "@Jane Doe": a name to look up, never anyone at all
            name = typed[1].strip()
            return Daily(action, typed="" if name.casefold() in _EVERYONE else name)
        if len(rest) != 1:
            return None if len(rest) > 1 else Daily(action)  # "daily grant" alone: the desk says how
        person = _PERSON.fullmatch(rest[0])
        return Daily(action, user=(person.group(1) or person.group(2)) if person else "")
    if action is None or len(rest) > 2 or (rest and action is not DailyAction.SUBSCRIBE):
        return None  # "daily life in London?" is a question
    time = next((w for w in rest if any(c.isdigit() for c in w) and "/" not in w), "")
    zone = next((w for w in rest if w != time), "")
    return Daily(action, time, zone)


def _answer(arg: str, knows: Callable[[str], bool]) -> Command | None:
    """`answer NAME-OR-YEAR`: a few words, never a question ("answer me this: why…?" is one)."""
    if not arg or arg.endswith("?") or len(arg.split()) > 6:
        return None
    return Quiz(QuizAction.ANSWER, answer=arg)


def _quiz(arg: str, knows: Callable[[str], bool]) -> Command | None:
    """`quiz`, `quiz stop`, `quiz scores`, `quiz answer NAME-OR-YEAR`."""
    first, _, rest = arg.partition(" ")
    match first.lower():
        case "":
            return Quiz()
        case "stop" | "end" if not rest.strip():
            return Quiz(QuizAction.STOP)
        case "scores" | "score" if not rest.strip():
            return Quiz(QuizAction.SCORES)
        case "answer" | "guess":
            return _answer(rest.strip(), knows)
    return None


def _timeline(arg: str, knows: Callable[[str], bool]) -> Command | None:
    """`timeline [YEAR | DECADE | RANGE]`; a line with no year in it ("timeline of the war?") is a
    question, and one with a year the timeline cannot read gets the timeline's own notice."""
    if parse_span(arg) is not None or (any(c.isdigit() for c in arg) and len(arg.split()) <= 3):
        return Timeline(arg)
    return None


# The command words every text surface understands. Adding a command: its value above (with its
# policy), a builder here, and its handler registered in bot.chat.desk.FrontDesk.
WORDS: Mapping[str, Builder] = {
    "ask": _ask,
    "another": _bare(Another()),
    "more": _bare(Another()),
    "who": _who,
    "quote": _bare(Quote()),
    "sources": _bare(Sources()),
    "about": _bare(About()),
    "help": _bare(Help()),
    "?": _bare(Help()),
    "daily": _daily,
    "quiz": _quiz,
    "answer": _answer,
    "timeline": _timeline,
}
_TYPO = 75  # a lone word this close to a command word is a mistyped command: it gets the help


def parse(line: str, knows: Callable[[str], bool] = lambda name: False) -> Command:
    """A line of text as a command; a question unless it has the exact shape of a command."""
    text = line.strip()
    if not text:
        return Help()
    first, _, rest = text.partition(" ")
    word, arg = first.lower(), rest.strip()
    if not arg and word not in WORDS:
        word = word.rstrip("?!.") or word  # "Sources?" asks for the sources
    build = WORDS.get(word)
    if build is not None:
        command = build(arg, knows)
        if command is not None:
            return command
    elif not arg and (word.startswith(("-", "/")) or any(fuzz.ratio(word, w) >= _TYPO for w in WORDS if len(w) > 1)):
        return Help()
    return Ask(text)
