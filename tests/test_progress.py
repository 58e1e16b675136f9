"""A first run that talks: passages to encode are announced at once (how many), then how far, as a bar
on a terminal and as lines elsewhere; a warm cache says nothing; `maisky import` encodes what it added."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.cli import main
from bot.ops.progress import Bar, Lines, Progress, for_stream
from bot.search.analysis import Analyzer
from bot.search.embedding import load_encoder
from bot.search.matcher import Matcher
from bot.sources.corpus import load_corpus
from tests.conftest import SEEDS
from tests.test_import_cli import PROVENANCE


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Recorded(Progress):
    """What a report was told, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def start(self, total: int, what: str) -> None:
        self.calls.append(("start", total))

    def step(self, count: int) -> None:
        self.calls.append(("step", count))

    def finish(self) -> None:
        self.calls.append(("finish", 0))


def test_a_terminal_gets_a_bar_and_anything_else_lines() -> None:
    assert isinstance(for_stream(Terminal()), Bar)
    assert isinstance(for_stream(io.StringIO()), Lines)


def test_the_bar_says_how_many_at_once_then_how_far() -> None:
    out = Terminal()
    bar = Bar(out, every=0.0)
    bar.start(1204, "sentences and words to encode")
    assert out.getvalue().startswith("maisky: 1,204 sentences and words to encode\n")
    bar.step(602)
    assert "50%  602/1,204" in out.getvalue()
    bar.step(602)
    bar.finish()
    assert "100%  1,204/1,204" in out.getvalue() and out.getvalue().endswith("s\n") and "done in" in out.getvalue()


def test_lines_go_to_a_stream_or_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    lines = Lines(out)
    lines.start(300, "sentences and words to encode")
    lines.step(300)
    lines.finish()
    said = out.getvalue().splitlines()
    assert said[0] == "maisky: 300 sentences and words to encode"
    assert said[-1].startswith("maisky:   300/300 done in ") and len(said) == 2
    with caplog.at_level(logging.INFO, logger="bot.ops.progress"):
        logged = Lines()
        logged.start(300, "sentences and words to encode")
        logged.finish()
    assert caplog.records[0].getMessage() == "300 sentences and words to encode"


def test_a_cold_cache_announces_what_it_encodes_and_a_warm_one_is_silent(tmp_path: Path) -> None:
    corpus = load_corpus(SEEDS)
    small = replace(corpus, passages=corpus.passages[:10])
    analyzer = Analyzer(small.people, small.synonyms, small.cues)
    heard = Recorded()
    cold = Matcher(small, analyzer, encoder=load_encoder(), cache_dir=tmp_path, progress=heard)
    assert cold.semantic is not None
    cold.search("What did Maisky think of Chamberlain?")
    total = cold.semantic.encoded
    assert total >= 64  # ten passages' sentences and words
    assert heard.calls[0] == ("start", total) and heard.calls[-1] == ("finish", 0)
    assert sum(n for kind, n in heard.calls if kind == "step") == total
    warm = Recorded()
    again = Matcher(small, analyzer, encoder=load_encoder(), cache_dir=tmp_path, progress=warm)
    again.search("What did Maisky think of Chamberlain?")
    assert warm.calls == []


def test_import_ends_by_encoding_what_it_added(
    tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAISKY_SEEDS", str(seeds_copy))
    monkeypatch.setenv("MAISKY_CACHE_DIR", str(tmp_path / "cache"))
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "The embassy observatory held a brass telescope that the ambassador polished every morning.\n\n"
        "On Thursdays the club met in the library to read the newspapers aloud and argue about them.\n\n"
        "Gardeners planted tulips, roses, lavender and rhubarb beside the kitchen wall each spring.\n\n"
        "A violinist from Leningrad played sonatas for visiting composers, poets, painters and sculptors.\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert main(["import", str(notes), *PROVENANCE, "--id", "club-notes"], out=out) == 0
    assert "vectors: " in out.getvalue() and "of its 4 passages encoded" in out.getvalue()
    assert "sentences and words to encode" in capsys.readouterr().err  # announced at once, on stderr
    asked = io.StringIO()
    assert main(["ask", "Did the embassy observatory have a telescope?"], out=asked) == 0
    assert "brass telescope" in asked.getvalue()
