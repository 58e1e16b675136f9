from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.errors import CorpusError
from bot.sources.corpus import load_corpus
from tests.conftest import SEEDS

RAW = SEEDS.parent.parent / "shared" / "seeds" / "000_3ce380c9100f0e7d.txt"


def test_bundled_corpus_loads_with_provenance() -> None:
    corpus = load_corpus(SEEDS)
    source = next(s for s in corpus.sources if s.id == "globe-2015")
    assert source.author == "Gabriel Gorodetsky"
    assert source.publication == "The Boston Globe"
    assert source.section == "Ideas"
    assert source.date.isoformat() == "2015-10-07"
    assert source.url.startswith("http://www.bostonglobe.com/ideas/2015/10/07/")
    assert "Scheffer-Voskressenski" in source.photo_credit
    assert len(corpus.passages) >= 25
    assert len({p.id for p in corpus.passages}) == len(corpus.passages)


def test_furniture_and_credits_are_gone_and_captions_marked() -> None:
    corpus = load_corpus(SEEDS)
    text = "\n".join(p.text for p in corpus.passages)
    assert "fb-pixel" not in text and "Read: Ivan Maisky’s retrospective" not in text
    assert "Courtesy of" not in text
    assert sum(p.caption for p in corpus.passages) == 3


def test_correction_is_recorded_and_applied() -> None:
    corpus = load_corpus(SEEDS)
    fixed = [p for p in corpus.passages if p.corrections]
    assert [(c.original, c.corrected) for p in fixed for c in p.corrections] == [("eventrying", "even trying")]
    assert "eventrying" not in fixed[0].text and "even trying" in fixed[0].text


@pytest.mark.skipif(not RAW.exists(), reason="shared/seeds not beside the repo")
def test_passage_texts_are_verbatim_from_the_raw_article() -> None:
    raw = RAW.read_text(encoding="utf-8").replace("eventrying", "even trying")
    for p in load_corpus(SEEDS).passages:
        if p.source.id != "globe-2015":
            continue
        for para in p.text.split("\n\n"):
            assert para in raw, p.id


def test_every_curly_quotation_in_a_passage_is_declared() -> None:
    for p in load_corpus(SEEDS).passages:
        for span in re.findall(r"“([^“”]{3,})”", p.text):
            assert any(span.strip(" ,.") in q.text or q.text in span for q in p.quotes), (p.id, span)


def test_quotes_are_attributed_to_their_real_speakers() -> None:
    corpus = load_corpus(SEEDS)
    by_text = {q.text: q.speaker for p in corpus.passages for q in p.quotes}
    assert by_text["Better communism than Nazism!"] == "churchill"
    assert by_text["completely rotten."] == "kennedy"
    assert any(s == "nicolson" and "newts in a tank" in t for t, s in by_text.items())
    assert any(s == "webb-beatrice" and "not a true Englishman" in t for t, s in by_text.items())
    assert any(s == "stalin" and "tongue between his teeth" in t for t, s in by_text.items())


def _edit(folder: Path, old: str, new: str, file: str = "globe-2015.toml") -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "passage", "field"),
    [
        (
            'id = "observatory-dinner"\nparagraph = 1',
            'id = "observatory-dinner"\nparagraph = 0',
            "observatory-dinner",
            "paragraph",
        ),
        ('id = "observatory-dinner"', 'id = "Observatory Dinner"', None, "id"),
        ('speaker = "nicolson"', 'speaker = "nobody"', "memory-and-nicolson", "quote.speaker"),
        ('text = "with benevolent interest', 'text = "with malevolent interest', "memory-and-nicolson", "quote.text"),
        ('corrected = "even trying"', 'corrected = "ever trying"', "chamberlain-declares-war", "correction.corrected"),
        ("date = 2015-10-07", 'date = "7 Oct 2015"', None, "source.date"),
        ('url = "http://www.boston', 'url = "www.boston', None, "source.url"),
        ("caption = true", 'caption = "yes"', "observatory-dinner", "caption"),
        ('keywords = "dinner', 'colour = "red"\nkeywords = "dinner', "observatory-dinner", "colour"),
        ('author = "Gabriel Gorodetsky"', 'author = ""', None, "author"),
    ],
)
def test_each_validation_error_names_file_passage_and_field(
    seeds_copy: Path, old: str, new: str, passage: str | None, field: str
) -> None:
    _edit(seeds_copy, old, new)
    with pytest.raises(CorpusError) as err:
        load_corpus(seeds_copy)
    assert err.value.file == "globe-2015.toml"
    assert err.value.field == field
    if passage:
        assert err.value.passage == passage
    assert "globe-2015.toml" in str(err.value)


def test_broken_toml_is_named(seeds_copy: Path) -> None:
    _edit(seeds_copy, "[source]", "[source")
    with pytest.raises(CorpusError, match=r"globe-2015\.toml: is not valid TOML"):
        load_corpus(seeds_copy)


def test_duplicate_passage_ids_across_files(seeds_copy: Path) -> None:
    (seeds_copy / "copy.toml").write_text(
        (seeds_copy / "globe-2015.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(CorpusError, match=r"source id .globe-2015. is used by another file"):
        load_corpus(seeds_copy)


def test_missing_people_file(seeds_copy: Path) -> None:
    (seeds_copy / "people.toml").unlink()
    with pytest.raises(CorpusError, match=r"people\.toml"):
        load_corpus(seeds_copy)


def test_bad_lexicon_group(seeds_copy: Path) -> None:
    _edit(seeds_copy, '["keep", "kept"]', '["keep"]', file="lexicon.toml")
    with pytest.raises(CorpusError) as err:
        load_corpus(seeds_copy)
    assert err.value.field == "synonyms"


def test_second_source_needs_no_code(seeds_copy: Path) -> None:
    (seeds_copy / "club-notes.toml").write_text(
        """
[source]
id = "club-notes"
title = "Notes on the observatory"
author = "A Club Member"
publication = "Club newsletter"
date = 2024-01-02
url = "https://example.org/notes"

[[passage]]
id = "telescope"
paragraph = 1
text = '''
The embassy observatory held a brass telescope, according to the club's notes.'''
""",
        encoding="utf-8",
    )
    corpus = load_corpus(seeds_copy)
    assert [s.id for s in corpus.sources] == ["club-notes", "globe-2015", "wikipedia-ivan-maisky"]
    assert corpus.passage("club-notes.telescope").source.title == "Notes on the observatory"


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"people\.toml"):
        load_corpus(tmp_path)


@pytest.mark.parametrize(
    ("cue", "field"),
    [
        ('when_any = ["a"]\nwhen_all = ["b"]\nadds = "c"', "cue.when_any"),  # both
        ('adds = "c"', "cue.when_any"),  # neither
        ('when_all = []\nadds = "c"', "cue.when_all"),
    ],
)
def test_a_cue_takes_when_any_or_when_all(seeds_copy: Path, cue: str, field: str) -> None:
    lexicon = seeds_copy / "lexicon.toml"
    lexicon.write_text(lexicon.read_text(encoding="utf-8") + f"\n[[cue]]\n{cue}\n", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        load_corpus(seeds_copy)
    assert err.value.field == field
