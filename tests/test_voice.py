"""Every reply is labelled, cited and honest: quotations verbatim and attributed to their real speakers."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import jinja2
import pytest

from bot import Kind, Maisky
from bot.chat.voice import Voice, templates_folder
from bot.search.evaluation import load_questions
from tests.conftest import DEV_QUESTIONS, PERSONA, SEEDS

PERSONA_DATA = tomllib.loads((PERSONA / "persona.toml").read_text(encoding="utf-8"))
SEED_TEXTS = [
    p["text"].strip()
    for f in SEEDS.glob("*.toml")
    for p in tomllib.loads(f.read_text(encoding="utf-8")).get("passage", [])
]
ALL_SEED_TEXT = "\n".join(SEED_TEXTS)
QUESTIONS = [i.q for i in load_questions(DEV_QUESTIONS)]


def quoted_spans(line: str) -> list[str]:
    return re.findall(r"“(.+?)”(?:\s…)? — ", line)


def assert_honest(core: Maisky, question: str) -> None:
    reply = core.ask(question)
    text = core.plain(reply)
    assert reply.label == "Maisky as narrator"
    assert text.startswith("[Maisky as narrator] An automated persona")
    if reply.kind is Kind.ANSWER:
        assert reply.citation is not None
        assert reply.citation.passage_id in text and reply.citation.url in text
        assert reply.passage in SEED_TEXTS  # the passage block is a whole passage, verbatim
        for q in reply.quotations:
            spans = quoted_spans(q.line)
            assert spans and all(s in ALL_SEED_TEXT for s in spans), q.line
            assert q.speaker in q.line
    else:
        assert reply.kind is Kind.DECLINE
        assert reply.passage == "" and reply.citation is None
        assert reply.suggestions


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_dev_question_is_labelled_cited_and_verbatim(core: Maisky, question: str) -> None:
    assert_honest(core, question)


def test_quotations_by_others_are_attributed_to_them(core: Maisky) -> None:
    reply = core.ask("What did Harold Nicolson write to Maisky?")
    lines = [q.line for q in reply.quotations]
    assert any(
        "newts in a tank" in line and "— Harold Nicolson, in the same letter to Maisky" in line for line in lines
    )
    webb = core.ask("What gossip did Beatrice Webb share about Churchill?")
    assert any(q.speaker == "Beatrice Webb" and "as Maisky reported her" in q.context for q in webb.quotations)
    churchill = core.ask("What did Churchill tell Maisky about communism?")
    assert any(
        q.speaker == "Winston Churchill" and q.text == "Better communism than Nazism!" for q in churchill.quotations
    )


def test_passage_is_shown_as_its_authors(core: Maisky) -> None:
    reply = core.ask("Why was Halifax called a hypocrite?")
    assert reply.passage_by == "Gabriel Gorodetsky, in The Boston Globe"
    caption = core.ask("Where did Churchill and Maisky have dinner in August 1941?")
    assert caption.passage_by.startswith("Photo caption")


def test_narration_is_a_persona_line_and_states_no_fact(core: Maisky) -> None:
    openers = [*PERSONA_DATA["openers_own_words"], *PERSONA_DATA["openers_caption"]]
    openers += [line.format(author=s.author) for line in PERSONA_DATA["openers_author"] for s in core.corpus.sources]
    for q in QUESTIONS:
        reply = core.ask(q)
        if reply.kind is Kind.ANSWER:
            assert reply.narration in openers


def test_wording_is_seeded_and_deterministic(core: Maisky) -> None:
    first = core.plain(core.ask("Was Eden made of iron?"))
    assert all(core.plain(core.ask("Was Eden made of iron?")) == first for _ in range(3))


def test_decline_stays_in_character_and_suggests_what_the_sources_cover(core: Maisky) -> None:
    reply = core.ask("What is the capital of Australia?")
    assert reply.kind is Kind.DECLINE
    assert reply.narration.split(" You might ask")[0] in PERSONA_DATA["declines"]
    for suggestion in reply.suggestions:
        assert core.ask(suggestion).kind is Kind.ANSWER, suggestion


def test_another_passage_and_running_out(core: Maisky) -> None:
    first, second = core.ask("Kennedy"), core.ask("Kennedy", rank=1)
    assert second.kind is Kind.ANSWER and second.citation and first.citation
    assert second.citation.passage_id != first.citation.passage_id
    assert second.narration in PERSONA_DATA["openers_another"]
    assert core.ask("Kennedy", rank=40).narration.startswith(PERSONA_DATA["no_more"])


def test_quote_of_the_day_is_maiskys_and_stable(core: Maisky) -> None:
    import datetime as dt

    day = dt.date(2026, 11, 27)
    a, b = core.quote(day), core.quote(day)
    assert a == b and a.kind is Kind.QUOTE
    assert a.passage in ALL_SEED_TEXT and a.passage_by.startswith("Ivan Maisky, ")
    assert a.citation is not None
    days = {core.quote(day + dt.timedelta(days=n)).passage for n in range(30)}
    assert len(days) > 3


def test_who_finds_people_by_other_names_and_typos(core: Maisky) -> None:
    assert core.who("FDR").matches[0].passage.id.endswith("hopkins-to-moscow")
    assert "Joseph P. Kennedy" in core.who("kenedy").narration
    unknown = core.who("Napoleon")
    assert unknown.kind is Kind.DECLINE and "Winston Churchill" in unknown.narration


def test_sources_and_help(core: Maisky) -> None:
    sources = core.plain(core.sources())
    assert "Gabriel Gorodetsky, “The secret diary of Stalin’s man in Churchill’s London”, The Boston Globe" in sources
    for source in core.corpus.sources:
        assert f"“{source.title}”" in sources and f"{core.corpus.count(source)} passages" in sources
    help_text = core.plain(core.help("/maisky "))
    assert "/maisky ask <question>" in help_text and "/maisky quote" in help_text
    assert "not the historical" in core.plain(core.about())


def test_templates_are_compiled_once_into_the_cache_folder_and_again_when_edited(
    core: Maisky, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    persona = tmp_path / "persona"
    shutil.copytree(PERSONA, persona)
    cache = tmp_path / "cache"
    reply = core.ask("What did Maisky think of Chamberlain?")
    expected = Voice(persona, core.corpus).plain(reply)  # no cache folder: compiled in memory
    compiled: list[str | None] = []
    compile_one = jinja2.Environment.compile

    def counted(env: jinja2.Environment, source: Any, name: str | None = None, *a: Any, **k: Any) -> Any:
        compiled.append(name)
        return compile_one(env, source, name, *a, **k)

    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    assert Voice(persona, core.corpus, cache_dir=cache).plain(reply) == expected
    assert "plain.j2" in compiled and len(list(templates_folder(cache).glob("*.j2c"))) == len(set(compiled))
    compiled.clear()
    assert Voice(persona, core.corpus, cache_dir=cache).plain(reply) == expected
    assert compiled == []  # every template read back compiled
    plain = persona / "templates" / "plain.j2"
    plain.write_text(plain.read_text(encoding="utf-8") + "Edited since.", encoding="utf-8")
    edited = Voice(persona, core.corpus, cache_dir=cache).plain(reply)
    assert edited.startswith(expected) and edited.endswith("Edited since.")
    assert compiled == ["plain.j2"]  # only the edited one compiled again


def test_damaged_or_unwritable_compiled_templates_are_compiled_again(core: Maisky, tmp_path: Path) -> None:
    reply = core.ask("What did Maisky think of Chamberlain?")
    expected = Voice(PERSONA, core.corpus).plain(reply)
    cache = tmp_path / "cache"
    Voice(PERSONA, core.corpus, cache_dir=cache)
    for i, f in enumerate(sorted(templates_folder(cache).glob("*.j2c"))):
        f.write_bytes(f.read_bytes()[: i * 7])  # torn at every length, empty included
    assert Voice(PERSONA, core.corpus, cache_dir=cache).plain(reply) == expected
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where the cache folder should be", encoding="utf-8")
    assert Voice(PERSONA, core.corpus, cache_dir=not_a_folder).plain(reply) == expected
