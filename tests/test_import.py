"""The importer's rules: paragraphs, sections, joins, splits, furniture, ids, quotations, dates, report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.curate.formats import Block, Document, read_document
from bot.curate.importer import MAX_WORDS, Draft, Provenance, Report, draft_source, validate
from bot.curate.quotations import attribute, find_spans
from bot.sources.corpus import Person, load_corpus, load_people
from tests.conftest import SEEDS

PEOPLE = load_people(SEEDS / "people.toml")
PROV = Provenance(
    id="club-notes", title="Notes on the embassy", author="A Club Member", publication="Club newsletter",
    date=dt.date(2024, 1, 2), url="https://example.org/notes", licence="CC BY 4.0",
)  # fmt: skip


def draft(tmp_path: Path, text: str, name: str = "notes.txt", people: dict[str, Person] | None = None) -> Draft:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return draft_source([read_document(path)], PROV, PEOPLE if people is None else people)


def speakers(d: Draft) -> dict[str, str]:
    return {q.text: q.speaker for p in d.passages for q in p.quotes}


def test_paragraphs_are_verbatim_and_headings_become_sections(tmp_path: Path) -> None:
    d = draft(
        tmp_path,
        "Notes on the embassy\n\n== Early years ==\nMaisky was born in 1884.\n\nHe grew up in Omsk,\nwhere his "
        "father\nworked.\n\n# London\n\nHe arrived in London in 1932.\n",
    )
    assert [(p.paragraph, p.section, p.text) for p in d.passages] == [
        (1, "Early years", "Maisky was born in 1884."),
        (2, "Early years", "He grew up in Omsk, where his father worked."),  # hard-wrapped lines unwrapped
        (3, "London", "He arrived in London in 1932."),
    ]
    assert any(c.what.startswith("dropped the title") for c in d.changes)


def test_a_list_keeps_its_lines(tmp_path: Path) -> None:
    d = draft(tmp_path, "Ivan Maisky\n- Born: 1884\n- Died: 1975\n\nA paragraph.\n")
    assert d.passages[0].text == "Ivan Maisky\n- Born: 1884\n- Died: 1975"


def test_an_introducing_paragraph_joins_its_quotation(tmp_path: Path) -> None:
    d = draft(
        tmp_path,
        "Describing the night, Maisky wrote:\n\n“The moon shone brightly.”\n\nThe next paragraph.\n\n"
        "A paragraph that ends with a colon:\n\nbut is followed by prose.\n",
    )
    texts = [p.text for p in d.passages]
    assert texts[0] == "Describing the night, Maisky wrote:\n\n“The moon shone brightly.”"
    assert [p.paragraph for p in d.passages] == [1, 3, 4, 5]  # the joined quotation still counts as paragraph 2
    assert texts[2:] == ["A paragraph that ends with a colon:", "but is followed by prose."]
    assert speakers(d)["The moon shone brightly."] == "maisky"


def test_a_very_long_paragraph_is_split_at_sentence_ends_outside_quotations(tmp_path: Path) -> None:
    quoted = "“This quoted sentence is long. It has two sentences inside the marks.”"
    sentences = [f"Sentence number {n} says something about the embassy in London." for n in range(80)]
    sentences[40] = f"Maisky wrote {quoted}"
    text = " ".join(sentences)
    d = draft(tmp_path, text + "\n")
    assert len(d.passages) >= 3
    assert all(len(p.text.split()) <= MAX_WORDS * 1.2 for p in d.passages)
    assert " ".join(p.text for p in d.passages) == text
    assert all(p.paragraph == 1 for p in d.passages)
    assert any(quoted in p.text for p in d.passages)  # never cut inside the quotation
    assert len({p.id for p in d.passages}) == len(d.passages)
    assert any(c.what.startswith("split a") for c in d.changes)


def test_ids_are_stable_across_reimports_and_edits_elsewhere(tmp_path: Path) -> None:
    text = "Maisky arrived in London in 1932.\n\nHe stayed eleven years.\n\nHe stayed eleven years.\n"
    first = draft(tmp_path, text)
    again = draft(tmp_path, text)
    edited = draft(tmp_path, "A new opening paragraph.\n\n" + text.replace("1932", "late 1932"))
    ids = [p.id for p in first.passages]
    assert ids == [p.id for p in again.passages]
    assert ids == ["maisky-arrived-in-london-in-1932", "he-stayed-eleven-years", "he-stayed-eleven-years-2"]
    assert [p.id for p in edited.passages][2:] == ids[1:]  # untouched paragraphs keep their ids


def test_reimport_keeps_ids_a_curator_gave(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Maisky arrived in London in 1932.\n\nHe stayed eleven years.\n", encoding="utf-8")
    kept = draft_source([read_document(path)], PROV, PEOPLE, keep_ids={"He stayed eleven years.": "tenure"})
    assert [p.id for p in kept.passages] == ["maisky-arrived-in-london-in-1932", "tenure"]


def test_furniture_is_dropped_and_reported(tmp_path: Path) -> None:
    d = draft(
        tmp_path,
        "fb-pixel Skip to main content\n\nAdvertisement\n\nChurchill and Maisky dined in 1941.Courtesy of the "
        "family\n\n12\n\n* * *\n\nRead: Another story\n\nThe text.\n",
    )
    assert [p.text for p in d.passages] == ["Churchill and Maisky dined in 1941.", "The text."]
    assert ("dropped a line with no words (a separator or ornament)", "* * *") in {(c.what, c.text) for c in d.changes}
    assert d.passages[0].caption and d.photo_credit == "Courtesy of the family"
    dropped = {(c.what, c.text) for c in d.changes}
    assert ("dropped page furniture", "fb-pixel Skip to main content") in dropped
    assert ("dropped page furniture", "Advertisement") in dropped
    assert ("dropped a page number", "12") in dropped
    assert ("dropped page furniture", "Read: Another story") in dropped
    assert ("cut a photo credit glued to a caption", "Courtesy of the family") in dropped


def test_every_quoted_span_is_recorded_verbatim(tmp_path: Path) -> None:
    d = draft(
        tmp_path,
        "He said “curly double” and \"straight double\" and ‘curly single’ and 'straight single', "
        "but not Churchill’s apostrophe or the Webbs' house.\n\n"
        "“Outer words, ‘inner words,’ and more outer words.”\n\n"
        "“A quotation over two paragraphs opens each,\n\n"
        "“and closes only the last.”\n",
    )
    found = [q.text for p in d.passages for q in p.quotes]
    assert found == [
        "curly double", "straight double", "curly single", "straight single",
        "Outer words, ‘inner words,’ and more outer words.", "inner words,",
        "A quotation over two paragraphs opens each,", "and closes only the last.",
    ]  # fmt: skip
    for p in d.passages:
        for q in p.quotes:
            assert q.text in p.text


def test_a_speaker_is_set_only_where_the_text_says_so(tmp_path: Path) -> None:
    d = draft(
        tmp_path,
        "Maisky wrote: “One.” Then “Two,” Churchill said. Later “Three,” said Eden.\n\n"
        "“Four,” remembered Harold Nicolson in a letter to Maisky, “five.”\n\n"
        "Maisky commented, “Six.”\n\n"
        "He wrote “seven.” Churchill told Maisky that “eight.” Stalin made the snippy comment that Maisky "
        "“nine.”\n\n"
        "“Ten,” he said. Maisky was instructed to court those who were “eleven.”\n\n"
        "Maisky told the story of how Churchill said: “Fourteen.” Churchill told him that “fifteen.”\n\n"
        "Maisky wrote that Churchill was tired: “Sixteen.”\n\n"
        "“Seventeen,” Maisky recalled Churchill saying.\n\n"
        "Maisky wrote: “I drove home and thought: ‘Twelve.’ I mentioned what Churchill said to me: ‘Thirteen.’ ”\n",
    )
    assert speakers(d) == {
        "One.": "maisky", "Two,": "churchill", "Three,": "eden", "Four,": "nicolson", "five.": "nicolson",
        "Six.": "maisky", "seven.": "", "eight.": "", "nine.": "", "Ten,": "", "eleven.": "",
        "I drove home and thought: ‘Twelve.’ I mentioned what Churchill said to me: ‘Thirteen.’": "maisky",
        "Twelve.": "maisky", "Thirteen.": "churchill", "Fourteen.": "churchill", "fifteen.": "churchill",
        "Sixteen.": "", "Seventeen,": "",
    }  # fmt: skip
    rules = {q.text: q.rule for p in d.passages for q in p.quotes}
    assert rules["five."] == "the rest of a quotation split by its attribution"


def test_a_name_two_people_share_or_nobody_has_sets_no_speaker(tmp_path: Path) -> None:
    people = {
        "webb-beatrice": Person("webb-beatrice", "Beatrice Webb", ("Webb",)),
        "webb-sidney": Person("webb-sidney", "Sidney Webb", ("Webb",)),
    }
    d = draft(tmp_path, "Webb said: “Tea.” Molotov said: “Nyet.”\n", people=people)
    assert speakers(d) == {"Tea.": "", "Nyet.": ""}
    assert [name for name, _ in d.unknown_speakers] == ["Webb (names more than one person)", "Molotov"]


def test_dates_the_text_gives_become_passage_dates(tmp_path: Path) -> None:
    d = draft(
        tmp_path,
        "On Sept. 3, 1939 war came.\n\nIn October 1939 he met them.\n\nHe wrote this in 1937.\n\n"
        "Maisky’s diary entry of June, 12, 1941: a warning.\n\nIn 1942 he was praised; in June 1943 recalled.\n\n"
        "It had 1937 pages.\n",
    )
    assert [p.date for p in d.passages] == ["1939-09-03", "October 1939", "1937", "1941-06-12", "June 1943", ""]


def test_the_report_lists_what_to_review(tmp_path: Path) -> None:
    d = draft(tmp_path, "Skip to main content\n\nIn 1939 Maisky wrote: “Here is Molotov.” Ribbentrop said: “Ja.”\n")
    text = Report(d, "seeds/club-notes.toml", validate(d, SEEDS, SEEDS / "club-notes.toml")).text()
    print(text)
    assert "passages: 1" in text
    assert "quotations: 2 (1 attributed, 1 without a speaker" in text
    assert "maisky: “Here is Molotov.”" in text
    assert "speakers named but not in people.toml" in text and "Ribbentrop [" in text
    assert "dates found: 1" in text and ": 1939" in text
    assert "Molotov:" in text  # a name people.toml lacks, with its passage
    assert "dropped page furniture: 'Skip to main content'" in text
    assert "the loader accepts it" in text


def test_the_loader_accepts_the_draft_and_keeps_quotations_without_speaker(tmp_path: Path, seeds_copy: Path) -> None:
    d = draft(tmp_path, "== Part ==\nHe wrote “the words.” Maisky wrote: “Mine.”\n")
    (seeds_copy / "club-notes.toml").write_text(d.toml(), encoding="utf-8")
    corpus = load_corpus(seeds_copy)
    passage = next(p for p in corpus.passages if p.source.id == "club-notes")
    assert passage.section == "Part" and passage.source.licence == "CC BY 4.0"
    assert [(q.text, q.speaker) for q in passage.quotes] == [("the words.", ""), ("Mine.", "maisky")]


def test_the_loader_refusal_is_reported(tmp_path: Path) -> None:
    d = draft(tmp_path, "A paragraph.\n")
    clash = Draft(PROV.__class__(**{**PROV.__dict__, "id": "globe-2015"}), d.passages, d.changes, d.files)
    refused = validate(clash, SEEDS, SEEDS / "other-name.toml")
    assert "globe-2015" in refused and "used by another file" in refused


_ALPHABET = st.sampled_from(["Maisky", "wrote", "said", "Churchill", "he", ":", ",", ".", " ", "\n\n", "“", "”", "‘"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_ALPHABET, st.sampled_from(["’", '"', "'", "words"])), max_size=60))
def test_any_text_gives_verbatim_quotations_and_known_speakers(parts: list[str]) -> None:
    text = " ".join(parts)
    spans = find_spans(text)
    for span, who in zip(spans, attribute(text, spans, PEOPLE), strict=True):
        assert 0 <= span.start <= span.end <= len(text)
        assert text[span.start : span.end].strip() == text[span.start : span.end]
        assert who.speaker in ("", *PEOPLE)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_ALPHABET, st.sampled_from(["’", '"', "'", "words", "In 1939"])), min_size=1, max_size=40))
def test_any_text_drafts_a_source_the_loader_accepts(parts: list[str]) -> None:
    text = " ".join(parts)
    doc = Document(Path("notes.txt"), "text", tuple(Block(b) for b in text.split("\n\n")))
    d = draft_source([doc], PROV, PEOPLE)
    if d.passages:
        assert validate(d, SEEDS, SEEDS / "club-notes.toml") == ""


def test_a_short_unpunctuated_line_after_the_title_is_the_standfirst(tmp_path: Path) -> None:
    d = draft(tmp_path, "Notes on the embassy\n\nWhat the club found in its visits\n\nThe first paragraph.\n")
    assert d.standfirst == "What the club found in its visits"
    assert [(p.paragraph, p.text) for p in d.passages] == [(1, "The first paragraph.")]
    assert 'standfirst = "What the club found in its visits"' in d.toml()
    plain = draft(tmp_path, "Notes on the embassy\n\nThe first paragraph.\n\nA line without a full stop\n")
    assert plain.standfirst == "" and len(plain.passages) == 2
