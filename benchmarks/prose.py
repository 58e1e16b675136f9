"""Real English prose for benchmarks: paragraph-sized passages (about 64 words) from texts that Debian ships.

    from benchmarks.prose import paragraphs
    texts = paragraphs(10_000)          # list[str], the same texts in the same order on every run

The sources, each a Debian package (bookworm), fetched with `apt-get download` and unpacked with
`dpkg -x` into the cache folder (MAISKY_CACHE_DIR, else ~/.cache/maisky) under `prose-v1/`, once (a minute or two; about 80 MB of .deb files are kept):

| source (passages)                                     | package(s)                | licence                       |
|-------------------------------------------------------|---------------------------|-------------------------------|
| King James Bible, 1611 (12,335)                       | bible-kjv-text, bible-kjv | public domain; reader GPL-2+  |
| The Debian Administrator's Handbook, English (1,767)  | debian-handbook           | GPL-2+ or CC-BY-SA-3.0        |
| GCIDE: Webster's 1913 and WordNet (44,572)            | dict-gcide                | GPL-3+                        |
| Python 3.11 manual, Info (10,347)                     | python3.11-doc            | PSF licence                   |
| R manuals, Info (1,464)                               | r-doc-info                | GPL-2+; R Core's permissions  |
| Guile 3.0 reference manual, Info (1,889)              | guile-3.0-doc             | GFDL-1.3+, no invariant parts |
| PostgreSQL 15 manual, HTML (9,761)                    | postgresql-doc-15         | PostgreSQL licence            |
| Perl 5.36 manual pages, POD (6,716)                   | perl-doc                  | GPL-1+ or Artistic            |
| Debian Reference, English (666)                       | debian-reference-en       | GPL-2+                        |
| FOLDOC, computing dictionary (9,050)                  | dict-foldoc               | GPL-2+ (per its copyright)    |
| The Jargon File 4.4.7 (2,448)                         | dict-jargon               | public domain                 |
| Ambrose Bierce, The Devil's Dictionary (643)          | dict-devil                | public domain                 |

The King James text is compressed; the `bible` reader of bible-kjv decodes it (`bible -f -p usr/lib
gen1:1-rev22:21`). Each package's `copyright` file is kept beside its text in the cache folder. Nothing is vendored in
this repository: only the recipe. A host without apt (macOS) can place the same .deb files (from
packages.debian.org) in the cache folder's `prose-v1/debs/` by hand; `dpkg-deb` is then still needed.

The recipe, per source: the text is cut into its own paragraphs (a verse of scripture, a blank-line
paragraph of a manual, a dictionary entry's paragraphs with pronunciations, etymologies and
cross-reference braces removed); paragraphs that are not prose (code, tables, menus: many symbols,
few letters) are dropped; consecutive paragraphs of one chapter, manual node or run of entries are
joined until a passage holds at least 48 words (a paragraph over 96 words is cut at sentence ends
first). Sources are then taken in turn (one passage of each, round after round), so that any prefix
mixes them all; the whole list (101,260 passages, 6.6 million words, median 60 words a passage) is kept as JSON in the cache
folder with the package versions it came from. Same package versions, same passages.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.sources.corpus import Corpus

__all__ = ["PACKAGES", "paragraphs", "sentence_passages", "with_prose"]

VERSION = 1  # bump when the recipe changes what it makes
TARGET = 48  # a passage is closed once it holds this many words...
LONGEST = 96  # ...and a paragraph longer than this is cut at sentence ends first
PACKAGES = (
    "bible-kjv-text", "bible-kjv", "debian-handbook", "dict-gcide", "python3.11-doc", "r-doc-info", "guile-3.0-doc",
    "postgresql-doc-15", "perl-doc", "debian-reference-en", "dict-foldoc", "dict-jargon", "dict-devil",
)  # fmt: skip

_WS = re.compile(r"\s+")
_CODEISH = re.compile(r"[{}<>=\[\]|`\\#@$]|\.\.\.|>>>|::|--|\*\*|\w_\w+\(")  # a name like print() is prose
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“‘(]?[A-Z])")


def folder() -> Path:
    """Where the packages, their text and the passages are kept: `prose-v1` in the cache folder
    (MAISKY_CACHE_DIR, else XDG_CACHE_HOME or ~/.cache, /maisky: as bot.search.embedding's)."""
    env = os.environ.get("MAISKY_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "maisky"
    return base / f"prose-v{VERSION}"


def paragraphs(limit: int, min_words: int = 0) -> list[str]:
    """Up to `limit` passages of real prose, about 64 words each, sources interleaved (the first
    call downloads and unpacks the packages: a minute; later calls read the kept list)."""
    texts = _all()
    return [t for t in texts if len(t.split()) >= min_words][:limit] if min_words else texts[:limit]


def sentence_passages(limit: int, min_words: int = 0) -> list[str]:
    """The same as `paragraphs` (kept for callers of the old name: passages are now paragraphs)."""
    return paragraphs(limit, min_words)


def with_prose(corpus: Corpus, n: int, *, sentences: bool = False) -> Corpus:
    """`corpus` plus `n` passages of unrelated real prose (`paragraphs`), as one more source."""
    from bot.sources.corpus import Passage, Source

    del sentences  # passages are paragraph-sized whatever the caller asked
    source = Source("prose", "Real prose (scripture, dictionaries, manuals)", "Various", "Debian packages",
                    dt.date(2026, 1, 1), "https://packages.debian.org", "prose.toml")  # fmt: skip
    extra = tuple(Passage(f"prose.p{i}", source, i + 1, t, ()) for i, t in enumerate(paragraphs(n)))
    return replace(corpus, sources=(*corpus.sources, source), passages=(*corpus.passages, *extra))


def source_of(limit: int) -> list[str]:
    """Which source each of the first `limit` passages came from (for reports)."""
    kept = json.loads((folder() / "passages.json").read_text(encoding="utf-8"))
    return [kept["sources"][i] for i in kept["origin"][:limit]]


# building the list

_CACHE: list[str] | None = None


def _all() -> list[str]:
    global _CACHE
    if _CACHE is None:
        path = folder() / "passages.json"
        try:
            _CACHE = list(json.loads(path.read_text(encoding="utf-8"))["passages"])
        except (OSError, ValueError, KeyError):
            _CACHE = _build(folder())
    return _CACHE


def _build(root: Path) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    tree = _unpack(root)
    versions = {p: _deb_version(root / "debs", p) for p in PACKAGES}
    info = tree / "usr/share/info"
    readers: dict[str, Callable[[Path], Iterator[list[str]]]] = {
        "kjv": _kjv, "debian-handbook": _handbook, "gcide": lambda t: _dictd(t, "gcide"),
        "python-docs": lambda t: _info([info / "python3.11.info.gz"]),
        "r-manuals": lambda t: _info(sorted(info.glob("R-*.info*.gz"), key=_natural)),
        "guile-manual": lambda t: _info(sorted((info / "guile-3.0").glob("guile.info*.gz"), key=_natural)),
        "postgresql-manual": lambda t: _html(sorted((t / "usr/share/doc/postgresql-doc-15/html").glob("*.html"))),
        "perl-manual": lambda t: _pod(sorted((t / "usr/share/perl").glob("*/pod/*.pod"), key=_natural)),
        "debian-reference": lambda t: _html(sorted((t / "usr/share/debian-reference").glob("*.en.html"), key=_natural)),
        "foldoc": lambda t: _dictd(t, "foldoc"), "jargon": lambda t: _dictd(t, "jargon"),
        "devil": lambda t: _dictd(t, "devil"),
    }  # fmt: skip
    per_source = {name: _pack(read(tree)) for name, read in readers.items()}
    passages: list[str] = []
    origin: list[int] = []
    seen: set[str] = set()
    queues = [(k, iter(v)) for k, v in enumerate(per_source.values())]
    while queues:  # one passage of each source in turn: any prefix mixes them
        alive = []
        for k, it in queues:
            text = next(it, None)
            if text is None:
                continue
            alive.append((k, it))
            if text not in seen:
                seen.add(text)
                passages.append(text)
                origin.append(k)
        queues = alive
    out = {
        "version": VERSION, "packages": versions, "sources": list(per_source), "origin": origin,
        "counts": {name: len(v) for name, v in per_source.items()}, "passages": passages,
    }  # fmt: skip
    for name in PACKAGES:  # each text's licence beside it
        copyright_file = tree / "usr/share/doc" / name / "copyright"
        if copyright_file.is_file():
            shutil.copy(copyright_file, root / f"copyright-{name}")
    tmp = root / "passages.json.tmp"
    tmp.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, root / "passages.json")
    shutil.rmtree(tree, ignore_errors=True)  # 50 MB; the .deb files stay, to build again offline
    return passages


def _unpack(root: Path) -> Path:
    """The packages' files under `root/tree` (downloaded into `root/debs` first if missing)."""
    debs = root / "debs"
    debs.mkdir(exist_ok=True)
    missing = [p for p in PACKAGES if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        try:
            subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise SystemExit(
                f"benchmarks/prose.py needs the Debian packages {', '.join(missing)}: `apt-get download` failed "
                f"({detail!s:.300}). Put their .deb files in {debs} by hand and run again."
            ) from exc
    tree = root / "tree"
    if not (tree / ".done").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir()
        for p in PACKAGES:  # `dpkg -x`, less the handbook's 25 translations
            deb = str(next(debs.glob(f"{p}_*.deb")))
            with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE) as proc:
                assert proc.stdout is not None
                with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                    for member in tar:
                        wanted = "/debian-handbook/html/" not in member.name or "/html/en-US/" in member.name
                        if wanted and (member.isfile() or member.isdir()):  # links are not text
                            tar.extract(member, tree, filter="data")
            if proc.returncode:
                raise SystemExit(f"dpkg-deb could not read {deb}")
        (tree / ".done").touch()
    return tree


def _deb_version(debs: Path, package: str) -> str:
    return next(debs.glob(f"{package}_*.deb")).name.split("_")[1]


def _pack(blocks: Iterator[list[str]]) -> list[str]:
    """Each block's paragraphs joined into passages of at least TARGET words (what is left at a
    block's end joins its last passage, or is dropped when the block gave none)."""
    out: list[str] = []
    for block in blocks:
        units: list[str] = []
        for para in block:
            units.extend(_split(para) if len(para.split()) > LONGEST else [para])
        current: list[str] = []
        words = 0
        first = len(out)
        for unit in units:
            current.append(unit)
            words += len(unit.split())
            if words >= TARGET:
                out.append(" ".join(current))
                current, words = [], 0
        if current and len(out) > first and len(out[-1].split()) + words <= LONGEST + TARGET // 2:
            out[-1] = f"{out[-1]} {' '.join(current)}"
    return out


def _split(para: str) -> list[str]:
    """A long paragraph's sentences (a sentence over LONGEST words is left out: a list run together)."""
    return [s for s in _SENTENCE_END.split(para) if len(s.split()) <= LONGEST]


def _prose(text: str, min_words: int = 8) -> bool:
    """Sentences, not code, tables, menus or titles: ends as a sentence does, few symbols."""
    letters = sum(c.isalpha() or c == " " for c in text)
    return (
        len(text.split()) >= min_words
        and text[-1:] in '.!?:;"”’)'
        and not _CODEISH.search(text)
        and letters >= 0.8 * len(text)
    )


def _filled(lines: list[str]) -> bool:
    """Lines of running text (filled to about 70 columns), not an example or a verse: a body is
    indented by 5 spaces in a definition, its examples by 10."""
    if any(ln.startswith(" " * 10) for ln in lines):
        return False
    widths = sorted(len(ln) for ln in lines[:-1])
    return not widths or widths[len(widths) // 2] >= 50


def _natural(path: Path) -> list[object]:
    """File names in reading order: guile.info-2 before guile.info-10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


# the sources


def _kjv(tree: Path) -> Iterator[list[str]]:
    """Verses of each chapter, read with the package's own `bible` reader (the text is compressed)."""
    out = subprocess.run(
        [str(tree / "usr/bin/bible"), "-f", "-p", str(tree / "usr/lib"), "gen1:1-rev22:21"],
        check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    ).stdout  # fmt: skip
    verse = re.compile(r"^(\d?[A-Za-z]+\d+):\d+ (.*)$")
    chapter, verses = "", list[str]()
    for line in out.splitlines():
        m = verse.match(line)
        if not m:
            continue
        if m[1] != chapter and verses:
            yield verses
            verses = []
        chapter = m[1]
        verses.append(_WS.sub(" ", m[2]).strip())
    if verses:
        yield verses


def _b64(text: str) -> int:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for c in text:
        n = n * 64 + alphabet.index(c)
    return n


_PRONUNCIATION = re.compile(r"\\[^\\]*\\")  # gcide: \Ab*do"men\
_BRACKETS = re.compile(r"\[[^\]]*\]")  # etymologies, [1913 Webster], [R.], [IBM]
_ANGLES = re.compile(r"<[^>]*>")  # foldoc: <humour>
_SLASHES = re.compile(r"(?<!\S)/[^/\n]{1,40}/(?=[,.\s])")  # jargon/foldoc pronunciations: /bler'gl/
_ATTRIBUTION = re.compile(r"\s--\s?[A-Z][\w. ]{0,30}\.")  # gcide: --Bailey.


def _dictd(tree: Path, name: str) -> Iterator[list[str]]:
    """A dictd dictionary's entries in index order, each as its prose paragraphs; runs of 50
    entries are one block (neighbouring entries join into one passage)."""
    data = gzip.decompress((tree / "usr/share/dictd" / f"{name}.dict.dz").read_bytes())
    seen: set[int] = set()
    block: list[str] = []
    entries = 0
    for line in (tree / "usr/share/dictd" / f"{name}.index").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith(("00-database", "00database")):
            continue
        start, size = _b64(parts[1]), _b64(parts[2])
        if start in seen:
            continue
        seen.add(start)
        entry = data[start : start + size].decode("utf-8", errors="replace")
        if "00-database" in entry:
            continue  # the dictionary's own header
        block.extend(_entry_paragraphs(entry))
        entries += 1
        if entries % 50 == 0 and block:
            yield block
            block = []
    if block:
        yield block


def _entry_paragraphs(entry: str) -> list[str]:
    out = []
    for raw in re.split(r"\n\s*\n", entry):
        lines = [ln for ln in raw.splitlines() if ln.strip()]
        if not lines or any(ln.startswith("        ") for ln in lines):
            continue  # verse, tables and code are indented further than prose
        text = " ".join(ln.strip() for ln in lines)
        text = _PRONUNCIATION.sub("", text)
        text = _BRACKETS.sub("", text)
        text = _ANGLES.sub("", text)
        text = _SLASHES.sub("", text)
        text = _ATTRIBUTION.sub("", text)
        text = text.replace("{", "").replace("}", "").replace("--", " - ")
        text = _WS.sub(" ", text).strip()
        text = re.sub(r"\s+([,.;:])", r"\1", text)
        if _prose(text, 4):  # "Abdicator, n. One who abdicates.": short entries join their neighbours
            out.append(text)
    return out


_NOTE = re.compile(r"\*[Nn]ote\s+([^:]{1,80}?):(?::|\s*[^\s.,]{1,40}[.,])")  # *note gcd(): 59d.
_FOOTNOTE = re.compile(r"\(\d{1,2}\)")
_EMPHASIS = re.compile(r"(?<!\w)[_*]([A-Za-z][\w' -]{0,40}?)[_*](?!\w)")  # Texinfo's _command history_, *not*


def _info(files: list[Path]) -> Iterator[list[str]]:
    """Info manuals' nodes, each as its prose paragraphs (examples, menus, titles and footnotes dropped)."""
    for path in files:
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        for node in text.split("\x1f"):
            paras = []
            for raw in re.split(r"\n\s*\n", node.split("---------- Footnotes ----------")[0]):
                lines = [ln for ln in raw.splitlines() if ln.strip()]
                if not lines or lines[0].lstrip().startswith(("File:", "* ")) or not _filled(lines):
                    continue
                joined = _WS.sub(" ", " ".join(ln.strip() for ln in lines)).strip()
                joined = _NOTE.sub(r"\1", joined)
                joined = _FOOTNOTE.sub("", joined)
                joined = _EMPHASIS.sub(r"\1", joined)
                joined = re.sub(r"[‘']([^’']{1,40})[’']", r"\1", joined)  # Info quotes every name: ‘print()’
                joined = _WS.sub(" ", joined).strip()
                if _prose(joined):
                    paras.append(joined)
            if paras:
                yield paras


class _Paragraphs(HTMLParser):
    """The text of each paragraph of a page (`<p>`, or DocBook's `<div class="para">`); one holding
    <pre> or a table is not prose."""

    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []
        self._open: list[str] = []  # the paragraph's own tag, then any of the same name inside it
        self._code = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        para = tag == "p" or (tag == "div" and "para" in (dict(attrs).get("class") or "").split())
        if not self._open and para:
            self._open, self._text, self._code = [tag], [], False
        elif self._open:
            if tag == self._open[0]:
                self._open.append(tag)
            elif tag in ("pre", "table"):  # an inline <code> name is still prose
                self._code = True

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == self._open[0]:
            self._open.pop()
            if not self._open and not self._code:
                self.out.append(_WS.sub(" ", "".join(self._text)).strip())

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)


def _handbook(tree: Path) -> Iterator[list[str]]:
    """The Debian Administrator's Handbook in English: each page's prose paragraphs."""
    return _html(sorted((tree / "usr/share/doc/debian-handbook/html/en-US").glob("*.html")))


def _html(pages: list[Path]) -> Iterator[list[str]]:
    """Each HTML page's prose paragraphs."""
    for page in pages:
        parser = _Paragraphs()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        paras = [p for p in parser.out if _prose(p)]
        if paras:
            yield paras


_POD_CODE = re.compile(r"[A-Z]<(?:<+\s(.*?)\s>+|([^<>]*))>")
_POD_ESCAPES = {"gt": ">", "lt": "<", "verbar": "|", "sol": "/"}


def _pod_text(text: str) -> str:
    """POD's formatting codes undone: C<open> is open, L<text|perlfunc> is text, E<gt> is >."""
    for _ in range(4):  # codes nest: I<C<open>>
        text = _POD_CODE.sub(lambda m: _pod_inner(m[0][0], m[1] if m[1] is not None else m[2]), text)
    return text


def _pod_inner(code: str, inner: str) -> str:
    if code == "E":
        return _POD_ESCAPES.get(inner, "")
    if code == "L":
        return inner.split("|")[0] if "|" in inner else inner.split("/")[-1].strip('"')
    return "" if code in "XZ" else inner


def _pod(files: list[Path]) -> Iterator[list[str]]:
    """Perl's manual pages (POD): each section's ordinary paragraphs (commands and indented
    verbatim code dropped, and anything between =begin and =end)."""
    for path in files:
        paras: list[str] = []
        skipping = False
        for raw in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            if raw.startswith("=begin"):
                skipping = True
            elif raw.startswith("=end"):
                skipping = False
            elif raw.startswith("=head") and paras:
                yield paras
                paras = []
            if skipping or not raw.strip() or raw[0] in "= \t":
                continue
            text = _WS.sub(" ", _pod_text(raw)).strip()
            if _prose(text):
                paras.append(text)
        if paras:
            yield paras


def _main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Build (once) and show the real-prose benchmark corpus.")
    ap.add_argument("--show", type=int, default=6, help="passages to print")
    args = ap.parse_args()
    texts = _all()
    kept = json.loads((folder() / "passages.json").read_text(encoding="utf-8"))
    words = [len(t.split()) for t in texts]
    print(f"{len(texts):,} passages, {sum(words):,} words, median {sorted(words)[len(words) // 2]} words; "
          f"kept in {folder()}")  # fmt: skip
    print("per source:", ", ".join(f"{k} {v:,}" for k, v in kept["counts"].items()))
    print("packages:", ", ".join(f"{k} {v}" for k, v in kept["packages"].items()))
    for t, s in zip(texts[: args.show], source_of(args.show), strict=True):
        print(f"\n[{s}] {t}")


if __name__ == "__main__":
    _main()
