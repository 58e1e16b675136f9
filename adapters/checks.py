"""The platform probes `maisky doctor` runs: one per chat platform whose settings are usable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.doctor import Probe, configured
from bot.errors import ConfigError
from bot.settings import DiscordSettings, Settings

if TYPE_CHECKING:
    from discord.app_commands import CommandTree

__all__ = ["probes"]


def _tree(settings: Settings, ds: DiscordSettings) -> CommandTree[Any]:
    """The command tree this version syncs (built from the corpus, as the bot builds it)."""
    from adapters.discord.client import build_client
    from bot import build

    return build_client(build(settings), ds).tree


def probes(settings: Settings) -> dict[str, Probe]:
    """A probe for each configured platform; a platform whose settings are wrong was reported already."""
    slack, discord = configured(settings.values)
    found: dict[str, Probe] = {}
    if slack:
        try:
            from adapters.slack.checks import SlackProbe

            found["slack"] = SlackProbe(settings.slack(serving=False))
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
