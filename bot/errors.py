"""The project's own exceptions: one small tree, caught once at each adapter's edge."""

from __future__ import annotations

import re

__all__ = [
    "Busy",
    "ChannelGone",
    "ConfigError",
    "CorpusError",
    "ImportFileError",
    "MaiskyError",
    "OutcomeUnknown",
    "PostError",
    "PostLater",
    "ServiceError",
    "TokenRejected",
    "mask_userinfo",
]

MASK = "[redacted]"
_WORD = re.compile(r"\S+")


def mask_userinfo(text: str) -> str:
    """`text` with the user-info (user and password) of every URL in it masked, malformed URLs included
    (`postgresql//user:secret@host/db`, `user:secret@host`); e-mail addresses are left alone."""
    return _WORD.sub(_mask_word, text) if "@" in text else text


def _mask_word(match: re.Match[str]) -> str:
    word = match.group(0)
    at = word.rfind("@")  # a password may hold "@" unescaped; the host never does
    if at < 0:
        return word
    slashes = word.find("//", 0, at)
    if slashes >= 0:
        start = slashes + 2
    else:
        start = len(word) - len(word.lstrip("'\"([<{=,"))
        if ":" not in word[start:at]:
            return word  # no scheme and no password: an address or a mention, not a URL's user-info
    if start >= at or word[start:at] == "USER:PASSWORD":  # the placeholder our own messages show as the form
        return word
    return word[:start] + MASK + word[at:]


class MaiskyError(Exception):
    """Base of every error the bot raises on purpose; its message never shows a URL's user-info."""

    def __str__(self) -> str:
        return mask_userinfo(super().__str__())


class CorpusError(MaiskyError):
    """The corpus or persona data is invalid; names the file, the passage and the field."""

    def __init__(self, file: str, message: str, *, passage: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.passage = passage
        self.field = field
        where = file
        if passage:
            where += f", passage {passage!r}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class ConfigError(MaiskyError):
    """Settings are missing or malformed; the message names every problem at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [mask_userinfo(p) for p in problems]
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


class ImportFileError(MaiskyError):
    """A file cannot be imported as a source; names the file and what to do."""

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        super().__init__(f"{file}: {message}")


class ServiceError(MaiskyError):
    """A chat platform refused us or could not be reached at start-up."""


class Busy(MaiskyError):
    """Every answer thread is working and the queue before them is full: the member is asked to try
    again in a moment (FrontDesk.busy) rather than kept waiting behind the backlog."""


class PostError(MaiskyError):
    """A daily post could not be made."""


class ChannelGone(PostError):
    """The channel no longer exists, or the bot lost access to it: pause, do not retry."""


class PostLater(PostError):
    """The platform refused for now without posting (rate limit, outage): retry later, after
    `retry_after` seconds when the platform said how long to wait, else with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class OutcomeUnknown(PostError):
    """The request may have been posted (timeout or dropped connection after sending, a server
    error): never sent again blindly; recorded as sent, unconfirmed."""


class TokenRejected(PostError):
    """The platform rejected the bot itself (revoked token, inactive account): no channel is at
    fault, so the run for that platform (or for that one `workspace`, where each workspace has a
    token of its own) stops and every subscription is left as it was."""

    def __init__(self, message: str, *, workspace: str | None = None) -> None:
        self.workspace = workspace
        super().__init__(message)
