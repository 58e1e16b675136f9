"""Gateway events discord.py cannot parse are logged in one line and skipped, not fatal to the bot.

discord.py hands each DISPATCH to a parser of its connection state (`ConnectionState.parsers`, one
per event type, called from the gateway's read loop). A parser that raises (a payload missing a field
it expects, a shape newer than the library) ends that loop, and with it `Client.connect` and the
whole `maisky discord` process: one odd event from Discord would stop every server's bot. Here
each parser is wrapped so that its failure is one log line naming the event type and where
discord.py failed, never the payload (it holds members' messages), and the connection goes on.

The session's own events (READY, RESUMED) are left as they are: a session discord.py could not
set up is better ended, and the process restarted by its supervisor (the Procfile's dyno manager,
compose's `restart: unless-stopped`).
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["SESSION_EVENTS", "guard_parsers"]

log = logging.getLogger("maisky.discord")

SESSION_EVENTS = frozenset({"READY", "RESUMED"})


def _where(exc: BaseException) -> str:
    """Where in discord.py the parser failed: file and line, no values."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    path = last.filename.replace("\\", "/")
    short = path[path.rfind("/discord/") + 1 :] if "/discord/" in path else path.rsplit("/", 1)[-1]
    return f" at {short}:{last.lineno} in {last.name}"


def _guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(parse)
    def run(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:
            # the type and the place only: an exception's text can quote the payload
            log.error("skipped a %s gateway event discord.py could not parse (%s%s)", event, type(exc).__name__,
                      _where(exc))  # fmt: skip

    return run


def guard_parsers(state: Any) -> None:
    """Wrap every parser of discord.py's connection `state` but the session's own, in place (the
    gateway reads the same dict)."""
    parsers: dict[str, Callable[[Any], None]] = state.parsers
    for event, parse in list(parsers.items()):
        if event not in SESSION_EVENTS and not hasattr(parse, "__wrapped__"):
            parsers[event] = _guarded(event, parse)
