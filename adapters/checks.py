"""The platform probes `maisky doctor` runs: one per chat platform whose settings are usable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError
from bot.ops.doctor import Probe, configured
from bot.ops.settings import DiscordSettings, Settings, SlackSettings

if TYPE_CHECKING:
    from discord.app_commands import CommandTree

__all__ = ["probes"]


def _tree(settings: Settings, ds: DiscordSettings) -> CommandTree[Any]:
    """The command tree this version syncs (built from the corpus, as the bot builds it)."""
    from adapters.discord.client import build_client
    from bot import build

    return build_client(build(settings), ds).tree


def _installed(settings: Settings, ss: SlackSettings) -> dict[str, str]:
    """With OAuth: each workspace's bot token, from the installations in the bot's database."""
    import sqlalchemy as sa
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from sqlalchemy.exc import SQLAlchemyError

    from bot.ops.store import database_url

    engine = sa.create_engine(database_url(settings.database_url))
    try:
        bots = SQLAlchemyInstallationStore(client_id=ss.client_id, engine=engine).bots  # read only: no create_tables
        with engine.connect() as conn:
            rows = conn.execute(sa.select(bots.c.team_id, bots.c.bot_token).order_by(bots.c.installed_at)).all()
    except SQLAlchemyError:
        return {}  # the database check reports what is wrong with it
    finally:
        engine.dispose()
    return {str(team): str(token) for team, token in rows if team and token}  # the latest install wins


def probes(settings: Settings, slack_mode: str | None = None) -> dict[str, Probe]:
    """A probe for each configured platform; a platform whose settings are wrong was reported already."""
    slack, discord = configured(settings.values)
    found: dict[str, Probe] = {}
    if slack:
        try:
            from adapters.slack.checks import SlackProbe

            ss = settings.slack(serving=False, mode=slack_mode)
            found["slack"] = SlackProbe(ss, tokens=_installed(settings, ss) if ss.oauth else None)
        except ConfigError:
            pass
    if discord:
        try:
            from adapters.discord.checks import DiscordProbe

            ds = settings.discord()
            found["discord"] = DiscordProbe(ds, lambda: _tree(settings, ds))
        except ConfigError:
            pass
    return found
