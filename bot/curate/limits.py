"""How much an import may read: limits that real books pass and bombs do not, checked while reading.

A curator's files can be large (Maisky's diaries run to hundreds of thousands of words, a few
million characters), so every limit sits well above a long book; a zip bomb, a page of nested
tags or a ten-thousand-page PDF is stopped before it is inflated, parsed or laid out, with a message
naming the limit and the `maisky import` option that raises it. The readers in `bot.curate.formats` call
these checks; nothing here parses a format itself beyond counting.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from bot.errors import ImportFileError

__all__ = ["ReadLimits", "count_markup", "folder_files", "inflated_size", "over"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """The limits of one import; each has an option of `maisky import` that raises it."""

    file_mb: int = 50  # bytes of one file (a 600-page book is a few MB of text)
    inflated_mb: int = 100  # bytes of an EPUB's contents once decompressed, all its files together
    members: int = 5_000  # files inside one EPUB
    characters: int = 5_000_000  # characters of one document's text (about 800,000 words; the diaries ~4 million)
    markup: int = 8_000_000  # characters of one HTML document's markup, or an EPUB's chapters together
    elements: int = 150_000  # HTML elements in one document or EPUB chapter (a long book has tens of thousands)
    depth: int = 200  # elements nested in one another (books nest a dozen deep)
    pages: int = 3_000  # pages of one PDF (the diaries' three volumes run to about 1,700)
    folders: int = 32  # folders nested in one another under a folder given to import


# The option of `maisky import` that raises each limit, and what going past it means, in words.
OPTIONS = {
    "file_mb": ("--max-file-mb", "is {value} MB, over the {at} MB limit"),
    "inflated_mb": ("--max-inflated-mb", "would inflate to {value} MB, over the {at} MB limit on an EPUB's contents"),
    "members": ("--max-members", "holds {value} files, over the limit of {at} files in one EPUB"),
    "characters": ("--max-characters", "holds {value} characters of text, over the limit of {at}"),
    "markup": ("--max-markup", "holds {value} characters of markup, over the limit of {at}"),
    "elements": ("--max-elements", "holds more than {at} HTML elements, the limit"),
    "depth": ("--max-depth", "nests its elements too deeply: more than {at} levels, the limit"),
    "pages": ("--max-pages", "has {value} pages, over the limit of {at}"),
    "folders": ("--max-folder-depth", "nests its folders more than {at} deep, the limit"),
}


def over(file: str, limit: str, value: int | str, limits: ReadLimits, advice: str = "") -> ImportFileError:
    """The error for `file` going past one limit: what it holds, the limit, and the option that raises it."""
    option, words = OPTIONS[limit]
    at = getattr(limits, limit)
    shown = f"{value:,}" if isinstance(value, int) else value
    more = f"; {advice}" if advice else ""
    return ImportFileError(
        file, words.format(value=shown, at=f"{at:,}") + f"{more}. If it is a real book, raise the limit with "
        f"{option} {at * 4}",
    )  # fmt: skip


def inflated_size(path: Path, limits: ReadLimits) -> None:
    """Refuse an EPUB whose contents would inflate past the limits, from its directory alone: nothing is
    decompressed (zipfile then reads no member past the size its directory declares)."""
    name = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportFileError(name, f"is not a readable EPUB ({type(exc).__name__}); export it again") from None
    if len(infos) > limits.members:
        raise over(name, "members", len(infos), limits, "an EPUB has a file per chapter, picture and font")
    total = sum(max(0, info.file_size) for info in infos)
    if total > limits.inflated_mb * _MB:
        raise over(name, "inflated_mb", f"{total / _MB:,.0f}", limits, "it may be a zip bomb")
    _inflate_in_steps(path, name)


def _inflate_in_steps(path: Path, name: str) -> None:
    """Decompress every member a step at a time, keeping nothing: a directory that understates a member's
    size ends in zipfile's CRC error here, before a reader asks zipfile for the whole member at once
    (which inflates all of its compressed data into memory before cutting it to the declared size)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    while member.read(1 << 16):
                        pass
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ImportFileError(name, f"is not a readable EPUB ({type(exc).__name__}); export it again") from None


class _Counter(HTMLParser):
    """Counts elements and their nesting as a tolerant parser would (an end tag closes what it matches,
    void elements and a new <p> or <li> close nothing and their like respectively), stopping at a limit."""

    _VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
    _SIBLINGS = frozenset("p li dt dd tr td th option".split())  # an open one ends where its like begins
    _UNREAD = ("script", "style", "template", "head", "svg", "noscript")  # text the reader never keeps

    def __init__(self, limits: ReadLimits) -> None:
        super().__init__(convert_charrefs=False)
        self.limits = limits
        self.open: list[str] = []
        self.counts: dict[str, int] = {}
        self.elements = 0
        self.text = 0
        self.broken = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements += 1
        if self.elements > self.limits.elements:
            self.broken = "elements"
            raise _Stop
        if tag in self._VOID:
            return
        if tag in self._SIBLINGS and self.open and self.open[-1] == tag:
            self._pop()
        self._push(tag)
        if len(self.open) > self.limits.depth:
            self.broken = "depth"
            raise _Stop

    def handle_data(self, data: str) -> None:
        if not any(self.counts.get(tag) for tag in self._UNREAD):
            self.text += len(data)
            if self.text > self.limits.characters:
                self.broken = "characters"
                raise _Stop

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements += 1
        if self.elements > self.limits.elements:
            self.broken = "elements"
            raise _Stop

    def handle_endtag(self, tag: str) -> None:
        # close up to the innermost open element of this name; an end tag that matches none is ignored
        # (checked in the counts first, so each element is looked at once when opened and once when closed)
        if not self.counts.get(tag):
            return
        while self.open:
            closed = self.open.pop()
            self.counts[closed] -= 1
            if closed == tag:
                return

    def _push(self, tag: str) -> None:
        self.open.append(tag)
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def _pop(self) -> None:
        self.counts[self.open.pop()] -= 1


class _Stop(Exception):
    pass


def count_markup(file: str, markup: str, limits: ReadLimits, where: str = "") -> None:
    """Refuse HTML (or Markdown rendered to it) with more elements, deeper nesting or more text than the
    limits, in one pass over the markup that keeps only the open elements: before any tree is built."""
    if len(markup) > limits.markup:
        raise over(file, "markup", len(markup), limits)
    counter = _Counter(limits)
    try:
        counter.feed(markup)
        counter.close()
    except _Stop:
        pass
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup; the reader decides
        return
    at = f" ({where})" if where else ""
    if counter.broken == "elements":
        raise over(file + at, "elements", "", limits)
    if counter.broken == "depth":
        raise over(file + at, "depth", "", limits)
    if counter.broken == "characters":
        raise over(file + at, "characters", f"more than {limits.characters:,}", limits)


def folder_files(folder: Path, limits: ReadLimits) -> Iterator[tuple[Path, str]]:
    """Every file under `folder`, without recursion (a folder thousands deep is one message, not a crash)
    and without following symbolic links: yields (path, why it is skipped or "")."""
    root = folder.resolve()
    todo: list[tuple[Path, int]] = [(folder, 0)]
    while todo:
        here, depth = todo.pop()
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            raise ImportFileError(str(here), f"cannot be read ({exc.strerror}); check its permissions") from None
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                yield path, _link(path, root)
            elif entry.is_dir(follow_symlinks=False):
                subfolders.append(path)
            elif entry.is_file(follow_symlinks=False):
                yield path, ""
            else:
                yield path, "skipped something that is not a file (a device, pipe or socket)"
        if subfolders and depth + 1 > limits.folders:
            raise over(str(folder), "folders", "", limits)
        todo.extend((p, depth + 1) for p in reversed(subfolders))


def _link(path: Path, root: Path) -> str:
    """Why a symbolic link in the folder is skipped, or "" for a link to a file inside the folder."""
    try:
        target = path.resolve(strict=True)
        mode = target.stat().st_mode
    except (OSError, RuntimeError):
        return "skipped a broken symbolic link"
    if stat.S_ISDIR(mode):
        return "skipped a symbolic link to a folder (a folder's own subfolders are read, not links to others)"
    if not target.is_relative_to(root):
        return "skipped a symbolic link to a file outside the folder"
    if not stat.S_ISREG(mode):
        return "skipped something that is not a file (a device, pipe or socket)"
    return ""
