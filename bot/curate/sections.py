"""Sections of plain text: headings and infoboxes recognised in plain text, where only the layout marks them.

A page saved as text loses its markup: a section heading is a short line standing alone before
a paragraph of prose, and an infobox is a run of "Field: value" lines. Both are recognised here so
that a heading becomes the section of the passages under it (never a one-line passage, never a
standfirst) and an infobox one passage of facts with no single date.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.curate.blocks import Block

__all__ = ["is_fact_lines", "looks_like_heading", "mark_layout"]

_FACT_LINE = re.compile(r"^\s*(?:[-*•]\s+)?[A-Z][\w .'’()/-]{0,40}:\s+\S")
_SENTENCE_END = re.compile(r"[.!?:;,…”\"’')\]]$")
HEADING_WORDS = 8  # "Ambassador to the Court of St James's" is a heading; a caption is usually longer


def is_fact_lines(text: str) -> bool:
    """Whether a block is a box of facts: three or more lines, nearly all "Field: value"."""
    lines = [line for line in text.split("\n") if line.strip()]
    facts = sum(1 for line in lines if _FACT_LINE.match(line))
    return len(lines) >= 3 and facts >= max(3, int(0.7 * len(lines)))


def looks_like_heading(text: str, following: str) -> bool:
    """A short line with no closing punctuation, standing alone, followed by a paragraph of prose."""
    words = text.split()
    return (
        "\n" not in text
        and 1 <= len(words) <= HEADING_WORDS
        and text[:1].isupper()
        and not _SENTENCE_END.search(text)
        and not re.search(r"\d{3,}", text)  # "Maisky in 1941" is a caption, not a section
        and len(following.split()) >= 15
        and bool(re.search(r"[.!?…][”\"’')\]]*$", following.strip()))
    )


def mark_layout(blocks: list[Block]) -> list[Block]:
    """Headings and infoboxes marked on blocks read from plain text (the first block, the title, excepted)."""
    out: list[Block] = []
    for n, block in enumerate(blocks):
        if block.heading or block.caption or block.quoted:
            out.append(block)
        elif is_fact_lines(block.text):
            out.append(replace(block, infobox=True))
        elif n > 0 and n + 1 < len(blocks) and looks_like_heading(block.text, blocks[n + 1].text):
            out.append(replace(block, heading=2))
        else:
            out.append(block)
    return out
