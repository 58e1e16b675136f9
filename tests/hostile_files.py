"""Hostile files for `maisky import`, generated on demand (never committed): zip bombs, nested markup,
many-page PDFs and huge paragraphs. Sizes are arguments, so tests use small ones that still pass
a limit and benchmarks/hostile_imports.py the full sizes of issue 25."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "CASES", "big_html", "deep_markdown", "dense_html", "epub_bomb", "epub_lying_bomb", "epub_many_files",
    "huge_paragraph", "nested_html", "pdf_pages",
]  # fmt: skip

_MB = 1024 * 1024
_CHUNK = b" " * _MB

_CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)
_OPF = (
    '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
    '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>'
    "<dc:title>Bomb</dc:title><dc:language>en</dc:language></metadata>"
    '<manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
    '<spine><itemref idref="c1"/></spine></package>'
)


def _epub_start(archive: zipfile.ZipFile) -> None:
    archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # stored, first, as EPUB requires
    archive.writestr("META-INF/container.xml", _CONTAINER, zipfile.ZIP_DEFLATED)
    archive.writestr("OEBPS/content.opf", _OPF, zipfile.ZIP_DEFLATED)


def epub_bomb(path: Path, inflated_mb: int) -> Path:
    """A well-formed EPUB whose one chapter inflates to `inflated_mb` MB of spaces (about 1,000 to 1)."""
    with zipfile.ZipFile(path, "w") as archive:
        _epub_start(archive)
        info = zipfile.ZipInfo("OEBPS/c1.xhtml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as out:
            out.write(b"<html><body><p>")
            for _ in range(inflated_mb):
                out.write(_CHUNK)
            out.write(b"</p></body></html>")
    return path


def epub_lying_bomb(path: Path, inflated_mb: int) -> Path:
    """The same bomb, its directory claiming the chapter is 100 bytes long."""
    epub_bomb(path, inflated_mb)
    data = bytearray(path.read_bytes())
    name = b"OEBPS/c1.xhtml"
    at = data.index(b"PK\x01\x02")  # the central directory, after the data
    while data[at + 46 : at + 46 + len(name)] != name:
        at = data.index(b"PK\x01\x02", at + 4)
    data[at + 24 : at + 28] = (100).to_bytes(4, "little")  # the uncompressed size zipfile believes
    path.write_bytes(bytes(data))
    return path


def epub_many_files(path: Path, files: int) -> Path:
    """An EPUB of `files` tiny files."""
    with zipfile.ZipFile(path, "w") as archive:
        _epub_start(archive)
        archive.writestr("OEBPS/c1.xhtml", "<html><body><p>One chapter.</p></body></html>")
        for n in range(files):
            archive.writestr(f"OEBPS/f/{n}.css", "")
    return path


def nested_html(path: Path, mb: float, *, closed: bool = False) -> Path:
    """`mb` MB of <div> tags opened one inside another (and closed again, with `closed`)."""
    n = int(mb * _MB) // (11 if closed else 5)
    with path.open("wb") as out:
        out.write(b"<div>" * n + b"deep" + (b"</div>" * n if closed else b""))
    return path


def big_html(path: Path, mb: float) -> Path:
    """An ordinary-looking page of `mb` MB of paragraphs."""
    para = b"<p>Maisky wrote in his diary that the talks in London went on late into the night.</p>\n"
    with path.open("wb") as out:
        out.write(b"<html><body>" + para * (int(mb * _MB) // len(para)) + b"</body></html>")
    return path


def dense_html(path: Path, mb: float) -> Path:
    """`mb` MB of short italic words: as many elements as the bytes allow."""
    with path.open("wb") as out:
        out.write(b"<p>" + b"<i>x</i> " * (int(mb * _MB) // 9) + b"</p>")
    return path


def huge_paragraph(path: Path, mb: float) -> Path:
    """`mb` MB of plain text with no paragraph break, sentences and all."""
    sentence = b"Maisky met Eden at the Foreign Office and they spoke of Spain. "
    with path.open("wb") as out:
        out.write(sentence * (int(mb * _MB) // len(sentence)) + b"\n")
    return path


def deep_markdown(path: Path, levels: int) -> Path:
    """Block quotations `levels` deep, then lists as deep."""
    lists = "".join("  " * i + "- x\n" for i in range(min(levels, 1_000)))  # each line as long as its depth
    path.write_text(">" * levels + " deep\n\n" + lists, encoding="utf-8")
    return path


def pdf_pages(path: Path, pages: int) -> Path:
    """A valid PDF of `pages` pages, each with a line of text (all pages share one content stream)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, written once the kids are known
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    text = b"BT /F1 12 Tf 72 720 Td (A page of the diary.) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text))
    first = len(objects) + 1
    kids = b" ".join(b"%d 0 R" % (first + i) for i in range(pages))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        b"/Contents 4 0 R >>"
    )
    objects += [page] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


# name -> (file name, how to make it at full size (issue 25's figures), at a size a test can afford,
#          the words the refusal must hold)
Maker = Callable[[Path], Path]
CASES: dict[str, tuple[str, Maker, Maker, str]] = {
    "EPUB zip bomb, 1 GB inflated": (
        "bomb.epub", lambda p: epub_bomb(p, 1024), lambda p: epub_bomb(p, 120), "--max-inflated-mb"),
    "EPUB zip bomb, directory lying about its size": (
        "liar.epub", lambda p: epub_lying_bomb(p, 1024), lambda p: epub_lying_bomb(p, 120), "not a readable EPUB"),
    "EPUB of 100,000 files": (
        "files.epub", lambda p: epub_many_files(p, 100_000), lambda p: epub_many_files(p, 5_100), "--max-members"),
    "HTML nested 49 MB deep, never closed": (
        "unclosed.html", lambda p: nested_html(p, 49), lambda p: nested_html(p, 0.01), "--max-depth"),
    "HTML nested 10 MB deep, closed": (
        "nested.html", lambda p: nested_html(p, 10, closed=True), lambda p: nested_html(p, 0.01, closed=True),
        "--max-depth"),
    "HTML page of 40 MB": ("page.html", lambda p: big_html(p, 40), lambda p: big_html(p, 10), "--max-markup"),
    "HTML page of 7 MB of prose": (
        "prose.html", lambda p: big_html(p, 7), lambda p: big_html(p, 7), "--max-characters"),
    "HTML page of 9 MB, one element in every 9 bytes": (
        "elements.html", lambda p: dense_html(p, 9), lambda p: dense_html(p, 1.5), "--max-elements"),
    "Markdown quoted 100,000 deep": (
        "deep.md", lambda p: deep_markdown(p, 100_000), lambda p: deep_markdown(p, 5_000), ""),
    "PDF of 10,000 pages": ("pages.pdf", lambda p: pdf_pages(p, 10_000), lambda p: pdf_pages(p, 3_001), "--max-pages"),
    "one paragraph of 40 MB": (
        "paragraph.txt", lambda p: huge_paragraph(p, 40), lambda p: huge_paragraph(p, 5), "--max-characters"),
}  # fmt: skip
