"""`maisky chat`: an interactive console session with line editing and history."""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import sys
from pathlib import Path
from typing import TextIO

from adapters.explain import explain_reading
from bot.chat.desk import Caller, FrontDesk

__all__ = ["run_chat"]

HISTORY = Path(os.environ.get("MAISKY_HISTORY", Path.home() / ".maisky_history"))
PROMPT = "you> "
QUIT = frozenset({"quit", "exit", "bye", ":q"})


def _readline_history() -> None:
    try:
        import readline  # line editing and history where the platform has it
    except ImportError:
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(HISTORY)

    atexit.register(save)


def respond(desk: FrontDesk, line: str, caller: Caller, *, explain: bool = False) -> str | None:
    """What the session prints for one line; None ends the session. Every other line goes through
    the same parser and front desk as Slack and Discord; with `explain`, how it was read follows."""
    if line.strip().lower() in QUIT:
        return None
    outcome = desk.handle_line(line, caller)
    text = desk.core.plain(outcome.reply)
    if explain:
        why = io.StringIO()
        explain_reading(outcome, desk.core, why)
        text += why.getvalue().rstrip("\n")
    return text


def run_chat(desk: FrontDesk, caller: Caller, out: TextIO, *, explain: bool = False) -> int:
    _readline_history()
    if isinstance(sys.stdin, io.TextIOWrapper):  # undecodable bytes typed or piped in reach the core, which cleans them
        sys.stdin.reconfigure(errors="surrogateescape")
    out.write(desk.core.plain(desk.help(caller.surface)) + "\n\nType a question, or 'help', or 'quit'.\n")
    while True:
        try:
            line = input(PROMPT)
        except (EOFError, KeyboardInterrupt):
            out.write("\n")
            return 0
        if not line.strip():
            continue
        text = respond(desk, line, caller, explain=explain)
        if text is None:
            return 0
        out.write(text + "\n\n")
