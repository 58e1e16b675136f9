"""One HTTP deployment, many workspaces: bolt's install flow against a fake `oauth.v2.access`, the
installation kept in the bot's own database, then a slash command from the second workspace answered
with that workspace's token, and its daily post sent with it."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
import sqlalchemy as sa

from adapters.cli import main
from adapters.slack.app import build_app
from adapters.slack.installs import daily_poster
from bot import Maisky, Settings, build
from bot.club.daily import Daily
from bot.ops.bootstrap import build_daily
from bot.ops.settings import SlackSettings
from tests.adapters.conftest import desk_for
from tests.adapters.slack_fakes import SECRET, FakeSlack, guarded, post, served, slash
from tests.adapters.slack_install_payloads import (
    app_rate_limited,
    app_uninstalled,
    grid_slash,
    grid_workspace_access,
    org_wide_access,
    tokens_revoked,
)  # fmt: skip
from tests.conftest import PERSONA, SEEDS


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    f.installs = {"code-for-t2": "T2"}
    yield f
    f.close()


def make(tmp_path: Path) -> tuple[Maisky, Daily]:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None)
    core = build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=0))
    return core, build_daily(settings, core)


def get(url: str, cookie: str = "") -> tuple[int, str, str]:
    req = Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("Set-Cookie", "")
    except HTTPError as err:
        return err.code, err.read().decode(), ""


def install(base: str, code: str) -> int:
    """An admin clicks "Add to Slack" and Slack sends them back with a code, as a browser would."""
    status, page, cookie = get(base + "/slack/install")
    assert status == 200 and "slack.com/oauth/v2/authorize" in page
    state = re.search(r"state=([\w-]+)", page)
    assert state is not None
    status, _, _ = get(f"{base}/slack/oauth_redirect?code={code}&state={state.group(1)}", cookie.split(";")[0])
    return status


def test_a_second_workspace_installs_and_is_answered_with_its_own_token(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    app = build_app(desk_for(core, daily=daily), ss)
    with served(app) as url:
        base = url.removesuffix("/slack/events")
        assert install(base, "code-for-t2") == 200
        (exchange,) = fake.wait_for("/oauth.v2.access")
        assert exchange.body["code"] == "code-for-t2"
        with daily.store.engine.connect() as conn:  # kept in the bot's own database
            teams = conn.execute(sa.text("SELECT team_id, bot_token FROM slack_bots")).all()
        assert [tuple(t) for t in teams] == [("T2", "xoxb-T2")]

        slash(url, fake, "daily on 07:30", user="UADMIN", team="T2")
        answer = fake.wait_for("/response/UADMIN")[0].body
        assert "Every day at 07:30" in str(answer)
        lookups = [c for c in fake.calls if c.path.endswith(("/users.info", "/conversations.info"))]
        assert lookups and {c.headers["Authorization"] for c in lookups} == {"Bearer xoxb-T2"}

        slash(url, fake, "sources", user="U3", team="T3")  # never installed: bolt says so, in the persona's words
        (note,) = fake.wait_for("/response/U3")
        assert "install the app again" in note.body["text"] and note.body["text"].startswith("Maisky as narrator")
        assert "Source" not in str(note.body)  # the command itself is not answered

    reply = core.quote(dt.date(2026, 1, 10))
    daily_poster(ss, app.client, daily).post("C1", reply, "C1:2026-01-10", workspace="T2")
    (post,) = fake.wait_for("/chat.postMessage")
    assert post.headers["Authorization"] == "Bearer xoxb-T2" and post.body["channel"] == "C1"


def test_a_bad_state_installs_nothing(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    with served(build_app(desk_for(core, daily=daily), ss)) as url:
        base = url.removesuffix("/slack/events")
        status, _, _ = get(f"{base}/slack/oauth_redirect?code=code-for-t2&state=forged")
        assert status >= 400
    assert fake.count("/oauth.v2.access") == 0


def test_single_token_mode_needs_no_install(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("xoxb-one", SECRET, "", fake.api_url, 3000)
    with served(build_app(desk_for(core, daily=daily), ss)) as url:
        slash(url, fake, "sources", user="U1")
        fake.wait_for("/response/U1")
        status, _, _ = get(url.removesuffix("/slack/events") + "/slack/install")
        assert status == 404


def test_doctor_checks_each_installed_workspace(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    with served(build_app(desk_for(core, daily=daily), ss)) as url:
        assert install(url.removesuffix("/slack/events"), "code-for-t2") == 200
    daily.store.subscribe("slack", "C1", "T2", "09:00", "UTC", "UADMIN", 0.0)
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_TOKEN", "MAISKY_DB"):
        monkeypatch.delenv(name, raising=False)
    env = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "oauth-secret", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": fake.api_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    out = io.StringIO()
    assert main(["doctor"], out) == 0, out.getvalue()
    assert "workspace T2" in out.getvalue()
    daily.store.subscribe("slack", "C9", "T9", "09:00", "UTC", "UADMIN", 0.0)  # a workspace that uninstalled
    out = io.StringIO()
    assert main(["doctor"], out) == 1
    assert "not installed" in next(line for line in out.getvalue().splitlines() if "slack C9" in line)


def test_run_due_posts_with_each_workspaces_token(fake: FakeSlack, tmp_path: Path) -> None:
    from adapters.run_due import run_due

    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    with served(build_app(desk_for(core, daily=daily), ss)) as url:
        assert install(url.removesuffix("/slack/events"), "code-for-t2") == 200
    now = dt.datetime.now(dt.UTC)
    slot = (now - dt.timedelta(minutes=1)).strftime("%H:%M")
    daily.store.subscribe("slack", "CT2", "T2", slot, "UTC", "UADMIN", (now - dt.timedelta(days=1)).timestamp())
    settings = Settings.from_env(
        {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "oauth-secret", "SLACK_API_URL": fake.api_url,
         "DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None,
    )  # fmt: skip
    report = run_due(settings, core, now)
    assert len(report.posted) == 1, report.summary()
    (post,) = fake.wait_for("/chat.postMessage")
    assert post.headers["Authorization"] == "Bearer xoxb-T2" and post.body["channel"] == "CT2"


def test_a_shared_channel_gets_each_workspaces_post_with_its_own_token(fake: FakeSlack, tmp_path: Path) -> None:
    """Slack Connect: channel CSHARED is in T2 and T3, which both installed the app and subscribed it."""
    from adapters.run_due import run_due

    fake.installs = {"code-for-t2": "T2", "code-for-t3": "T3"}
    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    with served(build_app(desk_for(core, daily=daily), ss)) as url:
        assert install(url.removesuffix("/slack/events"), "code-for-t2") == 200
        assert install(url.removesuffix("/slack/events"), "code-for-t3") == 200
    now = dt.datetime.now(dt.UTC)
    slot = (now - dt.timedelta(minutes=1)).strftime("%H:%M")
    for team in ("T2", "T3"):
        daily.store.subscribe("slack", "CSHARED", team, slot, "UTC", "UADMIN", (now - dt.timedelta(days=1)).timestamp())
    settings = Settings.from_env(
        {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "oauth-secret", "SLACK_API_URL": fake.api_url,
         "DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None,
    )  # fmt: skip
    report = run_due(settings, core, now)
    assert len(report.posted) == 2, report.summary()
    posts = fake.wait_for("/chat.postMessage", 2)
    assert sorted(p.headers["Authorization"] for p in posts) == ["Bearer xoxb-T2", "Bearer xoxb-T3"]
    assert {p.body["channel"] for p in posts} == {"CSHARED"}


def states(daily: Daily) -> int:
    with daily.store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM slack_oauth_states")).scalar() or 0)


def test_anonymous_install_pages_are_limited_per_address_and_logged(
    fake: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    asked = 300
    with guarded(build_app(desk_for(core, daily=daily), ss), ss) as base:
        statuses = [get(base + "/slack/install")[0] for _ in range(asked)]
        assert get(base + "/healthz")[0] == 200  # Slack's own requests are not limited by the install page
    assert statuses[0] == 200 and statuses.count(429) > asked * 0.8, statuses
    assert set(statuses) <= {200, 429}
    assert states(daily) == statuses.count(200) < asked * 0.2  # a row only for the pages served
    limited = [
        r.getMessage() for r in caplog.records if "limited /slack/install requests from 127.0.0.1" in r.getMessage()
    ]
    assert len(limited) == 1, limited  # one line, however many were refused in the minute


def test_expired_install_states_are_deleted(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    app = build_app(desk_for(core, daily=daily), ss)
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=11)
    with daily.store.engine.begin() as conn:  # install pages opened 11 minutes ago and never completed
        for n in range(50):
            conn.execute(sa.text("INSERT INTO slack_oauth_states (state, expire_at) VALUES (:s, :e)"),
                         {"s": f"old-{n}", "e": past + dt.timedelta(minutes=10)})  # fmt: skip
    with guarded(app, ss) as base:
        status, page, _ = get(base + "/slack/install")
    assert status == 200 and "slack.com/oauth/v2/authorize" in page
    with daily.store.engine.connect() as conn:
        left = [r[0] for r in conn.execute(sa.text("SELECT state FROM slack_oauth_states"))]
    assert len(left) == 1 and not left[0].startswith("old-")


# Enterprise Grid: a workspace of an organisation, and an organisation's org-wide install

GRID = {"code-for-t2": "T2"}  # an ordinary workspace, beside the Grid ones below


def grid_fake(fake: FakeSlack) -> None:
    """Three installs: workspace T2 alone; workspace T3 of organisation E1; organisation E2 org-wide."""
    fake.installs = dict(GRID)
    fake.accesses = {"code-for-e1-t3": grid_workspace_access("T3", "E1"), "code-for-e2": org_wide_access("E2")}


def oauth_settings(fake: FakeSlack) -> SlackSettings:
    return SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")


def run_due_env(fake: FakeSlack, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "oauth-secret", "SLACK_API_URL": fake.api_url,
         "DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None,
    )  # fmt: skip


def subscribe_three(url: str, fake: FakeSlack, slot: str) -> None:
    """`/maisky daily on` in a channel of each: T2's C2, T3's C3 (org E1), and T4's C4, a workspace that
    org E2's org-wide install serves."""
    places = {"C2": ("T2", {}), "C3": ("T3", grid_slash("T3", "E1", org_wide=False)),
              "C4": ("T4", grid_slash("T4", "E2", org_wide=True))}  # fmt: skip
    for channel, (team, fields) in places.items():
        user = f"UADMIN{channel}"
        fake.admins.add(user)
        slash(url, fake, f"daily on {slot} UTC", user=user, team=team, fields={**fields, "channel_id": channel})
        assert "Every day at" in str(fake.wait_for(f"/response/{user}")[0].body)


def test_grid_workspaces_and_org_wide_installs_get_their_daily_posts(fake: FakeSlack, tmp_path: Path) -> None:
    from adapters.run_due import run_due

    grid_fake(fake)
    core, daily = make(tmp_path)
    app = build_app(desk_for(core, daily=daily), oauth_settings(fake))
    now = dt.datetime.now(dt.UTC)
    slot = (now + dt.timedelta(minutes=5)).strftime("%H:%M")
    with served(app) as url:
        base = url.removesuffix("/slack/events")
        for code in ("code-for-t2", "code-for-e1-t3", "code-for-e2"):
            assert install(base, code) == 200
        with daily.store.engine.connect() as conn:
            kept = conn.execute(sa.text("SELECT enterprise_id, team_id, is_enterprise_install FROM slack_bots")).all()
        assert sorted((str(e or ""), str(t or ""), bool(o)) for e, t, o in kept) == [
            ("", "T2", False), ("E1", "T3", False), ("E2", "", True)
        ]  # fmt: skip
        subscribe_three(url, fake, slot)
    report = run_due(run_due_env(fake, tmp_path), core, now + dt.timedelta(minutes=10))
    assert len(report.posted) == 3 and not report.paused, report.summary()
    posts = {p.body["channel"]: p.headers["Authorization"] for p in fake.wait_for("/chat.postMessage", 3)}
    assert posts == {"C2": "Bearer xoxb-T2", "C3": "Bearer xoxb-T3", "C4": "Bearer xoxb-E2"}
    recorded = {s.channel: (s.workspace, s.enterprise, s.enterprise_install) for s in daily.store.active()}
    assert recorded == {"C2": ("T2", "", False), "C3": ("T3", "E1", False), "C4": ("T4", "E2", True)}


def test_subscriptions_from_before_the_grid_columns_still_post(fake: FakeSlack, tmp_path: Path) -> None:
    """A row made before version 7 records no organisation: it is looked up as an install outside one."""
    from adapters.run_due import run_due

    core, daily = make(tmp_path)
    with served(build_app(desk_for(core, daily=daily), oauth_settings(fake))) as url:
        assert install(url.removesuffix("/slack/events"), "code-for-t2") == 200
    now = dt.datetime.now(dt.UTC)
    with daily.store.engine.begin() as conn:  # as version 6 wrote it: no enterprise given, the defaults
        conn.execute(sa.text(
            "INSERT INTO subscriptions (platform, channel, workspace, post_time, timezone, created_by, created_at, "
            "active, due_at) VALUES ('slack', 'COLD', 'T2', :slot, 'UTC', 'U1', :at, 1, 0)"),
            {"slot": (now - dt.timedelta(minutes=1)).strftime("%H:%M"), "at": (now - dt.timedelta(days=1)).timestamp()},
        )  # fmt: skip
    report = run_due(run_due_env(fake, tmp_path), core, now)
    assert len(report.posted) == 1, report.summary()
    (post,) = fake.wait_for("/chat.postMessage")
    assert post.headers["Authorization"] == "Bearer xoxb-T2"


def test_doctor_lists_every_installation_and_every_paused_subscription(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid_fake(fake)
    core, daily = make(tmp_path)
    with served(build_app(desk_for(core, daily=daily), oauth_settings(fake))) as url:
        for code in ("code-for-t2", "code-for-e1-t3", "code-for-e2"):
            assert install(url.removesuffix("/slack/events"), code) == 200
        subscribe_three(url, fake, "09:00")
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_TOKEN", "MAISKY_DB"):
        monkeypatch.delenv(name, raising=False)
    env = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "oauth-secret", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": fake.api_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    out = io.StringIO()
    assert main(["doctor"], out) == 0, out.getvalue()
    text = out.getvalue()
    for subject in ("workspace T2", "workspace T3 (org E1)", "org E2 (org-wide)"):
        assert "ok" in next(line for line in text.splitlines() if subject in line), text
    for channel in ("C2 (T2)", "C3 (T3)", "C4 (T4)"):
        assert "the bot can post here" in next(line for line in text.splitlines() if f"slack {channel}" in line)

    sub = daily.store.subscription("slack", "C3", "T3")
    assert sub is not None
    daily.store.pause(sub.id, "the app is not installed in workspace T3")  # as a run of today's main left it
    out = io.StringIO()
    assert main(["doctor"], out) == 1
    text = out.getvalue()
    row = text[text.index("slack C3 (T3)") :]
    assert "paused: the app is not installed in workspace T3" in row and "/maisky daily on" in row, text
    assert text.splitlines()[-1] == "1 problem to fix"


def events(url: str, body: dict[str, Any]) -> int:
    status, _ = post(url, json.dumps(body), "application/json")
    return status


def bots(daily: Daily) -> list[tuple[str, str]]:
    with daily.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT enterprise_id, team_id FROM slack_bots")).all()
    return sorted((str(e or ""), str(t or "")) for e, t in rows)


def test_a_revoked_or_removed_installation_is_forgotten_and_its_subscriptions_paused(
    fake: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from adapters.run_due import run_due

    grid_fake(fake)
    core, daily = make(tmp_path)
    now = dt.datetime.now(dt.UTC)
    with served(build_app(desk_for(core, daily=daily), oauth_settings(fake))) as url:
        for code in ("code-for-t2", "code-for-e1-t3", "code-for-e2"):
            assert install(url.removesuffix("/slack/events"), code) == 200
        subscribe_three(url, fake, (now + dt.timedelta(minutes=5)).strftime("%H:%M"))
        assert bots(daily) == [("", "T2"), ("E1", "T3"), ("E2", "")]

        assert events(url, tokens_revoked("T2", None, bot_user="UBOT")) == 200  # workspace T2's bot token
        assert bots(daily) == [("E1", "T3"), ("E2", "")]
        assert events(url, app_uninstalled(None, "E2")) == 200  # organisation E2 removed its org-wide install
        assert bots(daily) == [("E1", "T3")]
        assert events(url, app_uninstalled(None, "E2")) == 200  # Slack's retry: nothing left to forget

    paused = {s.channel: s.paused_reason for s in daily.store.paused()}
    assert set(paused) == {"C2", "C4"}
    assert "revoked the app's bot token in workspace T2" in str(paused["C2"])
    assert "organisation E2 (org-wide install)" in str(paused["C4"])
    assert [s.channel for s in daily.store.active()] == ["C3"]  # org E1's workspace T3 is still installed
    forgot = [r.getMessage() for r in caplog.records if r.getMessage().startswith("forgot the Slack installation")]
    assert len(forgot) == 2, forgot

    report = run_due(run_due_env(fake, tmp_path), core, now + dt.timedelta(minutes=10))
    assert len(report.posted) == 1 and not report.paused, report.summary()  # the paused ones are not tried
    (post_call,) = fake.wait_for("/chat.postMessage")
    assert post_call.headers["Authorization"] == "Bearer xoxb-T3"


def test_with_one_bot_token_a_revocation_is_acknowledged_and_logged(
    fake_slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("xoxb-one", SECRET, "", fake_slack.api_url, 3000)
    with served(build_app(desk_for(core, daily=daily), ss)) as url:
        assert events(url, app_uninstalled("T1", None)) == 200
        assert events(url, tokens_revoked("T1", None, bot_user="UBOT")) == 200
        # red team: a team id that would start a forged line of its own
        assert events(url, app_uninstalled("T1\n2026-12-07 ERROR forged", None)) == 200
    told = [r.getMessage() for r in caplog.records if "SLACK_BOT_TOKEN" in r.getMessage()]
    assert len(told) == 3 and "workspace T1" in told[0], told
    assert "\n" not in told[2] and "forged" not in told[2] and "workspace ?" in told[2]


@pytest.mark.parametrize("oauth", [False, True], ids=["one token", "oauth"])
def test_app_rate_limited_is_acknowledged_in_one_line(
    fake: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture, oauth: bool
) -> None:
    core, daily = make(tmp_path)
    ss = oauth_settings(fake) if oauth else SlackSettings("xoxb-one", SECRET, "", fake.api_url, 3000)
    caplog.set_level("DEBUG")
    with guarded(build_app(desk_for(core, daily=daily), ss), ss) as base:  # as `maisky slack http` serves it
        checks = fake.count("/auth.test")  # bolt checks the one token when it starts
        assert events(base + "/slack/events", app_rate_limited("T2")) == 200
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING and not _waitress(r)]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "holding back the app's events from workspace T2 since 2018-02-12 20:37 UTC" in lines[0].getMessage()
    assert fake.count("/auth.test") == checks  # never looked up as an installation, never authorized


def _waitress(record: logging.LogRecord) -> bool:
    """waitress's own "Task queue depth is N", written when a loaded machine is slow to take a request."""
    return record.name.startswith("waitress")


@pytest.mark.parametrize(
    ("minute", "team"),
    [
        (10**20, "T2"),  # past any clock: fromtimestamp raised OverflowError, bolt answered 500 with a traceback
        (-(10**20), "T2"),
        (253402300800, "T2"),  # the year 10000: ValueError
        (True, "T2\n2026-12-07 01:00:00 ERROR maisky: forged line"),  # a team id that writes a log line of its own
        ("1518467820", "T" * 64),  # as long as the guard lets an id be (a longer one is refused there)
    ],
    ids=["huge", "huge-negative", "year-10000", "team-with-a-newline", "long-team"],
)
def test_app_rate_limited_with_odd_values_is_still_one_line(
    fake: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture, minute: Any, team: str
) -> None:
    """Red team: the fields of app_rate_limited are Slack's, signed, but of odd values all the same; the
    answer is 200 and one line that quotes neither a forged line nor a huge id."""
    core, daily = make(tmp_path)
    ss = oauth_settings(fake)
    caplog.set_level("DEBUG")
    with guarded(build_app(desk_for(core, daily=daily), ss), ss) as base:
        body = app_rate_limited("T2") | {"minute_rate_limited": minute, "team_id": team}
        assert events(base + "/slack/events", body) == 200
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING and not _waitress(r)]
    assert len(lines) == 1, [r.getMessage()[:200] for r in lines]
    said = lines[0].getMessage()
    assert "holding back the app's events" in said and "\n" not in said and "forged" not in said
    assert "T" * 40 not in said
    assert not [r for r in caplog.records if r.exc_info]


def _grid_click(enterprise: Any, team: Any) -> bytes:
    """A click on "Another passage" from a Grid workspace, as Slack sends block_actions (an `enterprise` and a
    `team` object, each with its id; source: BOLT tests/scenario_tests/test_block_actions.py), its ids odd."""
    payload = {
        "type": "block_actions", "team": {"id": team, "domain": "x"}, "enterprise": {"id": enterprise, "name": "x"},
        "user": {"id": "U1", "team_id": "T2"}, "api_app_id": "A1", "channel": {"id": "C1"},
        "response_url": "http://127.0.0.1:9/response", "trigger_id": "t1", "is_enterprise_install": False,
        "actions": [{"action_id": "maisky_another", "value": "x", "type": "button"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.mark.parametrize(
    ("enterprise", "team"),
    [(["E1"], "T2"), ({"id": "E1"}, "T2"), (5, "T2"), ("E1", ["T2"]), ("E1", {"id": "T2"}), ("E1", 2.5)],
    ids=["enterprise-id-a-list", "enterprise-id-an-object", "enterprise-id-a-number", "team-id-a-list",
         "team-id-an-object", "team-id-a-number"],
)  # fmt: skip
def test_grid_ids_of_the_wrong_type_get_400_and_one_line(
    fake: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture, enterprise: Any, team: Any
) -> None:
    """Red team: with OAuth, bolt looks the installation up by `enterprise.id` and `team.id` before any
    listener runs; an id that is not text reached SQLAlchemy and was answered 500 with a traceback."""
    from tests.adapters.test_slack_http import FORM, signed

    core, daily = make(tmp_path)
    ss = oauth_settings(fake)
    caplog.set_level("DEBUG")
    with guarded(build_app(desk_for(core, daily=daily), ss), ss) as base:
        body = _grid_click(enterprise, team)
        req = Request(base + "/slack/events", data=body, headers=signed(body, FORM), method="POST")
        try:
            with urlopen(req, timeout=60) as resp:
                status = resp.status
        except HTTPError as err:
            status = err.code
    assert status == 400
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and not _waitress(r)]
    assert len(warned) == 1 and "refused a Slack request" in warned[0] and ".id is not a string" in warned[0], warned
    assert not [r for r in caplog.records if r.exc_info]


def test_revocations_for_installations_never_made_forget_and_pause_nothing(
    fake: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Red team: tokens_revoked and app_uninstalled for a workspace and an organisation that never installed
    the app (Slack's events are signed, but may follow a reinstall elsewhere): 200, nothing forgotten, no
    subscription of the installed workspace paused, no line about forgetting."""
    core, daily = make(tmp_path)
    with served(build_app(desk_for(core, daily=daily), oauth_settings(fake))) as url:
        assert install(url.removesuffix("/slack/events"), "code-for-t2") == 200
        fake.admins.add("UADMIN")
        slash(url, fake, "daily on 09:00 UTC", user="UADMIN", team="T2", fields={"channel_id": "C2"})
        assert "Every day at" in str(fake.wait_for("/response/UADMIN")[0].body)
        for body in (tokens_revoked("T999", None, bot_user="UBOT"), app_uninstalled("T999", None),
                     tokens_revoked(None, "E999", bot_user="UBOT"), app_uninstalled(None, "E999"),
                     app_uninstalled("T2", "E999")):  # fmt: skip
            assert events(url, body) == 200
        assert bots(daily) == [("", "T2")]
    assert [s.channel for s in daily.store.active()] == ["C2"] and not daily.store.paused()
    assert not [r for r in caplog.records if "forgot the Slack installation" in r.getMessage()]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_paused_listing_carries_the_label_and_its_reason_pings_no_one(fake: FakeSlack, tmp_path: Path) -> None:
    """Red team: `daily status` of a subscription paused with a reason that holds Slack's own markup (a pause
    reason is a platform's error text, or the revocation's words with its ids): the reply carries the label,
    and the reason cannot form a mention or a link."""
    grid_fake(fake)
    core, daily = make(tmp_path)
    with served(build_app(desk_for(core, daily=daily), oauth_settings(fake))) as url:
        assert install(url.removesuffix("/slack/events"), "code-for-e1-t3") == 200
        fake.admins.add("UADMIN")
        fields = {**grid_slash("T3", "E1", org_wide=False), "channel_id": "C3"}
        slash(url, fake, "daily on 09:00 UTC", user="UADMIN", team="T3", fields=fields)
        assert "Every day at" in str(fake.wait_for("/response/UADMIN")[0].body)
        sub = daily.store.subscription("slack", "C3", "T3")
        assert sub is not None
        daily.store.pause(sub.id, "<!everyone> <@U1> <https://evil.example|click> *bold*")
        slash(url, fake, "daily status", user="UREADER", team="T3", fields=fields)
        (answer,) = fake.wait_for("/response/UREADER")
    said = json.dumps(answer.body)
    assert "paused" in said and "Maisky as narrator" in said
    assert "<!everyone>" not in said and "<@U1>" not in said and "<https://evil.example" not in said


def test_a_workspace_without_an_installation_is_answered_with_the_label(fake: FakeSlack, tmp_path: Path) -> None:
    """Red team: once a revocation has forgotten an installation (or for a workspace that never installed the
    app), bolt finds no installation and answers the member itself; that answer was bolt's own English,
    without the "Maisky as narrator" label. It is the persona's now, labelled."""
    core, daily = make(tmp_path)
    with served(build_app(desk_for(core, daily=daily), oauth_settings(fake))) as url:
        assert install(url.removesuffix("/slack/events"), "code-for-t2") == 200
        assert events(url, app_uninstalled("T2", None)) == 200  # forgotten
        slash(url, fake, "Was Eden made of iron?", user="UGONE", team="T2")
        slash(url, fake, "Was Eden made of iron?", user="UNEVER", team="T9")  # never installed
        answers = [fake.wait_for(f"/response/{user}")[0] for user in ("UGONE", "UNEVER")]
    for answer in answers:
        said = str(answer.body.get("text", ""))
        assert said.startswith("Maisky as narrator") and "install the app again" in said, answer.body
