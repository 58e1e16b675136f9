"""The composition root: settings in, the answering core and each surface's front desk out."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import pickle
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from bot.chat.cooldown import Cooldown, CooldownStore
from bot.chat.core import Maisky
from bot.chat.desk import FrontDesk
from bot.chat.memory import ConversationMemory, TurnStore
from bot.chat.pool import AnswerPool, AnswerProcess
from bot.chat.voice import Voice
from bot.ops.pools import daily_pool, quiz_pool
from bot.ops.progress import Lines, Progress
from bot.ops.runtime import use_threads
from bot.ops.settings import Settings
from bot.search.analysis import Analyzer
from bot.search.embedding import default_cache_dir, load_encoder
from bot.search.index_store import LexicalIndex, cached_corpus
from bot.search.matcher import Matcher, Thresholds
from bot.search.reader import load_reader
from bot.sources.corpus import Corpus, load_corpus
from bot.sources.quotes import quote_for_day

if TYPE_CHECKING:
    from bot.club.daily import Daily
    from bot.club.quiz import Quiz

__all__ = ["build", "build_daily", "build_desk", "build_quiz", "quotation_corpus"]

log = logging.getLogger(__name__)
_CACHE_FORMAT = 1  # bump when what the cache holds changes shape


class _NoIndex:
    """The matcher of a process built to post quotations only: it holds no search index."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("this process was built to post daily quotations only; it has no search index")


def _fingerprint(settings: Settings) -> str:
    """What the quotation cache depends on: every seed file's bytes, and the code that reads them."""
    digest = hashlib.sha256(f"{_CACHE_FORMAT}:{sys.version_info[:2]}".encode())
    for name in (Corpus.__module__, quote_for_day.__module__):  # the code that reads the seeds
        digest.update(Path(str(sys.modules[name].__file__)).read_bytes())
    for path in sorted(settings.seeds_dir.glob("*.toml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:32]


def quotation_corpus(settings: Settings) -> Corpus:
    """The corpus cut down to the passages that quote someone: all a process that posts daily
    quotations needs. Read from a cache in MAISKY_STATE_DIR while the seed files are unchanged, so
    `maisky daily run-due` starts in well under a second even on a corpus of 100,000 passages; else
    the full corpus is loaded and validated as usual, and the cache written."""
    state = Path(settings.values.get("MAISKY_STATE_DIR") or ".maisky-state")
    cache = state / f"quotations-{_fingerprint(settings)}.pickle"
    try:
        with cache.open("rb") as fh:
            found = pickle.load(fh)  # our own file, written below from validated seeds
        if isinstance(found, Corpus):
            return found
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        pass
    full = load_corpus(settings.seeds_dir)
    small = replace(full, passages=tuple(p for p in full.passages if p.quotes))
    try:
        state.mkdir(parents=True, exist_ok=True)
        for old in state.glob("quotations-*.pickle"):
            old.unlink(missing_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as fh:
            pickle.dump(small, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, cache)
    except OSError:
        log.warning("could not write the quotation cache in %s; the next start loads the full corpus again", state)
    return small


def build(settings: Settings, *, index: bool = True, progress: Progress | None = None) -> Maisky:
    """Load and validate the corpus and persona, index the passages, wire the core. Without
    `index` (processes that only post quotations: `maisky daily ...`), only the passages that
    quote someone are loaded, from a cache when the seeds are unchanged, and nothing is indexed.
    `progress` hears when passages need encoding (default: a line in the log as it starts and ends)."""
    use_threads(settings.threads)  # before any numeric work: every library of the process gets the chosen count
    if index:
        # read back from the cache while the seed files are unchanged (bot/search/index_store.py)
        corpus, fingerprint = cached_corpus(settings.seeds_dir, settings.cache_dir or default_cache_dir())
        analyzer = Analyzer(corpus.people, corpus.synonyms, corpus.cues)
        # the first start on a corpus indexes it before the models are loaded, so that the index being
        # built and the models' weights are never in memory together (the peak of that start)
        t = Thresholds()
        LexicalIndex.prepare(corpus, analyzer, t.k1, t.b, settings.cache_dir or default_cache_dir(), fingerprint)
        encoder = load_encoder(settings.cache_dir)
        matcher = Matcher(
            corpus, analyzer, encoder=encoder, cache_dir=settings.cache_dir, fingerprint=fingerprint,
            progress=progress if progress is not None else Lines(),
            reader=load_reader(settings.cache_dir) if encoder is not None else None,  # reads what the stages found
        )  # fmt: skip
    else:
        corpus = quotation_corpus(settings)
        matcher = cast(Matcher, _NoIndex())
        fingerprint = _fingerprint(settings)
    cache = settings.cache_dir or default_cache_dir()
    voice = Voice(settings.persona_dir, corpus, seed=settings.seed, cache_dir=cache)
    # Maisky's quotations worth posting, read from the cache folder while the corpus is unchanged:
    # finding them reads every passage (seconds at 100,000), and only daily posts and `quote` need them
    quotes = partial(daily_pool, corpus, fingerprint, cache)
    return Maisky(corpus, matcher, voice, seed=settings.seed, quotes=quotes)


def _corpus_key(settings: Settings, core: Maisky) -> str:
    """What keys everything worked out from the core's corpus (bot/ops/pools.py)."""
    return core.matcher.fingerprint if isinstance(core.matcher, Matcher) else _fingerprint(settings)


class SharedStore(TurnStore, CooldownStore, Protocol):
    """What every process of a deployment shares through the database (bot.ops.store.Store)."""


def _once(open_store: Callable[[], SharedStore | None]) -> Callable[[], SharedStore | None]:
    """`open_store` called at most once, for the memory and the cooldown both."""
    lock = threading.Lock()
    opened: list[SharedStore | None] = []

    def store() -> SharedStore | None:
        with lock:
            if not opened:
                opened.append(open_store())
            return opened[0]

    return store


def build_desk(
    settings: Settings,
    core: Maisky,
    *,
    prefix: str = "",
    hide: frozenset[str] = frozenset(),
    daily: Daily | Callable[[], Daily] | None = None,
    quiz: Quiz | Callable[[], Quiz] | None = None,
    store: SharedStore | Callable[[], SharedStore | None] | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    process: bool = False,
) -> FrontDesk:
    """One surface's front desk: `prefix` is how the surface writes a command ("/maisky "), `hide` the
    command words it does not offer. Conversation turns and the cooldown are kept in `store` (or the
    daily posts' store) when there is one, so every process shares them; the cooldown's window and the
    conversation's silence come from the settings. With `process` (and MAISKY_ANSWER_PROCESS on), the
    answer pool is a worker process, which the front end starts once it registered its jobs."""
    if store is None and daily is not None and not callable(daily):
        store = daily.store
    if callable(store):
        store = _once(store)
    now = clock or _utc_now
    memory = ConversationMemory(store, silence=dt.timedelta(minutes=settings.memory_minutes), clock=now)
    # `process`: its answers run in a worker process (bot/chat/pool.py), for front ends that call registered jobs
    # A numeric library's thread pool (MAISKY_THREADS above 1) may hold a lock at the fork and hang the
    # worker, so with several numeric threads the answers stay in this process's threads.
    forked = process and settings.answer_process and settings.threads == 1
    if process and settings.answer_process and not forked:
        log.info("MAISKY_THREADS=%d: answers run in this process's threads, not a worker process", settings.threads)
    kind = AnswerProcess if forked else AnswerPool
    pool = kind(settings.answer_threads or None, settings.answer_queue)
    return FrontDesk(
        core, daily, quiz=quiz, prefix=prefix, hide=hide, clock=now, memory=memory,
        cooldown=Cooldown(settings.cooldown, store=store), pool=pool,
    )  # fmt: skip


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_daily(settings: Settings, core: Maisky) -> Daily:
    """The daily-post service over the configured database (created or upgraded on open)."""
    settings.check_database()  # a wrong URL or an unusable SQLite file is named before any connection
    # Imported here: SQLAlchemy doubles the start-up time of commands that never post (maisky ask).
    from bot.club.daily import Daily, DailyConfig
    from bot.ops.store import Store

    config = DailyConfig(
        default_time=settings.daily_time,
        default_timezone=settings.daily_timezone,
        window=dt.timedelta(hours=settings.daily_window_hours),
        workers=settings.daily_workers,
        post_timeout=float(settings.daily_post_timeout),
    )
    return Daily(
        Store(settings.database_url), core.corpus, core.voice, config, seed=settings.seed, pool=core.quote_pool
    )


def build_quiz(settings: Settings, core: Maisky, daily: Daily | None = None) -> Quiz:
    """The club quiz over the configured database (its scores and draws live there); with `daily`,
    over the same store as the daily posts."""
    from bot.club.quiz import Quiz  # imported here, as above: SQLAlchemy slows down commands that never need it
    from bot.ops.store import Store

    store = daily.store if daily is not None else Store(settings.database_url)
    pool = quiz_pool(core.corpus, _corpus_key(settings, core), settings.cache_dir or default_cache_dir())
    return Quiz(store, core.corpus, core.voice, seed=settings.seed, pool=pool)
