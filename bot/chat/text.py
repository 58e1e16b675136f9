"""Text as it enters the front desk: valid Unicode, the bot's own mentions removed, in one function.

Made valid Unicode once, so nothing further in can choke on it.

A question can carry what no encoder accepts: a lone surrogate from a JSON escape ("\\ud800" in a
Slack or Discord payload) or an undecodable byte that Python smuggled in as a surrogate
(command-line arguments and C-locale stdin use `surrogateescape`). Encoding such text (to seed a
random generator, write it to a terminal, send it as JSON, store it) raises. `clean` turns each
into U+FFFD, joins a surrogate pair that arrived split, and drops control characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["REPLACEMENT", "clean", "entry", "unaddressed"]

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls except tab and newline: NUL, escape sequences, bells say nothing in a question.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Anyone's mention or a channel reference, in either platform's syntax (<@U123>, <@!123>, <#C1|x>,
# <!channel>, <@&ROLE>) or typed (@everyone): they say nothing about a question.
_MENTION = re.compile(r"<[!@#][^>\s]*>|@\w+")


def clean(text: str) -> str:
    """`text` as valid, NFC-normalised Unicode without control characters (tab and newline kept)."""
    if _SURROGATE.search(text):
        # UTF-16 with surrogatepass pairs up a split high+low surrogate; whatever stays alone is replaced.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _CONTROL.sub(" ", text)
    return unicodedata.normalize("NFC", text)


def entry(text: str, me: Iterable[str] = ()) -> str:
    """A line as it enters the front desk, the one door of every surface: valid Unicode (`clean`),
    with every mention of the bot itself removed wherever it stands. `me` holds the bot's own ids on
    the platform: its user id (Slack <@U123> or <@U123|name>, Discord <@123> or <@!123>) and its
    managed role (Discord <@&ROLE>), or its name where a surface has no mention syntax (the console's
    "@Maisky"). Mentions of anyone else stay ("daily grant <@U9>")."""
    text = clean(text)
    ids = "|".join(re.escape(i) for i in me if i)
    if ids:  # the platform's syntax, or the name typed as a plain "@Maisky" (the console's only form)
        text = re.sub(rf"(?:<@[!&]?(?:{ids})(?:\|[^>]*)?>|(?<![\w@])@(?:{ids})\b)[,:;]?", " ", text, flags=re.I)
    return text.strip()


def unaddressed(question: str) -> str:
    """A question's words without anyone's mention or channel reference (what the matcher reads)."""
    return _MENTION.sub(" ", question)
