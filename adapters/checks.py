"""The platform probes `maisky doctor` runs: one per chat platform whose settings are usable."""

from __future__ import annotations

from bot.doctor import Probe, configured
from bot.errors import ConfigError
from bot.settings import Settings

__all__ = ["probes"]


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

            found["discord"] = DiscordProbe(settings.discord())
        except ConfigError:
            pass
    return found
