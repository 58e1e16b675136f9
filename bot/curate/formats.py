"""Reading documents: plain text, Markdown, HTML, EPUB and PDF turned into blocks of text.

A `Document` is a sequence of blocks (headings and body paragraphs) in reading order, plus
every change made to the text on the way (furniture dropped, line-end hyphens mended), so that
the import report can list them. The formats are read with well-kept libraries: markdown-it-py,
BeautifulSoup, ebooklib and pypdf; this module only walks what they return.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.curate.blocks import Block, Change
from bot.curate.furniture import clean_copied_text, main_content, mark_captions
from bot.curate.limits import ReadLimits, count_markup, inflated_size, over
from bot.curate.sections import mark_layout
from bot.errors import ImportFileError

__all__ = ["FORMATS", "MAX_BYTES", "Block", "Change", "Document", "read_document"]

MAX_BYTES = ReadLimits().file_mb * 1024 * 1024  # the default; bot.curate.limits holds every limit of a read
FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".epub": "epub",
    ".pdf": "pdf",
}
_SAVE_AS = "save it as PDF, EPUB, HTML, Markdown (.md) or plain text (.txt) and import that"


@dataclass(frozen=True)
class Document:
    path: Path
    format: str
    blocks: tuple[Block, ...]
    changes: tuple[Change, ...] = ()
    encoding: str = ""


def read_document(path: Path, encoding: str | None = None, limits: ReadLimits | None = None) -> Document:
    """Read one file; raise ImportFileError naming the file and what to do when it cannot be read, or
    which of `limits` it goes past."""
    limits = limits or ReadLimits()
    name = str(path)
    if not path.exists():
        raise ImportFileError(name, "does not exist")
    if not path.is_file():
        raise ImportFileError(name, "is not a file")
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(name, "is empty; export the text again and import the new file")
    if size > limits.file_mb * 1024 * 1024:
        advice = "split it into parts (chapters or volumes) and import them together as a folder"
        raise over(name, "file_mb", size // (1024 * 1024), limits, advice)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(name, f"cannot be read ({exc.strerror}); check its permissions") from None
    kind = _sniff(path, data)
    if kind == "pdf":
        return _read_pdf(path, limits)
    if kind == "epub":
        inflated_size(path, limits)  # before anything is decompressed
        return _read_epub(path, limits)
    text, used = _decode(name, data, encoding, declared=_declared_charset(data) if kind == "html" else None)
    del data
    if kind != "html" and len(text) > limits.characters:
        raise over(name, "characters", len(text), limits)
    try:
        if kind == "html":
            count_markup(name, text, limits)  # before a tree is built
            blocks, changes = _web_page_blocks(text)
        elif kind == "markdown":
            from markdown_it import MarkdownIt

            html = MarkdownIt("commonmark").render(text)
            count_markup(name, html, limits)
            blocks, changes = _html_blocks(html, "")
        else:
            blocks, changes = _copied_text_blocks(text)
    except RecursionError:
        raise ImportFileError(name, f"nests its elements too deeply to read; {_SAVE_AS}") from None
    if not any(b.text.strip() for b in blocks):
        raise ImportFileError(name, "holds no text; check that it is the right file")
    _text_within(name, blocks, limits)
    return Document(path, kind, tuple(blocks), tuple(changes), used)


def _text_within(name: str, blocks: list[Block], limits: ReadLimits) -> None:
    """The text of markup, once read from it (its markup was within limits, so it is bounded already)."""
    characters = sum(len(b.text) for b in blocks)
    if characters > limits.characters:
        raise over(name, "characters", characters, limits)


def _sniff(path: Path, data: bytes) -> str:
    """The format: by content for PDF and EPUB (whatever the name), else by the file's suffix."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        if b"application/epub+zip" in data[:100]:
            return "epub"
        raise ImportFileError(str(path), f"is a ZIP archive (a Word, OpenDocument or other package); {_SAVE_AS}")
    suffix = path.suffix.lower()
    if suffix in (".pdf", ".epub"):
        raise ImportFileError(str(path), f"is named {suffix} but is not a {suffix[1:].upper()} file; {_SAVE_AS}")
    if suffix in FORMATS:
        return FORMATS[suffix]
    if suffix:
        raise ImportFileError(str(path), f"has an unknown format ({suffix}); {_SAVE_AS}")
    return "text"


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _declared_charset(data: bytes) -> str | None:
    found = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", data[:4096], re.IGNORECASE)
    return found.group(1).decode("ascii") if found else None


def _decode(name: str, data: bytes, encoding: str | None, declared: str | None = None) -> tuple[str, str]:
    """Text from bytes: the given encoding, a byte-order mark or UTF-8. Anything else is refused with
    the encoding it looks like, because a wrong guess would change the words we must quote verbatim."""
    for bom, codec in _BOMS:
        if not encoding and data.startswith(bom):
            encoding = codec
    chosen = encoding or declared
    if chosen:
        try:
            text = data.decode(chosen)
        except LookupError:
            raise ImportFileError(
                name, f"names an unknown encoding {chosen!r}; give a known one with --encoding"
            ) from None
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                name, f"is not valid {chosen} (byte {exc.start}); give the right encoding with --encoding"
            ) from None
        _refuse_binary(name, text)
        return text, chosen
    if b"\x00" in data[:8192]:
        wide = _wide_text(data[:8192])
        if wide:
            raise ImportFileError(
                name, f"is not UTF-8 (it looks like {wide}); convert it to UTF-8, or run the import again with "
                f"--encoding {wide}",
            )  # fmt: skip
        raise ImportFileError(name, f"is a binary file, not text; {_SAVE_AS}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        guess = from_bytes(data[:200_000]).best()
        if guess is None:
            raise ImportFileError(name, f"is a binary file, not text; {_SAVE_AS}") from None
        raise ImportFileError(
            name, f"is not UTF-8 (it looks like {guess.encoding}); convert it to UTF-8, or run the import again "
            f"with --encoding {guess.encoding} if that is right",
        ) from None  # fmt: skip
    _refuse_binary(name, text)
    return text, "utf-8"


def _wide_text(sample: bytes) -> str:
    """The UTF-16 variant that `sample` (with NUL bytes, and no byte-order mark) reads as text in, if any."""
    for codec in ("utf-16-le", "utf-16-be"):
        text = sample[: len(sample) // 2 * 2].decode(codec, errors="replace")
        printable = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
        if text and printable >= 0.95 * len(text) and "\ufffd" not in text:
            return codec
    return ""


def _refuse_binary(name: str, text: str) -> None:
    sample = text[:20_000]
    control = sum(1 for c in sample if ord(c) < 32 and c not in "\n\r\t\f")
    if control > max(2, len(sample) // 100):
        raise ImportFileError(name, f"is a binary file, not text; {_SAVE_AS}")


# ---------------------------------------------------------------- plain text

_WIKI_HEADING = re.compile(r"^(={1,6})\s*(.+?)\s*\1\s*$")
_ATX_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+\S")


def _text_blocks(text: str) -> list[Block]:
    """Paragraphs are separated by blank lines; lines inside one are unwrapped, except in lists."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n").lstrip("\ufeff")
    blocks: list[Block] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        lines = [line.rstrip() for line in chunk.split("\n") if line.strip()]
        if len(lines) == 2 and _SETEXT.match(lines[1]) and not _LIST_ITEM.match(lines[0]):
            blocks.append(Block(lines[0].strip(), heading=1 if lines[1][0] == "=" else 2))
            continue
        para: list[str] = []
        listing = any(_LIST_ITEM.match(line) for line in lines)  # a list keeps its lines (and its lead-in line)
        for line in lines:
            heading = _WIKI_HEADING.match(line) or _ATX_HEADING.match(line)
            if heading:
                if para:
                    blocks.append(Block(("\n" if listing else " ").join(para)))
                    para = []
                blocks.append(Block(heading.group(2), heading=len(heading.group(1))))
                continue
            para.append(line.rstrip() if listing else line.strip())
        if para:
            blocks.append(Block(("\n" if listing else " ").join(para)))
    return blocks


def _copied_text_blocks(text: str) -> tuple[list[Block], list[Change]]:
    """Plain text, often copied from a web page: furniture lines dropped (`bot.curate.furniture`), then paragraphs,
    with headings, captions and infoboxes that the text marks only by its layout recognised (`bot.curate.sections`)."""
    cleaned, captions, changes = clean_copied_text(text)
    return mark_layout(mark_captions(_text_blocks(cleaned), captions)), changes


def _web_page_blocks(html: str) -> tuple[list[Block], list[Change]]:
    """A web page: its article part (readability, in `bot.curate.furniture`) read as HTML; the rest reported."""
    article, dropped = main_content(html)
    blocks, changes = _html_blocks(article, "")
    if not any(b.text.strip() for b in blocks):  # readability found no article: read the whole page
        return _html_blocks(html, "")
    left_out = [Change("dropped page furniture (outside the article, by readability)", t[:120]) for t in dropped]
    return blocks, left_out + changes


# ---------------------------------------------------------------- HTML (and Markdown, EPUB)

_SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "select", "button", "form", "input"}
_FURNITURE = {"nav", "header", "footer", "aside"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "p", "div", "section", "article", "main", "blockquote", "li", "ul", "ol", "dl", "dt", "dd", "figure",
    "figcaption", "pre", "table", "thead", "tbody", "tr", "td", "th", "caption", "body", "html", "hr", "address",
    "center",
}  # fmt: skip


def _html_blocks(html: str, where: str) -> tuple[list[Block], list[Change]]:
    from bs4 import BeautifulSoup
    from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about XHTML parsed as HTML; the text is the same
        soup = BeautifulSoup(html, "html.parser")
    root: Tag = soup
    for name in ("main", "article"):
        found = soup.find(name)
        if isinstance(found, Tag) and found.get_text(strip=True):
            root = found
            break
    blocks: list[Block] = []
    changes: list[Change] = []
    buffer: list[str] = []

    def flush(quoted: bool, caption: bool) -> None:
        text = "".join(buffer)
        buffer.clear()
        text = "\n".join(re.sub(r"\s+", " ", line).strip() for line in text.split("\n"))
        text = re.sub(r"\n{2,}", "\n", text).strip()
        if text:
            blocks.append(Block(text, quoted=quoted, caption=caption, where=where))

    def walk(node: Tag, quoted: bool, caption: bool) -> None:
        for child in node.children:
            if isinstance(child, Comment | Declaration | Doctype | ProcessingInstruction):
                continue
            if isinstance(child, NavigableString):
                buffer.append(str(child).replace("\n", " "))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name in _SKIP or _is_reference(child):
                continue
            if name == "table" and _is_infobox(child):
                flush(quoted, caption)
                blocks.extend(_infobox_blocks(child, where))
                continue
            if name in _FURNITURE:
                dropped = re.sub(r"\s+", " ", child.get_text(" ")).strip()
                if dropped:
                    changes.append(Change(f"dropped page furniture (<{name}>)", dropped[:120], where))
                continue
            if name == "br":
                buffer.append("\n")
            elif name in _HEADINGS:
                flush(quoted, caption)
                for marker in child.find_all(_is_reference):
                    marker.decompose()
                text = re.sub(r"\s+", " ", child.get_text()).strip()
                if text:
                    blocks.append(Block(text, heading=_HEADINGS[name], where=where))
            elif name in _BLOCKS:
                flush(quoted, caption)
                walk(child, quoted or name == "blockquote", caption or name == "figcaption")
                flush(quoted or name == "blockquote", caption or name == "figcaption")
            else:
                walk(child, quoted, caption)

    walk(root, False, False)
    flush(False, False)
    return blocks, changes


def _is_reference(tag: Any) -> bool:
    """A footnote marker (<sup class="reference">) or a wiki's edit link: not the text's words."""
    classes = " ".join(tag.get("class") or [])
    return ("reference" in classes and tag.name == "sup") or "editsection" in classes


def _is_infobox(table: Any) -> bool:
    return "infobox" in " ".join(table.get("class") or [])


def _infobox_blocks(table: Any, where: str) -> list[Block]:
    """An infobox table as one block of facts, a line per row ("Born: 19 January 1884, Kirillov"), and each
    picture caption in it as a caption block. Machine-readable copies of dates ("(1884-01-19)") are left out."""
    lines: list[str] = []
    captions: list[Block] = []
    for figcaption in table.find_all("figcaption"):
        text = re.sub(r"\s+", " ", figcaption.get_text(" ")).strip()
        if text:
            captions.append(Block(text, caption=True, where=where))
        figcaption.decompose()
    for row in table.find_all("tr"):
        cells = []
        for cell in row.find_all(["th", "td"], recursive=False):
            for marker in cell.find_all(_is_reference):
                marker.decompose()
            for listing in cell.find_all(["ul", "ol"]):
                listing.replace_with(", ".join(li.get_text(" ").strip() for li in listing.find_all("li")))
            for br in cell.find_all("br"):
                br.replace_with("\n")
            value = re.sub(r"\s*\(\d{4}-\d{2}-\d{2}\)", "", cell.get_text(""))
            parts = [re.sub(r"\s+", " ", p).strip() for p in value.split("\n")]
            value = ", ".join(p for p in parts if p)
            if value:
                cells.append(value)
        if cells:
            lines.append(": ".join(cells) if len(cells) == 2 else " ".join(cells))
    facts = [Block("\n".join(lines), infobox=True, where=where)] if lines else []
    return facts + captions


# ---------------------------------------------------------------- EPUB


def _read_epub(path: Path, limits: ReadLimits) -> Document:
    import ebooklib
    from ebooklib import epub

    name = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if "META-INF/encryption.xml" in archive.namelist() and _drm(archive.read("META-INF/encryption.xml")):
                raise ImportFileError(name, "is DRM-protected; import a copy without DRM, or its text")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = epub.read_epub(str(path), options={"ignore_ncx": True})
    except ImportFileError:
        raise
    except Exception as exc:  # ebooklib raises bare KeyError, BadZipFile, lxml errors... for damaged books
        raise ImportFileError(name, f"is not a readable EPUB ({type(exc).__name__}); export it again") from None
    blocks: list[Block] = []
    changes: list[Change] = []
    characters = text = 0  # of the chapters' markup, and of the text read from it
    for idref, *_ in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        chapter = item.get_content().decode("utf-8", errors="replace")
        characters += len(chapter)
        if characters > limits.markup:
            raise over(name, "markup", f"more than {limits.markup:,}", limits)
        count_markup(name, chapter, limits, item.get_name())
        try:
            found, dropped = _html_blocks(chapter, item.get_name())
        except RecursionError:
            raise ImportFileError(name, f"nests its elements too deeply to read ({item.get_name()})") from None
        blocks.extend(found)
        changes.extend(dropped)
        text += sum(len(b.text) for b in found)
        if text > limits.characters:
            raise over(name, "characters", f"more than {limits.characters:,}", limits)
    if not any(b.text.strip() for b in blocks):
        raise ImportFileError(name, "holds no text in its chapters; check that it is the right book")
    return Document(path, "epub", tuple(blocks), tuple(changes), "utf-8")


def _drm(encryption_xml: bytes) -> bool:
    """Font obfuscation also lives in encryption.xml; only encrypted text documents are DRM."""
    return bool(re.search(rb"URI=\"[^\"]+\.(x?html?|xml)\"", encryption_xml))


# ---------------------------------------------------------------- PDF

_PAGE_NUMBER = re.compile(
    r"^\s*(?:page\s+)?(?:[-–—]\s*)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*[-–—])?(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[.!?:;…][”’\"')\]]*$")


def _read_pdf(path: Path, limits: ReadLimits) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    name = str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise ImportFileError(name, "is password-protected; save an unprotected copy and import that")
            count = _declared_pages(reader)  # the page tree's own count: no page is loaded to know it
            if count <= limits.pages:
                count = len(reader.pages)  # the pages themselves, in case the count understates them
            if count > limits.pages:
                raise over(name, "pages", count, limits)
            pages: list[str] = []
            characters = 0
            for page in reader.pages:  # the text so far is counted after each page, not after the last
                pages.append(_page_text(page))
                characters += len(pages[-1])
                if characters > limits.characters:
                    raise over(name, "characters", f"more than {limits.characters:,}", limits)
    except ImportFileError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ImportFileError(name, f"is not a readable PDF ({type(exc).__name__}); export it again") from None
    except Exception as exc:  # pypdf's decoders raise many kinds on damaged files
        raise ImportFileError(name, f"is not a readable PDF ({type(exc).__name__}); export it again") from None
    if not any(re.search(r"\w", p) for p in pages):
        raise ImportFileError(
            name, "has no text layer (a scanned PDF?); run it through OCR first, for example "
            "`ocrmypdf in.pdf out.pdf`, and import the result",
        )  # fmt: skip
    changes: list[Change] = []
    page_lines = [_page_lines(text) for text in pages]
    _drop_furniture(page_lines, changes)
    blocks = list(_pdf_blocks(page_lines, changes))
    return Document(path, "pdf", tuple(blocks), tuple(changes), "")


def _declared_pages(reader: Any) -> int:
    try:
        return int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0


def _page_text(page: Any) -> str:
    """The page's text laid out as printed (blank lines where the page has gaps); plain extraction
    where layout mode fails on a font it cannot measure."""
    try:
        return str(page.extract_text(extraction_mode="layout") or "")
    except Exception:  # pypdf's layout mode is stricter about fonts than its plain mode
        return str(page.extract_text() or "")


def _page_lines(text: str) -> list[str]:
    """A page's lines with layout spacing collapsed; an empty string marks a vertical gap, and is also
    put before an indented line that follows the end of a sentence (a paragraph's indented first line)."""
    raw_lines = text.replace("\u00ad", "").split("\n")
    margin = min((len(r) - len(r.lstrip()) for r in raw_lines if len(r.strip()) >= 20), default=0)
    out: list[str] = []
    for raw in raw_lines:
        line = re.sub(r"\s{2,}", " ", raw).strip()
        indented = bool(line) and len(raw) - len(raw.lstrip()) >= margin + 2
        if indented and out and out[-1] and _SENTENCE_END.search(out[-1]):
            out.append("")
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def _edge(lines: list[str], top: bool) -> int | None:
    """Index of the first (top) or last (bottom) non-empty line."""
    order = range(len(lines)) if top else range(len(lines) - 1, -1, -1)
    return next((i for i in order if lines[i]), None)


def _drop_furniture(pages: list[list[str]], changes: list[Change]) -> None:
    """Page numbers, and running heads or feet: the same line at the top or bottom of several pages."""
    for n, lines in enumerate(pages, 1):
        for top in (True, False):
            i = _edge(lines, top)
            if i is not None and _PAGE_NUMBER.match(lines[i]):
                changes.append(Change("dropped a page number", lines[i], f"page {n}"))
                lines[i] = ""
    for top in (True, False):
        keys: Counter[str] = Counter()
        for lines in pages:
            i = _edge(lines, top)
            if i is not None:
                keys[_running_key(lines[i])] += 1
        repeated = {k for k, count in keys.items() if k and count >= max(2, len(pages) * 0.3) and len(k.split()) <= 12}
        for n, lines in enumerate(pages, 1):
            i = _edge(lines, top)
            if i is not None and _running_key(lines[i]) in repeated:
                changes.append(Change(f"dropped a running {'head' if top else 'foot'}", lines[i], f"page {n}"))
                lines[i] = ""


def _running_key(line: str) -> str:
    """Lines that differ only in their page number are the same running head; prose is never one."""
    if _SENTENCE_END.search(line) and not line.endswith(":"):
        return ""
    return re.sub(r"\d+", "#", line.lower()).strip(" #-–—|")


def _pdf_blocks(pages: list[list[str]], changes: list[Change]) -> Iterator[Block]:
    """Paragraphs from lines: a vertical gap, or a short line ending a sentence, ends one. A short line
    with no closing punctuation standing alone is a heading. Hyphens at line ends are mended."""
    widths = sorted(len(line) for lines in pages for line in lines if line)
    full = widths[int(len(widths) * 0.8)] if widths else 0  # most lines of a paragraph are full
    corpus_text = " ".join(line for lines in pages for line in lines)
    para: list[str] = []
    para_page = 1

    def finish() -> Iterator[Block]:
        if not para:
            return
        where = f"page {para_page}"
        if len(para) == 1 and len(para[0].split()) <= 12 and not _SENTENCE_END.search(para[0]):
            yield Block(para[0], heading=2, where=where)
        else:
            yield Block(_join_lines(para, corpus_text, changes, where), where=where)
        para.clear()

    for n, lines in enumerate(pages, 1):
        for line in lines:
            if not line:
                if para and (_SENTENCE_END.search(para[-1]) or len(para) == 1):
                    yield from finish()  # a gap ends a paragraph, or a heading, but not a sentence
                continue
            if not para:
                para_page = n
            para.append(line)
            if _SENTENCE_END.search(line) and len(line) < 0.75 * full:
                yield from finish()
    yield from finish()


# Words that mostly form hyphenated compounds (well-kept, self-taught, ex-minister), so a line-end hyphen
# after them is the compound's own; after any other word it is the typesetter's and is removed.
_COMPOUND_HEADS = frozenset(
    "well self half ill ex all non anti semi quasi so twenty thirty forty fifty sixty seventy eighty ninety "
    "long short high low near far full part pro".split()
)


def _join_lines(lines: list[str], corpus_text: str, changes: list[Change], where: str) -> str:
    out = lines[0]
    for line in lines[1:]:
        broken = re.search(r"(\w+)-$", out)
        if broken and line[:1].islower():
            head, tail = broken.group(1), re.match(r"\w+", line)
            word = tail.group(0) if tail else ""
            if f"{head}-{word}" in corpus_text or head.lower() in _COMPOUND_HEADS:
                out += line  # a real compound: keep its hyphen
                changes.append(Change("joined a hyphenated compound across a line end", f"{head}-{word}", where))
            else:
                out = out[:-1] + line
                changes.append(Change("mended a line-end hyphen", f"{head}-|{word} → {head}{word}", where))
        else:
            out += " " + line
    return out
