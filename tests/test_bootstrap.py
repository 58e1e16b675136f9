"""Building only what a process needs: posting-only processes load the quoting passages from a
cache and build no search index."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import Settings
from bot.ops.bootstrap import build
from bot.sources.quotes import maisky_quotes
from tests.conftest import PERSONA, SEEDS


def settings(seeds: Path, state: Path) -> Settings:
    return Settings.from_env({"MAISKY_SEEDS": str(seeds), "MAISKY_PERSONA": str(PERSONA),
                              "MAISKY_STATE_DIR": str(state)}, dotenv=None)  # fmt: skip


def test_a_posting_only_core_has_every_quotation_and_no_index(tmp_path: Path) -> None:
    full = build(settings(SEEDS, tmp_path))
    posting = build(settings(SEEDS, tmp_path), index=False)
    assert [q.key for q in maisky_quotes(posting.corpus)] == [q.key for q in maisky_quotes(full.corpus)]
    assert len(posting.corpus.passages) < len(full.corpus.passages)
    assert list(tmp_path.glob("quotations-*.pickle"))  # the next start reads this instead of the seeds
    again = build(settings(SEEDS, tmp_path), index=False)
    assert again.corpus == posting.corpus
    day = dt.date(2026, 9, 3)
    assert again.plain(again.quote(day)) == full.plain(full.quote(day))
    with pytest.raises(RuntimeError, match="no search index"):
        posting.ask("Who was Maisky?")


def test_a_changed_seed_file_is_read_again(seeds_copy: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    before = build(settings(seeds_copy, state), index=False)
    path = seeds_copy / "globe-2015.toml"
    text = path.read_text()
    first = maisky_quotes(before.corpus)[0]
    path.write_text(text.replace(f'context = "{first.quote.context}"', 'context = "a new context"', 1))
    after = build(settings(seeds_copy, state), index=False)
    assert "a new context" in [q.quote.context for q in maisky_quotes(after.corpus)]
    assert len(list(state.glob("quotations-*.pickle"))) == 1  # the stale cache was replaced


def test_an_unwritable_state_dir_still_builds(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    core = build(settings(SEEDS, blocker / "state"), index=False)
    assert maisky_quotes(core.corpus)


def test_memory_minutes_come_from_the_environment_to_the_desks_memory(tmp_path: Path) -> None:
    from bot.ops.bootstrap import build_desk

    chosen = Settings.from_env({"MAISKY_MEMORY_MINUTES": "5", "MAISKY_STATE_DIR": str(tmp_path)}, dotenv=None)
    assert chosen.memory_minutes == 5
    core = build(settings(SEEDS, tmp_path), index=False)
    assert build_desk(chosen, core).memory.silence == dt.timedelta(minutes=5)
    assert Settings.from_env({}, dotenv=None).memory_minutes == 30  # unset: the documented default


@pytest.mark.parametrize("value", ["soon", "-1", "1.5", "999999"])
def test_a_bad_memory_minutes_is_named(value: str) -> None:
    from bot import ConfigError

    with pytest.raises(ConfigError, match="MAISKY_MEMORY_MINUTES") as raised:
        Settings.from_env({"MAISKY_MEMORY_MINUTES": value, "MAISKY_COOLDOWN": "x"}, dotenv=None)
    assert "MAISKY_COOLDOWN" in str(raised.value)  # named with every other problem, in one pass
