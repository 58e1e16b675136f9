"""One HTTP deployment for many Slack workspaces: bolt's OAuth install flow, its installations kept in
the bot's own database (slack_sdk's SQLAlchemy stores), and daily posts sent with each workspace's
own bot token.

`/slack/install` offers "Add to Slack"; Slack sends the admin back to `/slack/oauth_redirect`, where
bolt exchanges the code (`oauth.v2.access`) and saves the installation. From then on bolt looks up
the workspace's bot token for every request from it.

Enterprise Grid: an installation is found by (enterprise, team, whether org-wide), as bolt finds it.
A subscription records the enterprise and whether the install was org-wide (bot/ops/store.py, version
7), so its daily post finds the same installation. When Slack says an installation's bot token was
revoked or the app removed, bolt's token revocation listeners delete it from the store, and the store
pauses the subscriptions it served, saying why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from adapters.slack.checks import SCOPES
from adapters.slack.posting import SlackPoster
from bot.errors import ChannelGone, TokenRejected
from bot.ops.settings import SlackSettings

if TYPE_CHECKING:
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    from bot.club.daily import Daily
    from bot.ops.store import Store

__all__ = [
    "INSTALL_PATH", "REDIRECT_PATH", "RateLimited", "WorkspacePoster", "daily_poster", "forget_revoked",
    "installation_store", "oauth_flow",
]  # fmt: skip

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # an install link works for ten minutes


def _where(enterprise: str | None, team: str | None, org_wide: bool) -> str:
    """An installation in words: a workspace's, within an organisation or not, or an organisation's."""
    if org_wide or not team:
        return f"organisation {enterprise} (org-wide install)"
    return f"workspace {team}" + (f" of organisation {enterprise}" if enterprise else "")


def _revoked(enterprise: str | None, team: str | None) -> str:
    """Why a subscription was paused when Slack took its installation's bot token back."""
    where = _where(enterprise, team, org_wide=False)
    return f"Slack revoked the app's bot token in {where} (the app was removed, or its token revoked)"


def installation_store(
    slack: SlackSettings, engine: Engine, subscriptions: Store | None = None
) -> SQLAlchemyInstallationStore:
    """The installations (one row per workspace and bot), in tables slack_installations and slack_bots.
    Deleting an installation's bot (bolt's token revocation listeners do, on `tokens_revoked` and
    `app_uninstalled`) pauses the subscriptions it served, in `subscriptions` when given."""
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    class Installations(SQLAlchemyInstallationStore):
        def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
            known = self.find_bot(enterprise_id=enterprise_id, team_id=team_id) is not None
            super().delete_bot(enterprise_id=enterprise_id, team_id=team_id)
            if not known or subscriptions is None:
                return  # what was never kept, or is forgotten already, served nothing
            reason = _revoked(enterprise_id, team_id)
            paused = subscriptions.pause_installation(
                "slack", reason, enterprise=enterprise_id or "", workspace=team_id
            )
            log.warning("forgot the Slack installation of %s; paused %d daily subscription(s)",
                        _where(enterprise_id, team_id, org_wide=False), paused)  # fmt: skip

    store = Installations(client_id=slack.client_id, engine=engine)
    store.create_tables()  # type: ignore[no-untyped-call]  # CREATE TABLE IF NOT EXISTS: safe at every start
    return store


def _expiring_states(engine: Engine) -> SQLAlchemyOAuthStateStore:
    """slack_sdk's state store (table slack_oauth_states), deleting the states that expired each time it
    issues one: every anonymous GET /slack/install adds a row, which slack_sdk deletes only when an
    install completes with it. (The guard limits how fast anyone may ask: adapters/slack/http.Throttle.)"""
    from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    class ExpiringStates(SQLAlchemyOAuthStateStore):
        def issue(self, *args: Any, **kwargs: Any) -> str:
            now = normalize_datetime_for_db(dt.datetime.now(tz=dt.UTC))
            with self.engine.begin() as conn:
                conn.execute(self.oauth_states.delete().where(self.oauth_states.c.expire_at <= now))
            return str(super().issue(*args, **kwargs))

    return ExpiringStates(expiration_seconds=STATE_SECONDS, engine=engine)


def oauth_flow(slack: SlackSettings, store: Store) -> OAuthFlow:
    """bolt's install flow over the bot's database; its Web API calls go to `slack.api_url`."""
    engine = store.engine
    states = _expiring_states(engine)
    states.create_tables()  # type: ignore[no-untyped-call]
    settings = OAuthSettings(
        client_id=slack.client_id,
        client_secret=slack.client_secret,
        scopes=sorted(SCOPES),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installation_store(slack, engine, store),
        state_store=states,
    )
    return OAuthFlow(client=WebClient(base_url=slack.api_url), settings=settings)


def forget_revoked(app: App, slack: SlackSettings) -> None:
    """Listen for Slack's `tokens_revoked` and `app_uninstalled`. With OAuth, bolt's own listeners delete
    the installation (its store then pauses the subscriptions it served); with the one bot token there
    is nothing to forget, and the log says what to do."""
    if slack.oauth:
        app.enable_token_revocation_listeners()
        return

    def told(event: dict[str, Any], context: BoltContext) -> None:
        log.warning("Slack says the app was removed from workspace %s or its bot token revoked (%s): "
                    "reinstall it and set SLACK_BOT_TOKEN to the new token", _id(context.team_id),
                    event.get("type"))  # fmt: skip

    app.event("tokens_revoked")(told)
    app.event("app_uninstalled")(told)


def _id(value: Any) -> str:
    """A Slack id for a log line: as sent when it looks like one (letters and digits), else "?", so a
    signed but odd value can neither start a log line of its own nor fill one."""
    return value if isinstance(value, str) and value.isascii() and value.isalnum() and len(value) <= 32 else "?"


class RateLimited(Middleware):
    """bolt's `before_authorize` middleware for `app_rate_limited`, which Slack sends unasked, with no inner
    event, when it holds back a workspace's events: acknowledged and logged, never looked up as an install.
    A Middleware, not a function: bolt builds a function's arguments by name for every request."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        body = req.body
        if body.get("type") != "app_rate_limited":
            return next()
        minute = body.get("minute_rate_limited")
        since = "?"
        if isinstance(minute, int) and not isinstance(minute, bool):
            with contextlib.suppress(OverflowError, OSError, ValueError):  # a minute no clock can show: "?"
                since = dt.datetime.fromtimestamp(minute, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        log.warning("Slack is holding back the app's events from workspace %s since %s (over 30,000 an hour)",
                    _id(body.get("team_id")), since)  # fmt: skip
        return BoltResponse(status=200, body="")


class WorkspacePoster:
    """Daily posts where each channel's workspace has its own bot token (from its installation).
    `make` builds the single-workspace poster for a client (adapters/slack/posting.SlackPoster)."""

    pace = SlackPoster.pace

    def __init__(
        self,
        slack: SlackSettings,
        store: SQLAlchemyInstallationStore,
        make: Any,
        subscriptions: Store,
    ) -> None:
        self.slack = slack
        self.store = store
        self.make = make
        self.subscriptions = subscriptions

    def post(self, channel: str, *args: Any, workspace: str = "", **kwargs: Any) -> Any:
        team = workspace  # the subscription's: a Slack Connect channel may be subscribed in several
        sub = self.subscriptions.subscription("slack", channel, team) if team else None
        enterprise, org_wide = (sub.enterprise or None, sub.enterprise_install) if sub is not None else (None, False)
        # bolt's own lookup, as for a request from the workspace: an org-wide install has no team of its own
        bot = (
            self.store.find_bot(enterprise_id=enterprise, team_id=team, is_enterprise_install=org_wide)
            if team
            else None
        )
        if bot is None or not bot.bot_token:
            raise ChannelGone(f"the app is not installed in {_where(enterprise, team, org_wide)}")
        client = WebClient(token=bot.bot_token, base_url=self.slack.api_url)
        try:
            return self.make(client).post(channel, *args, **kwargs)
        except TokenRejected as exc:  # that workspace's token only: the others still post
            raise TokenRejected(str(exc), workspace=team) from exc


def daily_poster(slack: SlackSettings, client: WebClient, daily: Daily, timeout: float = 20.0) -> Any:
    """The Slack poster for the daily scheduler: the one bot token, or each workspace's installation's."""

    if not slack.oauth:
        return SlackPoster(client, timeout)

    def make(workspace_client: WebClient) -> SlackPoster:
        return SlackPoster(workspace_client, timeout)

    return WorkspacePoster(slack, installation_store(slack, daily.store.engine, daily.store), make, daily.store)
