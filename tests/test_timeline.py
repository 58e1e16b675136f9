"""The timeline: dated passages in order, by year, decade or range, each line cited with its id."""

from __future__ import annotations

import io
import re

import pytest

from adapters.cli import main
from bot import Maisky
from bot.chat.commands import Ask, Timeline, parse
from bot.chat.desk import Caller, FrontDesk
from bot.chat.reply import Kind
from bot.sources.timeline import Span, dated, parse_span, timeline


@pytest.mark.parametrize(
    ("typed", "span"),
    [
        ("1939", Span(1939, 1939)),
        (" 1930s ", Span(1930, 1939)),
        ("1939-1941", Span(1939, 1941)),
        ("1939–1941", Span(1939, 1941)),
        ("1941 to 1939", Span(1939, 1941)),
        ("1939-41", Span(1939, 1941)),
        ("", Span(1000, 2999)),
    ],
)
def test_years_decades_and_ranges_are_read(typed: str, span: Span) -> None:
    assert parse_span(typed) == span


@pytest.mark.parametrize("typed", ["18", "19399", "the war", "1939 and 1940", "1935s", "@everyone"])
def test_anything_else_is_not_a_span(typed: str) -> None:
    assert parse_span(typed) is None


def test_dates_as_the_sources_give_them_are_placed(core: Maisky) -> None:
    places = {p.id.split(".", 1)[1]: dated(p) for p in core.corpus.passages}
    war = places["chamberlain-declares-war"]
    assert war and (war.year, war.month, war.day, war.label) == (1939, 9, 3, "1939-09-03")
    webbs = places["the-webbs-and-churchill"]
    assert webbs and (webbs.year, webbs.month, webbs.day) == (1939, 10, 0)
    terror = places["terror-and-the-diary"]
    assert terror and (terror.year, terror.last_year) == (1930, 1939)
    assert places["finding-the-diary"] is None  # undated passages are not on the timeline


def test_the_whole_timeline_is_in_order_and_holds_every_dated_passage(core: Maisky) -> None:
    entries = timeline(core.corpus, Span(1000, 2999))
    assert len(entries) == sum(1 for p in core.corpus.passages if p.date)
    keys = [(e.year, e.month, e.day) for e in entries]
    assert keys == sorted(keys)
    ids = [e.passage_id for e in entries]
    assert ids.index("globe-2015.chamberlain-declares-war") < ids.index("globe-2015.the-webbs-and-churchill")
    assert ids.index("globe-2015.eden-warning-caption") < ids.index("globe-2015.observatory-dinner")


def test_a_year_or_range_filters(core: Maisky) -> None:
    in_1939 = {e.passage_id for e in timeline(core.corpus, Span(1939, 1939))}
    assert in_1939 == {
        "globe-2015.chamberlain-declares-war",
        "globe-2015.the-webbs-and-churchill",
        "globe-2015.webb-on-churchills-mother",
    }
    war = [e.year for e in timeline(core.corpus, Span(1939, 1943))]
    assert war and min(war) == 1939 and max(war) == 1943
    assert next(e.label for e in timeline(core.corpus, Span(1930, 1939))) == "1930s"


def test_each_line_has_the_date_opening_words_citation_and_id(core: Maisky) -> None:
    reply = core.timeline("1939-1941")
    assert reply.kind is Kind.TIMELINE and reply.label == "Maisky as narrator"
    assert len(reply.items) == 6
    for line, entry in zip(reply.items, timeline(core.corpus, Span(1939, 1941)), strict=True):
        assert line.startswith(entry.label + ": ")
        assert line.endswith(f"[{entry.passage_id}]")
        assert f"paragraph {entry.passage.paragraph}" in line and "Gabriel Gorodetsky, The Boston Globe" in line
        opening = re.sub(r" …$", "", line.split(": ", 1)[1].split(" (Gabriel Gorodetsky")[0])
        assert opening in " ".join(entry.passage.text.split())  # verbatim
    text = core.plain(reply)
    assert "in 1939–1941" in text and all(line in text for line in reply.items)


def test_a_line_leads_to_the_whole_passage_by_its_id(core: Maisky) -> None:
    line = core.timeline("1953").items[0]
    pid = line.rsplit("[", 1)[1].rstrip("]")
    for reply in (core.passage(pid), core.ask(pid)):
        assert reply.answered and reply.passage == core.corpus.passage(pid).text
        assert reply.citation is not None and reply.citation.passage_id == pid
    assert core.passage("globe-2015.nothing").kind is Kind.NOTICE


def test_empty_and_bad_spans_get_the_persona_notice(core: Maisky) -> None:
    empty = core.timeline("1800-1850")
    assert empty.kind is Kind.TIMELINE and not empty.items and "date no passage in 1800–1850" in empty.narration
    bad = core.timeline("<!channel> the war")
    assert bad.kind is Kind.NOTICE and "1939-1941" in bad.narration
    assert "channel" not in core.plain(bad)


def test_years_for_autocomplete(core: Maisky) -> None:
    assert core.timeline_years("194") == [1941, 1942, 1943]
    assert 1935 in core.timeline_years()  # within the 1930s


@pytest.mark.parametrize(
    ("line", "command"),
    [("timeline", Timeline()), ("timeline 1939", Timeline("1939")), ("timeline 1939-1941", Timeline("1939-1941")),
     ("timeline 1930s", Timeline("1930s")), ("timeline 18", Timeline("18"))],
)  # fmt: skip
def test_timeline_lines_parse(line: str, command: Timeline) -> None:
    assert parse(line) == command


def test_a_question_about_the_timeline_stays_a_question() -> None:
    line = "Timeline of the war?"
    assert parse(line) == Ask(line)


def test_the_desk_and_the_console_show_the_timeline(core: Maisky) -> None:
    desk = FrontDesk(Maisky(core.corpus, core.matcher, core.voice))
    out = desk.handle_line("timeline 1953", Caller("discord", "G", "C", "U"))
    assert not out.private and out.reply.kind is Kind.TIMELINE and len(out.reply.items) == 1
    bad = desk.handle_line("timeline 18", Caller("discord", "G", "C", "U"))
    assert bad.private and bad.reply.kind is Kind.NOTICE
    text = io.StringIO()
    assert main(["timeline", "1939"], out=text) == 0
    assert text.getvalue().count("[globe-2015.") == 3 and "Maisky as narrator" in text.getvalue()
