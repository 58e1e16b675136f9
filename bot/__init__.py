"""The platform-free core of the Maisky bot: corpus, matching, voice, quotations and settings."""

from bot.chat.core import Maisky
from bot.chat.reply import Citation, Kind, Quotation, Reply, neutralise
from bot.errors import ConfigError, CorpusError, MaiskyError
from bot.ops.bootstrap import build
from bot.ops.settings import Settings

__all__ = [
    "Citation", "ConfigError", "CorpusError", "Kind", "Maisky", "MaiskyError", "Quotation", "Reply", "Settings",
    "build", "neutralise",
]  # fmt: skip
