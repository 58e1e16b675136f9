"""`maisky daily run-due`: post whatever is due once and exit, for cron or Heroku Scheduler.

Posts through the platforms' Web/REST APIs only (no gateway, no socket), for every platform
whose token is set. Run twice, the second run posts nothing: the store remembers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from bot import Maisky, Settings
from bot.bootstrap import build_daily
from bot.daily import Poster, RunReport
from bot.errors import ConfigError

__all__ = ["run_due"]

log = logging.getLogger(__name__)


def run_due(settings: Settings, core: Maisky, now: dt.datetime) -> RunReport:
    """One pass of the daily scheduler at `now`, for each configured platform."""
    env = settings.values
    slack = settings.slack(serving=False) if env.get("SLACK_BOT_TOKEN") or env.get("SLACK_CLIENT_ID") else None
    discord_settings = settings.discord() if env.get("DISCORD_TOKEN") else None
    if slack is None and discord_settings is None:
        raise ConfigError(["SLACK_BOT_TOKEN / DISCORD_TOKEN: neither is set, so there is nowhere to post"])
    daily = build_daily(settings, core)

    async def once() -> RunReport:
        posters: dict[str, Poster] = {}
        closing = []
        if slack is not None:
            from slack_sdk import WebClient

            from adapters.slack.installs import daily_poster

            client = WebClient(token=slack.bot_token or None, base_url=slack.api_url)
            posters["slack"] = daily_poster(slack, client, daily)  # with OAuth: each workspace's token
        if discord_settings is not None:
            from adapters.discord.posting import rest_poster

            poster, http = await rest_poster(discord_settings)
            posters["discord"] = poster
            closing.append(http)
        try:
            return await asyncio.to_thread(daily.run_due, now, posters)
        finally:
            for http in closing:
                await http.close()

    return asyncio.run(once())
