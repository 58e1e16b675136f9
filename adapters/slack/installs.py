"""One HTTP deployment for many Slack workspaces: bolt's OAuth install flow, its installations kept in
the bot's own database (slack_sdk's SQLAlchemy stores), and daily posts sent with each workspace's
own bot token.

`/slack/install` offers "Add to Slack"; Slack sends the admin back to `/slack/oauth_redirect`, where
bolt exchanges the code (`oauth.v2.access`) and saves the installation. From then on bolt looks up
the workspace's bot token for every request from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from adapters.slack.checks import SCOPES
from bot.errors import ChannelGone, TokenRejected
from bot.ops.settings import SlackSettings

if TYPE_CHECKING:
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    from bot.club.daily import Daily

__all__ = ["INSTALL_PATH", "REDIRECT_PATH", "WorkspacePoster", "daily_poster", "installation_store", "oauth_flow"]

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # an install link works for ten minutes


def installation_store(slack: SlackSettings, engine: Engine) -> SQLAlchemyInstallationStore:
    """The installations (one row per workspace and bot), in tables slack_installations and slack_bots."""
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    store = SQLAlchemyInstallationStore(client_id=slack.client_id, engine=engine)
    store.create_tables()  # type: ignore[no-untyped-call]  # CREATE TABLE IF NOT EXISTS: safe at every start
    return store


def oauth_flow(slack: SlackSettings, engine: Engine) -> OAuthFlow:
    """bolt's install flow over the bot's database; its Web API calls go to `slack.api_url`."""
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    states = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine)
    states.create_tables()  # type: ignore[no-untyped-call]
    settings = OAuthSettings(
        client_id=slack.client_id,
        client_secret=slack.client_secret,
        scopes=sorted(SCOPES),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installation_store(slack, engine),
        state_store=states,
    )
    return OAuthFlow(client=WebClient(base_url=slack.api_url), settings=settings)


class WorkspacePoster:
    """Daily posts where each channel's workspace has its own bot token (from its installation).
    `make` builds the single-workspace poster for a client (adapters/slack/posting.SlackPoster)."""

    def __init__(
        self,
        slack: SlackSettings,
        store: SQLAlchemyInstallationStore,
        workspace_of: Any,  # channel -> workspace id (the subscription's), or None
        make: Any,
    ) -> None:
        self.slack = slack
        self.store = store
        self.workspace_of = workspace_of
        self.make = make

    def post(self, channel: str, *args: Any, **kwargs: Any) -> Any:
        team = self.workspace_of(channel)
        bot = self.store.find_bot(enterprise_id=None, team_id=team) if team else None
        if bot is None or not bot.bot_token:
            raise ChannelGone(f"the app is not installed in workspace {team or '?'}")
        client = WebClient(token=bot.bot_token, base_url=self.slack.api_url)
        try:
            return self.make(client).post(channel, *args, **kwargs)
        except TokenRejected as exc:  # that workspace's token only: the others still post
            raise TokenRejected(str(exc), workspace=team) from exc


def daily_poster(slack: SlackSettings, client: WebClient, daily: Daily, timeout: float = 20.0) -> Any:
    """The Slack poster for the daily scheduler: the one bot token, or each workspace's installation's."""
    from adapters.slack.posting import SlackPoster  # posting imports the app module

    if not slack.oauth:
        return SlackPoster(client, timeout)

    def workspace_of(channel: str) -> str | None:
        sub = daily.store.subscription("slack", channel)
        return sub.workspace if sub else None

    def make(workspace_client: WebClient) -> SlackPoster:
        return SlackPoster(workspace_client, timeout)

    return WorkspacePoster(slack, installation_store(slack, daily.store.engine), workspace_of, make)
