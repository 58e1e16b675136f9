"""The composition root: settings in, a ready Maisky out. Nothing else builds core objects."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from bot.analysis import Analyzer
from bot.cooldown import Cooldown
from bot.core import Maisky
from bot.corpus import load_corpus
from bot.embedding import load_encoder
from bot.matcher import Matcher
from bot.settings import Settings
from bot.voice import Voice

if TYPE_CHECKING:
    from bot.daily import Daily
    from bot.quiz import Quiz

__all__ = ["build", "build_daily", "build_quiz"]


def build(settings: Settings) -> Maisky:
    """Load and validate the corpus and persona, index the passages, wire the core."""
    corpus = load_corpus(settings.seeds_dir)
    matcher = Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues), encoder=load_encoder())
    voice = Voice(settings.persona_dir, corpus, seed=settings.seed)
    return Maisky(corpus, matcher, voice, seed=settings.seed, cooldown=Cooldown(settings.cooldown))


def build_daily(settings: Settings, core: Maisky) -> Daily:
    """The daily-post service over the configured database (created or upgraded on open)."""
    settings.check_database()  # a wrong URL or an unusable SQLite file is named before any connection
    # Imported here: SQLAlchemy doubles the start-up time of commands that never post (maisky ask).
    from bot.daily import Daily, DailyConfig
    from bot.store import Store

    config = DailyConfig(
        default_time=settings.daily_time,
        default_timezone=settings.daily_timezone,
        window=dt.timedelta(hours=settings.daily_window_hours),
    )
    return Daily(Store(settings.database_url), core.corpus, core.voice, config, seed=settings.seed)


def build_quiz(settings: Settings, core: Maisky, daily: Daily | None = None) -> Quiz:
    """The club quiz over the configured database (its scores and draws live there); with `daily`,
    over the same store as the daily posts."""
    from bot.quiz import Quiz
    from bot.store import Store

    store = daily.store if daily is not None else Store(settings.database_url)
    return Quiz(store, core.corpus, core.voice, seed=settings.seed)
