"""Imports a club can trust: each defect seen on public encyclopedia pages, on a fixture of that shape.

The fixtures in tests/fixtures/imports/ are public pages (mirrors, a fork, a summary site) about
Maisky's world; their sources and licences are in that folder's README.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from bot.curate.formats import read_document
from bot.curate.importer import Draft, Provenance, Report, draft_source, run_import
from bot.sources.corpus import Person, load_corpus, load_people
from tests.conftest import SEEDS

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
PEOPLE = load_people(SEEDS / "people.toml")


def prov(title: str = "Ivan Maisky", source_id: str = "fixture") -> Provenance:
    return Provenance(
        id=source_id, title=title, author="Wikipedia contributors", publication="A Wikipedia mirror",
        date=dt.date(2026, 12, 6), url="https://example.org/wiki/Ivan_Maisky", licence="CC BY-SA 4.0", retrieved=True,
    )  # fmt: skip


def imported(name: str, title: str = "Ivan Maisky", people: dict[str, Person] | None = None) -> Draft:
    return draft_source([read_document(FIXTURES / name)], prov(title), PEOPLE if people is None else people)


def texts(d: Draft) -> str:
    return "\n".join(p.text for p in d.passages)


def dropped(d: Draft) -> list[str]:
    return [c.text for c in d.changes]


def passage(d: Draft, start: str) -> object:
    return next(p for p in d.passages if p.text.startswith(start))


def expected_text(path: Path) -> str:
    """The draft of a fixture as tests/fixtures/imports/expected/ holds it (the people.toml additions as
    comments at its end). Rewrite them after a reviewed change with `python -m tests.test_import_fixtures`."""
    title = "Munich Agreement" if "munich" in path.name else "Ivan Maisky"
    source = prov(title, f"fixture-{path.stem}")
    d = draft_source([read_document(path)], replace(source, url="https://example.org/wiki/Ivan_Maisky"), PEOPLE)
    people = d.people_toml()
    tail = "\n# people.toml additions\n" + "\n".join("# " + line for line in people.splitlines()) + "\n"
    return d.toml() + (tail if people else "")


FIXTURE_FILES = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".txt", ".html"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.name for p in FIXTURE_FILES])
def test_each_fixture_drafts_as_expected(path: Path) -> None:
    expected = FIXTURES / "expected" / f"{path.stem}.toml"
    assert expected_text(path) == expected.read_text(encoding="utf-8")


# 1. site furniture ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "title", "furniture"),
    [
        (
            "infogalactic-ivan-maisky.txt",
            "Ivan Maisky",
            ["From Infogalactic: the planetary knowledge core", "Jump to: navigation, search", "File:Ivan Maisky.jpg"],
        ),
        (
            "wikisum-ivan-maisky.txt",
            "Ivan Maisky",
            ["Summary by Wikisum · 4 min read", "Share this summary", "Show More",
             "Read more: Ivan Maisky on Wikipedia", "We use cookies to improve your experience. Accept cookies"],
        ),
        (
            "everipedia-munich-agreement.txt",
            "Munich Agreement",
            ["Everipedia Logo", "Everipedia is now IQ.wiki - Join the IQ Brainlist and our Discord for early access "
             "to editing on the new platform and to participate in the beta testing."],
        ),
        (
            "fullwiki-ivan-maisky.txt",
            "Ivan Maisky",
            ["The Full Wiki", "More info on Ivan Maisky", "Ivan Maisky: Wikis",
             "From Wikipedia, the free encyclopedia"],
        ),
    ],
)  # fmt: skip
def test_furniture_of_copied_pages_is_dropped_and_each_line_reported(
    name: str, title: str, furniture: list[str]
) -> None:
    d = imported(name, title)
    for line in furniture:
        assert line in dropped(d), line
        assert line not in texts(d)
    report = Report(d, "x").text()
    assert all(line[:60] in report for line in furniture)
    assert d.standfirst == ""  # a byline or a banner is never the standfirst


def test_a_web_page_keeps_its_article_and_lists_what_readability_left_out() -> None:
    d = imported("mirror-ivan-maisky.html")
    for furniture in ("Katana VentraIP", "We use cookies", "Share this article", "Redirected from", "Jump to content"):
        assert furniture not in texts(d)
    left_out = [c.text for c in d.changes if "furniture" in c.what]
    assert any("Katana VentraIP" in t for t in left_out) and any("cookies" in t for t in left_out)
    assert any("Share this article" in t for t in left_out) and any("Redirected from" in t for t in left_out)
    assert d.standfirst == ""  # the redirect line right after the title is not the standfirst


# 2 and 3. headings, infoboxes, captions ---------------------------------------------------------------------


def test_a_plain_text_heading_is_a_section_not_a_passage() -> None:
    d = imported("infogalactic-ivan-maisky.txt")
    assert not any(p.text == "Early career" for p in d.passages)
    assert passage(d, "Ivan Maisky was born Jan Lachowiecki").section == "Early career"  # type: ignore[attr-defined]
    html = imported("mirror-ivan-maisky.html")
    assert {p.section for p in html.passages} == {"", "Early career"}  # no "[edit]" link in the section


def test_an_infobox_is_one_passage_of_facts_with_no_date_and_never_the_standfirst() -> None:
    d = imported("mirror-ivan-maisky.html")
    facts = d.passages[0]
    assert facts.text.startswith("Ivan Mikhailovich Maisky\nИван Михайлович Майский")
    assert "Born: 19 January 1884, Kirillov, Russian Empire" in facts.text
    assert "Died: 3 September 1975 (aged 91), Moscow, RSFSR" in facts.text
    assert "Languages: Russian, English, German" in facts.text and "Succeeded by: Fedor Gusev" in facts.text
    assert "(1884-01-19)" not in texts(d) and "•" not in texts(d)
    assert facts.date == "" and d.standfirst == ""
    assert not any(p.text in ("Russian", "German", "Born", "Fedor Gusev") for p in d.passages)  # no debris
    bundled = next(p for p in load_corpus(SEEDS).passages if p.source.id == "wikipedia-ivan-maisky")
    assert bundled.text.startswith("Ivan Mikhailovich Maisky\n- Native Name Lang") and bundled.date == ""


def test_captions_are_captions_with_their_credit_cut_off() -> None:
    html = imported("mirror-ivan-maisky.html")
    captions = [p.text for p in html.passages if p.caption]
    assert captions == ["Maisky in 1941", "Golders Green in north London, where Maisky shared a house with Litvinov "
                        "and Chicherin."]  # fmt: skip
    assert html.photo_credit == "Photo: Wikimedia Commons"
    text = imported("infogalactic-ivan-maisky.txt")
    caption = passage(text, "I. M. Maisky, ambassador")
    assert caption.caption and "Infogalactic" not in caption.text  # type: ignore[attr-defined]


# 4. dates ------------------------------------------------------------------------------------------------------


def test_a_paragraph_is_dated_by_its_first_event_not_a_later_one() -> None:
    d = imported("infogalactic-ivan-maisky.txt")
    assert passage(d, "Ivan Maisky was born Jan Lachowiecki").date == "1902"  # type: ignore[attr-defined]
    assert passage(d, "In November 1912").date == "November 1912"  # type: ignore[attr-defined]
    full = imported("fullwiki-ivan-maisky.txt")
    assert passage(full, "In 1921, he officially joined").date == "1921"  # type: ignore[attr-defined]


# 5. speakers ---------------------------------------------------------------------------------------------------


def test_verbs_of_telling_and_reported_speech_name_the_speaker() -> None:
    d = imported("wikisum-ivan-maisky.txt")
    speakers = {q.text[:30]: q.speaker for p in d.passages for q in p.quotes}
    assert speakers["We would be complete idiots we"] == "churchill"  # "Churchill had told him"
    assert speakers["to make the maximum number of "] == "masaryk"  # "Masaryk, who ..., charging that"
    assert speakers["extending as widely as possibl"] == "maisky"  # "Maisky reported to Litvinov that"
    assert [(n.id, n.name, n.speaker) for n in d.new_people] == [("masaryk", "Masaryk", True)]
    assert not any(q.speaker == "" for p in d.passages for q in p.quotes)  # nobody named is shown as unnamed
    assert ("proletarian", "under-his-editorship-the-magazine-was") in d.not_quotations


def test_scare_quotes_spellings_and_titles_are_not_quotations() -> None:
    d = imported("mirror-ivan-maisky.html")
    assert [w for w, _ in d.not_quotations] == ["Maysky", "I Wish To Be a Great Thunderstorm"]
    assert not any(p.quotes for p in d.passages)
    wiki = [p for p in load_corpus(SEEDS).passages if p.source.id == "wikipedia-ivan-maisky"]
    assert not any(p.quotes for p in wiki)  # "Maysky", "the people", the poem's title


def test_an_imported_speaker_is_added_to_people_toml_and_the_loader_accepts_it(seeds_copy: Path) -> None:
    report, _ = run_import([FIXTURES / "wikisum-ivan-maisky.txt"], prov(source_id="wikisum"), seeds_copy)
    assert report.written and not report.refused
    assert "Masaryk [on-6-august-1938-maisky-reported] -> people.toml [masaryk]" in report.text()
    corpus = load_corpus(seeds_copy)
    quote = next(q for p in corpus.passages if p.source.id == "wikisum" for q in p.quotes if q.speaker == "masaryk")
    assert quote.text.startswith("to make the maximum number") and corpus.people["masaryk"].name == "Masaryk"
    again, _ = run_import(
        [FIXTURES / "wikisum-ivan-maisky.txt"], prov(source_id="wikisum"), seeds_copy, force=True
    )  # a re-import adds nobody twice
    assert again.written and (seeds_copy / "people.toml").read_text(encoding="utf-8").count("[masaryk]") == 1


# 6. footnote markers, ids, cut endings --------------------------------------------------------------------------


def test_footnote_markers_leave_text_and_ids_and_dashes_part_words_in_ids() -> None:
    d = imported("wikisum-ivan-maisky.txt")
    assert "[25]" not in texts(d) and not any(p.id[:1].isdigit() for p in d.passages)
    assert passage(d, "In April 1936, Maisky wrote").id == "in-april-1936-maisky-wrote-in"  # type: ignore[attr-defined]
    full = imported("fullwiki-ivan-maisky.txt")
    assert "[1 ]" not in texts(full) and "[2][3]" not in texts(full)
    assert "the-soviet-finnish-non-aggression-pact" in [p.id for p in full.passages]
    assert any("footnote marker" in c.what for c in full.changes)


@pytest.mark.parametrize(
    ("name", "title", "cut", "kept_end"),
    [
        ("wikisum-ivan-maisky.txt", "Ivan Maisky", "Corbin complained at length to Maisky ab", "Sudeten Germans\"."),
        ("mirror-ivan-maisky.html", "Ivan Maisky", 'Beatrice Webb wrote that he was "one of the most open minded of',
         "H. G. Wells and Beatrice Webb."),
        ("everipedia-munich-agreement.txt", "Munich Agreement", "Poland issued an ultimatum for the return of Zaolz",
         "give up territory to Germany on Munich terms."),
        ("infogalactic-ivan-maisky.txt", "Ivan Maisky", "served as deputy minister for la",
         "'revolutionary defeatism'."),
    ],
)  # fmt: skip
def test_a_cut_last_sentence_is_dropped_and_reported(name: str, title: str, cut: str, kept_end: str) -> None:
    d = imported(name, title)
    assert cut not in texts(d)
    assert d.passages[-1].text.endswith(kept_end)
    assert any("cut last" in c.what and c.text.endswith(cut[-20:]) for c in d.changes)


# 7. names -------------------------------------------------------------------------------------------------------


def test_names_in_the_report_are_whole() -> None:
    full = imported("fullwiki-ivan-maisky.txt")
    names = [n for n, _ in full.unknown_names]
    assert "Aarno Yrjö-Koskinen" in names and "Committee of Non-Intervention" in names
    assert not any(n in ("Aarno Yrj", "Stanis", "Committee of Non") for n in names)
    assert "Ива́н Миха́йлович Ма́йский" in names
    html = imported("mirror-ivan-maisky.html")
    assert not any(n.endswith((" Personal", " Died", " Succeeded")) for n, _ in html.unknown_names)  # one per line
    assert not any(n in ("Birth Date", "Term Start") for n, _ in imported_wiki().unknown_names)  # field names


def imported_wiki() -> Draft:
    return draft_source([read_document(Path(__file__).parent / "data" / "raw" / "wikipedia-ivan-maisky.txt")],
                        prov(), PEOPLE)  # fmt: skip


def test_transliterations_of_a_known_name_are_that_person(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(
        "Ivan Mayski wrote: “London is grey today.”\n\nMaysky was recalled; Majskij left London in 1943.\n",
        encoding="utf-8",
    )
    d = draft_source([read_document(path)], prov(), PEOPLE)
    assert [q.speaker for p in d.passages for q in p.quotes] == ["maisky"]
    assert not any(n in ("Ivan Mayski", "Mayski", "Maysky", "Majskij") for n, _ in d.unknown_names)
    assert d.new_people == ()


# issue 20, item 5: people are never merged ---------------------------------------------------------------------


def test_an_alias_two_people_now_share_is_reported_and_resolved_only_by_context(tmp_path: Path) -> None:
    path = tmp_path / "review.txt"
    path.write_text(
        "The historian Paul Kennedy praised the edition. Kennedy wrote: “It is a remarkable record of the age.”\n\n"
        "Kennedy said: “The British will be beaten.”\n\n"
        "Joe Kennedy told Maisky: “England is finished.”\n",
        encoding="utf-8",
    )
    d = draft_source([read_document(path)], prov(), PEOPLE)
    speakers = {q.text: q.speaker for p in d.passages for q in p.quotes}
    assert speakers == {
        "It is a remarkable record of the age.": "paul-kennedy",  # the full name before it in the passage
        "The British will be beaten.": "",  # no context: left for the curator, never Joe Kennedy by default
        "England is finished.": "kennedy",
    }
    assert d.ambiguous == (("Kennedy", "Joseph P. Kennedy (people.toml) and Paul Kennedy (this source)"),)
    report = Report(d, "x").text()
    assert "aliases that now name two people" in report and "Kennedy: Joseph P. Kennedy" in report
    assert "speakers left unresolved" in report and "Kennedy (names more than one person)" in report
    assert '[paul-kennedy]\nname = "Paul Kennedy"\naliases = ["Paul Kennedy", "Kennedy"]' in d.people_toml()


REVIEW = (
    "Reviews of the diary\n\nThe historian Paul Kennedy praised the edition of the diary. Kennedy wrote that the "
    "diary “is a remarkable record of the age, and its author a shrewd observer of British politics.”\n"
)


def test_a_question_about_joe_kennedy_is_never_answered_with_his_namesake(seeds_copy: Path, tmp_path: Path) -> None:
    from bot.search.analysis import Analyzer
    from bot.search.matcher import Matcher

    review = tmp_path / "review.txt"
    review.write_text(REVIEW, encoding="utf-8")
    source = replace(prov("Reviews of the diary", "reviews"), url="https://example.org/reviews")
    report, _ = run_import([review], source, seeds_copy)
    assert report.written and "Kennedy: Joseph P. Kennedy (people.toml) and Paul Kennedy" in report.text()
    corpus = load_corpus(seeds_copy)
    analyzer = Analyzer(corpus.people, corpus.synonyms, corpus.cues)
    # in the review, the bare "Kennedy" is the Paul Kennedy named before it: the passage is not Joe Kennedy's
    terms, _ = analyzer.document_terms(next(p.text for p in corpus.passages if p.source.id == "reviews"))
    assert "@paul-kennedy" in terms and "@kennedy" not in terms
    assert analyzer.namesakes("kennedy") == {"jfk", "paul-kennedy"}
    matcher = Matcher(corpus, analyzer)  # the lexical stage: where the namesake is told apart
    joe = matcher.search("What did Joe Kennedy say about the diary?")
    assert not any(m.passage.source.id == "reviews" for m in joe.matches)
    paul = matcher.search("What did Paul Kennedy say about the diary?")
    assert paul.answered and paul.matches[0].passage.source.id == "reviews"
    again, draft = run_import([review], source, seeds_copy, force=True)  # people.toml now knows both
    assert [q.speaker for p in draft.passages for q in p.quotes] == ["paul-kennedy"] and draft.new_people == ()
    assert "Kennedy: Joseph P. Kennedy (people.toml) and Paul Kennedy (people.toml)" in again.text()


if __name__ == "__main__":  # rewrite the expected drafts, after reviewing what changed
    for fixture in FIXTURE_FILES:
        (FIXTURES / "expected" / f"{fixture.stem}.toml").write_text(expected_text(fixture), encoding="utf-8")
