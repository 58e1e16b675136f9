"""The front desk: every surface hands it a command and who is calling, and gets back the reply and
who may see it. One policy table decides which commands spend the cooldown, which replies are
private, who may manage daily posts and what to say when daily posts are not configured.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.chat.commands import (
    About,
    Another,
    Ask,
    Command,
    Daily,
    DailyAction,
    Help,
    Quiz,
    QuizAction,
    Quote,
    Sources,
    Timeline,
    Who,
    parse,
)
from bot.chat.core import Maisky
from bot.chat.reply import Kind, Reply
from bot.chat.text import clean
from bot.club.reach import Reach, Trouble

if TYPE_CHECKING:  # bot.club.daily brings SQLAlchemy, which `maisky ask` never needs
    from bot.club.daily import Daily as DailyService
    from bot.club.quiz import Quiz as QuizService

__all__ = ["POLICY", "Caller", "FrontDesk", "Outcome", "Policy", "Visibility"]


class Visibility(StrEnum):
    PUBLIC = "public"  # everyone in the channel sees the reply
    PRIVATE = "private"  # only the caller sees it


def _no() -> bool:
    return False


@dataclass(frozen=True)
class Caller:
    """Who is asking, and where. `may_manage` is whether they manage the channel, or a call that finds
    out (Slack needs a Web API call; the desk makes it only for commands that need it)."""

    platform: str  # "slack", "discord", "console"
    workspace: str  # Slack team, Discord guild ("" in a DM), "local" on the console
    channel: str
    user: str
    may_manage: bool | Callable[[], bool] = field(default=False, compare=False)
    name: str = ""  # how the platform shows the user (quiz scores); never used to decide anything
    # whether they administer the workspace (may grant others the right to manage daily posts)
    may_administer: bool | Callable[[], bool] = field(default=False, compare=False)
    # whether the bot can post in the channel, as the platform tells (None: it cannot tell; assume so)
    reach: Callable[[], Reach] | None = field(default=None, compare=False)

    def manages(self) -> bool:
        return self.may_manage() if callable(self.may_manage) else self.may_manage

    def administers(self) -> bool:
        return self.may_administer() if callable(self.may_administer) else self.may_administer

    @property
    def key(self) -> str:
        """Whose cooldown this is."""
        return f"{self.platform}:{self.workspace}:{self.user}"


@dataclass(frozen=True)
class Policy:
    cooldown: bool = False  # spends the caller's cooldown (they wait before the next one)
    private: bool = False  # only the caller sees the reply
    manage: bool = False  # only those who manage the channel, or were granted the right, may do it
    admin: bool = False  # only the workspace's admins may do it
    daily: bool = False  # needs daily posts configured; else the persona says they are not
    quiz: bool = False  # needs the quiz's store configured; else the persona says it is not


# The one policy table. Whatever a reply's command, replies of kinds in PRIVATE_KINDS are private
# too: an invalid question, an error, a cooldown note or a settings notice concern only the caller.
POLICY: Mapping[str, Policy] = {
    "ask": Policy(cooldown=True),
    "another": Policy(cooldown=True, private=True),  # "Another passage" shows only to whoever clicks
    "who": Policy(cooldown=True),
    "quote": Policy(),
    "sources": Policy(),
    "about": Policy(private=True),
    "help": Policy(private=True),
    "daily subscribe": Policy(private=True, manage=True, daily=True),
    "daily unsubscribe": Policy(private=True, manage=True, daily=True),
    "daily status": Policy(private=True, daily=True),
    "daily preview": Policy(private=True, daily=True),
    "daily grant": Policy(private=True, admin=True, daily=True),
    "daily revoke": Policy(private=True, admin=True, daily=True),
    # the quiz: a wrong or unclear answer is a notice, so only the one who gave it sees the reply
    "quiz": Policy(cooldown=True, quiz=True),
    "quiz answer": Policy(quiz=True),
    "quiz choose": Policy(quiz=True),
    "quiz stop": Policy(quiz=True),
    "quiz scores": Policy(quiz=True),
    "timeline": Policy(),
}
_ZWSP = "\u200b"
PRIVATE_KINDS = frozenset({Kind.INVALID, Kind.ERROR, Kind.COOLDOWN, Kind.NOTICE})


@dataclass(frozen=True)
class Outcome:
    """What the surface shows: the reply, who sees it, and the command it answers."""

    reply: Reply
    visibility: Visibility
    command: Command

    @property
    def private(self) -> bool:
        return self.visibility is Visibility.PRIVATE


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FrontDesk:
    """Applies the policy and calls the core. One per surface: `prefix` is how that surface writes
    a command in help ("/maisky ", "maisky ", ""), `hide` the command words it does not offer.

    `daily` is the daily-post service, or a call that builds it on first use (so a console session
    opens the database only when asked about daily posts), or None where daily posts are not set up.
    """

    def __init__(
        self,
        core: Maisky,
        daily: DailyService | Callable[[], DailyService] | None = None,
        *,
        quiz: QuizService | Callable[[], QuizService] | None = None,
        prefix: str = "",
        hide: frozenset[str] = frozenset(),
        clock: Callable[[], dt.datetime] = _utc_now,
        memory: int = 10_000,
        memory_seconds: float = 3600.0,
    ) -> None:
        self.core = core
        self._daily = daily
        self._quiz = quiz
        self.prefix = prefix
        self.hide = hide
        self.clock = clock
        # caller -> (question, rank shown, when): the least recently asked first
        self._last: OrderedDict[str, tuple[str, int, float]] = OrderedDict()
        self._memory = memory
        self._memory_seconds = memory_seconds
        self._lock = threading.Lock()

    # the calls surfaces make

    def parse(self, line: str) -> Command:
        """A line of text as a command (see bot.chat.commands.parse); people are known to the sources."""
        return parse(clean(line), knows=lambda name: bool(self.core.people(name, limit=1)))  # valid Unicode from here

    def handle_line(self, line: str, caller: Caller) -> Outcome:
        return self.handle(self.parse(line), caller)

    def handle(self, command: Command, caller: Caller) -> Outcome:
        """Apply the policy to one command and answer it; never raises (a failure is logged by the
        core and answered with the error template)."""
        policy = POLICY[command.name]
        reply = self.core.safely(lambda: self._checked(command, policy, caller))
        private = self.expects_private(command) or reply.kind in PRIVATE_KINDS
        return Outcome(reply, Visibility.PRIVATE if private else Visibility.PUBLIC, command)

    def expects_private(self, command: Command) -> bool:
        """Whether the reply will be private whatever it turns out to be (for surfaces that must
        say so before the work is done, as Discord's deferral does)."""
        return POLICY[command.name].private or (isinstance(command, Ask) and command.private)

    def daily(self) -> DailyService | None:
        """The daily-post service, built on first use; None where daily posts are not set up."""
        with self._lock:
            if callable(self._daily):
                self._daily = self._daily()
            return self._daily

    def quiz(self) -> QuizService | None:
        """The quiz service, built on first use; None where it is not set up."""
        with self._lock:
            if callable(self._quiz):
                self._quiz = self._quiz()
            return self._quiz

    # policy, then the handler

    def _checked(self, command: Command, policy: Policy, caller: Caller) -> Reply:
        if policy.daily and self.daily() is None:
            return self.core.voice.notice("daily_unavailable")
        if policy.quiz and self.quiz() is None:
            return self.core.voice.notice("quiz_unavailable")
        if policy.admin and not caller.administers():
            return self.core.voice.notice("daily_admins_only")
        if policy.manage and not (self._granted(caller) or caller.manages()):
            return self.core.voice.notice("daily_not_allowed")
        if policy.cooldown:
            waiting = self.core.gate(caller.key)
            if waiting:
                return waiting
        return self._run(command, caller)

    def _run(self, command: Command, caller: Caller) -> Reply:
        core = self.core
        match command:
            case Ask(question=question):
                return self._remember(caller, question, core.ask(question))
            case Another(question="", rank=_):
                last = self._recall(caller)
                if last is None:
                    return core.voice.notice("another_first")
                question, shown = last
                return self._remember(caller, question, core.ask(question, rank=shown + 1))
            case Another(question=question, rank=rank):
                question = question.replace(_ZWSP, "")  # a button carries the reply's neutralised question
                return self._remember(caller, question, core.ask(question, rank=rank))
            case Who(person=person):
                return core.who(person)
            case Quote():
                return core.quote(self.clock().date())
            case Sources():
                return core.sources()
            case About():
                return core.about()
            case Help():
                return self.help()
            case Daily():
                return self._daily_command(command, caller)
            case Quiz():
                return self._quiz_command(command, caller)
            case Timeline(span=span):
                return core.timeline(span)

    def help(self) -> Reply:
        """The commands this surface offers, written the way it writes them."""
        reply = self.core.help(self.prefix)
        shown = tuple(i for i in reply.items if i[len(self.prefix) :].split(" ", 1)[0].rstrip(":") not in self.hide)
        return replace(reply, items=shown)

    def _daily_command(self, command: Daily, caller: Caller) -> Reply:
        daily = self.daily()
        assert daily is not None  # the policy answered already when it is not set up
        now = self.clock()
        match command.action:
            case DailyAction.SUBSCRIBE:
                refused = self._cannot_post(caller)
                if refused is not None:
                    return refused
                return daily.subscribe(
                    caller.platform, caller.channel, caller.workspace, caller.user, command.time, command.zone, now
                )
            case DailyAction.UNSUBSCRIBE:
                return daily.unsubscribe(caller.platform, caller.channel)
            case DailyAction.STATUS:
                return daily.status(caller.platform, caller.channel, now)
            case DailyAction.PREVIEW:
                return daily.preview(caller.platform, caller.channel, now)
            case DailyAction.GRANT | DailyAction.REVOKE:
                return self._right(command, caller, daily)

    def _cannot_post(self, caller: Caller) -> Reply | None:
        """Why a subscription here would fail at its first post, with the fix; None when it would not
        (or the platform cannot tell: a passing outage must not stop a subscription)."""
        reach = caller.reach() if caller.reach is not None else Reach()
        voice = self.core.voice
        match reach.trouble:
            case Trouble.NOT_MEMBER:
                private = reach.private or caller.platform != "slack"
                return voice.notice("daily_refused_invite" if private else "daily_refused_invite_or_scope")
            case Trouble.MISSING:
                return voice.notice("daily_refused_permissions", missing=", ".join(reach.missing))
            case Trouble.ARCHIVED:
                return voice.notice("daily_refused_archived")
            case Trouble.GONE:
                return voice.notice("daily_refused_hidden")
        return None

    def _granted(self, caller: Caller) -> bool:
        """Whether an admin granted the caller the right to manage daily posts (a stored grant)."""
        daily = self.daily()
        return daily is not None and daily.granted(caller.platform, caller.workspace, caller.user)

    def _right(self, command: Daily, caller: Caller, daily: DailyService) -> Reply:
        """`daily grant|revoke PERSON`: only the person's id is shown back, so the reply mentions nobody."""
        voice = self.core.voice
        if not command.user:
            return voice.notice("daily_grant_who")
        if command.action is DailyAction.GRANT:
            daily.grant(caller.platform, caller.workspace, command.user, caller.user, self.clock())
            return voice.notice("daily_granted", user=command.user)
        if daily.revoke(caller.platform, caller.workspace, command.user):
            return voice.notice("daily_revoked", user=command.user)
        return voice.notice("daily_not_granted", user=command.user)

    def _quiz_command(self, command: Quiz, caller: Caller) -> Reply:
        quiz = self.quiz()
        assert quiz is not None  # the policy answered already when it is not set up
        now = self.clock().timestamp()
        where = (caller.platform, caller.channel)
        name = caller.name or caller.user
        match command.action:
            case QuizAction.ASK:
                return quiz.ask(*where, caller.user, now)
            case QuizAction.ANSWER:
                return quiz.answer(*where, caller.user, name, command.answer, now)
            case QuizAction.CHOOSE:
                return quiz.choose(*where, caller.user, name, command.token, command.option, now)
            case QuizAction.STOP:
                return quiz.stop(*where, now)
            case QuizAction.SCORES:
                return quiz.scores(*where)

    # "another" without a button: the caller's last answered question (its text and the rank shown,
    # not the answer: "another" asks again), for `memory_seconds` and at most `memory` callers

    def _where(self, caller: Caller) -> str:
        return f"{caller.key}:{caller.channel}"

    def _remember(self, caller: Caller, question: str, reply: Reply) -> Reply:
        if reply.kind is Kind.ANSWER:
            now = self.clock().timestamp()
            with self._lock:
                key = self._where(caller)
                self._last[key] = (question, reply.rank, now)
                self._last.move_to_end(key)
                self._forget(now)
        return reply

    def _recall(self, caller: Caller) -> tuple[str, int] | None:
        now = self.clock().timestamp()
        with self._lock:
            self._forget(now)
            last = self._last.get(self._where(caller))
        return None if last is None else last[:2]

    def remembered(self) -> int:
        """How many callers' last questions the desk holds (for "another")."""
        with self._lock:
            return len(self._last)

    def _forget(self, now: float) -> None:
        """Drop the oldest entries beyond the count and those older than `memory_seconds` (the
        oldest come first, so this stops at the first one still fresh)."""
        last = self._last
        while last and (len(last) > self._memory or now - next(iter(last.values()))[2] >= self._memory_seconds):
            last.popitem(last=False)
