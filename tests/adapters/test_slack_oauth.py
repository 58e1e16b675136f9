"""One HTTP deployment, many workspaces: bolt's install flow against a fake `oauth.v2.access`, the
installation kept in the bot's own database, then a slash command from the second workspace answered
with that workspace's token, and its daily post sent with it."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
import sqlalchemy as sa
import waitress.wasyncore
from slack_bolt import App

from adapters.cli import main
from adapters.slack.app import build_app
from adapters.slack.http import Health
from adapters.slack.installs import daily_poster
from adapters.slack.serve import make_server
from bot import Maisky, Settings, build
from bot.club.daily import Daily
from bot.ops.bootstrap import build_daily
from bot.ops.settings import SlackSettings
from tests.adapters.conftest import desk_for
from tests.adapters.slack_fakes import SECRET, FakeSlack, served, slash
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
        with urlopen(req, timeout=10) as resp:
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

        slash(url, fake, "sources", user="U3", team="T3")  # never installed: bolt says so, the bot answers nothing
        (note,) = fake.wait_for("/response/U3")
        assert "reinstall this app" in note.body["text"] and "Maisky as narrator" not in str(note.body)

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


@contextmanager
def guarded(app: App, ss: SlackSettings) -> Iterator[str]:
    """The app as `maisky slack http` serves it: behind the guard, in waitress, on 127.0.0.1."""
    server, _ = make_server(app, replace(ss, host="127.0.0.1", port=0), Health())
    stop = threading.Event()

    def run() -> None:  # waitress's own loop, a tick at a time, so it can be stopped between ticks
        while not stop.is_set():
            waitress.wasyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(5)
        server.task_dispatcher.shutdown()
        waitress.wasyncore.close_all(server._map)


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
