"""The analyzer: a question's words are worked out, never remembered (users' text must not grow memory)."""

from __future__ import annotations

from bot import Maisky
from bot.search.analysis import Analyzer


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
