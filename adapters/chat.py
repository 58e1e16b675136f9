"""`maisky chat`: an interactive console session with line editing and history."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import io
import os
import sys
from pathlib import Path
from typing import TextIO

from bot import Maisky

__all__ = ["run_chat"]

HISTORY = Path(os.environ.get("MAISKY_HISTORY", Path.home() / ".maisky_history"))
PROMPT = "you> "


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


def respond(core: Maisky, line: str) -> str | None:
    """What the session prints for one line; None ends the session."""
    cmd, _, rest = line.strip().partition(" ")
    match cmd.lower():
        case "quit" | "exit" | "bye" | ":q":
            return None
        case "help" | "?":
            return core.plain(core.help(""))
        case "quote":
            return core.plain(core.quote(dt.date.today()))
        case "sources":
            return core.plain(core.sources())
        case "about":
            return core.plain(core.about())
        case "who":
            return core.plain(core.who(rest))
        case "ask":
            return core.plain(core.ask(rest))
        case _:
            return core.plain(core.ask(line))


def run_chat(core: Maisky, out: TextIO) -> int:
    _readline_history()
    if isinstance(sys.stdin, io.TextIOWrapper):  # undecodable bytes typed or piped in reach the core, which cleans them
        sys.stdin.reconfigure(errors="surrogateescape")
    out.write(core.plain(core.help("")) + "\n\nType a question, or 'help', or 'quit'.\n")
    while True:
        try:
            line = input(PROMPT)
        except (EOFError, KeyboardInterrupt):
            out.write("\n")
            return 0
        if not line.strip():
            continue
        text = respond(core, line)
        if text is None:
            return 0
        out.write(text + "\n\n")
