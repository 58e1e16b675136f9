"""Cuts long text for platform limits at a sentence boundary, never mid-word."""

from __future__ import annotations

import re

__all__ = ["excerpt"]

_SENTENCE_END = re.compile(r"[.!?…][’”\"')\]]*(?=\s)")


def excerpt(text: str, limit: int, mark: str = " […]") -> tuple[str, bool]:
    """`text` if it fits in `limit` characters, else its longest run of whole sentences that fits
    with `mark` appended (or whole words if no sentence ends early enough), and whether it was cut."""
    if len(text) <= limit:
        return text, False
    room = limit - len(mark)
    if room <= 0:
        raise ValueError("limit is shorter than the cut mark")
    head = text[: room + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= room]
    if ends and ends[-1] >= room // 3:
        return text[: ends[-1]] + mark, True
    space = head.rfind(" ", 0, room + 1)
    cut = text[:space] if space > 0 else text[:room]
    return cut.rstrip() + mark, True
