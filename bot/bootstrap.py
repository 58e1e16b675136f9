"""The composition root: settings in, a ready Maisky out. Nothing else builds core objects."""

from __future__ import annotations

from bot.analysis import Analyzer
from bot.cooldown import Cooldown
from bot.core import Maisky
from bot.corpus import load_corpus
from bot.matcher import Matcher
from bot.settings import Settings
from bot.voice import Voice

__all__ = ["build"]


def build(settings: Settings) -> Maisky:
    """Load and validate the corpus and persona, index the passages, wire the core."""
    corpus = load_corpus(settings.seeds_dir)
    matcher = Matcher(corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues))
    voice = Voice(settings.persona_dir, corpus, seed=settings.seed)
    return Maisky(corpus, matcher, voice, seed=settings.seed, cooldown=Cooldown(settings.cooldown))
