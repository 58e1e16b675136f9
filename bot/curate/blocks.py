"""What a document reader yields: blocks of text (headings, paragraphs, captions, facts) and the changes made."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Block", "Change"]


@dataclass(frozen=True)
class Block:
    """One heading or body paragraph, its text as the document gives it."""

    text: str
    heading: int = 0  # heading level; 0 for body text
    quoted: bool = False  # a block quotation (HTML <blockquote>, Markdown >)
    caption: bool = False  # a figure caption
    where: str = ""  # page or chapter file, for the report
    infobox: bool = False  # a box of facts ("Born: ..." lines), not prose: one passage, with no single date


@dataclass(frozen=True)
class Change:
    """Something in the file that is not the text's prose, dropped or mended; listed in the report."""

    what: str
    text: str
    where: str = ""
