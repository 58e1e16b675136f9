"""`maisky daily run-due`: post whatever is due once and exit, for cron or Heroku Scheduler.

Posts through the platforms' Web/REST APIs only (no gateway, no socket), for every platform
whose token is set. Run twice, the second run posts nothing: the store remembers. Each platform
and each channel is tried on its own; the run says what failed and exits non-zero only after
trying everything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TextIO

from bot import Maisky, Settings
from bot.club.daily import Poster, RunReport
from bot.errors import ConfigError, ServiceError
from bot.ops.bootstrap import build_daily

__all__ = ["main", "print_report", "run_due"]

log = logging.getLogger(__name__)


def run_due(settings: Settings, core: Maisky, now: dt.datetime) -> RunReport:
    """One pass of the daily scheduler at `now`, for each configured platform."""
    env = settings.values
    slack = settings.slack(serving=False) if env.get("SLACK_BOT_TOKEN") or env.get("SLACK_CLIENT_ID") else None
    discord_settings = settings.discord() if env.get("DISCORD_TOKEN") else None
    if slack is None and discord_settings is None:
        raise ConfigError(["SLACK_BOT_TOKEN / DISCORD_TOKEN: neither is set, so there is nowhere to post"])
    daily = build_daily(settings, core)
    timeout = float(daily.config.post_timeout)

    async def once() -> RunReport:
        posters: dict[str, Poster] = {}
        closing = []
        refused: list[str] = []
        if slack is not None:
            from slack_sdk import WebClient

            from adapters.slack.installs import daily_poster

            client = WebClient(token=slack.bot_token or None, base_url=slack.api_url)
            posters["slack"] = daily_poster(slack, client, daily, timeout)  # with OAuth: each workspace's token
        if discord_settings is not None:
            from adapters.discord.posting import rest_poster

            try:
                poster, http = await rest_poster(discord_settings, timeout)
            except ServiceError as exc:  # the other platform still posts
                log.error("daily posts to discord stopped: %s; every subscription is left as it was", exc)
                refused.append(f"discord: {exc}")
            else:
                posters["discord"] = poster
                closing.append(http)
        try:
            report = await asyncio.to_thread(daily.run_due, now, posters)
        finally:
            for http in closing:
                await http.close()
        report.stopped[:0] = refused
        return report

    return asyncio.run(once())


def main(settings: Settings, core: Maisky, now: dt.datetime, out: TextIO) -> int:
    """Run one pass and print what happened."""
    return print_report(run_due(settings, core, now), out)


def print_report(report: RunReport, out: TextIO) -> int:
    """The report, one line per channel-day; the exit code: 0 if all went well, 3 if anything
    failed, is in doubt (sent, unconfirmed) or a platform refused the bot."""
    out.write(f"daily posts: {report.summary()}\n")
    for what, items in (("posted", report.posted), ("skipped", report.skipped), ("retrying", report.retrying),
                        ("paused", report.paused), ("unconfirmed", report.unconfirmed), ("failed", report.failed),
                        ("stopped", report.stopped)):  # fmt: skip
        for item in items:
            out.write(f"  {what}: {item}\n")
    return 0 if report.ok else 3
