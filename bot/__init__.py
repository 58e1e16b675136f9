"""The platform-free core of the Maisky bot: corpus, matching, voice, quotations and settings."""

from bot.ops.runtime import before_numpy

before_numpy()  # OpenBLAS starts its threads when numpy loads, in the imports below (bot/ops/runtime.py)

from bot.chat.core import Maisky  # noqa: E402
from bot.chat.reply import Citation, Kind, Quotation, Reply, neutralise  # noqa: E402
from bot.errors import ConfigError, CorpusError, MaiskyError  # noqa: E402
from bot.ops.bootstrap import build  # noqa: E402
from bot.ops.settings import Settings  # noqa: E402

__all__ = [
    "Citation", "ConfigError", "CorpusError", "Kind", "Maisky", "MaiskyError", "Quotation", "Reply", "Settings",
    "build", "neutralise",
]  # fmt: skip
