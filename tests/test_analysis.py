"""The analyzer: a question's words are worked out, never remembered (users' text must not grow memory)."""

from __future__ import annotations

from pathlib import Path

from bot import Maisky
from bot.search.analysis import Analyzer, Speller


def test_questions_never_grow_the_analyzers_memory(core: Maisky) -> None:
    analyzer: Analyzer = core.matcher.analyzer
    before = (len(analyzer._stems), len(analyzer._terms))
    for i in range(300):
        analyzer.question_tokens(f"What did you think of glorbix{i} quandrels{i} chamberlain?")
        core.matcher.search(f"vorpaline{i} ambassadors{i}")
    assert (len(analyzer._stems), len(analyzer._terms)) == before


def test_a_new_word_gets_the_same_term_as_a_remembered_one() -> None:
    fresh = Analyzer({}, [["soviet", "ussr"]])
    terms, _ = fresh.document_terms("Diplomats were negotiating with the USSR")
    assert terms == ["diplomat", "negoti", "soviet"]
    other = Analyzer({}, [["soviet", "ussr"]])
    assert [t.term for t in other.question_tokens("diplomats negotiating ussr")] == terms
    assert other.term("negotiating") == fresh.term("negotiating") == "negoti"


def test_a_when_all_cue_needs_every_word_and_a_when_any_cue_one() -> None:
    analyzer = Analyzer({}, [], [(("where", "from"), "born", True, True), (("age",), "age", True, False)])

    def cues(question: str) -> list[str]:
        return [t.term for t in analyzer.question_tokens(question) if t.via == "question"]

    assert cues("where are you from") == ["born"]
    assert cues("where was the diary found") == []  # "where" alone is not about birth
    assert cues("what did you learn from churchill") == []  # nor "from" alone
    assert cues("at what age did he die") == ["age"]


def test_the_speller_knows_exactly_the_words_of_its_table_without_building_it() -> None:
    """`knows` reads only the dictionary's words; it agrees with the table of counts that `repair`
    builds on every word of the dictionary and on words it lacks."""
    path = Speller.bundled()
    assert path is not None
    fields = path.read_text(encoding="utf-8").split()
    words = [*fields[0::2], "maisky", "thnik", "Chamberlain", "1938", "x", "don't", ""]
    light = Speller()
    table = Speller()._load()
    assert [w for w in words if light.knows(w) != (w in table)] == []
    assert light._freq is None  # no counts read, no words grouped by length
    assert light.repair("maisky", frozenset({"maisky"})) == "" and light._freq is None  # protected: no table


def test_a_dictionary_with_a_count_that_is_not_a_number_is_read_as_a_table(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("what 900\nwat 3\ndon't 40\nodd many\nthink 700\n", encoding="utf-8")
    speller = Speller(path)
    assert [speller.knows(w) for w in ("what", "wat", "don't", "odd", "think", "many")] == [
        True, True, False, False, True, False,
    ]  # fmt: skip
    clean = tmp_path / "clean.txt"
    clean.write_text("what 900\nwat 3\ndon't 40\nthink 700\n", encoding="utf-8")
    known = [Speller(clean).knows(w) for w in ("what", "wat", "don't", "think", "many")]
    assert known == [True, True, False, True, False]
