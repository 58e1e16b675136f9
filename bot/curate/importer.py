"""The importer: drafts a source file for seeds/ from documents, with a report for the curator.

Passages are the text's paragraphs, verbatim. Headings become the passages' `section`; page
furniture is dropped and every drop or mend is reported; a short paragraph that introduces a
quotation (ending in a colon) joins it; a very long paragraph is split at sentence ends outside
quotations. Passage ids come from each passage's own opening words, so importing the same text
again gives the same ids. Quotations are recorded verbatim; a speaker is set only where the text
names one unambiguously (`bot.curate.quotations`). The draft is checked by the corpus loader itself.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import re
import shutil
import tempfile
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot.curate.formats import FORMATS, Change, Document, read_document
from bot.curate.quotations import Span, attribute, find_spans, speaker_names
from bot.errors import CorpusError, ImportFileError
from bot.sources.corpus import DEFAULT_EXCERPT_WORDS, SPECIAL_FILES, Person, load_corpus, load_people

__all__ = [
    "DEFAULT_EXCERPT_WORDS",
    "MAX_WORDS",
    "Draft",
    "DraftPassage",
    "DraftQuote",
    "Provenance",
    "Report",
    "collect_files",
    "draft_source",
    "existing_ids",
    "is_copyright",
    "run_import",
    "slug",
    "validate",
]  # fmt: skip

MAX_WORDS = 250  # a longer paragraph is split at sentence ends into passages of about equal length
JOIN_WORDS = 80  # an introducing paragraph longer than this stays on its own

_FURNITURE = re.compile(
    r"^(?:(?:fb-pixel\s+)?skip to (?:main )?content|advertisement|advertisements?|sponsored(?: content)?"
    r"|read more|read next|read: .+|related: .+|related (?:stories|articles)|continue reading|share(?: this)?"
    r"(?: (?:article|story|page))?|print|email|subscribe(?: now)?|sign up.*|log ?in|menu|search|back to top"
    r"|click here.*|photo: .+|image: .+|listen to this article.*|\d+\s*(?:min|minute) read)$",
    re.IGNORECASE,
)
_GLUED_CREDIT = re.compile(
    r"(?<=[.!?”’\"])(?P<credit>(?:Courtesy of|Photograph by|Photographed by|Photo by|Photo:|Credit:|Image:)"
    r"\s[^.!?]{2,90}"
    r"|(?:AP|AFP|Reuters|Getty Images|Associated Press)(?:/[^.!?]{1,60})?)$"
)
_OPENING_MARK = re.compile(r"^\s*[“\"‘']")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "sept", "sep", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "oct", "nov",
    "dec", "gen", "col", "lt", "capt", "prof", "rev", "no", "vs", "etc", "e.g", "i.e", "cf", "vol", "pp", "p", "ch",
}  # fmt: skip
_SENTENCE_GAP = re.compile(r"(?<=[.!?])[”’\"')\]]*(\s+)(?=[“‘\"'(\[]?[A-Z0-9])")

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_MONTH = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December|" \
    r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept\.|Sep\.|Oct\.|Nov\.|Dec\.)"  # fmt: skip
_YEAR = r"(?P<year>1[0-9]{3}|20[0-9]{2})(?![0-9])"
_DATES = (  # most precise first
    ("day", re.compile(rf"\b{_MONTH},?\s+(?P<day>[0-3]?[0-9])(?:st|nd|rd|th)?,?\s+{_YEAR}")),
    ("day", re.compile(rf"\b(?P<day>[0-3]?[0-9])(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}")),
    ("month", re.compile(rf"\b{_MONTH},?\s+{_YEAR}")),
    (
        "year",
        re.compile(rf"\b(?:[Ii]n|[Dd]uring|[Bb]y|[Ss]ince|[Uu]ntil|[Ee]arly|[Ll]ate)\s+(?:the\s+)?{_YEAR}\b(?!s)"),
    ),
    ("decade", re.compile(r"\b(?:[Ii]n|[Oo]f|[Dd]uring)\s+the\s+(?P<year>1[0-9]{2}0s|20[0-9]0s)\b")),
)
_NAME = re.compile(
    r"(?<![\w’'])(?:[A-Z][a-z’'-]+|[A-Z]\.(?:[A-Z]\.)*)(?:\s+(?:[A-Z][a-z’'-]+|[A-Z]\.(?:[A-Z]\.)*|of|de|von|van|du|la|le))*"
    r"(?<![’'])"
)
_CONNECTORS = {"of", "de", "von", "van", "du", "la", "le"}
_FUNCTION_WORDS = set(  # capitalised at a sentence's start, never a name, nor the start of one
    "A An The And But Or If In On At Of To For By From With As So Yet He She It They We I You His Her Its Their Our "
    "My This That These Those There Here When Where What Why How Who Whom Which While After Before Although Though "
    "Like Unlike Instead No Not Then Now One Two Three Four Five Six Seven Eight Nine Ten Among During Following "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August "
    "September October November December Sept Oct Nov Dec Jan Feb Aug".split()
)
_NOT_NAMES = _FUNCTION_WORDS | set(  # alone, not a name; in front of one, part of it (Soviet Union, Lord Byron)
    "Mr Mrs Ms Dr Sir Lord Lady Russian Soviet British English German French American Americans Germans Russians "
    "Jewish Polish Christian Orthodox Socialist Socialists Communist Nazi Nazis Nazism Conservatives Allies Marxist "
    "Mensheviks Menshevik Stalinist Tsar King Queen President Prime Minister Ambassador Foreign Secretary "
    "Professor".split()
)


@dataclass(frozen=True)
class Provenance:
    """What the curator says about the document."""

    id: str
    title: str
    author: str
    publication: str
    date: dt.date
    url: str
    licence: str
    copyright: bool = False
    excerpt_words: int = 0
    notes: str = ""
    retrieved: bool = False  # `date` is the day the text was retrieved, not a publication date


@dataclass(frozen=True)
class DraftQuote:
    text: str
    speaker: str  # "" when the text does not say unambiguously
    rule: str = ""


@dataclass(frozen=True)
class DraftPassage:
    id: str
    paragraph: int
    text: str
    section: str = ""
    caption: bool = False
    date: str = ""
    quotes: tuple[DraftQuote, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class Draft:
    provenance: Provenance
    passages: tuple[DraftPassage, ...]
    changes: tuple[Change, ...]
    files: tuple[str, ...]
    photo_credit: str = ""
    unknown_speakers: tuple[tuple[str, str], ...] = ()  # (name, passage id)
    unknown_names: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, passage ids)
    dates: tuple[tuple[str, str], ...] = ()  # (passage id, every date found in it)
    standfirst: str = ""

    def toml(self) -> str:
        """The draft in the seeds/ format (seeds/README.md)."""
        p = self.provenance
        out = [
            f"# Drafted by `maisky import` from {', '.join(self.files)}; review it (seeds/README.md).",
            "# Quotations without a speaker are shown as quoted in this source, naming no one.",
            "",
            "[source]",
            f"id = {_s(p.id)}",
            f"title = {_s(p.title)}",
            *([f"standfirst = {_s(self.standfirst)}"] if self.standfirst else []),
            f"author = {_s(p.author)}",
            f"publication = {_s(p.publication)}",
            f"{'retrieved' if p.retrieved else 'date'} = {p.date.isoformat()}",
            f"url = {_s(p.url)}",
            f"licence = {_s(p.licence)}",
        ]
        if p.copyright:
            out.append("copyright = true")
            out.append(f"excerpt_words = {p.excerpt_words or DEFAULT_EXCERPT_WORDS}")
        if self.photo_credit:
            out.append(f"photo_credit = {_s(self.photo_credit)}")
        notes = p.notes or f"Imported with `maisky import` from {', '.join(self.files)}."
        out.append(f"notes = {_s(notes)}")
        for passage in self.passages:
            out += ["", "[[passage]]", f"id = {_s(passage.id)}", f"paragraph = {passage.paragraph}"]
            if passage.section:
                out.append(f"section = {_s(passage.section)}")
            if passage.caption:
                out.append("caption = true")
            if passage.date:
                out.append(f"date = {_s(passage.date)}")
            out.append(f"text = {_multiline(passage.text)}")
            for q in passage.quotes:
                out += ["[[passage.quote]]", f"text = {_s(q.text)}"]
                if q.speaker:
                    out += [f"speaker = {_s(q.speaker)}", 'context = "as quoted in this source"']
        return "\n".join(out) + "\n"


def _s(text: str) -> str:
    """A TOML basic string (JSON's escapes are all valid TOML; TOML also forbids a raw DEL)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _multiline(text: str) -> str:
    if "'''" not in text and not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text) and not text.endswith("'"):
        return "'''\n" + text + "'''"
    return _s(text)


def is_copyright(licence: str) -> bool:
    """Whether a licence text marks the source as copyrighted (all rights reserved)."""
    low = licence.lower()
    return "©" in licence or "copyright" in low or "all rights reserved" in low


def slug(text: str, words: int = 6, limit: int = 48) -> str:
    """Lower-case ASCII words joined by dashes: a passage id from its opening words."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    parts = re.findall(r"[a-z0-9]+", folded)[:words]
    out = ""
    for part in parts:
        if out and len(out) + 1 + len(part) > limit:
            break
        out = f"{out}-{part}" if out else part[:limit]
    return out or "passage"


@dataclass
class _Para:
    text: str
    paragraph: int
    section: str
    caption: bool = False
    quoted: bool = False
    where: str = ""
    quoted_from: int = -1  # where a block quotation without marks starts in `text`


def _same(a: str, b: str) -> bool:
    def norm(t: str) -> str:
        t = t.translate(str.maketrans("‘’“”", "''\"\""))
        return re.sub(r"\s+", " ", t).strip().lower()

    return norm(a) == norm(b)


def _paragraphs(docs: Sequence[Document], prov: Provenance, changes: list[Change]) -> tuple[list[_Para], str, str]:
    """Body paragraphs with their sections, furniture dropped and glued credits cut off; the photo
    credit and the standfirst (a short unpunctuated line right after the title, as newspapers have)."""
    out: list[_Para] = []
    credits: list[str] = []
    number = 0
    standfirst = ""
    after_title = False
    for doc in docs:
        section = ""
        where_file = doc.path.name if len(docs) > 1 else ""
        changes.extend(replace(c, where=_at(where_file, c.where)) for c in doc.changes)
        for block in doc.blocks:
            text = block.text.strip()
            where = _at(where_file, block.where)
            if not text:
                continue
            if _same(text, prov.title):
                changes.append(Change("dropped the title, repeated in the text", text, where))
                after_title = not out
                continue
            if (
                after_title
                and not block.heading
                and not standfirst
                and len(text.split()) <= 30
                and not re.search(r"[.!?:;…]$", text)
            ):
                changes.append(Change("took the line after the title as the standfirst", text, where))
                standfirst = text
                continue
            after_title = False
            if prov.url and prov.url in text:
                changes.append(Change("dropped a provenance line (it repeats the source's URL)", text, where))
                continue
            if not re.search(r"\w", text):
                changes.append(Change("dropped a line with no words (a separator or ornament)", text, where))
                continue
            if block.heading:
                section = text
                continue
            if len(text.split()) <= 8 and _FURNITURE.match(text):
                changes.append(Change("dropped page furniture", text, where))
                continue
            if re.fullmatch(r"\d{1,4}", text):
                changes.append(Change("dropped a page number", text, where))
                continue
            caption = block.caption
            glued = _GLUED_CREDIT.search(text)
            if glued:
                credit = glued.group("credit")
                changes.append(Change("cut a photo credit glued to a caption", credit, where))
                credits.append(credit.strip())
                text = text[: glued.start()].rstrip()
                caption = True
            number += 1
            out.append(_Para(text, number, section, caption, block.quoted, where))
    credit = credits[0] if credits and all(c == credits[0] for c in credits) else "; ".join(dict.fromkeys(credits))
    return out, credit, standfirst


def _at(file: str, where: str) -> str:
    return ", ".join(x for x in (file, where) if x)


def _join(paras: list[_Para], changes: list[Change]) -> list[_Para]:
    """A short paragraph ending in a colon joins the quotation that follows it."""
    out: list[_Para] = []
    i = 0
    while i < len(paras):
        p = paras[i]
        nxt = paras[i + 1] if i + 1 < len(paras) else None
        if (
            nxt is not None
            and not p.quoted
            and p.text.rstrip().endswith(":")
            and len(p.text.split()) <= JOIN_WORDS
            and (nxt.quoted or _OPENING_MARK.match(nxt.text))
            and p.section == nxt.section
        ):
            start = len(p.text) + 2 if nxt.quoted else -1
            joined = _Para(p.text + "\n\n" + nxt.text, p.paragraph, p.section, p.caption, False, p.where, start)
            changes.append(
                Change("joined an introducing paragraph to the quotation it introduces", _short(p.text), p.where)
            )
            out.append(joined)
            i += 2
            continue
        out.append(replace(p, quoted_from=0) if p.quoted else p)
        i += 1
    return out


def _short(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _sentence_ends(text: str, spans: Sequence[Span]) -> list[int]:
    """Positions where a new sentence starts, outside every quotation."""
    inside = _covered([(s.open_at, s.close_at) for s in spans])
    cuts = []
    for m in _SENTENCE_GAP.finditer(text):
        before = re.search(r"([\w.]+)[.!?][”’\"')\]]*$", text[max(0, m.start(1) - 80) : m.start(1)])
        word = before.group(1).lower() if before else ""
        if word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", word):
            continue
        at = m.end(1)
        k = bisect.bisect_left(inside, (at,)) - 1
        if k >= 0 and inside[k][0] < at <= inside[k][1]:
            continue
        cuts.append(at)
    return cuts


def _covered(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping (open, close) intervals merged, in order."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _split(paras: list[_Para], changes: list[Change]) -> list[_Para]:
    out: list[_Para] = []
    for p in paras:
        starts = [m.start() for m in re.finditer(r"\S+", p.text)]  # where each word starts
        words = len(starts)
        if words <= MAX_WORDS or "\n\n" in p.text:
            out.append(p)
            continue
        target = words / math.ceil(words / MAX_WORDS)
        pieces: list[str] = []
        start = 0
        for at in _sentence_ends(p.text, _spans(p)):
            before = bisect.bisect_left(starts, at) - bisect.bisect_left(starts, start)
            after = words - bisect.bisect_left(starts, at)
            if before >= target and after >= 20:
                pieces.append(p.text[start:at].rstrip())
                start = at
        pieces.append(p.text[start:].strip())
        if len(pieces) > 1:
            changes.append(
                Change(f"split a {words}-word paragraph into {len(pieces)} passages", _short(p.text), p.where)
            )
        out.extend(_Para(t, p.paragraph, p.section, p.caption, False, p.where) for t in pieces)
    return out


def _spans(p: _Para) -> list[Span]:
    """Quoted spans; a block quotation without marks of its own is one span, holding those inside it."""
    spans = find_spans(p.text)
    start = p.quoted_from
    if start < 0:
        return spans
    end = len(p.text.rstrip())
    body = p.text[start:end]
    if _OPENING_MARK.match(body) and body.endswith(("”", '"', "’", "'")):
        return spans
    shifted = []
    for s in spans:
        if s.parent is not None:
            shifted.append(replace(s, parent=s.parent + 1))
        else:
            shifted.append(replace(s, parent=0 if start <= s.open_at and s.close_at <= end else None))
    return [Span(start, end, start, end, None), *shifted]


def _date(text: str) -> tuple[str, list[str]]:
    """The passage's date (the most precise the text gives, the first of those) and every date found."""
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for rank, (kind, pattern) in enumerate(_DATES):
        for m in pattern.finditer(text):
            if any(a <= m.start() < b or a < m.end() <= b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            year = m.group("year")
            if kind == "day":
                month = _MONTHS[m.group("month").rstrip(".").lower()]
                try:
                    value = dt.date(int(year), month, int(m.group("day"))).isoformat()
                except ValueError:
                    continue
            elif kind == "month":
                month_name = dt.date(2000, _MONTHS[m.group("month").rstrip(".").lower()], 1).strftime("%B")
                value = f"{month_name} {year}"
            else:
                value = year
            found.append((rank, m.start(), value))
    if not found:
        return "", []
    best = min(found, key=lambda f: (f[0] if f[0] != 1 else 0, f[1]))
    return best[2], [v for _, _, v in sorted(found, key=lambda f: f[1])]


def _unknown_names(text: str, known: Mapping[str, set[str]]) -> list[str]:
    """Capitalised names (people, places, bodies) that no name or alias in people.toml covers."""
    known_words = {w for name in known for w in name.split()}
    out = []
    for m in _NAME.finditer(text):
        words = [re.sub(r"[’']s$", "", w) for w in m.group(0).split()]
        while words and words[-1] in _CONNECTORS:
            words.pop()
        # a single capitalised word opening a sentence may be any word; after "In" or "The" it is a name
        first = (
            m.start() == 0 or re.search(r"[.!?:“\"‘(]\s*$|\n\s*$", text[max(0, m.start() - 8) : m.start()]) is not None
        )
        while words and words[0] in _FUNCTION_WORDS:
            words, first = words[1:], False
        if not words or (len(words) == 1 and first):
            continue
        if any(w in known_words for w in words) or all(w in _NOT_NAMES | _CONNECTORS for w in words):
            continue
        name = " ".join(words)
        if len(name) >= 3:
            out.append(name)
    return out


def draft_source(
    docs: Sequence[Document], prov: Provenance, people: Mapping[str, Person], keep_ids: Mapping[str, str] | None = None
) -> Draft:
    """Draft a source from documents read by `bot.curate.formats`. `keep_ids` maps a passage's exact text to the
    id an earlier import (or the curator) gave it, so re-imports keep every id that still fits."""
    changes: list[Change] = []
    paras, credit, standfirst = _paragraphs(docs, prov, changes)
    paras = _split(_join(paras, changes), changes)
    names = speaker_names(people)
    passages: list[DraftPassage] = []
    used: set[str] = set()
    unknown_speakers: list[tuple[str, str]] = []
    unknown_names: dict[str, list[str]] = {}
    dates: list[tuple[str, str]] = []
    keep = dict(keep_ids or {})
    for p in paras:
        pid = keep.get(p.text, "")
        if not pid or pid in used:
            base = slug(p.text)
            pid, n = base, 2
            while pid in used or (pid in keep.values() and keep.get(p.text) != pid):
                pid, n = f"{base}-{n}", n + 1
        used.add(pid)
        spans = _spans(p)
        who = attribute(p.text, spans, people)
        quotes = []
        for span, a in zip(spans, who, strict=True):
            quotes.append(DraftQuote(p.text[span.start : span.end], a.speaker, a.rule))
            if a.unknown:
                unknown_speakers.append((a.unknown, pid))
        date, all_dates = _date(p.text)
        if all_dates:
            dates.append((pid, ", ".join(dict.fromkeys(all_dates))))
        for name in dict.fromkeys(_unknown_names(p.text, names)):
            unknown_names.setdefault(name, []).append(pid)
        passages.append(
            DraftPassage(pid, p.paragraph, p.text, p.section, p.caption, date, tuple(_dedupe(quotes)), p.where)
        )
    return Draft(
        prov, tuple(passages), tuple(changes), tuple(d.path.name for d in docs), credit, tuple(unknown_speakers),
        tuple((n, tuple(ids)) for n, ids in sorted(unknown_names.items(), key=lambda kv: (-len(kv[1]), kv[0]))),
        tuple(dates), standfirst,
    )  # fmt: skip


def _dedupe(quotes: list[DraftQuote]) -> list[DraftQuote]:
    """The same words quoted twice in a passage are one entry (the attributed one if either is)."""
    best: dict[str, DraftQuote] = {}
    for q in quotes:
        if q.text not in best or (q.speaker and not best[q.text].speaker):
            best[q.text] = q
    return list(best.values())


def validate(draft: Draft, seeds: Path, target: Path) -> str:
    """What the corpus loader says about the seeds folder with the draft in place: "" if it loads."""
    with tempfile.TemporaryDirectory(prefix="maisky-import-") as tmp:
        folder = Path(tmp)
        if seeds.is_dir():
            for path in seeds.glob("*.toml"):
                if path.name != target.name:
                    shutil.copy(path, folder / path.name)
        if not (folder / "people.toml").exists():
            return f"{seeds} has no people.toml"
        (folder / target.name).write_text(draft.toml(), encoding="utf-8")
        try:
            load_corpus(folder)
        except CorpusError as exc:
            return str(exc)
    return ""


def existing_ids(path: Path) -> dict[str, str]:
    """Passage text -> id in an existing source file, to keep ids stable on re-import."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    out = {}
    for entry in data.get("passage", []):
        if isinstance(entry, dict) and isinstance(entry.get("text"), str) and isinstance(entry.get("id"), str):
            out[entry["text"].strip()] = entry["id"]
    return out


@dataclass(frozen=True)
class Report:
    """What the curator should review, as printed after every import."""

    draft: Draft
    target: str
    refused: str = ""
    written: bool = False

    def lines(self) -> list[str]:
        d = self.draft
        quotes = [(p.id, q) for p in d.passages for q in p.quotes]
        attributed = [(pid, q) for pid, q in quotes if q.speaker]
        out = [
            f"Import report for {', '.join(d.files)} -> {self.target}",
            f"  passages: {len(d.passages)} ({sum(1 for p in d.passages if p.section)} with a section, "
            f"{sum(p.caption for p in d.passages)} captions)",
            f"  quotations: {len(quotes)} ({len(attributed)} attributed, {len(quotes) - len(attributed)} without "
            "a speaker: shown as quoted in this source, naming no one)",
        ]
        for pid, q in attributed:
            out.append(f"    {q.speaker}: “{_short(q.text, 60)}” [{pid}] ({q.rule})")
        if d.unknown_speakers:
            out.append("  speakers named but not in people.toml (add them, then import again with --force):")
            for name, pid in d.unknown_speakers:
                out.append(f"    {name} [{pid}]")
        out.append(f"  dates found: {len(d.dates)} passage(s)")
        for pid, found in d.dates:
            out.append(f"    {pid}: {found}")
        out.append(f"  names not in people.toml (people, places or bodies; add the people): {len(d.unknown_names)}")
        for name, ids in d.unknown_names[:40]:
            more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
            out.append(f"    {name}: {', '.join(ids[:3])}{more}")
        if len(d.unknown_names) > 40:
            out.append(f"    ... and {len(d.unknown_names) - 40} more")
        out.append(f"  furniture dropped or mended, and other changes: {len(d.changes)}")
        for c in d.changes:
            out.append(f"    {c.what}: {_short(c.text, 80)!r}" + (f" ({c.where})" if c.where else ""))
        if d.provenance.copyright:
            words = d.provenance.excerpt_words or DEFAULT_EXCERPT_WORDS
            out.append(f"  copyrighted: replies show at most {words} words of one passage")
        if self.refused:
            out.append(f"  the loader refuses it, so nothing was written: {self.refused}")
        elif self.written:
            out.append(f'  written to {self.target}; the loader accepts it. Try: maisky ask --explain "a question"')
        else:
            out.append("  the loader accepts it (dry run: nothing written)")
        return out

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"


IMPORTABLE = frozenset(FORMATS)


def collect_files(paths: Sequence[Path]) -> tuple[list[Path], list[Change]]:
    """The files to import: each file given, and every file of a known format inside a folder given
    (in name order). Other files in a folder are skipped and reported; a file given by name never is."""
    files: list[Path] = []
    skipped: list[Change] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(x.startswith(".") for x in p.relative_to(path).parts)
            )
            for p in found:
                if p.suffix.lower() in IMPORTABLE:
                    files.append(p)
                else:
                    skipped.append(Change("skipped a file of a format the importer does not read", p.name, str(path)))
            if not any(p.suffix.lower() in IMPORTABLE for p in found):
                raise ImportFileError(str(path), f"holds no file to import ({', '.join(sorted(IMPORTABLE))})")
        else:
            files.append(path)
    return list(dict.fromkeys(files)), skipped


def run_import(
    paths: Sequence[Path],
    prov: Provenance,
    seeds: Path,
    *,
    dry_run: bool = False,
    force: bool = False,
    encoding: str | None = None,
) -> tuple[Report, Draft]:
    """Read, draft, validate and (unless `dry_run` or the loader refuses) write seeds/<id>.toml."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", prov.id):
        raise ImportFileError(prov.id, "is not a usable source id: use lower-case letters, digits and dashes (--id)")
    target = seeds / f"{prov.id}.toml"
    if target.name in SPECIAL_FILES:
        raise ImportFileError(prov.id, f"is a reserved name in seeds/ ({target.name}); choose another --id")
    if target.exists() and not force and not dry_run:
        raise ImportFileError(
            str(target), "already exists; run again with --force to replace it (passage ids that still fit are kept)"
        )
    files, skipped = collect_files(paths)
    docs = [read_document(f, encoding) for f in files]
    people_file = seeds / "people.toml"
    if not people_file.exists():
        raise ImportFileError(str(seeds), "has no people.toml; point MAISKY_SEEDS at a seeds folder")
    try:
        people = load_people(people_file)
    except CorpusError as exc:
        raise ImportFileError(str(people_file), f"cannot be used: {exc}") from exc
    draft = draft_source(docs, prov, people, keep_ids=existing_ids(target) if target.exists() else None)
    draft = replace(draft, changes=(*skipped, *draft.changes))
    refused = validate(draft, seeds, target)
    written = False
    if not refused and not dry_run:
        try:
            target.write_text(draft.toml(), encoding="utf-8")
        except OSError as exc:
            raise ImportFileError(str(target), f"cannot be written ({exc.strerror}); check the seeds folder") from None
        written = True
    return Report(draft, str(target), refused, written), draft
