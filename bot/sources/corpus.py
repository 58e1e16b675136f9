"""The corpus: sources, passages, quotations and people, loaded from TOML and validated."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.errors import CorpusError

__all__ = ["Corpus", "Correction", "Cue", "Passage", "Person", "Quote", "Source", "load_corpus", "load_people"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DEFAULT_EXCERPT_WORDS = 100  # words of one passage a reply shows from a copyrighted source
SPECIAL_FILES = ("people.toml", "lexicon.toml")
OWN_TEXT = 0.9  # share of a passage a person's quotations must fill for it to count as their own text


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    author: str
    publication: str
    date: dt.date
    url: str
    file: str
    standfirst: str = ""
    author_note: str = ""
    section: str = ""
    photo_credit: str = ""
    notes: str = ""
    licence: str = ""
    retrieved: bool = False  # `date` is the day the text was retrieved (a web page with no publication date)
    copyright: bool = False  # replies show at most `excerpt_words` words of one passage
    excerpt_words: int = 0


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    aliases: tuple[str, ...]
    listed: bool = True
    pronoun: str = ""  # "he", "she" or "they" where people.toml says: which follow-up ("who was she?") means them


@dataclass(frozen=True)
class Quote:
    text: str
    speaker: str  # a people.toml id; "" when the source names no speaker (shown as quoted in the source)
    context: str = ""
    daily: bool = True  # False: never posted on its own (daily posts, quote, quiz), nor any excerpt holding it
    content_note: str = ""  # a curator's note shown with any reply that shows this quotation


@dataclass(frozen=True)
class Correction:
    original: str
    corrected: str


@dataclass(frozen=True)
class Passage:
    id: str
    source: Source
    paragraph: int
    text: str
    quotes: tuple[Quote, ...]
    keywords: str = ""
    date: str = ""
    caption: bool = False
    corrections: tuple[Correction, ...] = ()
    section: str = ""  # the heading the passage stands under, if the source has headings

    def own_words(self, person: str) -> bool:
        """Whether the passage is `person`'s own text: their quotations fill (nearly) all of it, so an
        editor's commentary that quotes them is never introduced as theirs. The one rule for whose
        words a passage is (the opener, the attribution, `ask --json`'s speaker all follow it)."""
        if self.caption:
            return False
        covered = [False] * len(self.text)
        for q in self.quotes:
            start = self.text.find(q.text) if q.speaker == person else -1
            if start >= 0:  # nested quotations overlap: count each character once
                covered[start : start + len(q.text)] = [True] * len(q.text)
        return sum(covered) >= OWN_TEXT * len(self.text.strip().strip('“”"‘’ '))


Cue = tuple[tuple[str, ...], str, bool, bool]
"""A lexicon cue: its words, the term it adds, whether that counts as evidence, and whether every
word must be in the question (`when_all`) rather than one of them (`when_any`)."""


@dataclass(frozen=True)
class Corpus:
    """`passages` is a tuple when loaded from the seed files, and a sequence read from a file when
    loaded from the cache (bot/sources/stored.py: each passage built when first asked for)."""

    sources: tuple[Source, ...]
    passages: Sequence[Passage]
    people: Mapping[str, Person]
    synonyms: tuple[tuple[str, ...], ...]
    cues: tuple[Cue, ...] = ()

    def _position(self, passage_id: str) -> int | None:
        find = getattr(self.passages, "position", None)  # a stored corpus looks ids up without building passages
        if find is not None:
            found: int | None = find(passage_id)
            return found
        return self._places.get(passage_id)

    @cached_property
    def _places(self) -> dict[str, int]:
        return {p.id: i for i, p in enumerate(self.passages)}

    def passage(self, passage_id: str) -> Passage:
        i = self._position(passage_id)
        if i is None:
            raise KeyError(passage_id)
        return self.passages[i]

    def has_passage(self, passage_id: str) -> bool:
        """Whether some passage has this id."""
        return self._position(passage_id) is not None

    def source_numbers(self) -> Sequence[int]:
        """Each passage's source, as its place in `sources`."""
        numbers = getattr(self.passages, "source_numbers", None)
        if numbers is not None:
            found: Sequence[int] = numbers()
            return found
        where = {id(s): i for i, s in enumerate(self.sources)}
        return [where[id(p.source)] for p in self.passages]

    def count(self, source: Source) -> int:
        i = next((i for i, s in enumerate(self.sources) if s is source), None)
        return 0 if i is None else sum(1 for k in self.source_numbers() if k == i)


class _Reader:
    """Typed field access that names the file, passage and field on any error."""

    def __init__(self, file: str, passage: str | None = None) -> None:
        self.file = file
        self.passage = passage

    def fail(self, message: str, field: str | None = None) -> CorpusError:
        return CorpusError(self.file, message, passage=self.passage, field=field)

    def table(self, data: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail("must be a table", field)
        return data

    def text(self, data: Mapping[str, Any], field: str, *, required: bool = True) -> str:
        value = data.get(field)
        if value is None:
            if required:
                raise self.fail("is missing", field)
            return ""
        if not isinstance(value, str):
            raise self.fail(f"must be text, not {type(value).__name__}", field)
        if required and not value.strip():
            raise self.fail("is empty", field)
        return value

    def ident(self, data: Mapping[str, Any], field: str) -> str:
        value = self.text(data, field)
        if not _ID.match(value):
            raise self.fail(f"{value!r} must be lower-case letters, digits and dashes", field)
        return value

    def items(self, data: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
        value = data.get(field, [])
        if not isinstance(value, list):
            raise self.fail("must be a list of tables", field)
        return [self.table(v, field) for v in value]

    def unknown(self, data: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
        extra = sorted(set(data) - set(allowed))
        if extra:
            raise self.fail(f"unknown field in {what} (allowed: {', '.join(sorted(allowed))})", extra[0])


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(path.name, f"is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise CorpusError(path.name, f"cannot be read: {exc.strerror}") from exc


def load_people(path: Path) -> dict[str, Person]:
    """Read and check people.toml."""
    data = _read_toml(path)
    people: dict[str, Person] = {}
    for pid, entry in data.items():
        r = _Reader(path.name, pid)
        if not _ID.match(pid):
            raise r.fail(f"person id {pid!r} must be lower-case letters, digits and dashes")
        entry = r.table(entry, pid)
        r.unknown(entry, ("name", "aliases", "listed", "pronoun"), "a person")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise r.fail("must be a list of non-empty texts", "aliases")
        listed = entry.get("listed", True)
        if not isinstance(listed, bool):
            raise r.fail("must be true or false", "listed")
        pronoun = entry.get("pronoun", "")
        if pronoun not in ("", "he", "she", "they"):
            raise r.fail("must be he, she or they", "pronoun")
        people[pid] = Person(pid, r.text(entry, "name"), tuple(aliases), listed, pronoun)
    return people


def _load_lexicon(path: Path) -> tuple[tuple[tuple[str, ...], ...], tuple[Cue, ...]]:
    if not path.exists():
        return (), ()
    data = _read_toml(path)
    r = _Reader(path.name)
    r.unknown(data, ("synonyms", "cue"), "the lexicon")
    cues = []
    for cue in r.items(data, "cue"):
        r.unknown(cue, ("when_any", "when_all", "adds", "evidence"), "a cue")
        if ("when_any" in cue) == ("when_all" in cue):
            raise r.fail("needs either when_any (one of the words) or when_all (every word)", "cue.when_any")
        key = "when_all" if "when_all" in cue else "when_any"
        when = cue[key]
        if not isinstance(when, list) or not when or not all(isinstance(w, str) and w.strip() for w in when):
            raise r.fail("must be a non-empty list of words", f"cue.{key}")
        evidence = cue.get("evidence", False)
        if not isinstance(evidence, bool):
            raise r.fail("must be true or false", "cue.evidence")
        cues.append((tuple(when), r.text(cue, "adds"), evidence, key == "when_all"))
    groups = data.get("synonyms", [])
    if not isinstance(groups, list):
        raise r.fail("must be a list of lists of words", "synonyms")
    out = []
    for group in groups:
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(w, str) and w.strip() for w in group):
            raise r.fail(f"each group needs two or more words, got {group!r}", "synonyms")
        out.append(tuple(group))
    return tuple(out), tuple(cues)


def _load_source(path: Path, people: Mapping[str, Person]) -> tuple[Source, list[Passage]]:
    data = _read_toml(path)
    r = _Reader(path.name)
    r.unknown(data, ("source", "passage"), "the file")
    head = r.table(data.get("source"), "source")
    r.unknown(
        head,
        (
            "id",
            "title",
            "author",
            "publication",
            "date",
            "retrieved",
            "url",
            "standfirst",
            "author_note",
            "section",
            "photo_credit",
            "notes",
            "licence",
            "copyright",
            "excerpt_words",
        ),
        "[source]",
    )
    copyrighted = head.get("copyright", False)
    if not isinstance(copyrighted, bool):
        raise r.fail("must be true or false", "source.copyright")
    cap = head.get("excerpt_words", DEFAULT_EXCERPT_WORDS if copyrighted else 0)
    if not isinstance(cap, int) or isinstance(cap, bool) or (copyrighted and cap < 20) or cap < 0:
        raise r.fail("must be a whole number of words, at least 20", "source.excerpt_words")
    if "date" in head and "retrieved" in head:
        raise r.fail("give the publication `date` or, for a page without one, the day it was `retrieved`, not both")
    field = "retrieved" if "retrieved" in head else "date"
    date = head.get(field)
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise r.fail("must be a TOML date such as 2015-10-07", f"source.{field}")
    url = r.text(head, "url")
    if not url.startswith(("http://", "https://")):
        raise r.fail("must start with http:// or https://", "source.url")
    source = Source(
        id=r.ident(head, "id"),
        title=r.text(head, "title"),
        author=r.text(head, "author"),
        publication=r.text(head, "publication"),
        date=date,
        url=url,
        file=path.name,
        standfirst=r.text(head, "standfirst", required=False),
        author_note=r.text(head, "author_note", required=False),
        section=r.text(head, "section", required=False),
        photo_credit=r.text(head, "photo_credit", required=False),
        notes=r.text(head, "notes", required=False),
        licence=r.text(head, "licence", required=False),
        retrieved=field == "retrieved",
        copyright=copyrighted,
        excerpt_words=cap if copyrighted else 0,
    )
    entries = r.items(data, "passage")
    if not entries:
        raise r.fail("has no [[passage]] entries", "passage")
    passages = [_load_passage(path.name, source, entry, people) for entry in entries]
    return source, passages


def _load_passage(file: str, source: Source, entry: Mapping[str, Any], people: Mapping[str, Person]) -> Passage:
    pid = entry.get("id")
    r = _Reader(file, pid if isinstance(pid, str) else None)
    r.unknown(
        entry, ("id", "paragraph", "caption", "date", "section", "text", "keywords", "quote", "correction"), "a passage"
    )
    pid = r.ident(entry, "id")
    paragraph = entry.get("paragraph")
    if not isinstance(paragraph, int) or isinstance(paragraph, bool) or paragraph < 1:
        raise r.fail("must be a whole number from 1", "paragraph")
    caption = entry.get("caption", False)
    if not isinstance(caption, bool):
        raise r.fail("must be true or false", "caption")
    text = r.text(entry, "text").strip()
    quotes = []
    for q in r.items(entry, "quote"):
        r.unknown(q, ("text", "speaker", "context", "daily", "content_note"), "a quote")
        qtext = r.text(q, "text")
        if qtext not in text:
            raise r.fail(f"is not verbatim in the passage text: {qtext[:60]!r}", "quote.text")
        speaker = r.text(q, "speaker", required=False)  # none: the source names no speaker
        if speaker and speaker not in people:
            raise r.fail(f"{speaker!r} is not in people.toml", "quote.speaker")
        daily = q.get("daily", True)
        if not isinstance(daily, bool):
            raise r.fail("must be true or false", "quote.daily")
        note = r.text(q, "content_note", required=False)
        if "content_note" in q and not note.strip():
            raise r.fail("is empty (leave it out, or say what the reader should know)", "quote.content_note")
        context = r.text(q, "context", required=bool(speaker))
        quotes.append(Quote(qtext, speaker, context, daily, note.strip()))
    corrections = []
    for c in r.items(entry, "correction"):
        r.unknown(c, ("original", "corrected"), "a correction")
        fixed = Correction(r.text(c, "original"), r.text(c, "corrected"))
        if fixed.corrected not in text:
            raise r.fail(f"{fixed.corrected!r} does not occur in the passage text", "correction.corrected")
        corrections.append(fixed)
    if not re.search(r"\w", text):
        raise r.fail("has no words", "text")
    return Passage(
        id=f"{source.id}.{pid}",
        source=source,
        paragraph=paragraph,
        text=text,
        quotes=tuple(quotes),
        keywords=r.text(entry, "keywords", required=False),
        date=r.text(entry, "date", required=False),
        caption=caption,
        corrections=tuple(corrections),
        section=r.text(entry, "section", required=False),
    )


def load_corpus(folder: Path) -> Corpus:
    """Load and validate every source in `folder`; raise CorpusError naming what is wrong."""
    if not folder.is_dir():
        raise CorpusError(str(folder), "is not a folder of seed files")
    people_file = folder / "people.toml"
    if not people_file.exists():
        raise CorpusError("people.toml", f"is missing from {folder}")
    people = load_people(people_file)
    synonyms, cues = _load_lexicon(folder / "lexicon.toml")
    sources: list[Source] = []
    passages: list[Passage] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        if path.name in SPECIAL_FILES:
            continue
        source, found = _load_source(path, people)
        if source.id in {s.id for s in sources}:
            raise CorpusError(path.name, f"source id {source.id!r} is used by another file too", field="source.id")
        for p in found:
            if p.id in seen:
                raise CorpusError(path.name, f"duplicate passage id (also in {seen[p.id]})", passage=p.id, field="id")
            seen[p.id] = path.name
        sources.append(source)
        passages.extend(found)
    if not sources:
        raise CorpusError(str(folder), "holds no source documents (*.toml besides people.toml and lexicon.toml)")
    return Corpus(tuple(sources), tuple(passages), people, synonyms, cues)
