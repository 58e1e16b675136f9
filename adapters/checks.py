"""The platform probes `maisky doctor` runs: one per chat platform whose settings are usable.

Each platform's library (and the corpus, for Discord's command tree) is imported only when that
platform is configured: a doctor run for one platform never pays the other's start-up time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError
from bot.ops.doctor import Probe, configured
from bot.ops.settings import DiscordSettings, Settings, SlackSettings

if TYPE_CHECKING:
    from discord.app_commands import CommandTree

    from adapters.slack.checks import Installed

__all__ = ["probes"]


def _tree(settings: Settings, ds: DiscordSettings) -> CommandTree[Any]:
    """The command tree this version syncs (built from the corpus, as the bot builds it)."""
    from adapters.discord.client import PREFIX, build_client
    from bot.ops.bootstrap import build, build_desk

    return build_client(build_desk(settings, build(settings), prefix=PREFIX), ds).tree


def _installed(settings: Settings, ss: SlackSettings) -> list[Installed]:
    """With OAuth: every installation's bot token (each workspace's, and each Enterprise Grid organisation's
    org-wide one), from the installations in the bot's database; the latest install of each wins."""
    import sqlalchemy as sa
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.slack.checks import Installed
    from bot.ops.store import database_url

    engine = sa.create_engine(database_url(settings.database_url))
    try:
        bots = SQLAlchemyInstallationStore(client_id=ss.client_id, engine=engine).bots  # read only: no create_tables
        c = bots.c
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.enterprise_id, c.team_id, c.is_enterprise_install, c.bot_token)
                .where(c.client_id == ss.client_id)
                .order_by(c.installed_at)
            ).all()
    except SQLAlchemyError:
        return []  # the database check reports what is wrong with it
    finally:
        engine.dispose()
    latest = {}
    for enterprise, team, org_wide, token in rows:
        if token and (team or enterprise):
            install = Installed(str(enterprise or ""), str(team or ""), bool(org_wide) or not team, str(token))
            latest[install.key] = install
    return list(latest.values())


def probes(settings: Settings, slack_mode: str | None = None) -> dict[str, Probe]:
    """A probe for each configured platform; a platform whose settings are wrong was reported already."""
    slack, discord = configured(settings.values)
    found: dict[str, Probe] = {}
    if slack:
        try:
            from adapters.slack.checks import SlackProbe

            ss = settings.slack(serving=False, mode=slack_mode)
            found["slack"] = SlackProbe(ss, installs=_installed(settings, ss) if ss.oauth else None)
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
