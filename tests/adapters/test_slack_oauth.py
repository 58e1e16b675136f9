"""One HTTP deployment, many workspaces: bolt's install flow against a fake `oauth.v2.access`, the
installation kept in the bot's own database, then a slash command from the second workspace answered
with that workspace's token, and its daily post sent with it."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError
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
    app = build_app(core, ss, daily=daily)
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
    daily_poster(ss, app.client, daily).post("C1", reply, "C1:2026-01-10")
    (post,) = fake.wait_for("/chat.postMessage")
    assert post.headers["Authorization"] == "Bearer xoxb-T2" and post.body["channel"] == "C1"


def test_a_bad_state_installs_nothing(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    with served(build_app(core, ss, daily=daily)) as url:
        base = url.removesuffix("/slack/events")
        status, _, _ = get(f"{base}/slack/oauth_redirect?code=code-for-t2&state=forged")
        assert status >= 400
    assert fake.count("/oauth.v2.access") == 0


def test_single_token_mode_needs_no_install(fake: FakeSlack, tmp_path: Path) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("xoxb-one", SECRET, "", fake.api_url, 3000)
    with served(build_app(core, ss, daily=daily)) as url:
        slash(url, fake, "sources", user="U1")
        fake.wait_for("/response/U1")
        status, _, _ = get(url.removesuffix("/slack/events") + "/slack/install")
        assert status == 404


def test_doctor_checks_each_installed_workspace(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core, daily = make(tmp_path)
    ss = SlackSettings("", SECRET, "", fake.api_url, 3000, client_id="111.222", client_secret="oauth-secret")
    with served(build_app(core, ss, daily=daily)) as url:
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
    with served(build_app(core, ss, daily=daily)) as url:
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
