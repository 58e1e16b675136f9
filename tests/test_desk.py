"""The front desk's one policy table, through hand-written callers and a fake daily service."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from bot import Maisky, Reply
from bot.chat.commands import About, Another, Ask, Daily, DailyAction, Help, Quote, Sources, Who
from bot.chat.cooldown import Cooldown
from bot.chat.desk import Caller, FrontDesk, Visibility
from bot.chat.memory import ConversationMemory
from bot.chat.reply import Kind

NOW = dt.datetime(2026, 9, 3, 8, 0, tzinfo=dt.UTC)
MEMBER = Caller("test", "W1", "C1", "U1")
MANAGER = Caller("test", "W1", "C1", "UBOSS", may_manage=True)


@dataclass
class FakeDaily:
    """Records what the desk asked of the daily-post service; answers with the persona's notices."""

    core: Maisky
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def subscribe(self, platform: str, channel: str, workspace: str, by: str, time: str, zone: str,
                  now: dt.datetime, *, enterprise: str = "", enterprise_install: bool = False) -> Reply:  # fmt: skip
        self.calls.append(("subscribe", platform, channel, workspace, by, time, zone))
        return self.core.voice.notice("daily_subscribed", time=time, zone=zone, next="soon")

    def unsubscribe(self, platform: str, channel: str, workspace: str | None = None) -> Reply:
        self.calls.append(("unsubscribe", platform, channel))
        return self.core.voice.notice("daily_unsubscribed")

    def status(self, platform: str, channel: str, now: dt.datetime, workspace: str | None = None) -> Reply:
        self.calls.append(("status", platform, channel))
        return self.core.voice.notice("daily_not_subscribed")

    def preview(self, platform: str, channel: str, now: dt.datetime, workspace: str | None = None) -> Reply:
        self.calls.append(("preview", platform, channel))
        return self.core.quote(now.date())

    def granted(self, platform: str, workspace: str, user: str) -> bool:
        return False


@pytest.fixture
def core(core: Maisky) -> Maisky:
    """The session's core without its cooldown; tests that want one make their own."""
    return Maisky(core.corpus, core.matcher, core.voice)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def desk_with_cooldown(core: Maisky, clock: Clock, **kw: object) -> FrontDesk:
    return FrontDesk(core, clock=lambda: NOW, cooldown=Cooldown(60, clock=clock), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "visibility", "kind"),
    [
        (Ask("Was Eden made of iron?"), Visibility.PUBLIC, Kind.ANSWER),
        (Ask("What is the capital of Australia?"), Visibility.PUBLIC, Kind.DECLINE),
        (Ask("Was Eden made of iron?", private=True), Visibility.PRIVATE, Kind.ANSWER),
        (Ask("???"), Visibility.PRIVATE, Kind.INVALID),  # an invalid question concerns only the asker
        (Ask("x" * 2000), Visibility.PRIVATE, Kind.INVALID),
        (Who("kenedy"), Visibility.PUBLIC, Kind.WHO),
        (Quote(), Visibility.PUBLIC, Kind.QUOTE),
        (Sources(), Visibility.PUBLIC, Kind.SOURCES),
        (About(), Visibility.PRIVATE, Kind.ABOUT),
        (Help(), Visibility.PRIVATE, Kind.HELP),
        (Another("0123456789abcdef"), Visibility.PRIVATE, Kind.INVALID),  # a button whose turn is unknown
        (Another(), Visibility.PRIVATE, Kind.NOTICE),  # no question yet
    ],
)
def test_visibility(core: Maisky, command: object, visibility: Visibility, kind: Kind) -> None:
    outcome = FrontDesk(core, clock=lambda: NOW).handle(command, MEMBER)  # type: ignore[arg-type]
    assert (outcome.visibility, outcome.reply.kind) == (visibility, kind)
    assert outcome.command == command


def test_questions_spend_the_cooldown_and_help_does_not(core: Maisky) -> None:
    clock = Clock()
    desk = desk_with_cooldown(core, clock)
    assert desk.handle(Help(), MEMBER).reply.kind is Kind.HELP
    assert desk.handle(About(), MEMBER).reply.kind is Kind.ABOUT
    assert desk.handle(Ask("Was Eden made of iron?"), MEMBER).reply.kind is Kind.ANSWER  # help spent nothing
    waited = desk.handle(Who("Eden"), MEMBER)
    assert waited.reply.kind is Kind.COOLDOWN and waited.private and "Patience" in waited.reply.narration
    assert desk.handle(Help(), MEMBER).reply.kind is Kind.HELP  # help still works while waiting
    assert desk.handle(Quote(), MEMBER).reply.kind is Kind.QUOTE
    assert desk.handle(Ask("Eden"), Caller("test", "W1", "C1", "U2")).reply.kind is Kind.ANSWER  # someone else
    clock.now += 61
    assert desk.handle(Another(), MEMBER).reply.kind is not Kind.COOLDOWN


def test_a_help_line_through_the_parser_spends_no_cooldown(core: Maisky) -> None:
    """The drift: "@Maisky help" on Discord was a question that spent the cooldown."""
    clock = Clock()
    desk = desk_with_cooldown(core, clock)
    for line in ("help", "about", "sources", "quote", "daily status"):
        desk.handle_line(line, MEMBER)
    assert desk.handle_line("What did you think of Chamberlain?", MEMBER).reply.kind is Kind.ANSWER


def test_another_follows_the_callers_last_question(core: Maisky) -> None:
    desk = FrontDesk(core, clock=lambda: NOW)
    asked = desk.handle(Ask("Kennedy"), MEMBER)
    first = asked.reply
    second = desk.handle(Another(), MEMBER).reply
    third = desk.handle_line("more", MEMBER).reply
    assert [r.rank for r in (first, second, third)] == [0, 1, 2]
    ids = {r.citation.passage_id for r in (first, second, third) if r.citation}
    assert len(ids) == 3
    other = desk.handle(Another(), Caller("test", "W1", "C2", "U1"))  # another channel: no question there yet
    assert other.reply.kind is Kind.NOTICE and "Ask me a question first" in other.reply.narration
    neighbour = desk.handle(Another(), Caller("test", "W1", "C1", "U2"))  # another member: never their context
    assert neighbour.reply.kind is Kind.NOTICE
    from_button = desk.handle(Another(asked.turn), Caller("test", "W1", "C9", "U5"))  # anyone may click it
    assert from_button.reply.citation == second.citation and from_button.turn


def test_each_answer_is_a_turn_with_a_short_key(core: Maisky) -> None:
    desk = FrontDesk(core, clock=lambda: NOW)
    outcome = desk.handle(Ask("Kennedy"), MEMBER)
    turn = desk.memory.turn(outcome.turn)
    assert turn is not None and outcome.reply.citation is not None
    assert (turn.question, turn.rank, turn.passage_id) == ("Kennedy", 0, outcome.reply.citation.passage_id)
    assert "kennedy" in turn.people and turn.at == NOW and turn.conversation == MEMBER.conversation
    assert len(outcome.turn) <= 64 and outcome.turn.isalnum()  # fits a Discord custom_id and a Slack value


def test_another_remembers_a_bounded_number_of_turns(core: Maisky) -> None:
    """A stream of new members never grows the memory past its bound; the latest are kept."""
    desk = FrontDesk(core, clock=lambda: NOW, memory=ConversationMemory(size=3, clock=lambda: NOW))
    callers = [Caller("test", "W1", "C1", f"U{i}") for i in range(50)]
    for caller in callers:
        assert desk.handle(Ask("Kennedy"), caller).reply.kind is Kind.ANSWER
    assert desk.memory.remembered() == 3
    assert "Ask me a question first" in desk.handle(Another(), callers[46]).reply.narration
    assert [desk.handle(Another(), c).reply.rank for c in callers[47:]] == [1, 1, 1]


def test_another_forgets_a_conversation_after_a_silence(core: Maisky) -> None:
    now = [NOW]
    memory = ConversationMemory(silence=dt.timedelta(seconds=600), clock=lambda: now[0])
    desk = FrontDesk(core, clock=lambda: now[0], memory=memory)
    asked = desk.handle(Ask("Kennedy"), MEMBER)
    now[0] += dt.timedelta(seconds=599)
    assert desk.handle(Another(), MEMBER).reply.rank == 1  # still remembered, and asking again renews it
    now[0] += dt.timedelta(seconds=599)
    assert desk.handle(Another(), MEMBER).reply.rank == 2
    now[0] += dt.timedelta(seconds=600)
    assert "Ask me a question first" in desk.handle(Another(), MEMBER).reply.narration
    assert desk.handle(Another(asked.turn), MEMBER).reply.rank == 1  # a button still works after a silence


def test_a_declined_question_gets_no_button_but_a_follow_up_can_build_on_it(core: Maisky) -> None:
    """ "What did you think of Mussolini?" then "and Eden?": the decline is the turn the follow-up
    reads; it offers no "Another passage", and the memory stays within its bound."""
    from bot.chat.memory import ConversationMemory

    desk = FrontDesk(core, clock=lambda: NOW, memory=ConversationMemory(clock=lambda: NOW, size=5))
    for i in range(20):
        asked = Ask(f"What did Maisky think of zorbaquil{i} vexnoddle?")
        outcome = desk.handle(asked, Caller("test", "W1", "C1", f"U{i}"))
        assert outcome.turn == "" and outcome.reply.kind is Kind.DECLINE
    assert desk.memory.remembered() == 5
    member = Caller("test", "W1", "C1", "U19")
    assert desk.handle(Ask("What did you think of Mussolini?"), member).reply.kind is Kind.DECLINE
    other = desk.handle(Ask("and Eden?"), member)
    assert other.reading is not None and other.reading.follows
    assert other.reply.citation is not None and other.reply.citation.passage_id.endswith("eden-halifax-chamberlain")


def test_daily_needs_the_service_and_says_so(core: Maisky) -> None:
    desk = FrontDesk(core, None, clock=lambda: NOW)
    for action in DailyAction:
        outcome = desk.handle(Daily(action), MANAGER)
        assert outcome.private and "not set up" in outcome.reply.narration


def test_only_managers_change_daily_posts(core: Maisky) -> None:
    daily = FakeDaily(core)
    desk = FrontDesk(core, daily, clock=lambda: NOW)  # type: ignore[arg-type]
    refused = desk.handle(Daily(DailyAction.SUBSCRIBE, "18:30", "Europe/London"), MEMBER)
    assert refused.private and "Only those who manage" in refused.reply.narration
    assert "Only those who manage" in desk.handle(Daily(DailyAction.UNSUBSCRIBE), MEMBER).reply.narration
    assert daily.calls == []
    done = desk.handle(Daily(DailyAction.SUBSCRIBE, "18:30", "Europe/London"), MANAGER)
    assert done.private and "Every day at 18:30 (Europe/London)" in done.reply.narration
    assert daily.calls == [("subscribe", "test", "C1", "W1", "UBOSS", "18:30", "Europe/London")]
    assert desk.handle(Daily(DailyAction.STATUS), MEMBER).private  # anyone may look
    preview = desk.handle(Daily(DailyAction.PREVIEW), MEMBER)
    assert preview.private and preview.reply.kind is Kind.QUOTE
    assert desk.handle(Daily(DailyAction.UNSUBSCRIBE), MANAGER).reply.kind is Kind.NOTICE
    assert [c[0] for c in daily.calls] == ["subscribe", "status", "preview", "unsubscribe"]


def test_daily_commands_in_a_direct_message_say_they_are_for_server_channels(core: Maisky) -> None:
    """Nobody manages a DM: every daily command there gets the same notice, whoever asks, and the
    service is never called."""
    daily = FakeDaily(core)
    desk = FrontDesk(core, daily, clock=lambda: NOW)  # type: ignore[arg-type]
    direct = Caller("test", "", "D1", "UBOSS", may_manage=True, may_administer=True, direct=True)
    for action in DailyAction:
        outcome = desk.handle(Daily(action, user="U9"), direct)
        assert outcome.private and "for server channels" in outcome.reply.narration
    assert daily.calls == []


def test_who_may_manage_is_asked_only_when_it_matters(core: Maisky) -> None:
    asked: list[str] = []

    def lookup() -> bool:
        asked.append("x")
        return True

    caller = Caller("test", "W1", "C1", "U1", may_manage=lookup)
    desk = FrontDesk(core, FakeDaily(core), clock=lambda: NOW)  # type: ignore[arg-type]
    desk.handle(Ask("Eden"), caller)
    desk.handle(Daily(DailyAction.STATUS), caller)
    assert asked == []
    desk.handle(Daily(DailyAction.SUBSCRIBE), caller)
    assert asked == ["x"]


def test_the_daily_service_is_built_on_first_use(core: Maisky) -> None:
    built: list[FakeDaily] = []

    def build() -> FakeDaily:
        built.append(FakeDaily(core))
        return built[-1]

    desk = FrontDesk(core, build, clock=lambda: NOW)  # type: ignore[arg-type]
    desk.handle(Ask("Eden"), MEMBER)
    assert built == []
    desk.handle(Daily(DailyAction.STATUS), MEMBER)
    desk.handle(Daily(DailyAction.PREVIEW), MEMBER)
    assert len(built) == 1 and len(built[0].calls) == 2


def test_help_is_written_the_surfaces_way_and_lists_only_what_it_offers(core: Maisky) -> None:
    slack = FrontDesk(core, prefix="/maisky ").handle(Help(), MEMBER).reply
    assert "/maisky ask <question>" in " ".join(slack.items) and "/maisky another" in " ".join(slack.items)
    console = FrontDesk(core, prefix="maisky ", hide=frozenset({"another"})).handle(Help(), MEMBER).reply
    lines = " ".join(console.items)
    assert "maisky daily ..." in lines and "another" not in lines


def test_help_never_offers_what_no_member_of_the_surface_may_do(core: Maisky) -> None:
    console = FrontDesk(core, prefix="maisky ").handle(Help(), Caller("console", "local", "console", "me")).reply
    lines = " ".join(console.items)
    assert "maisky daily ..." in lines and "grant" not in lines and "revoke" not in lines  # no admins there
    slack = " ".join(FrontDesk(core, prefix="/maisky ").handle(Help(), MEMBER).reply.items)
    assert "/maisky daily grant <person>" in slack and "/maisky daily revoke <person>" in slack


def test_a_failing_core_is_the_error_template_privately(core: Maisky, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Maisky):
        def who(self, name: str) -> Reply:
            raise RuntimeError("index on fire")

    desk = FrontDesk(Broken(core.corpus, core.matcher, core.voice))
    outcome = desk.handle(Who("Eden"), MEMBER)
    assert outcome.private and outcome.reply.kind is Kind.ERROR
    assert any(r.exc_info and "index on fire" in str(r.exc_info[1]) for r in caplog.records)


def test_quote_is_todays_by_the_desks_clock(core: Maisky) -> None:
    desk = FrontDesk(core, clock=lambda: NOW)
    assert desk.handle(Quote(), MEMBER).reply == core.quote(NOW.date())


def test_a_reply_to_an_answer_follows_that_answer_not_the_members_latest_turn(core: Maisky) -> None:
    desk = FrontDesk(Maisky(core.corpus, core.matcher, core.voice))

    def line(text: str, message: str, reply_to: str = "", user: str = "U1") -> Reply:
        return desk.handle_line(text, Caller("discord", "G1", "C1", user, message=message, reply_to=reply_to)).reply

    def shown(reply: Reply) -> str | None:
        return reply.citation.passage_id if reply.citation is not None else None

    assert shown(line("What did you think of Chamberlain?", "m1")) == "globe-2015.portraits-eden-halifax-chamberlain"
    assert shown(line("How was the diary found?", "m2")) == "globe-2015.finding-the-diary"
    who = line("who was he?", "m3", reply_to="m1")  # a reply to the first answer: Chamberlain, not the diary
    assert who.kind is Kind.WHO and "Chamberlain" in core.plain(who)
    after = line("go on", "m4", reply_to="m3").reading  # the chain goes on from its own last answer
    assert after is not None and after.note == f"the paragraph after {shown(who)}"
    # the chain is a conversation of its own: the member's latest turn in the channel is still the diary
    plain = line("go on", "m5").reading
    assert plain is not None and plain.note == "the paragraph after globe-2015.finding-the-diary"
    # another member replying to the same answer has no context of the first member's
    other = line("who was he?", "m6", reply_to="m1", user="U2")
    assert other.kind is Kind.NOTICE and "Chamberlain" not in core.plain(other)
