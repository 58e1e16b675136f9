"""Starts the long-running processes: the Slack app and the Discord bot, each over its front desk."""

from __future__ import annotations

import argparse
from typing import TextIO

from adapters import lifecycle
from adapters.discord import client as discord_bot
from adapters.slack import app as slack_app
from bot import Maisky
from bot.ops.bootstrap import build_desk, build_quiz

__all__ = ["serve_discord", "serve_slack"]


def serve_slack(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    """`maisky slack [http|socket]`: serve until stopped; its own settings are checked before anything connects."""
    settings = args.settings
    lifecycle.configure_logging(settings)
    slack_settings = settings.slack(mode=args.transport)
    lifecycle.warn_if_ephemeral(settings)
    lifecycle.check_slack_token(slack_settings)
    daily = lifecycle.open_daily(settings, core)
    quiz = build_quiz(settings, core, daily)
    desk = build_desk(settings, core, prefix=slack_app.PREFIX, daily=daily, quiz=quiz, process=True)
    with lifecycle.reaching("slack", settings):
        slack_app.run(desk, slack_settings, shutdown_seconds=settings.shutdown_seconds)
    return 0


def serve_discord(args: argparse.Namespace, core: Maisky, out: TextIO) -> int:
    """`maisky discord [run|sync]`: serve until stopped, or push the commands once and exit."""
    settings = args.settings
    lifecycle.configure_logging(settings)
    if args.action == "sync":
        discord_bot.run(build_desk(settings, core, prefix=discord_bot.PREFIX), settings.discord(), sync_only=True)
        return 0
    discord_settings = settings.discord()
    lifecycle.warn_if_ephemeral(settings)
    lifecycle.check_discord_gateway(discord_settings)
    daily = lifecycle.open_daily(settings, core)
    desk = build_desk(settings, core, prefix=discord_bot.PREFIX, daily=daily, quiz=build_quiz(settings, core, daily))
    discord_bot.run(desk, discord_settings, shutdown_seconds=settings.shutdown_seconds)
    return 0
