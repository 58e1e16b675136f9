"""The front desk, the one door of every surface: a command and its caller in, a reply and its visibility out.

It applies each command's own policy (bot.chat.commands: cooldown, visibility, who may use it), then
calls the handler registered for the command's type. The answering core (bot.chat.core) is called once
per command, from the handler.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

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
from bot.chat.cooldown import Cooldown
from bot.chat.core import Maisky
from bot.chat.followup import FollowUps, Shown
from bot.chat.memory import ConversationMemory, Turn, conversation
from bot.chat.pool import AnswerPool
from bot.chat.reading import Reading
from bot.chat.reply import Kind, Reply
from bot.chat.text import entry
from bot.club.reach import Reach, Trouble

if TYPE_CHECKING:  # bot.club.daily brings SQLAlchemy, which `maisky ask` never needs
    from bot.club.daily import Daily as DailyService
    from bot.club.quiz import Quiz as QuizService

__all__ = ["PRIVATE_KINDS", "SURFACES", "Caller", "FrontDesk", "Outcome", "Surface", "Visibility"]


class Visibility(StrEnum):
    PUBLIC = "public"  # everyone in the channel sees the reply
    PRIVATE = "private"  # only the caller sees it


@dataclass(frozen=True)
class Surface:
    """What the core decides for each surface (by its platform), so that no adapter decides it: whether
    anyone there administers a workspace (else the help offers nothing only admins may do), and whether
    one member types every line (then a wrong quiz answer may be tried again: no one else is there)."""

    admins: bool = True
    alone: bool = False


# The console is one person at a terminal: no workspace to administer, no one else to leave a quiz to.
SURFACES: Mapping[str, Surface] = {"console": Surface(admins=False, alone=True)}


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
    thread: str = ""  # the thread the call came in, where the platform has threads (Slack)
    me: tuple[str, ...] = ()  # the bot's own ids there (user, managed role): its mentions are no part of a line
    direct: bool = False  # a direct message with the bot (Discord's DMs): no channel a daily post could go to
    # the installation that serves the workspace, where there can be several (Slack Enterprise Grid): the
    # organisation's id ("" outside one) and whether the app was installed for the whole organisation
    enterprise: str = ""
    enterprise_install: bool = False
    # the members a name typed after @ may mean, as the platform finds them (None: it could not look);
    # absent where the platform sends real mentions
    find_member: Callable[[str], tuple[str, ...] | None] | None = field(default=None, compare=False)
    # Where an answer replies to the line it answers (Discord): the id of the message or interaction this
    # line came in, and, when the line replies to one of the bot's answers, the id of the line that answer
    # answered ("" otherwise). The adapter reads both from the platform; the core decides what they mean.
    message: str = ""
    reply_to: str = ""

    def manages(self) -> bool:
        return self.may_manage() if callable(self.may_manage) else self.may_manage

    def administers(self) -> bool:
        return self.may_administer() if callable(self.may_administer) else self.may_administer

    @property
    def surface(self) -> Surface:
        """What the core decides for the caller's surface (SURFACES; a platform not named there: the defaults)."""
        return SURFACES.get(self.platform, Surface())

    @property
    def key(self) -> str:
        """Whose cooldown this is."""
        return f"{self.platform}:{self.workspace}:{self.user}"

    @property
    def conversation(self) -> str:
        """The conversation whose last turn this call's line follows (see bot.chat.memory.conversation): a
        reply to one of the bot's answers follows that answer (a reply chain is a conversation of its own);
        any other line follows the member's latest turn in the channel (and thread)."""
        if self.reply_to:
            return self._answering(self.reply_to)
        return conversation(self.platform, self.workspace, self.channel, self.user, self.thread)

    @property
    def kept_in(self) -> tuple[str, ...]:
        """The conversations this call's turn is kept in: the member's talk in the channel (unless the line
        is a reply, whose chain is its own), and the answer's own, which a reply to that answer follows."""
        mine = () if self.reply_to else (self.conversation,)
        return mine + ((self._answering(self.message),) if self.message else ())

    def _answering(self, line: str) -> str:
        """The conversation that follows the bot's answer to the line `line`: that member's alone (another
        member replying to the same answer starts afresh, so context never crosses members)."""
        return conversation(self.platform, self.workspace, self.channel, self.user, f"reply-to-{line}")


@dataclass(frozen=True)
class Policy:
    cooldown: bool = False  # spends the caller's cooldown (they wait before the next one)
    private: bool = False  # only the caller sees the reply
    manage: bool = False  # only those who manage the channel, or were granted the right, may do it
    admin: bool = False  # only the workspace's admins may do it
    daily: bool = False  # needs daily posts configured; else the persona says they are not
    quiz: bool = False  # needs the quiz's store configured; else the persona says it is not


log = logging.getLogger(__name__)
# Whatever a reply's command, replies of these kinds are private too: an invalid question, an error,
# a cooldown note or a notice concern only the caller.
PRIVATE_KINDS = frozenset({Kind.INVALID, Kind.ERROR, Kind.COOLDOWN, Kind.NOTICE})
Handler = Callable[[Any, "Caller"], Reply]


@dataclass(frozen=True)
class Outcome:
    """What the surface shows: the reply, who sees it, and the command it answers."""

    reply: Reply
    visibility: Visibility
    command: Command

    @property
    def turn(self) -> str:
        """The key of the conversation turn this reply recorded ("" when none): its buttons carry it."""
        return self.reply.turn

    @property
    def reading(self) -> Reading | None:
        """How a question was read: on its own, or as a follow-up (`--explain`); None for other commands."""
        return self.reply.reading

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
        memory: ConversationMemory | None = None,
        cooldown: Cooldown | None = None,
        pool: AnswerPool | None = None,
    ) -> None:
        self.core = core
        # where surfaces run `handle` (never where they acknowledge); its threads start on first use
        self.pool = pool or AnswerPool()
        self._daily = daily
        self._quiz = quiz
        self.prefix = prefix
        self.hide = hide
        self.clock = clock
        self.memory = memory or ConversationMemory(clock=clock)
        self.cooldown = cooldown or Cooldown(0)
        self.followups = FollowUps(core)
        self._lock = threading.Lock()
        # one handler per command type (cosmicpython's message bus): adding a command adds a row here
        self.handlers: Mapping[type, Handler] = {
            Ask: self._ask, Another: self._another, Who: self._who, Quote: self._quote, Sources: self._sources,
            About: self._about, Help: self._help, Daily: self._daily_command, Quiz: self._quiz_command,
            Timeline: self._timeline,
        }  # fmt: skip

    # the calls surfaces make

    def parse(self, line: str, me: tuple[str, ...] = ()) -> Command:
        """A line of text as a command (see bot.chat.commands.parse); people are known to the sources. The
        line enters through bot.chat.text.entry: valid Unicode from here, the bot's own mentions gone."""
        return parse(entry(line, me), knows=lambda name: bool(self.core.people(name, limit=1)))

    def handle_line(self, line: str, caller: Caller) -> Outcome:
        """A line as typed on any surface (a mention of the bot anywhere in it is not part of it)."""
        return self.handle(self.parse(line, caller.me), caller)

    def handle(self, command: Command, caller: Caller) -> Outcome:
        """Apply the command's policy and run its handler; never raises (a failure is logged with its
        traceback and answered with the error template)."""
        try:
            reply = self._refused(command, caller) or self.handlers[type(command)](command, caller)
        except Exception:
            log.exception("request failed")
            reply = self.core.error()
        private = self.expects_private(command) or reply.kind in PRIVATE_KINDS
        return Outcome(reply, Visibility.PRIVATE if private else Visibility.PUBLIC, command)

    def busy(self, command: Command) -> Outcome:
        """The answer pool is full (bot.errors.Busy): ask again in a moment, said only to the caller.
        Surfaces say it at once, in place of the acknowledgement or first response."""
        return Outcome(self.core.voice.busy(), Visibility.PRIVATE, command)

    def expects_private(self, command: Command) -> bool:
        """Whether the reply will be private whatever it turns out to be (for surfaces that must
        say so before the work is done, as Discord's deferral does)."""
        return command.policy.private

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

    # the policy, then the handler

    def _refused(self, command: Command, caller: Caller) -> Reply | None:
        """The reply that stops the command before its handler runs, if its policy says one does."""
        policy = command.policy
        voice = self.core.voice
        if policy.daily and self.daily() is None:
            return voice.notice("daily_unavailable")
        if policy.daily and caller.direct:
            return voice.notice("daily_not_in_direct_messages")
        if policy.quiz and self.quiz() is None:
            return voice.notice("quiz_unavailable")
        if policy.admin and not caller.administers():
            return voice.notice("daily_admins_only")
        if policy.manage and not (self._granted(caller) or caller.manages()):
            return voice.notice("daily_not_allowed")
        if policy.cooldown:
            wait = self.cooldown.wait(caller.key)
            if wait:
                return voice.cooldown(wait)
        return None

    # the handlers

    def _ask(self, command: Ask, caller: Caller) -> Reply:
        """A question read in the context of the caller's conversation (bot.chat.followup), answered and
        recorded as its latest turn; a decline is recorded too ("and Eden?" may follow it)."""
        where = caller.conversation
        shown = self.followups.respond(command.question, self.memory.last(where), lambda: self.memory.recent(where))
        return replace(shown.reply, turn=self._keep(caller, shown), reading=shown.reading)

    def _another(self, command: Another, caller: Caller) -> Reply:
        shown = self.memory.turn(command.turn) if command.turn else self.memory.last(caller.conversation)
        if shown is None:
            return self.core.expired() if command.turn else self.core.voice.notice("another_first")
        return self._answer(caller, shown.question, shown.rank + 1)

    def _who(self, command: Who, caller: Caller) -> Reply:
        return self.core.who(command.person)

    def _quote(self, command: Quote, caller: Caller) -> Reply:
        return self.core.quote(self.clock().date())

    def _sources(self, command: Sources, caller: Caller) -> Reply:
        return self.core.sources()

    def _about(self, command: About, caller: Caller) -> Reply:
        return self.core.about()

    def _help(self, command: Help, caller: Caller) -> Reply:
        return self.help(caller.surface)

    def _timeline(self, command: Timeline, caller: Caller) -> Reply:
        return self.core.timeline(command.span)

    def help(self, surface: Surface | None = None) -> Reply:
        """The commands this surface offers, written the way it writes them: none of the words it hides,
        and none that its members can never use (by the command's own policy: what only admins may do,
        where no one administers)."""
        there = surface or Surface()

        def offered(item: str) -> bool:
            typed = item[len(self.prefix) :].split(": ", 1)[0]
            if typed.split(" ", 1)[0].rstrip(":") in self.hide:
                return False
            return there.admins or not parse(typed).policy.admin

        reply = self.core.help(self.prefix)
        return replace(reply, items=tuple(i for i in reply.items if offered(i)))

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
                    caller.platform, caller.channel, caller.workspace, caller.user, command.time, command.zone, now,
                    enterprise=caller.enterprise, enterprise_install=caller.enterprise_install,
                )  # fmt: skip
            case DailyAction.UNSUBSCRIBE:
                return daily.unsubscribe(caller.platform, caller.channel, caller.workspace)
            case DailyAction.STATUS:
                return daily.status(caller.platform, caller.channel, now, caller.workspace)
            case DailyAction.PREVIEW:
                return daily.preview(caller.platform, caller.channel, now, caller.workspace)
            case DailyAction.GRANT | DailyAction.REVOKE:
                return self._right(command, caller, daily)

    def _cannot_post(self, caller: Caller) -> Reply | None:
        """Why a subscription here would fail at its first post, with the fix; None when it would not
        (or the platform cannot tell: a passing outage must not stop a subscription)."""
        reach = caller.reach() if caller.reach is not None else Reach()
        voice = self.core.voice
        if reach.conversation and reach.trouble in (Trouble.GONE, Trouble.NOT_MEMBER):
            return voice.notice("daily_refused_conversation")
        if reach.conversation and reach.trouble is Trouble.MISSING:  # the platform cannot tell without them
            return voice.notice("daily_refused_conversation_scope", missing=", ".join(reach.missing))
        match reach.trouble:
            case Trouble.NOT_MEMBER:
                # a scope the app lacks would let it in as well as an invitation (Slack's chat:write.public)
                return voice.notice("daily_refused_invite_or_scope" if reach.missing else "daily_refused_invite")
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
        user = command.user
        if not user and command.typed and caller.find_member is not None:
            found = caller.find_member(command.typed)
            if found is None:
                return voice.notice("daily_grant_lookup_failed")
            if not found:
                return voice.notice("daily_grant_nobody")  # the typed name is never shown back
            if len(found) > 1:
                shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
                return voice.notice("daily_grant_several", users=shown)
            user = found[0]
        if not user:
            return voice.notice("daily_grant_who")
        if command.action is DailyAction.GRANT:
            daily.grant(caller.platform, caller.workspace, user, caller.user, self.clock())
            return voice.notice("daily_granted", user=user)
        if daily.revoke(caller.platform, caller.workspace, user):
            return voice.notice("daily_revoked", user=user)
        return voice.notice("daily_not_granted", user=user)

    def _quiz_command(self, command: Quiz, caller: Caller) -> Reply:
        quiz = self.quiz()
        assert quiz is not None  # the policy answered already when it is not set up
        now = self.clock().timestamp()
        where = (caller.platform, caller.channel)
        name = caller.name or caller.user
        ws = caller.workspace  # channel state is per workspace: a Slack Connect channel is in several
        alone = caller.surface.alone  # one member at the console: a wrong answer may be tried again
        match command.action:
            case QuizAction.ASK:
                return quiz.ask(*where, caller.user, now, ws, alone=alone)
            case QuizAction.ANSWER:
                return quiz.answer(*where, caller.user, name, command.answer, now, ws, alone=alone)
            case QuizAction.CHOOSE:
                return quiz.choose(*where, caller.user, name, command.token, command.option, now, ws, alone=alone)
            case QuizAction.STOP:
                return quiz.stop(*where, now, ws)
            case QuizAction.SCORES:
                return quiz.scores(*where, ws)

    # the conversation's memory: every answered question is a turn, behind "another" and the buttons

    def _keep(self, caller: Caller, shown: Shown) -> str:
        """Remember an answered or declined line; the key when its reply offers "Another passage"."""
        if not shown.remembered:
            return ""
        key = self._remember(caller, shown.question, shown.passage_id, shown.rank, shown.people, shown.years)
        return key if shown.reply.kind is Kind.ANSWER and shown.passage_id else ""

    def _answer(self, caller: Caller, question: str, rank: int = 0) -> Reply:
        """The core's answer, recorded as a turn of the caller's conversation when it shows a passage."""
        reply = self.core.ask(question, rank=rank)
        if reply.kind is not Kind.ANSWER or reply.citation is None:
            return reply
        shown = reply.citation.passage_id
        people, years = self.core.concerns(shown)
        key = self._remember(caller, question, shown, reply.rank, people, years)
        return replace(reply, turn=key) if key else reply

    def _remember(
        self,
        caller: Caller,
        question: str,
        passage_id: str | None,
        rank: int,
        people: tuple[str, ...],
        years: tuple[int, ...],
    ) -> str:
        """Keep the turn in each of the caller's conversations (Caller.kept_in); the first one's key, or ""
        when it could not be kept (the answer still goes out, without its "Another passage" button)."""
        now, keys = self.clock(), []
        try:
            for where in caller.kept_in:
                keys.append(self.memory.remember(Turn(where, question, passage_id, rank, people, years, now)))
        except Exception:
            log.exception("could not remember a conversation turn")
        return keys[0] if keys else ""
