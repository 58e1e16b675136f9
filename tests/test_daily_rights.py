"""Who may manage daily posts: admins grant and revoke the right at run time; the grant is stored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import Maisky, Settings
from bot.chat.commands import Daily, DailyAction, parse
from bot.chat.desk import Caller, FrontDesk
from bot.chat.reply import Kind
from bot.ops.bootstrap import build_daily
from bot.ops.store import Store

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
ADMIN = Caller("slack", "T1", "C1", "UADMIN", may_manage=True, may_administer=True)
TEACHER = Caller("slack", "T1", "C1", "UTEACH")
TEACHER_ELSEWHERE = Caller("slack", "T2", "C9", "UTEACH")


@pytest.fixture
def desk(core: Maisky, tmp_path: Path) -> FrontDesk:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None)
    return FrontDesk(core, build_daily(settings, core), clock=lambda: NOW)


def say(desk: FrontDesk, line: str, caller: Caller) -> str:
    outcome = desk.handle_line(line, caller)
    assert outcome.private  # rights are nobody else's business
    return outcome.reply.narration


def test_an_admin_grants_and_revokes_the_right(desk: FrontDesk, tmp_path: Path) -> None:
    assert "Only those who manage" in say(desk, "daily on 09:00", TEACHER)
    assert "may now manage" in say(desk, "daily grant <@UTEACH|teacher>", ADMIN)
    assert "Every day at 09:00" in say(desk, "daily on 09:00", TEACHER)
    assert "Only those who manage" in say(desk, "daily on 09:00", TEACHER_ELSEWHERE)  # per workspace
    assert "no longer" in say(desk, "daily revoke <@UTEACH>", ADMIN)
    assert "Only those who manage" in say(desk, "daily off", TEACHER)
    assert "nothing to revoke" in say(desk, "daily revoke UTEACH", ADMIN)
    # stored: a new process (a new store on the same file) knows the grant
    say(desk, "daily grant UTEACH", ADMIN)
    assert Store(f"sqlite:///{tmp_path / 'd.sqlite3'}").may_manage("slack", "T1", "UTEACH")


def test_only_admins_grant_even_channel_managers_and_grantees(desk: FrontDesk) -> None:
    manager = Caller("slack", "T1", "C1", "UMGR", may_manage=True)
    assert "administrators" in say(desk, "daily grant <@UOTHER>", manager)
    say(desk, "daily grant <@UTEACH>", ADMIN)
    assert "administrators" in say(desk, "daily grant <@UOTHER>", TEACHER)
    assert "administrators" in say(desk, "daily revoke <@UTEACH>", TEACHER)


@pytest.mark.parametrize("line", ["daily grant @everyone", "daily grant <!channel>", "daily grant <!here>",
                                  "daily grant @Here", "daily grant"])  # fmt: skip
def test_no_person_read_asks_for_a_mention_and_pings_nobody(desk: FrontDesk, line: str) -> None:
    command = parse(line)
    assert command == Daily(DailyAction.GRANT)
    reply = desk.handle(command, ADMIN).reply
    assert reply.kind is Kind.NOTICE and "mention" in reply.narration
    assert "everyone" not in reply.narration and "<!" not in reply.narration


@pytest.mark.parametrize(("line", "typed"), [("daily grant @bob", "bob"), ("daily revoke @Jane Doe", "Jane Doe")])
def test_a_typed_name_is_looked_up_where_the_platform_can(desk: FrontDesk, line: str, typed: str) -> None:
    """Slack's /maisky without escaping sends "@bob" as text: the platform looks the name up (Slack:
    users.list); where it cannot (the console, Discord's text), the reply asks for a mention."""
    command = parse(line)
    assert isinstance(command, Daily) and command.typed == typed and not command.user
    assert "mention" in desk.handle(command, ADMIN).reply.narration
    looked: list[str] = []

    def find(name: str) -> tuple[str, ...]:
        looked.append(name)
        return ("UBOB",)

    finder = Caller("slack", "T1", "C1", "UADMIN", may_manage=True, may_administer=True, find_member=find)
    narration = desk.handle(command, finder).reply.narration
    assert looked == [typed] and "UBOB" in narration and typed not in narration


def test_the_reply_names_the_id_never_a_mention(desk: FrontDesk) -> None:
    for line in ("daily grant <@U0TEACH|teacher>", "daily revoke <@U0TEACH|teacher>"):
        text = say(desk, line, ADMIN)
        assert "U0TEACH" in text and "<@" not in text and "teacher" not in text
