"""The daily posts' and the quiz's pools are worked out once per corpus: a second start reads them
from the cache folder instead of reading every passage again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import Settings
from bot.club import quiz
from bot.ops.bootstrap import build, build_daily, build_quiz
from bot.ops.pools import daily_pool, quiz_pool
from bot.sources import quotes
from bot.sources.corpus import load_corpus
from tests.conftest import PERSONA, SEEDS


def settings(seeds: Path, tmp: Path) -> Settings:
    return Settings.from_env(
        {"MAISKY_SEEDS": str(seeds), "MAISKY_PERSONA": str(PERSONA), "MAISKY_STATE_DIR": str(tmp / "state"),
         "MAISKY_CACHE_DIR": str(tmp / "cache"), "DATABASE_URL": f"sqlite:///{tmp / 'd.sqlite3'}"},
        dotenv=None,
    )  # fmt: skip


class Counted:
    """Wraps a scan of the whole corpus and counts its calls."""

    def __init__(self, scan):  # type: ignore[no-untyped-def]
        self.scan = scan
        self.calls = 0

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.scan(*args, **kwargs)


def test_a_second_start_reads_the_pools_instead_of_scanning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scans = Counted(quotes.maisky_quotes)
    questions = Counted(quiz.questions)
    monkeypatch.setattr(quotes, "maisky_quotes", scans)
    monkeypatch.setattr(quiz, "questions", questions)
    day = dt.date(2026, 9, 3)
    starts = []
    for _ in range(2):  # two starts of a posting process: the core, its daily posts and its quiz
        core = build(settings(SEEDS, tmp_path), index=False)
        daily = build_daily(settings(SEEDS, tmp_path), core)
        club = build_quiz(settings(SEEDS, tmp_path), core, daily)
        starts.append(([c.key for c in daily.pool], [q.key for q in club.pool], core.plain(core.quote(day))))
    assert (scans.calls, questions.calls) == (1, 1)  # the first start scanned; the second read the files
    assert starts[0] == starts[1]
    assert starts[0][0] and starts[0][1]
    assert len(list((tmp_path / "cache").glob("daily-pool-*.json"))) == 1
    assert len(list((tmp_path / "cache").glob("quiz-pool-*.json"))) == 1


def test_the_pools_read_back_are_the_scanned_ones(tmp_path: Path) -> None:
    corpus = load_corpus(SEEDS)
    for _ in range(2):
        got = daily_pool(corpus, "key", tmp_path)
        assert got == quotes.maisky_quotes(corpus)
        assert all(c.passage is corpus.passage(c.passage.id) for c in got)  # the corpus's own passages
        assert quiz_pool(corpus, "key", tmp_path) == quiz.questions(corpus)


def test_a_changed_corpus_or_a_damaged_file_is_scanned_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = load_corpus(SEEDS)
    scans = Counted(quotes.maisky_quotes)
    monkeypatch.setattr(quotes, "maisky_quotes", scans)
    daily_pool(corpus, "one", tmp_path)
    daily_pool(corpus, "two", tmp_path)  # another corpus key: another file
    assert scans.calls == 2
    for path in tmp_path.glob("daily-pool-*.json"):
        path.write_text("{not json", encoding="utf-8")
    assert daily_pool(corpus, "two", tmp_path) == quotes.maisky_quotes(corpus)
    assert scans.calls == 4  # the damaged file was recomputed (and the comparison scanned once)
    daily_pool(corpus, "", tmp_path)  # a corpus built in memory has no key: nothing kept
    assert scans.calls == 5
