"""The `maisky` command: output, the JSON contract, exit codes."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.chat import respond
from adapters.cli import main
from bot import Maisky
from bot.chat.desk import Caller, FrontDesk
from tests.conftest import DEV_QUESTIONS, ROOT


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def process(
    *argv: str, env: dict[str, str], cwd: Path = ROOT, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `maisky` entry point in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *argv],
        cwd=cwd, env={**os.environ, **env}, input=stdin, capture_output=True, text=True, check=False, timeout=180,
    )  # fmt: skip


def test_ask_answers_chamberlain_with_label_and_citation() -> None:
    code, out = run("ask", "What did Maisky think of Chamberlain?")
    assert code == 0
    assert out.startswith("[Maisky as narrator]")
    assert "grave-digger" in out or "leaky, faded umbrella" in out
    assert "Source: Gabriel Gorodetsky, “The secret diary of Stalin’s man in Churchill’s London”" in out


def test_ask_declines_australia() -> None:
    code, out = run("ask", "What is the capital of Australia?")
    assert (code == 0 and "silen" in out) or "nothing" in out
    assert "Source:" not in out


def test_json_contract_matches_the_text_output() -> None:
    question = "Was Eden made of iron?"
    _, text = run("ask", question)
    code, raw = run("ask", "--json", question)
    data = json.loads(raw)
    assert code == 0
    assert set(data) == {"question", "answered", "reply", "passages"}
    assert data["question"] == question and data["answered"] is True
    assert data["reply"] + "\n" == text
    first = data["passages"][0]
    assert set(first) == {"id", "text", "score", "speaker", "source"}
    assert set(first["source"]) == {"title", "author", "publication", "date", "url"}
    assert "soft clay" in first["text"] and first["source"]["date"] == "2015-10-07"
    scores = [p["score"] for p in data["passages"]]
    assert scores == sorted(scores, reverse=True)


def test_json_decline_has_no_passages() -> None:
    data = json.loads(run("ask", "--json", "What is the tallest mountain in the world?")[1])
    assert data["answered"] is False and data["passages"] == []


def test_explain_shows_terms_scores_runners_up_and_reasons() -> None:
    _, out = run("ask", "--explain", "chamberlin umbrela")
    assert "typo for 'chamberlain'" in out and "coverage" in out and "2. globe-2015." in out
    _, out = run("ask", "--explain", "What did you think of Franco?")
    assert "declined:" in out and "'franco'" in out and "not in the sources" in out


def test_quote_same_date_same_quotation() -> None:
    a = json.loads(run("quote", "--json", "--date", "2026-05-09")[1])
    b = json.loads(run("quote", "--json", "--date", "2026-05-09")[1])
    assert a == b and a["quote"] in a["reply"] and a["speaker"].startswith("Ivan Maisky")


def test_sources_counts_passages(core: Maisky) -> None:
    _, out = run("sources")
    for source in core.corpus.sources:
        assert f"“{source.title}”" in out and f"{core.corpus.count(source)} passages" in out


def test_eval_prints_rates_and_json_records() -> None:
    _, out = run("eval", str(DEV_QUESTIONS))
    assert "top-1 hit rate" in out and "top-3 hit rate" in out and "declined" in out and "overall" in out
    lines = run("eval", "--json", str(DEV_QUESTIONS))[1].splitlines()
    records = [json.loads(line) for line in lines]
    assert {"q", "answered", "text"} <= set(records[0])
    assert "totals" in records[-1] and records[-1]["totals"]["overall"] >= 0.9


@pytest.mark.parametrize("argv", [[], ["ask"], ["frobnicate"], ["quote", "--date", "2026-13-01"]])
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_broken_corpus_exits_1_with_a_clear_message(seeds_copy: Path, tmp_path: Path) -> None:
    path = seeds_copy / "globe-2015.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('speaker = "nicolson"', 'speaker = "nobody"'), encoding="utf-8"
    )
    proc = process("ask", "hello", env={"MAISKY_SEEDS": str(seeds_copy)})
    assert proc.returncode == 1
    assert "globe-2015.toml, passage 'memory-and-nicolson', field 'quote.speaker'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_setting_exits_1_naming_it(tmp_path: Path) -> None:
    proc = process("sources", env={"MAISKY_SEEDS": str(tmp_path / "nope"), "MAISKY_SEED": "many"}, cwd=tmp_path)
    assert proc.returncode == 1
    assert "MAISKY_SEEDS" in proc.stderr and "MAISKY_SEED: 'many' is not a whole number" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_chat_session_lines(core: Maisky) -> None:
    desk, me = FrontDesk(Maisky(core.corpus, core.matcher, core.voice)), Caller("console", "local", "console", "me")
    assert respond(desk, "quit", me) is None
    assert "ask <question>" in (respond(desk, "help", me) or "")
    assert "soft clay" in (respond(desk, "Was Eden made of iron?", me) or "")
    assert "Joseph P. Kennedy" in (respond(desk, "who kennedy", me) or "")


def test_chat_runs_in_a_terminal_and_quits(tmp_path: Path) -> None:
    proc = process("chat", env={"MAISKY_HISTORY": str(tmp_path / "history")}, stdin="Was Eden made of iron?\nquit\n")
    assert proc.returncode == 0 and "soft clay" in proc.stdout


def test_asking_loads_no_platform_or_database_library() -> None:
    """The console stays quick to start: no discord, slack or SQLAlchemy for a question."""
    code = (
        "import io, sys; from adapters.cli import main; main(['ask', 'Eden'], out=io.StringIO()); "
        "print(sorted(m for m in ('discord', 'slack_bolt', 'sqlalchemy') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=180
    )
    assert proc.stdout.strip() == "[]"


QUESTIONS_THAT_BEGIN_WITH_A_COMMAND_WORD = [
    "Who found the diary?",
    "Who wrote the article?",
    "About how long were you in London?",
    "Help me understand Munich",
    "Quote something Churchill said",
]


@pytest.mark.parametrize("line", QUESTIONS_THAT_BEGIN_WITH_A_COMMAND_WORD)
def test_chat_keeps_a_question_a_question(core: Maisky, line: str) -> None:
    free = Maisky(core.corpus, core.matcher, core.voice)
    assert respond(FrontDesk(free), line, Caller("console", "local", "console", "me")) == free.plain(free.ask(line))


def test_chat_another_and_more_show_the_next_passages(core: Maisky) -> None:
    desk, me = FrontDesk(Maisky(core.corpus, core.matcher, core.voice)), Caller("console", "local", "console", "me")
    assert "Ask me a question first" in (respond(desk, "another", me) or "")
    shown = [respond(desk, line, me) or "" for line in ("Kennedy", "another", "more")]
    ids = {text.rsplit("[", 1)[1] for text in shown}
    assert len(ids) == 3


def test_chat_daily_commands_work_on_a_local_channel(core: Maisky, tmp_path: Path) -> None:
    from bot.ops.bootstrap import build_daily
    from bot.ops.settings import Settings

    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}, dotenv=None)
    desk = FrontDesk(Maisky(core.corpus, core.matcher, core.voice), lambda: build_daily(settings, core))
    me = Caller("console", "local", "club", "me", may_manage=True)
    assert "Every day at 18:30 (Europe/London)" in (respond(desk, "daily subscribe 18:30 Europe/London", me) or "")
    assert "every day at 18:30 (Europe/London)" in (respond(desk, "daily status", me) or "")
    assert "Ivan Maisky, " in (respond(desk, "daily preview", me) or "")
    assert "No more daily quotations" in (respond(desk, "daily off", me) or "")


def help_commands(text: str, prefix: str) -> list[str]:
    return [
        line.split(prefix, 1)[1].split(":")[0] for line in text.splitlines() if line.strip().startswith("• " + prefix)
    ]


def test_every_command_maisky_help_lists_exists(tmp_path: Path) -> None:
    _, out = run("help")
    listed = help_commands(out, "maisky ")
    assert "daily ..." in listed and "ask <question>" in listed and len(listed) >= 7
    for usage in listed:
        with pytest.raises(SystemExit) as done:
            main([usage.split()[0], "--help"], out=io.StringIO())
        assert done.value.code == 0, usage
    for action in ("subscribe", "unsubscribe", "status", "preview", "run-due"):
        with pytest.raises(SystemExit) as done:
            main(["daily", action, "--help"], out=io.StringIO())
        assert done.value.code == 0, action


def test_console_daily_subscribe_status_and_run_due_to_the_terminal(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'console.sqlite3'}", "MAISKY_HISTORY": str(tmp_path / "h")}
    sub = process("daily", "subscribe", "09:00", "Europe/London", "--channel", "club", env=env, cwd=tmp_path)
    assert sub.returncode == 0 and "Every day at 09:00 (Europe/London)" in sub.stdout
    status = process("daily", "status", "--channel", "club", env=env, cwd=tmp_path)
    assert "every day at 09:00 (Europe/London)" in status.stdout
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT09:30Z")
    posted = process("daily", "run-due", "--console", "--now", tomorrow, env=env, cwd=tmp_path)
    assert posted.returncode == 0 and "--- #club ---" in posted.stdout and "Ivan Maisky, " in posted.stdout
    assert "posted 1" in posted.stdout
    again = process("daily", "run-due", "--console", "--now", tomorrow, env=env, cwd=tmp_path)
    assert "posted 0" in again.stdout and "--- #club ---" not in again.stdout
    off = process("daily", "unsubscribe", "--channel", "club", env=env, cwd=tmp_path)
    assert "No more daily quotations" in off.stdout


def test_one_shot_console_has_no_cooldown() -> None:
    assert "Patience" not in run("ask", "Eden")[1] + run("who", "Eden")[1]


def test_version_names_the_installed_release(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert re.fullmatch(r"maisky \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_eval_reads_a_dialogue_file_and_scores_follow_ups_apart() -> None:
    dialogues = ROOT / "tests" / "data" / "dialogues-tuning.yaml"
    _, out = run("eval", str(dialogues))
    assert "follow-ups answered right" in out and "as single questions" in out and "small talk" in out
    lines = [json.loads(line) for line in run("eval", "--json", str(dialogues))[1].splitlines()]
    assert {"dialogue", "q", "follow", "passage", "correct", "correct_as_single_question"} <= set(lines[0])
    totals = lines[-1]["totals"]
    assert totals["follow_up_right"] > totals["follow_up_right_as_single_questions"]


def test_chat_explain_shows_how_a_follow_up_was_read(tmp_path: Path) -> None:
    proc = process(
        "chat", "--explain", env={"MAISKY_HISTORY": str(tmp_path / "history")},
        stdin="What did Joe Kennedy look like?\nand Winant?\ngo on\nquit\n",
    )  # fmt: skip
    assert proc.returncode == 0
    assert "How the line was read: stands alone" in proc.stdout
    assert "How the line was read: the same question about something else" in proc.stdout
    assert "'What did Winant look like?'" in proc.stdout
    assert "the following paragraph of the same source" in proc.stdout


def test_ask_explain_says_a_single_question_stands_alone() -> None:
    _, out = run("ask", "--explain", "tell me more")
    assert "How the line was read: a follow-up with nothing to follow" in out


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["quiz", "answer", "--channel", "club", "A"], {"action": "answer", "answer": ["A"], "channel": "club"}),
        (["quiz", "answer", "A", "--channel", "club"], {"action": "answer", "answer": ["A"], "channel": "club"}),
        (["quiz", "--channel", "club", "answer", "Joe", "Kennedy"], {"answer": ["Joe", "Kennedy"], "channel": "club"}),
        (["daily", "subscribe", "--channel", "club", "09:00", "Europe/London"], {"time": "09:00", "channel": "club"}),
        (["ask", "--json", "Who", "was", "Eden?"], {"question": ["Who", "was", "Eden?"], "json": True}),
    ],
)
def test_a_commands_options_may_come_anywhere_among_its_words(argv: list[str], expect: dict[str, object]) -> None:
    from adapters.cli import parser

    args = vars(parser().parse_args(argv))
    assert {k: args[k] for k in expect} == expect


def every_help_text() -> str:
    """`maisky --help` and the --help of every command and subcommand, as a user reads them."""
    import argparse

    from adapters.cli import parser

    texts, todo = [], [parser()]
    while todo:
        p = todo.pop()
        texts.append(p.format_help())
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += action.choices.values()
    return "\n".join(texts)


def test_every_file_the_help_names_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "10000")  # argparse wraps at hyphens too: one line per help text
    named = set(re.findall(r"[\w.-]+(?:/[\w.-]+)+\.(?:yaml|toml|md|json|py)\b", every_help_text()))
    assert "tests/data/dialogues-tuning.yaml" in named  # the scan itself works
    assert not [n for n in named if not (ROOT / n).exists()]


def test_the_console_help_offers_nothing_it_refuses(tmp_path: Path) -> None:
    _, out = run("help")
    assert "daily ..." in out and "grant" not in out and "revoke" not in out
    chat = process("chat", env={"MAISKY_HISTORY": str(tmp_path / "history")}, stdin="help\nquit\n")
    assert "daily ..." in chat.stdout and "grant" not in chat.stdout
