"""`/maisky daily grant @name` and `/maisky daily on` in direct and group messages, through the real
bolt app, with the payloads of tests/adapters/slack_payloads.py (each with its source)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml

from adapters.slack.app import build_app
from bot import Maisky, Settings, build
from bot.club.daily import Daily
from bot.ops.bootstrap import build_daily
from tests.adapters import slack_payloads as payloads
from tests.adapters.conftest import desk_for
from tests.adapters.slack_fakes import FakeSlack, post, served, settings
from tests.conftest import PERSONA, ROOT, SEEDS

TEACHER = payloads.member("UTEACH", "teacher", "teacher", "Tess Teacher")
JANE = payloads.member("UJANE", "jane", "Jane Doe", "Jane Doe")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.close()


@pytest.fixture
def club(tmp_path: Path) -> tuple[Maisky, Daily]:
    db = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None)
    core = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    return core, build_daily(db, core)


@pytest.fixture
def url(fake: FakeSlack, club: tuple[Maisky, Daily]) -> Iterator[str]:
    core, daily = club
    with served(build_app(desk_for(core, daily=daily), settings(fake))) as u:
        yield u


def say(url: str, fake: FakeSlack, text: str, user: str = "UADMIN", **where: str) -> str:
    """A /maisky command and the text of the (private) reply it gets."""
    n = fake.count(f"/response/{user}")
    form = payloads.slash_command(text, f"{fake.url}/response/{user}", user=user, **where)
    assert post(url, urlencode(form), "application/x-www-form-urlencoded")[0] == 200
    body = fake.wait_for(f"/response/{user}", n + 1)[n].body
    assert body["response_type"] == "ephemeral"
    return json.dumps(body, ensure_ascii=False)


# daily grant @name


@pytest.mark.parametrize("typed", ["@teacher", "@Teacher", "@Tess Teacher"])
def test_an_admin_grants_a_member_typed_by_name(fake: FakeSlack, url: str, typed: str) -> None:
    """The shipped manifest sent "@teacher" as plain text (should_escape: false), and every install made
    from it still does: the bot refused with "Name one person with a mention", the very form typed."""
    fake.members = [payloads.member("UOTHER", "other", "other", "Otto Other"), TEACHER]
    granted = say(url, fake, f"daily grant {typed}")
    assert "UTEACH may now manage" in granted and "<@" not in granted and "Tess" not in granted
    assert "Every day at 08:15" in say(url, fake, "daily on 08:15", user="UTEACH")
    assert "no longer" in say(url, fake, f"daily revoke {typed}")


def test_a_display_name_with_spaces_on_a_later_page(fake: FakeSlack, url: str) -> None:
    """users.list is read page by page (200 a page), following the cursor."""
    fake.members = [payloads.member(f"U{n:04d}", f"member{n}", f"Member {n}", f"Member {n}") for n in range(450)]
    fake.members.append(JANE)
    assert "UJANE may now manage" in say(url, fake, "daily grant @Jane Doe")
    assert fake.count("/users.list") == 3


def test_a_name_several_members_share_is_refused_with_their_ids(fake: FakeSlack, url: str) -> None:
    fake.members = [payloads.member("USAM1", "sam", "Sam", "Sam Smith"), payloads.member("USAM2", "sam2", "Sam",
                    "Sam Jones"), payloads.member("USAMBOT", "sambot", "Sam", "Sam", is_bot=True)]  # fmt: skip
    reply = say(url, fake, "daily grant @sam")
    assert "Several members go by that name (USAM1, USAM2)" in reply and "USAMBOT" not in reply


@pytest.mark.parametrize(
    ("members", "error", "expected"),
    [
        ([TEACHER], None, "I find no member of this workspace by that name"),
        ([payloads.member("UGONE", "nobody", "nobody", "No Body", deleted=True)], None, "I find no member"),
        ([TEACHER], "ratelimited", "I could not look through this workspace's members"),
    ],
)
def test_a_name_nobody_has_or_an_unreadable_list_is_refused_clearly(
    fake: FakeSlack, club: tuple[Maisky, Daily], url: str, members: list[dict[str, object]], error: str | None,
    expected: str,
) -> None:  # fmt: skip
    fake.members = members
    if error:
        fake.errors["users.list"] = [error] * 5
    reply = say(url, fake, "daily grant @nobody")
    assert expected in reply and "nobody" not in reply.lower().replace("no body", "")  # the name is not echoed
    assert not club[1].granted("slack", "T1", "UGONE")


@pytest.mark.parametrize("typed", ["@everyone", "@channel", "@here"])
def test_everyone_is_never_looked_up(fake: FakeSlack, url: str, typed: str) -> None:
    fake.members = [payloads.member("UEVERY", "everyone", "everyone", "Every One")]
    assert "Name one person with a mention" in say(url, fake, f"daily grant {typed}")
    assert fake.count("/users.list") == 0


def test_the_manifest_escapes_mentions_and_has_the_scopes_it_needs() -> None:
    """should_escape: true, so a member picked from the @ list arrives as <@U...|name> on new installs;
    im:read and mpim:read, so conversations.info can tell whether the bot is in a DM or group DM."""
    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text(encoding="utf-8"))
    assert manifest["features"]["slash_commands"][0]["should_escape"] is True
    assert {"im:read", "mpim:read", "users:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])


# daily on in direct and group messages

GROUP_DM = {"channel_id": "C05CUEZJ05C", "channel_name": "mpdm-user1--user2--user3-1"}
OTHERS_DM = {"channel_id": "D0C3VQDAS", "channel_name": "directmessage"}


def test_daily_on_in_a_group_dm_without_mpim_read_is_refused_with_the_scope(
    fake: FakeSlack, club: tuple[Maisky, Daily], url: str
) -> None:
    """Without mpim:read, conversations.info answers missing_scope: the check "could not tell" and let
    the subscription through, and the first post paused it."""
    fake.errors["conversations.info"] = [payloads.missing_scope("mpim:read")]
    reply = say(url, fake, "daily on 08:15", **GROUP_DM)
    assert "lacks the scope(s) mpim:read" in reply and "not subscribed" in reply
    assert club[1].store.subscription("slack", GROUP_DM["channel_id"]) is None


@pytest.mark.parametrize("where", [GROUP_DM, OTHERS_DM], ids=["group DM", "others' DM"])
def test_daily_on_in_a_conversation_the_bot_is_not_in_is_refused(
    fake: FakeSlack, club: tuple[Maisky, Daily], url: str, where: dict[str, str]
) -> None:
    """With the scopes, a DM or group DM the bot is not in is channel_not_found; nobody can /invite
    the bot into one, so the reply says where daily posts can go instead."""
    fake.channels[where["channel_id"]] = None
    reply = say(url, fake, "daily on 08:15", **where)
    assert "I am not part of this conversation" in reply and "/invite" not in reply
    assert club[1].store.subscription("slack", where["channel_id"]) is None


def test_daily_on_in_a_group_dm_with_the_bot_and_in_its_own_dm_subscribes(
    fake: FakeSlack, club: tuple[Maisky, Daily], url: str
) -> None:
    fake.channels[GROUP_DM["channel_id"]] = payloads.group_dm_info(GROUP_DM["channel_id"])
    assert "Every day at 08:15" in say(url, fake, "daily on 08:15", **GROUP_DM)
    fake.channels["D0BOTDM"] = payloads.own_dm_info("D0BOTDM", "UADMIN")
    assert "Every day at 09:00" in say(url, fake, "daily on 09:00", channel_id="D0BOTDM", channel_name="directmessage")
    assert club[1].store.subscription("slack", "D0BOTDM") is not None
