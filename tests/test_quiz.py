"""The club quiz in the core: its questions, lenient answers, one open question per channel,
draws without repeats, scores, stopping. Store-backed tests run on SQLite, and on PostgreSQL too
where CI provides one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import Kind, Maisky
from bot.chat.commands import Ask, QuizAction, parse
from bot.chat.commands import Quiz as Quiz_
from bot.chat.desk import Caller, FrontDesk
from bot.club.quiz import HIDDEN, WHEN, WHO, Question, Quiz, parse_years, questions, resolve_person
from bot.ops.store import Store, database_url
from tests.conftest import ROOT
from tests.daily_support import POSTGRES, database_urls, fresh_database

QUIZ_TABLES = ("quiz_tries", "quiz_open", "quiz_scores", "quiz_draws")


@pytest.fixture(params=database_urls())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        engine = sa.create_engine(database_url(POSTGRES))
        with engine.begin() as conn:
            for table in QUIZ_TABLES:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
        engine.dispose()
    return fresh_database(request.param, tmp_path)


@pytest.fixture
def quiz(core: Maisky, url: str) -> Quiz:
    return Quiz(Store(url), core.corpus, core.voice)


def _question(quiz: Quiz, token: str) -> Question:
    draw = quiz.store.quiz_draw(int(token))
    assert draw is not None
    return quiz._by_key[draw.question_key]


def _letter_of(quiz: Quiz, token: str, right: bool) -> str:
    draw = quiz.store.quiz_draw(int(token))
    assert draw is not None
    q = quiz._by_key[draw.question_key]
    n = next(i for i, o in enumerate(draw.options) if (o == q.answer) == right)
    return "ABCD"[n]


# the questions


def test_who_said_it_only_from_confirmed_named_speakers(core: Maisky) -> None:
    pool = questions(core.corpus)
    who = [q for q in pool if q.kind == WHO]
    speakers = {q.answer for q in who}
    assert {"maisky", "churchill", "kennedy", "nicolson", "stalin"} <= speakers
    assert not speakers & {"gorodetsky", "unattributed", "instructions", "soviet-leader", "accusers"}
    for q in who:
        quote = next(x for x in q.passage.quotes if x.text == q.prompt)  # the quotation, verbatim
        assert quote.speaker == q.answer and quote.daily
        assert core.corpus.people[q.answer].name.split()[-1].lower() not in q.prompt.lower()
    # a nested quotation of the same speaker is asked once, as the longer one
    night = [q for q in who if q.passage.id.endswith("the-night-meeting-with-churchill")]
    assert len(night) == 1 and night[0].prompt.startswith("I left home")


def test_what_a_curator_marked_daily_false_is_never_asked(core: Maisky) -> None:
    for q in questions(core.corpus):
        assert "negro" not in q.prompt.lower(), q.key
        assert all(x.daily for x in q.passage.quotes), q.key


def test_when_was_it_hides_every_date_and_keeps_quotations_verbatim(core: Maisky) -> None:
    when = [q for q in questions(core.corpus) if q.kind == WHEN]
    assert len(when) >= 10
    for q in when:
        assert HIDDEN in q.prompt or not re.search(r"\d{4}", q.passage.text)
        assert not re.search(r"\b1[89]\d\d", q.prompt), q.key
        for quote in q.passage.quotes:
            assert quote.text in q.prompt, q.key
    war = next(q for q in when if q.passage.id.endswith("chamberlain-declares-war"))
    assert war.answer == "1939" and "on [date]:" in war.prompt and "Sept" not in war.prompt
    terror = next(q for q in when if q.passage.id.endswith("terror-and-the-diary"))
    assert (terror.answer, terror.first, terror.last) == ("1930s", 1930, 1939)


@pytest.mark.parametrize(
    ("typed", "person"),
    [
        ("chamberlin", "chamberlain"),
        ("Joe Kennedy", "kennedy"),
        ("kennedy", "kennedy"),
        ("John Kennedy", "jfk"),
        ("churchil", "churchill"),
        ("it was Churchill!", "churchill"),
        ("Nicholson", "nicolson"),
        ("maisky", "maisky"),
        ("Beatrice", "webb-beatrice"),
        ("FDR", "roosevelt"),
    ],
)
def test_typed_names_are_matched_leniently(core: Maisky, typed: str, person: str) -> None:
    assert resolve_person(typed, core.corpus) == person


@pytest.mark.parametrize("typed", ["", "nobody at all", "churchill or stalin", "Joseph", "@everyone"])
def test_a_name_that_fits_no_one_or_two_people_is_unclear(core: Maisky, typed: str) -> None:
    assert resolve_person(typed, core.corpus) is None


def test_typed_years() -> None:
    assert parse_years("1939") == [(1939, 1939)]
    assert parse_years("September '41") == [(1941, 1941)]
    assert parse_years("the 1930s") == [(1930, 1939)]
    assert parse_years("no idea") == []


# a round in a channel


def test_a_round_typed_answers_scores_and_reveal(quiz: Quiz, core: Maisky) -> None:
    asked = quiz.ask("slack", "C1", "U1", 1.0)
    assert asked.kind is Kind.QUIZ and asked.label == "Maisky as narrator" and len(asked.choices) == 4
    assert asked.citation is None  # the citation would give the answer away; the reveal carries it
    q = _question(quiz, asked.token)
    text = core.plain(asked)
    assert q.prompt.split("\n")[0] in text and all(
        f"{L}. {c}" in text for L, c in zip("ABCD", asked.choices, strict=True)
    )
    # one open question per channel: asking again shows the same one
    again = quiz.ask("slack", "C1", "U2", 2.0)
    assert again.token == asked.token and again.passage == asked.passage and "already open" in again.narration
    # an answer that names no one does not use up the try
    unclear = quiz.answer("slack", "C1", "U1", "Ann", "zzzz qqq", 3.0)
    assert unclear.kind is Kind.NOTICE and "did not use up your try" in unclear.narration
    wrong = quiz.answer("slack", "C1", "U1", "Ann", _letter_of(quiz, asked.token, right=False), 4.0)
    assert wrong.kind is Kind.NOTICE and "Not so, Ann" in wrong.narration
    twice = quiz.answer("slack", "C1", "U1", "Ann", _letter_of(quiz, asked.token, right=True), 5.0)
    assert "had your try" in twice.narration
    typed = core.corpus.people[q.answer].name if q.kind == WHO else q.answer
    right = quiz.answer("slack", "C1", "U2", "Bob", typed, 6.0)
    assert right.kind is Kind.QUIZ and right.narration.startswith("Quite right, Bob")
    assert right.passage == q.passage.text and right.citation is not None
    assert right.citation.passage_id == q.passage.id and right.label == "Maisky as narrator"
    assert right.citation.line in core.plain(right)
    assert quiz.answer("slack", "C1", "U3", "Cy", typed, 7.0).narration.startswith("There is no open question")
    scores = quiz.scores("slack", "C1")
    assert scores.items == ("1. Bob: 1 point",)
    assert not quiz.scores("slack", "C2").items and "No one has scored" in quiz.scores("slack", "C2").narration


def test_lenient_typed_names_score(quiz: Quiz, core: Maisky) -> None:
    """Every question about Kennedy accepts "Joe Kennedy"; about Chamberlain, "chamberlin"."""
    for _ in range(len(quiz.pool)):
        asked = quiz.ask("discord", "C9", "U1", 1.0)
        q = _question(quiz, asked.token)
        if q.kind == WHO and q.answer == "kennedy":
            assert quiz.answer("discord", "C9", "U1", "Ann", "Joe Kennedy", 2.0).narration.startswith("Quite right")
            return
        quiz.stop("discord", "C9", 2.0)
    pytest.fail("no question about Kennedy")


def test_when_answers_by_year_or_decade(quiz: Quiz) -> None:
    for _ in range(len(quiz.pool)):
        asked = quiz.ask("slack", "C1", "U1", 1.0)
        q = _question(quiz, asked.token)
        if q.kind == WHEN and q.answer == "1930s":
            assert "Not so" in quiz.answer("slack", "C1", "U1", "Ann", "1941", 2.0).narration
            assert "Quite right" in quiz.answer("slack", "C1", "U2", "Bob", "in 1935 I think", 3.0).narration
            return
        quiz.stop("slack", "C1", 2.0)
    pytest.fail("no question dated by decade")


def test_buttons_answer_only_the_question_they_belong_to(quiz: Quiz) -> None:
    old = quiz.ask("slack", "C1", "U1", 1.0)
    quiz.stop("slack", "C1", 2.0)
    new = quiz.ask("slack", "C1", "U1", 3.0)
    assert new.token != old.token
    stale = quiz.choose("slack", "C1", "U1", "Ann", old.token, 0, 4.0)
    assert stale.kind is Kind.NOTICE and "already closed" in stale.narration
    assert "already closed" in quiz.choose("slack", "C1", "U1", "Ann", new.token, 9, 4.0).narration
    draw = quiz.store.quiz_current("slack", "C1")
    assert draw is not None
    q = quiz._by_key[draw.question_key]
    right = quiz.choose("slack", "C1", "U1", "Ann", new.token, draw.options.index(q.answer), 5.0)
    assert right.narration.startswith("Quite right, Ann")
    # a second click on the right answer, by someone else, finds the question closed: one point only
    late = quiz.choose("slack", "C1", "U2", "Bob", new.token, draw.options.index(q.answer), 5.0)
    assert "already closed" in late.narration
    assert quiz.scores("slack", "C1").items == ("1. Ann: 1 point",)


def test_stop_reveals_the_answer_with_its_citation(quiz: Quiz) -> None:
    assert "no open question" in quiz.stop("slack", "C1", 1.0).narration
    asked = quiz.ask("slack", "C1", "U1", 1.0)
    q = _question(quiz, asked.token)
    stopped = quiz.stop("slack", "C1", 2.0)
    assert stopped.kind is Kind.QUIZ and "The answer:" in stopped.narration
    assert stopped.passage == q.passage.text and stopped.citation is not None
    assert quiz.store.quiz_current("slack", "C1") is None
    assert not quiz.scores("slack", "C1").items


def test_channels_are_independent(quiz: Quiz) -> None:
    a = quiz.ask("slack", "C1", "U1", 1.0)
    b = quiz.ask("slack", "C2", "U1", 1.0)
    c = quiz.ask("discord", "C1", "U1", 1.0)
    assert len({a.token, b.token, c.token}) == 3


def test_draws_do_not_repeat_until_the_pool_is_used(quiz: Quiz) -> None:
    n = len(quiz.pool)
    seen = []
    for i in range(n + 3):
        asked = quiz.ask("slack", "C1", "U1", float(i))
        seen.append(_question(quiz, asked.token).key)
        quiz.stop("slack", "C1", float(i))
    assert len(set(seen[:n])) == n
    assert set(seen[n:]) <= set(seen[:n])


def test_the_quiz_survives_a_restart(core: Maisky, url: str) -> None:
    first = Quiz(Store(url), core.corpus, core.voice)
    asked = first.ask("slack", "C1", "U1", 1.0)
    second = Quiz(Store(url), core.corpus, core.voice)
    again = second.ask("slack", "C1", "U1", 2.0)
    assert again.token == asked.token
    draw = second.store.quiz_current("slack", "C1")
    assert draw is not None
    q = _question(second, asked.token)
    second.choose("slack", "C1", "U1", "Ann", asked.token, draw.options.index(q.answer), 3.0)
    assert Quiz(Store(url), core.corpus, core.voice).scores("slack", "C1").items == ("1. Ann: 1 point",)


def test_names_and_answers_cannot_ping_anyone(quiz: Quiz, core: Maisky) -> None:
    asked = quiz.ask("slack", "C1", "U1", 1.0)
    typed = "<!channel> @everyone @here <@U123>"
    reply = quiz.answer("slack", "C1", "U1", "@everyone <!here>", typed, 2.0)
    assert "@everyone" not in core.plain(reply) and "<!" not in core.plain(reply)
    draw = quiz.store.quiz_current("slack", "C1")
    assert draw is not None
    q = quiz._by_key[draw.question_key]
    won = quiz.choose("slack", "C1", "U2", "@here <@U1>", asked.token, draw.options.index(q.answer), 3.0)
    for text in (core.plain(won), *quiz.scores("slack", "C1").items):
        assert "@here" not in text and "<@" not in text


def test_scores_rank_members(quiz: Quiz) -> None:
    for i, (user, name) in enumerate([("U1", "Ann"), ("U2", "Bob"), ("U1", "Ann")]):
        asked = quiz.ask("slack", "C1", user, float(i))
        draw = quiz.store.quiz_current("slack", "C1")
        assert draw is not None
        q = quiz._by_key[draw.question_key]
        quiz.choose("slack", "C1", user, name, asked.token, draw.options.index(q.answer), float(i))
    assert quiz.scores("slack", "C1").items == ("1. Ann: 2 points", "2. Bob: 1 point")


# through the front desk: the parser, the policy, the console


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("quiz", Quiz_(QuizAction.ASK)),
        ("quiz stop", Quiz_(QuizAction.STOP)),
        ("Quiz scores", Quiz_(QuizAction.SCORES)),
        ("quiz answer Joe Kennedy", Quiz_(QuizAction.ANSWER, "Joe Kennedy")),
        ("answer chamberlin", Quiz_(QuizAction.ANSWER, "chamberlin")),
        ("answer B", Quiz_(QuizAction.ANSWER, "B")),
    ],
)
def test_quiz_lines_parse_to_quiz_commands(line: str, command: Quiz_) -> None:
    assert parse(line) == command


@pytest.mark.parametrize(
    "line", ["quiz me on Munich", "answer me this: why were you recalled?", "Quiz night at the embassy?"]
)
def test_questions_that_begin_with_quiz_words_stay_questions(line: str) -> None:
    assert parse(line) == Ask(line)


def test_the_desk_runs_a_round_with_private_misses_and_public_reveals(core: Maisky, url: str) -> None:
    free = Maisky(core.corpus, core.matcher, core.voice)
    desk = FrontDesk(free, quiz=lambda: Quiz(Store(url), core.corpus, core.voice))
    ann = Caller("slack", "T1", "C1", "U1", name="Ann")
    bob = Caller("slack", "T1", "C1", "U2", name="Bob")
    asked = desk.handle_line("quiz", ann)
    assert not asked.private and asked.reply.choices
    quiz = desk.quiz()
    assert quiz is not None
    draw = quiz.store.quiz_current("slack", "C1", "T1")
    assert draw is not None
    q = quiz._by_key[draw.question_key]
    wrong = next(n for n, o in enumerate(draw.options) if o != q.answer)
    miss = desk.handle(Quiz_(QuizAction.CHOOSE, token=asked.reply.token, option=wrong), ann)
    assert miss.private and "Not so, Ann" in miss.reply.narration
    hit = desk.handle(Quiz_(QuizAction.CHOOSE, token=asked.reply.token, option=draw.options.index(q.answer)), bob)
    assert not hit.private and hit.reply.narration.startswith("Quite right, Bob")
    assert desk.handle_line("quiz scores", ann).reply.items == ("1. Bob: 1 point",)


def test_a_quiz_started_through_one_process_is_answered_through_the_other(core: Maisky, url: str) -> None:
    """Two desks, each with its own quiz service and connection pool on one database, as two processes
    behind one address have: whichever process a member reaches sees the channel's one open question."""
    free = Maisky(core.corpus, core.matcher, core.voice)
    a = FrontDesk(free, quiz=Quiz(Store(url), core.corpus, core.voice))
    b = FrontDesk(free, quiz=Quiz(Store(url), core.corpus, core.voice))
    ann = Caller("slack", "T1", "C1", "U1", name="Ann")
    bob = Caller("slack", "T1", "C1", "U2", name="Bob")
    cat = Caller("slack", "T1", "C1", "U3", name="Cat")
    asked = a.handle_line("quiz", ann)
    again = b.handle_line("quiz", bob)  # B shows the question A opened, not a second one
    assert again.reply.token == asked.reply.token and again.reply.choices == asked.reply.choices
    quiz = b.quiz()
    assert quiz is not None
    draw = quiz.store.quiz_current("slack", "C1", "T1")
    assert draw is not None and str(draw.id) == asked.reply.token
    q = quiz._by_key[draw.question_key]
    wrong = next(n for n, o in enumerate(draw.options) if o != q.answer)
    assert b.handle(Quiz_(QuizAction.CHOOSE, token=asked.reply.token, option=wrong), ann).private
    tried = a.handle(Quiz_(QuizAction.CHOOSE, token=asked.reply.token, option=wrong), ann)  # tried on B already
    assert tried.private and tried.reply.narration == core.voice.notice("quiz_tried", name="Ann").narration
    right = draw.options.index(q.answer)
    with ThreadPoolExecutor(2) as pool:  # Bob and Cat press the right option at once, one through each process
        hits = list(pool.map(lambda d, c: d.handle(Quiz_(QuizAction.CHOOSE, token=asked.reply.token, option=right), c),
                             (b, a), (bob, cat)))  # fmt: skip
    assert sorted(h.private for h in hits) == [False, True]  # one winner; the other is told it is closed
    winner = next(h for h in hits if not h.private).reply.narration
    assert winner.startswith(("Quite right, Bob", "Quite right, Cat"))
    assert a.handle_line("quiz scores", ann).reply.items == b.handle_line("quiz scores", bob).reply.items
    assert len(a.handle_line("quiz scores", ann).reply.items) == 1
    # a new question opened through B is stopped through A, its answer revealed there
    opened = b.handle_line("quiz", cat)
    assert opened.reply.token != asked.reply.token
    stopped = a.handle_line("quiz stop", ann)
    assert not stopped.private and stopped.reply.kind is Kind.QUIZ and stopped.reply.citation is not None
    assert b.handle(Quiz_(QuizAction.CHOOSE, token=opened.reply.token, option=0), bob).private  # closed everywhere


def test_without_a_store_the_quiz_says_it_is_not_set_up(core: Maisky) -> None:
    out = FrontDesk(Maisky(core.corpus, core.matcher, core.voice)).handle_line("quiz", Caller("slack", "T", "C", "U"))
    assert out.private and "has not been given" in out.reply.narration


def test_console_quiz_one_shot_commands_keep_state_between_runs(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'quiz.sqlite3'}", "USER": "ann"}

    def run(*argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "adapters.cli", *argv], capture_output=True, text=True, env=env, cwd=ROOT,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    asked = run("quiz", "--channel", "club")
    assert "Maisky as narrator" in asked and "A. " in asked and "D. " in asked
    again = run("quiz", "--channel", "club")
    assert "already open" in again and asked.split("> ", 1)[1] == again.split("> ", 1)[1]
    stopped = run("quiz", "stop", "--channel", "club")
    assert "The answer:" in stopped and "Source: " in stopped
    assert "No one has scored" in run("quiz", "scores", "--channel", "club")


def test_at_the_console_its_one_member_may_try_again_after_a_wrong_answer(core: Maisky, url: str) -> None:
    free = Maisky(core.corpus, core.matcher, core.voice)
    desk = FrontDesk(free, quiz=lambda: Quiz(Store(url), core.corpus, core.voice))
    me = Caller("console", "local", "club", "ann", name="ann")
    asked = desk.handle_line("quiz", me).reply
    assert "Try as often as you like" in asked.narration and "One try each" not in asked.narration
    quiz = desk.quiz()
    assert quiz is not None
    for _ in range(2):  # wrong twice, and still not locked out
        miss = desk.handle_line(f"answer {_letter_of(quiz, asked.token, right=False)}", me).reply
        assert "Not so, ann" in miss.narration and "Try again" in miss.narration
    hit = desk.handle_line(f"answer {_letter_of(quiz, asked.token, right=True)}", me).reply
    assert hit.narration.startswith("Quite right, ann")
    assert desk.handle_line("quiz scores", me).reply.items == ("1. ann: 1 point",)
    # a channel of many members keeps one try each
    slack = Caller("slack", "T1", "C1", "U1", name="Ann")
    token = desk.handle_line("quiz", slack).reply.token
    assert "One try each" in desk.handle_line("quiz", slack).reply.narration
    desk.handle_line(f"answer {_letter_of(quiz, token, right=False)}", slack)
    assert "had your try" in desk.handle_line(f"answer {_letter_of(quiz, token, right=True)}", slack).reply.narration
