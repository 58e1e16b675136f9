"""Web-page furniture: banners, navigation, share and cookie lines, recognised and removed from imports.

HTML pages go through readability-lxml (a well-kept port of Mozilla's Readability), which keeps
the article and drops the site around it; copied text (a page saved as .txt) goes through the
line rules below, which name what each dropped line was. Every drop is returned as a `Change`
for the import report, so a curator sees all that left the text.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

from bot.curate.blocks import Block, Change

__all__ = ["clean_copied_text", "furniture_reason", "main_content", "mark_captions"]

# Each rule: what the line is, and a pattern that matches the whole line (case-insensitive).
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern, re.IGNORECASE))
    for what, pattern in (
        ("a site banner", r".{0,60}\bis now [\w. -]{2,30}\s*[-–—:]\s*join\b.*"),
        ("a site banner", r"[\w.-]+(?: [\w.-]+)? logo"),
        ("a site banner", r"(?:[^.!?]{0,40}\s)?(?:hosted|powered) by\s[^.!?]{2,60}"),
        ("a site banner", r"from (?!wikipedia\b)[\w. -]{2,30}: the [\w ,.-]{2,60}"),
        ("a site banner", r"from wikipedia, the free encyclopedia"),
        ("a site banner", r"the full wiki|more info on .{2,60}|[^.!?]{2,60}: wikis"),
        ("navigation", r"jump to(?::| content| navigation).{0,40}|skip to (?:main )?content|navigation menu"),
        ("navigation", r"\(redirected from [^)]{2,80}\)"),
        ("navigation", r"(?:main page|random article|contents|categories|edit|tweak|\[\s*(?:edit|tweak)\s*\])"),
        ("a file name", r"(?:file|image|media):[^\n]{1,120}\.(?:jpe?g|png|gif|svg|tiff?|webp)"),
        ("a “read more” link", r"(?:read more|continue reading|see more|learn more)\b.{0,80}"),
        ("a “show more” button", r"show (?:more|less|all)|load more|expand|collapse"),
        ("a cookie notice", r".{0,80}\b(?:cookies?)\b.{0,120}"),
        ("a share line", r"share(?: this)?(?: (?:article|story|page|summary|post))?(?::.{0,80})?"),
        ("a share line", r"(?:(?:facebook|twitter|x|linkedin|reddit|whatsapp|email|pinterest)[\s,|·]*){2,}"),
        ("a byline of the site", r"(?:summary|posted|written|published|updated) by .{2,40}?(?:\s*[·|•]\s*.{0,30})?"),
        ("a reading time", r".{0,40}\d+\s*(?:min|minute)s?\s+read"),
        ("the site speaking of itself", r"note: .{0,200}\b(?:our|this) (?:articles?|site|wiki|page)\b.{0,200}"),
        ("a licence line of the site", r"text is available under .{5,200}"),
    )
)
_MAX_WORDS = 40  # furniture is short; a paragraph of prose that happens to say "cookies" is kept


def furniture_reason(line: str) -> str:
    """What a line copied from a web page is, if it is page furniture; "" for the text's own prose."""
    text = re.sub(r"\s+", " ", line).strip()
    if not text or len(text.split()) > _MAX_WORDS:
        return ""
    for what, pattern in _RULES:
        if pattern.fullmatch(text):
            return what
    return ""


_FILE_LINE = re.compile(r"^\s*(?:File|Image|Media):\S.*$", re.IGNORECASE)


def clean_copied_text(text: str) -> tuple[str, set[str], list[Change]]:
    """Text copied from a web page with its furniture lines removed; the captions (the lines that follow
    an image's file name, up to the paragraph's end); and a change for each dropped line."""
    changes: list[Change] = []
    captions: set[str] = set()
    out: list[str] = []
    caption: list[str] | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if caption:
                captions.add(" ".join(caption))
            caption = None
            out.append(line)
            continue
        if _FILE_LINE.match(line):
            changes.append(Change("dropped an image's file name (the lines after it are its caption)", line.strip()))
            out.append("")  # the caption becomes a paragraph of its own
            caption = []
            continue
        reason = furniture_reason(line)
        if reason:
            changes.append(Change(f"dropped page furniture ({reason})", line.strip()))
            if out and out[-1].strip():
                out.append("")  # what stood before and after the dropped line are separate paragraphs
            continue
        if caption is not None:
            caption.append(line.strip())
        out.append(line)
    if caption:
        captions.add(" ".join(caption))
    return "\n".join(out), captions, changes


def mark_captions(blocks: list[Block], captions: set[str]) -> list[Block]:
    """The blocks whose text is one of `captions`, marked as captions."""
    return [replace(b, caption=True) if b.text in captions and not b.heading else b for b in blocks]


def main_content(html: str) -> tuple[str, list[str]]:
    """The article part of a web page (readability-lxml), as HTML, and the texts it left out."""
    from bs4 import BeautifulSoup
    from readability import Document

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(html, "html.parser")
        _flatten_infobox_lists(soup)
        prepared = str(soup)
        try:
            article = Document(prepared).summary(html_partial=True)
        except Exception:  # readability raises its own Unparseable and lxml errors on odd pages: keep the page
            return prepared, []
        kept = _texts(BeautifulSoup(article, "html.parser"))
        dropped = [t for t in _texts(soup) if t not in kept and not any(t in k for k in kept)]
    return article, dropped


def _flatten_infobox_lists(soup: object) -> None:
    """A list inside an infobox cell becomes a comma-separated line, so that the facts survive as one value
    ("Russian, English, German") instead of bullet debris, and readability keeps them."""
    from bs4 import BeautifulSoup
    from bs4.element import Tag

    assert isinstance(soup, BeautifulSoup)
    for table in soup.find_all("table"):
        if not isinstance(table, Tag) or "infobox" not in " ".join(table.get("class") or []):
            continue
        for listing in table.find_all(["ul", "ol"]):
            if isinstance(listing, Tag):
                items = [re.sub(r"\s+", " ", li.get_text(" ")).strip() for li in listing.find_all("li")]
                listing.replace_with(", ".join(i for i in items if i))


def _texts(soup: object) -> list[str]:
    """The page's text, one entry per block-level element that holds text directly."""
    from bs4.element import NavigableString, Tag

    out: list[str] = []
    assert isinstance(soup, Tag)
    for tag in soup.find_all(["p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "figcaption", "nav", "footer"]):
        if not isinstance(tag, Tag) or tag.find_parent(["script", "style", "head"]):
            continue
        direct = "".join(str(c) for c in tag.children if isinstance(c, NavigableString)).strip()
        if direct:
            text = re.sub(r"\s+", " ", tag.get_text(" ")).strip()
            if text and text not in out:
                out.append(text)
    return out
