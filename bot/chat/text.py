"""Text as it enters the core: made valid Unicode once, so nothing further in can choke on it.

A question can carry what no encoder accepts: a lone surrogate from a JSON escape ("\\ud800" in a
Slack or Discord payload) or an undecodable byte that Python smuggled in as a surrogate
(command-line arguments and C-locale stdin use `surrogateescape`). Encoding such text (to seed a
random generator, write it to a terminal, send it as JSON, store it) raises. `clean` turns each
into U+FFFD, joins a surrogate pair that arrived split, and drops control characters.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["REPLACEMENT", "clean"]

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls except tab and newline: NUL, escape sequences, bells say nothing in a question.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """`text` as valid, NFC-normalised Unicode without control characters (tab and newline kept)."""
    if _SURROGATE.search(text):
        # UTF-16 with surrogatepass pairs up a split high+low surrogate; whatever stays alone is replaced.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _CONTROL.sub(" ", text)
    return unicodedata.normalize("NFC", text)
