"""The one parser: a line is a command only when it has a command's exact shape."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chat.commands import About, Another, Ask, Daily, DailyAction, Help, Quote, Sources, Who, parse


def knows(name: str) -> bool:
    return name.lower() in {"churchill", "kenedy", "fdr", "eden"}


QUESTIONS = [
    "Who found the diary?",
    "Who wrote the article?",
    "who found the diary",
    "About how long were you in London?",
    "Help me understand Munich",
    "Quote something Churchill said",
    "Sources on the Nazi-Soviet pact?",
    "Daily life in London?",
    "More about Eden",
    "Another question: what of Halifax?",
    "What did you think of Chamberlain?",
    "Eden",
]


@pytest.mark.parametrize("line", QUESTIONS)
def test_a_question_stays_a_question(line: str) -> None:
    assert parse(line, knows) == Ask(line)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("who Churchill", Who("Churchill")),
        ("WHO  kenedy", Who("kenedy")),
        ("who FDR", Who("FDR")),
        ("who Zorro", Who("Zorro")),  # written like a name: the list of people the sources know
        ("help", Help()),
        ("?", Help()),
        ("", Help()),
        ("   ", Help()),
        ("helpp", Help()),  # a mistyped command word
        ("quot", Help()),
        ("/maisky", Help()),
        ("who", Help()),
        ("ask", Help()),
        ("quote", Quote()),
        ("about", About()),
        ("Sources", Sources()),
        ("Sources?", Sources()),
        ("help!", Help()),
        ("another", Another()),
        ("more", Another()),
        ("ask Who found the diary?", Ask("Who found the diary?")),
        ("daily", Daily(DailyAction.STATUS)),
        ("daily status", Daily(DailyAction.STATUS)),
        ("daily preview", Daily(DailyAction.PREVIEW)),
        ("daily on 18:30 Europe/London", Daily(DailyAction.SUBSCRIBE, "18:30", "Europe/London")),
        ("daily subscribe Europe/London 18:30", Daily(DailyAction.SUBSCRIBE, "18:30", "Europe/London")),
        ("daily subscribe", Daily(DailyAction.SUBSCRIBE)),
        ("daily off", Daily(DailyAction.UNSUBSCRIBE)),
        ("daily unsubscribe", Daily(DailyAction.UNSUBSCRIBE)),
    ],
)
def test_commands(line: str, command: object) -> None:
    assert parse(line, knows) == command


def test_each_command_has_a_policy_row() -> None:
    from bot.chat.desk import POLICY

    for command in (Ask("x"), Another(), Who("x"), Quote(), Sources(), About(), Help(), *map(Daily, DailyAction)):
        assert command.name in POLICY


@given(st.text(max_size=200))
def test_every_line_is_some_command_and_a_question_keeps_its_text(line: str) -> None:
    command = parse(line, knows)
    if isinstance(command, Ask):
        assert command.question in (line.strip(), line.strip().partition(" ")[2].strip())
