"""Bad input gets a friendly, labelled reply; nothing a user types can ping anyone."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import Kind, Maisky, neutralise
from bot.chat.text import REPLACEMENT, clean, entry
from tests.conftest import ROOT

NASTY = [
    "",
    "   \n\t ",
    "x" * 10_000,
    "\x00\x07\x1b[31mred\x1b[0m Chamberlain",
    "?!?!...;;",
    "🙂🙂🙂",
    "Что вы думали о Черчилле?",
    "丘吉尔",
    "@everyone what did you think of Eden?",
    "@here <!channel> <!everyone> <@U123> <@&456> <#789>",
    "**bold** `code` ```block``` <b>html</b> <script>alert(1)</script> [link](http://evil)",
    "'; DROP TABLE passages; --",
]


@pytest.mark.parametrize("text", NASTY)
def test_bad_input_gets_a_friendly_labelled_reply(core: Maisky, text: str) -> None:
    reply = core.ask(text)
    out = core.plain(reply)
    assert out.startswith("[Maisky as narrator]")
    assert reply.kind in (Kind.ANSWER, Kind.DECLINE, Kind.INVALID)
    assert "@everyone" not in out and "@here" not in out and "<!" not in out


def test_specific_messages(core: Maisky) -> None:
    assert "Ask me something in words" in core.ask("  ").narration
    assert "fewer than 1000 characters" in core.ask("x" * 10_000).narration
    assert "questions in English" in core.ask("Что вы думали о Черчилле?").narration
    assert "no words there" in core.ask("🙂?!").narration


def test_mentions_in_the_question_are_neutralised_in_the_reply_model(core: Maisky) -> None:
    reply = core.ask("@everyone <!channel> what did you think of Eden?")
    assert reply.kind is Kind.ANSWER
    assert "@everyone" not in reply.question and "<!channel>" not in reply.question
    assert "everyone" in reply.question  # still readable


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_neutralise_never_leaves_a_ping(text: str) -> None:
    safe = neutralise(text)
    for ping in ("@everyone", "@here", "<!", "<@", "<#"):
        assert ping not in safe


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gets_a_labelled_reply_without_pings(core: Maisky, text: str) -> None:
    reply = core.ask(text)
    out = core.plain(reply)
    assert out.startswith("[Maisky as narrator] An automated persona")
    assert "@everyone" not in reply.question and "<!" not in reply.question


# Text no encoder accepts: lone surrogates (JSON "\ud800" escapes in Slack and Discord payloads) and
# undecodable bytes, which Python carries as surrogates in argv and C-locale stdin (surrogateescape).
BROKEN = ["Chamberlain \ud800", "\udcff\udcfe Eden", "\ude00", "what did you think of \ud83d Eden?\udfff"]
_unencodable = st.lists(st.one_of(st.characters(categories=["Cs"]), st.characters()), max_size=60).map("".join)


@pytest.mark.parametrize("text", BROKEN)
def test_unencodable_text_gets_a_reply_that_encodes(core: Maisky, text: str) -> None:
    for reply in (core.ask(text), core.who(text), core.ask(text, rank=1)):
        out = core.plain(reply)
        out.encode("utf-8")  # nothing left that a terminal, JSON or a database would refuse
        reply.question.encode("utf-8")
        assert out.startswith("[Maisky as narrator]") and reply.kind is not Kind.ERROR
    assert core.explain(text).terms is not None
    assert core.people(text) is not None


def test_a_broken_character_does_not_change_the_answer(core: Maisky) -> None:
    plain = core.ask("What did you think of Chamberlain?")
    broken = core.ask("What did you think of Chamberlain?\ud800")
    assert broken.kind is Kind.ANSWER and broken.citation == plain.citation


@settings(max_examples=200, deadline=None)
@given(_unencodable)
def test_any_text_even_unencodable_gets_a_labelled_reply(core: Maisky, text: str) -> None:
    reply = core.ask(text)
    assert core.plain(reply).encode("utf-8").startswith(b"[Maisky as narrator]")
    assert reply.kind is not Kind.ERROR


@settings(max_examples=300, deadline=None)
@given(_unencodable)
def test_clean_gives_encodable_text_and_keeps_good_text(text: str) -> None:
    cleaned = clean(text)
    cleaned.encode("utf-8")
    assert clean(cleaned) == cleaned
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text) and text.isprintable():
        assert cleaned == unicodedata.normalize("NFC", text)


def test_clean_joins_a_split_surrogate_pair_and_replaces_lone_halves() -> None:
    assert clean("x\ud83d\ude00y") == "x😀y"
    assert clean("a\ud800b\udcffc") == f"a{REPLACEMENT}b{REPLACEMENT}c"
    assert clean("nul\x00bell\x07esc\x1b[0m\ttab\nline") == "nul bell esc [0m\ttab\nline"


def _maisky(*argv: bytes, stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *argv],
        cwd=ROOT, input=stdin, capture_output=True, check=False, timeout=180, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.parametrize("json_flag", [[], [b"--json"]])
def test_maisky_ask_with_invalid_utf8_answers(json_flag: list[bytes]) -> None:
    proc = _maisky(b"ask", *json_flag, b"What did you think of Chamberlain? \xed\xa0\x80\xff")
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert b"grave-digger" in proc.stdout or b"leaky, faded umbrella" in proc.stdout  # either passage answers


@pytest.mark.parametrize("encoding", ["utf-8:strict", "utf-8:surrogateescape"])
def test_maisky_chat_with_invalid_utf8_keeps_going(tmp_path: Path, encoding: str) -> None:
    lines = b"Was Eden made of iron? \xff\xfe\nwho \xed\xa0\x80kenedy\nWhat did you think of Chamberlain?\nquit\n"
    env = {"PYTHONIOENCODING": encoding, "MAISKY_HISTORY": str(tmp_path / "history")}
    proc = _maisky(b"chat", stdin=lines, env=env)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert b"soft clay" in proc.stdout and b"Joseph P. Kennedy" in proc.stdout
    assert proc.stdout.count(b"\nSource: ") == 3  # all three questions answered (Chamberlain by either passage)


@pytest.mark.parametrize(
    "said",
    [
        "help <@UBOT>", "<@UBOT> help", "<@UBOT|maisky> help", "help <@UBOT|maisky>", "<@UBOT>, help",
        "<@42> help", "<@!42> help", "help <@&7>", "<@42> <@&7> help", "help\u0000 <@!42>",
    ],
)  # fmt: skip
def test_the_bots_own_mention_is_no_part_of_a_line_wherever_it_stands(said: str) -> None:
    assert entry(said, ("UBOT", "42", "7")) == "help"


def test_other_mentions_stay_for_the_commands_that_name_people() -> None:
    assert entry("<@UBOT> daily grant <@U9|ann>", ("UBOT",)) == "daily grant <@U9|ann>"
    assert entry("help <@UBOT>") == "help <@UBOT>"  # whose mention it is, only the platform knows


def test_the_console_addresses_the_bot_by_its_typed_name() -> None:
    assert entry("help @Maisky", ("Maisky",)) == "help" and entry("@maisky, help", ("Maisky",)) == "help"
    assert entry("email me@Maisky.org", ("Maisky",)) == "email me@Maisky.org"  # not a mention
