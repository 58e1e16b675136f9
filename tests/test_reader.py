"""The reader (bot/search/reader.py): windows, the shipped weights and their hash, recorded scores, the
three replies, evidence below the passage (the window holding the sentence closest in meaning, naming the
person a question names whenever one does), and the honest figures on declines."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import Maisky, Settings, build
from bot.chat.reply import Kind
from bot.chat.voice import CUT_MARK
from bot.search.analysis import Analyzer, foreign
from bot.search.index_store import sentences as semantic_sentences
from bot.search.matcher import _below
from bot.search.reader import (
    Card,
    Reader,
    Reading,
    Window,
    evidence,
    load_card,
    load_reader,
    sentences,
    weights_dir,
    weights_sha256,
    windows,
)  # fmt: skip
from bot.sources.corpus import Passage, Person
from tests.conftest import PERSONA

RECORDED = Path(__file__).parent / "data" / "reader-reference.json"


def test_a_short_passage_is_one_window_and_a_long_one_is_read_in_whole_sentences() -> None:
    short = "Maisky arrived in London in 1932. He stayed eleven years."
    assert windows(short) == [Window(0, len(short))]
    long = " ".join(f"Sentence number {n} says something about the embassy and its many visitors." for n in range(12))
    spans = windows(long)
    assert len(spans) > 1
    ends = {s.end for s in sentences(long)}
    starts = {s.start for s in sentences(long)}
    for w in spans:
        assert w.start in starts and w.end in ends  # never mid-sentence
        assert len(long[w.start : w.end].split()) * 1.3 <= 64 or long[w.start : w.end].count(".") == 1
    assert spans[-1].end == len(long)  # the end of the passage is always read


def test_sentences_split_at_sentence_ends_only() -> None:
    text = "He met Mr. Eden at 10 a.m. on Friday. “Are we at war?” he asked. Yes."
    parts = [text[s.start : s.end] for s in sentences(text)]
    assert parts[-1] == "Yes."
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


def test_the_shipped_reader_loads_and_its_hash_is_checked(tmp_path: Path) -> None:
    reader = load_reader()
    assert reader is not None, "the weights ship with the package (bot/weights/)"
    card = load_card()
    assert reader.sha256 == card.sha256
    bad = tmp_path / "reader-int8.onnx"
    data = bytearray((weights_dir() / "reader-int8.onnx").read_bytes())
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    from bot.search.embedding import _model_dir

    folder = _model_dir()
    assert folder is not None
    with pytest.raises(ValueError, match="SHA-256"):
        Reader(bad, folder, card)


def test_recorded_scores_for_fixed_pairs() -> None:
    """The shipped weights score fixed pairs as recorded when they were trained (tests/data/reader-reference.json)."""
    reader = load_reader()
    assert reader is not None
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert recorded["sha256"] == reader.sha256, "new weights: record their scores again (training/reader_reference.py)"
    for pair in recorded["pairs"]:
        got = float(reader.logits(pair["question"], [pair["passage"]])[0])
        assert got == pytest.approx(pair["logit"], abs=0.02), pair["question"]
    # and the reader prefers the passage that answers to the one that does not, for each recorded question
    for pair in recorded["ordered"]:
        scores = reader.logits(pair["question"], [pair["answers"], pair["does_not"]])
        assert scores[0] > scores[1], pair["question"]


def _card(**values: float) -> Card:
    base = load_card()
    return replace(base, **values)  # type: ignore[arg-type]


def _decide(core: Maisky, question: str, probabilities: list[float], **card: float):  # type: ignore[no-untyped-def]
    """The matcher's decision with the reader's probabilities given (a logit per candidate)."""
    import math

    bare = core.matcher.rebuilt(reader=False)
    stages = bare.search(question, limit=8)
    readings = [
        Reading(math.log(p / (1 - p)), Window(0, len(m.passage.text)))
        for m, p in zip(stages.matches, probabilities, strict=False)
    ]
    head = stages.matches[: len(readings)]
    return stages, bare.decide(question, stages.terms, head, readings, _card(**card), 3)


def test_the_three_replies(core: Maisky) -> None:
    question = "What did you think of Chamberlain?"
    stages, sure = _decide(core, question, [0.95] * 8, veto=0.1, answer=0.9, near=0.3, weight=0.0)
    assert stages.answered and sure.tier == "answer" and sure.answered
    _, unsure = _decide(core, question, [0.05] * 8, veto=0.1, answer=0.9, near=0.03, weight=0.0)
    assert unsure.tier == "closest" and not unsure.answered and unsure.matches
    assert "shown as the closest" in unsure.reason
    _, nothing = _decide(core, question, [0.01] * 8, veto=0.1, answer=0.9, near=0.03, weight=0.0)
    assert nothing.tier == "decline" and not nothing.answered


def test_the_reader_reorders_and_can_answer_where_the_two_stages_would_not(core: Maisky) -> None:
    question = "What did you think of Chamberlain?"
    stages, _ = _decide(core, question, [0.5] * 8, weight=0.0)
    probabilities = [0.01] + [0.5] * 6 + [0.99]
    _, result = _decide(core, question, probabilities, veto=0.1, answer=0.95, near=0.3, weight=5.0)
    assert result.matches[0].passage.id == stages.matches[7].passage.id
    assert result.matches[0].reader == pytest.approx(0.99)


def test_a_closest_reply_is_said_honestly_labelled_and_cited(core: Maisky) -> None:
    _, result = _decide(core, "What did you think of Chamberlain?", [0.2] * 8, veto=0.5, answer=0.9, near=0.1)
    assert result.tier == "closest"
    reply = core.voice.closest(result, asked="What did you think of Chamberlain?")
    assert reply.kind is Kind.CLOSEST and not reply.answered
    assert reply.citation is not None and reply.passage
    text = core.plain(reply)
    assert "Maisky as narrator" in text
    assert "do not answer that exactly" in text or "in so many words" in text


def test_the_copyright_cap_shows_the_sentences_that_answer(core: Maisky) -> None:
    capped_source = replace(core.corpus.passages[0].source, copyright=True, excerpt_words=30)
    body = " ".join(f"Opening sentence {n} is about the weather in London that year." for n in range(30))
    answer = "The answer is that Maisky met Eden on a Tuesday."
    text = f"{body} {answer} Closing words follow here."
    passage = Passage(id="x.y", source=capped_source, paragraph=1, text=text, quotes=())
    start = text.index(answer)
    fields = core.voice._passage_fields(passage, (start, start + len(answer)))
    assert answer in fields["passage"]
    assert fields["passage"].startswith(CUT_MARK.strip()) and fields["passage"].endswith(CUT_MARK)
    assert "Opening sentence 0" not in fields["passage"]
    free = replace(passage, source=replace(capped_source, copyright=False))
    whole = core.voice._passage_fields(free, (start, start + len(answer)))
    assert whole["passage"] == text and whole["evidence"] == answer  # a whole passage marks the answer


@given(st.floats(0, 1), st.floats(0.01, 0.99))
def test_a_decline_never_prints_a_score_that_rounds_to_its_threshold(value: float, threshold: float) -> None:
    if value >= threshold:
        return
    assert _below(value, threshold) != f"{threshold:.2f}" or value == threshold
    assert float(_below(value, threshold)) < threshold or len(_below(value, threshold)) == 8
    shown = _below(value, threshold, percent=True)
    assert shown != f"{threshold:.0%}"


def test_explain_shows_the_readers_scores_and_a_decline_never_rounds_to_its_threshold(core: Maisky) -> None:
    result = core.explain("What did you think of Chamberlain?")
    card = load_card()
    assert all(m.reader is not None for m in result.matches[: card.candidates])
    assert len(result.matches) == 5  # the candidates it does not read still follow
    for question in (
        "What is the boiling point of water?",
        "How do I bake sourdough bread?",
        "who won the 1966 world cup",
    ):
        r = core.explain(question)
        if r.answered:
            continue
        for threshold in ("0.55", "0.58", "50%"):
            assert (
                f" {threshold} (needs {threshold}" not in r.reason
                and f"is {threshold}, needs {threshold}" not in r.reason
            )


def test_latin_script_questions_in_another_language_get_the_honest_reply(core: Maisky) -> None:
    assert foreign("Que pensait Chamberlain de Munich ?")
    assert foreign("Was ist der Münchner Vertrag?")
    assert not foreign("What did de Gaulle say?") and not foreign("Who was la Pasionaria?")
    french = core.ask("Que pensait Chamberlain de Munich ?")
    cyrillic = core.ask("Что вы думали о Чемберлене?")
    assert french.kind is Kind.INVALID and french.narration == cyrillic.narration


def test_a_misspelt_name_that_is_also_a_stem_is_the_person(core: Maisky) -> None:
    terms = core.matcher.terms("churchil")
    assert [t.token.term for t in terms] == ["@churchill"]
    assert terms[0].token.corrected == "churchill"


def test_a_question_too_long_to_leave_the_passage_room_is_read_not_failed(core: Maisky) -> None:
    reader = load_reader()
    assert reader is not None
    question = ("“Kennedy” ‘Chamberlain’ @everyone <!here> " * 30)[:915] + " Kennedy?"
    (reading,) = reader.read(question, [core.corpus.passages[0].text])
    assert isinstance(reading.score, float)
    assert core.ask(question).kind is not Kind.ERROR  # the matcher reads it too: an answer or a decline


# The evidence a reply marks

PEOPLE = {
    "ada": Person("ada", "Ada Quill", ("Quill",)),
    "bram": Person("bram", "Bram Holt", ("Holt",)),
}
KEEPER = [
    "Bram Holt kept the lighthouse on the northern cape for thirty years and wrote down every storm.",
    "He painted the tower white each spring, oiled the great lamp and trimmed its wick at dusk.",
    "The keepers' log he left records wrecks, rescues and the long winter nights of the lighthouse.",
    "Ada Quill, who visited the cape one summer, thought the lighthouse a dreary and lonely place.",
    "The lamp was put out for good in the year the new electric light was built further along the coast.",
]
TEXT = " ".join(KEEPER)


def _analyzer() -> Analyzer:
    return Analyzer(PEOPLE, ())


def _scores(closest: int) -> list[float]:
    """The question's cosine with each sentence (`closest` the highest), then with the whole passage."""
    n = len(semantic_sentences(TEXT))
    return [0.9 if k == closest else 0.2 + 0.01 * k for k in range(n)] + [0.5]


def _marked(window: object) -> str:
    assert window is not None
    return TEXT[window.start : window.end]  # type: ignore[attr-defined]


def test_the_fixture_is_read_in_several_windows() -> None:
    assert len(windows(TEXT)) > 2 and len(semantic_sentences(TEXT)) == len(KEEPER)


def test_the_window_holding_the_closest_sentence_is_marked() -> None:
    for k, sentence in enumerate(KEEPER):
        assert sentence in _marked(evidence(TEXT, _scores(k)))


def test_a_question_naming_a_person_marks_a_sentence_that_names_them() -> None:
    """Even where a sentence about someone else reads closer to the question."""
    marked = _marked(evidence(TEXT, _scores(0), {"ada"}, _analyzer()))
    assert "Ada Quill" in marked
    # a person no window names changes nothing
    assert _marked(evidence(TEXT, _scores(0), {"nobody"}, _analyzer())) == _marked(evidence(TEXT, _scores(0)))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=len(KEEPER) + 1, max_size=len(KEEPER) + 1), st.sampled_from(["ada", "bram"]))
def test_whatever_the_scores_the_marked_window_names_the_person_asked_about(scores: list[float], person: str) -> None:
    marked = _marked(evidence(TEXT, scores, {person}, _analyzer()))
    assert PEOPLE[person].name in marked or PEOPLE[person].aliases[0] in marked


def test_a_short_passage_is_its_own_evidence() -> None:
    short = "Bram Holt kept the lighthouse. Ada Quill visited it."
    (whole,) = windows(short)
    assert evidence(short, [0.1, 0.9, 0.5], {"ada"}, _analyzer()) == whole


def test_scores_that_do_not_fit_the_sentences_mark_nothing() -> None:
    assert evidence(TEXT, [0.5, 0.5]) is None


PEOPLE_TOML = """
[ada]
name = "Ada Quill"
aliases = ["Quill"]
pronoun = "she"

[bram]
name = "Bram Holt"
aliases = ["Holt"]
pronoun = "he"
"""

SOURCE = f"""
[source]
id = "cape-notes"
title = "Notes from the Cape"
author = "A Keeper"
publication = "The Cape Press"
date = 2020-01-01
url = "https://example.org/cape"
licence = "CC BY 4.0"

[[passage]]
id = "lighthouse"
paragraph = 1
keywords = "lighthouse, keeper, cape"
text = '''{TEXT}'''
"""


def test_a_reply_to_a_question_naming_a_person_marks_a_sentence_naming_them(seeds_copy: Path) -> None:
    with (seeds_copy / "people.toml").open("a", encoding="utf-8") as fh:
        fh.write(PEOPLE_TOML)
    (seeds_copy / "cape-notes.toml").write_text(SOURCE, encoding="utf-8")
    core = build(Settings(seeds_dir=seeds_copy, persona_dir=PERSONA))
    for question, name in (
        ("What did Ada Quill think of the lighthouse on the cape?", "Ada Quill"),
        ("What did Bram Holt do at the lighthouse on the cape?", "Bram Holt"),
    ):
        reply = core.ask(question)
        assert reply.kind in (Kind.ANSWER, Kind.CLOSEST) and reply.citation is not None, question
        assert reply.citation.passage_id == "cape-notes.lighthouse"
        assert name in reply.evidence and reply.evidence in reply.passage, (question, reply.evidence)


def test_the_weights_hash_is_remembered_until_the_file_changes(tmp_path: Path) -> None:
    """A start takes the weights' SHA-256 from the cache folder while the file is as it was when it
    was hashed (and was written well before); a file changed since is read and checked again."""
    from bot.search.embedding import _model_dir

    folder = _model_dir()
    assert folder is not None
    card = load_card()
    model = tmp_path / "reader-int8.onnx"
    shutil.copy(weights_dir() / "reader-int8.onnx", model)
    cache = tmp_path / "cache"
    memo = cache / "reader-hash.json"
    assert weights_sha256(model, memo) == card.sha256 and memo.is_file()
    kept = json.loads(memo.read_text(encoding="utf-8"))
    memo.write_text(json.dumps(kept | {"sha256": "remembered"}), encoding="utf-8")
    assert weights_sha256(model, memo) == card.sha256  # written just before it was hashed: hashed again
    kept = json.loads(memo.read_text(encoding="utf-8"))
    settled = kept | {"sha256": "remembered", "at": kept["at"] + 10**10}  # as if hashed 10 s later
    memo.write_text(json.dumps(settled), encoding="utf-8")
    assert weights_sha256(model, memo) == "remembered"
    assert Reader(model, folder, card).sha256 == card.sha256  # no cache folder: always read
    memo.write_text(json.dumps(settled | {"sha256": card.sha256}), encoding="utf-8")
    assert Reader(model, folder, card, cache).sha256 == card.sha256
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))  # the same size, edited in place
    os.utime(model, ns=(settled["stamp"][2] + 1, settled["stamp"][2] + 1))
    with pytest.raises(ValueError, match="SHA-256"):
        Reader(model, folder, card, cache)
