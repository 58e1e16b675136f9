"""The platform-free core of the Maisky bot: corpus, matching, voice, quotations and settings."""

from bot.bootstrap import build
from bot.core import Maisky
from bot.errors import ConfigError, CorpusError, MaiskyError
from bot.reply import Citation, Kind, Quotation, Reply, neutralise
from bot.settings import Settings

__all__ = [
    "Citation", "ConfigError", "CorpusError", "Kind", "Maisky", "MaiskyError", "Quotation", "Reply", "Settings",
    "build", "neutralise",
]  # fmt: skip
