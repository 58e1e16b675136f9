"""Each format, from fixtures the tests write themselves (the EPUB with ebooklib, the PDF with fpdf2)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.curate.formats import read_document
from bot.curate.importer import Provenance, draft_source
from bot.sources.corpus import load_people
from tests.conftest import SEEDS

PEOPLE = load_people(SEEDS / "people.toml")
PROV = Provenance(
    id="the-book", title="The Maisky Papers", author="An Editor", publication="A Press", date=dt.date(2020, 1, 1),
    url="https://example.org/book", licence="CC BY 4.0",
)  # fmt: skip


def write_epub(path: Path, chapters: list[tuple[str, str]]) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("maisky-test")
    book.set_title("The Maisky Papers")
    book.set_language("en")
    book.add_author("An Editor")
    items = []
    for n, (title, body) in enumerate(chapters, 1):
        item = epub.EpubHtml(title=title, file_name=f"chapter{n}.xhtml", lang="en")
        item.content = f"<html><body><h1>{title}</h1>{body}</body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = tuple(items)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    return path


def write_pdf(path: Path, pages: list[list[list[str]]], *, text: bool = True) -> Path:
    """A PDF whose pages hold paragraphs of pre-broken lines, under a running head and over a page number.
    A paragraph of one line is set large and bold, as a heading. `text=False` draws shapes only."""
    from fpdf import FPDF

    class Book(FPDF):
        def header(self) -> None:
            if text:
                self.set_font("Helvetica", size=9)
                self.cell(0, 8, "THE MAISKY PAPERS", align="C")
                self.ln(14)

        def footer(self) -> None:
            if text:
                self.set_y(-15)
                self.set_font("Helvetica", size=9)
                self.cell(0, 8, str(self.page_no()), align="C")

    pdf = Book()
    pdf.set_auto_page_break(True, margin=20)
    for paragraphs in pages:
        pdf.add_page()
        if not text:
            pdf.rect(20, 20, 100, 60, style="F")
            continue
        for lines in paragraphs:
            heading = len(lines) == 1 and not lines[0].endswith(".")
            pdf.set_font("Helvetica", "B" if heading else "", 16 if heading else 11)
            for line in lines:
                pdf.cell(0, 6, line)
                pdf.ln(8 if heading else 6)
            pdf.ln(5)
    pdf.output(str(path))
    return path


def imported(path: Path) -> list[tuple[str, str]]:
    draft = draft_source([read_document(path)], PROV, PEOPLE)
    return [(p.section, p.text) for p in draft.passages]


def test_markdown_headings_emphasis_and_block_quotations(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(
        "# The Maisky Papers\n\n## Early life\n\nMaisky was *born* in 1884 in [Kirillov](https://example.org).\n\n"
        "Maisky wrote:\n\n> I left home a quarter of an hour early.\n\n## London\n\n- a list item\n- another\n",
        encoding="utf-8",
    )
    draft = draft_source([read_document(path)], PROV, PEOPLE)
    assert [(p.section, p.text) for p in draft.passages] == [
        ("Early life", "Maisky was born in 1884 in Kirillov."),
        ("Early life", "Maisky wrote:\n\nI left home a quarter of an hour early."),
        ("London", "a list item"),
        ("London", "another"),
    ]
    quote = draft.passages[1].quotes[0]
    assert (quote.text, quote.speaker) == ("I left home a quarter of an hour early.", "maisky")


def test_html_drops_navigation_and_keeps_captions(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>x</title><style>p{}</style></head><body>"
        "<header><a href='#main'>Skip to main content</a><nav>Home | World</nav></header>"
        "<article><h1>The Maisky Papers</h1><h2>Dinner</h2>"
        "<figure><img src='a.jpg'><figcaption>Churchill and Maisky dined in 1941.</figcaption></figure>"
        "<p>They dined &amp; talked “until late,” Churchill said.</p><script>var x = 1;</script></article>"
        "<footer>© The Paper</footer></body></html>",
        encoding="utf-8",
    )
    doc = read_document(path)
    draft = draft_source([doc], PROV, PEOPLE)
    assert [(p.section, p.caption, p.text) for p in draft.passages] == [
        ("Dinner", True, "Churchill and Maisky dined in 1941."),
        ("Dinner", False, "They dined & talked “until late,” Churchill said."),
    ]
    assert draft.passages[1].quotes[0].speaker == "churchill"


def test_html_page_furniture_outside_an_article_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_text(
        "<body><nav>Home | World</nav><p>Skip to main content</p><p>The text.</p><footer>© Paper</footer></body>",
        encoding="utf-8",
    )
    draft = draft_source([read_document(path)], PROV, PEOPLE)
    assert [p.text for p in draft.passages] == ["The text."]
    assert {c.text for c in draft.changes} >= {"Home | World", "Skip to main content", "© Paper"}


def test_epub_chapters_become_sections(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "book.epub",
        [
            ("Chapter 1: Omsk", "<p>Maisky grew up in Omsk.</p><p>His father was a doctor.</p>"),
            ("Chapter 2: London", "<p>Maisky wrote: “London is grey.”</p>"),
        ],
    )
    doc = read_document(path)
    assert doc.format == "epub"
    assert imported(path) == [
        ("Chapter 1: Omsk", "Maisky grew up in Omsk."),
        ("Chapter 1: Omsk", "His father was a doctor."),
        ("Chapter 2: London", "Maisky wrote: “London is grey.”"),
    ]


def test_pdf_running_heads_page_numbers_and_hyphens(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "book.pdf",
        [
            [
                ["Chapter One"],
                ["Maisky kept a diary in which he recorded every conver-", "sation with the ministers he met."],
                ["He wrote it in the evening, often late at night, in a", "small and well-", "kept hand."],
            ],
            [
                ["Chapter Two"],
                ["In 1932 he became ambassador in London, a post he", "held for eleven years."],
            ],
        ],
    )
    doc = read_document(path)
    assert doc.format == "pdf"
    assert imported(path) == [
        ("Chapter One", "Maisky kept a diary in which he recorded every conversation with the ministers he met."),
        ("Chapter One", "He wrote it in the evening, often late at night, in a small and well-kept hand."),
        ("Chapter Two", "In 1932 he became ambassador in London, a post he held for eleven years."),
    ]
    changes = {(c.what, c.text, c.where) for c in doc.changes}
    assert ("dropped a running head", "THE MAISKY PAPERS", "page 2") in changes
    assert ("dropped a page number", "1", "page 1") in changes
    assert ("mended a line-end hyphen", "conver-|sation → conversation", "page 1") in changes


def test_pdf_paragraphs_marked_only_by_an_indented_first_line(tmp_path: Path) -> None:
    """No gap between the paragraphs, and last lines nearly full: only the indent tells."""
    from fpdf import FPDF

    paragraphs = [
        [
            "Maisky arrived in London at the end of 1932, and he stayed",
            "there for years, courting everyone he met there.",
        ],
        [
            "He kept a diary throughout, which was found in the archives",
            "of the Russian Foreign Ministry by a scholar.",
        ],
    ]
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for lines in paragraphs:
        for k, line in enumerate(lines):
            pdf.set_x(20 if k == 0 else 10)
            pdf.cell(0, 6, line)
            pdf.ln(6)
    pdf.output(str(tmp_path / "indented.pdf"))
    assert [text for _, text in imported(tmp_path / "indented.pdf")] == [" ".join(lines) for lines in paragraphs]
