"""The importer: drafts a source file for seeds/ from documents, with a report for the curator.

Passages are the text's paragraphs, verbatim. Headings become the passages' `section`; page
furniture is dropped and every drop or mend is reported; a short paragraph that introduces a
quotation (ending in a colon) joins it; a very long paragraph is split at sentence ends outside
quotations. Passage ids come from each passage's own opening words, so importing the same text
again gives the same ids. Quotations are recorded verbatim; a speaker is set only where the text
names one unambiguously (`bot.curate.quotations`); a speaker the text names whom people.toml lacks is added to
it, and quoted words that are not quotations (scare quotes, a spelling, a title) stay the author's own.
Footnote markers are taken out, a cut last sentence is dropped, and a paragraph is dated by its first
event. Web-page furniture is recognised in `bot.curate.furniture`, headings and infoboxes of plain text in
`bot.curate.sections`. The draft is checked by the corpus loader itself.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import os
import re
import shutil
import tempfile
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot.curate.formats import FORMATS, Block, Change, Document, read_document
from bot.curate.furniture import furniture_reason
from bot.curate.limits import ReadLimits, folder_files
from bot.curate.quotations import Span, attribute, find_spans, fold_name, speaker_names
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
    r"(?<=[.!?”’\"])\s*(?P<credit>(?:Courtesy of|Photograph by|Photographed by|Photo by|Photo:|Credit:|Image:)"
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
# a capital of any script the sources use (Latin with its accents, Greek, Cyrillic): Yrjö, Łukasiewicz, Źródło
_UPPER = "[" + "".join(re.escape(chr(c)) for c in range(0x41, 0x530) if chr(c).isupper() and chr(c).isalpha()) + "]"
_LETTERS = r"(?:[^\W\d_]|[\u0300-\u036f])"  # combining accents too: Ива́н is one word
_WORD = rf"(?:{_UPPER}{_LETTERS}*(?:[’'\-–]{_LETTERS}+)*)"  # Yrjö-Koskinen, Non-Intervention, Soviet–Finnish, O'Neill
_NAME = re.compile(
    rf"(?<![\w’'‐–-])(?:{_WORD}|[A-Z]\.(?:[A-Z]\.)*)(?:[^\S\n]+(?:{_WORD}|[A-Z]\.(?:[A-Z]\.)*|(?:of|de|von|van|du|la|le)(?![\w’'])))*"
    r"(?<![’'])"
)
_CONNECTORS = {"of", "de", "von", "van", "du", "la", "le"}
_FUNCTION_WORDS = set(  # capitalised at a sentence's start, never a name, nor the start of one
    "A An The And But Or If In On At Of To For By From With As So Yet He She It They We I You His Her Its Their Our "
    "My This That These Those There Here When Where What Why How Who Whom Which While After Before Although Though "
    "Like Unlike Instead No Not Then Now One Two Three Four Five Six Seven Eight Nine Ten Among During Following "
    "Meanwhile Most Many Some Shortly Under Later Earlier Both Each Every Despite Upon "
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
class NewPerson:
    """Someone the text names as a quotation's speaker, or whose name shares an alias with a known person."""

    id: str
    name: str
    passages: tuple[str, ...]
    shares: str = ""  # the alias that now names two people ("Kennedy"), if any
    speaker: bool = True  # named as a speaker (added to people.toml), not only mentioned


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
    new_people: tuple[NewPerson, ...] = ()
    not_quotations: tuple[tuple[str, str], ...] = ()  # (quoted words, passage id): scare quotes, names, titles
    ambiguous: tuple[tuple[str, str], ...] = ()  # (alias, the people it names): an alias that means two people

    def people_toml(self) -> str:
        """Stanzas for people.toml: each speaker the text names that people.toml did not know, and each
        namesake of a known person (never merged with them: an alias of their own; the shared one stays)."""
        out = []
        for person in self.new_people:
            why = "named as a speaker" if person.speaker else f"shares the alias {person.shares!r} with someone else"
            out += [
                "",
                f"# added by `maisky import` ({', '.join(self.files)}): {why}; check the full name",
                f"[{person.id}]",
                f"name = {_s(person.name)}",
                f"aliases = [{', '.join(_s(a) for a in (person.name, person.shares) if a)}]",
            ]
        return "\n".join(out) + "\n" if out else ""

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
    text = re.sub(r"[‐‑‒–—―-]", " ", text)  # Soviet–Finnish is two words, not "sovietfinnish"
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
    infobox: bool = False


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
            text = _without_markers(text, block, where, changes)
            reason = "" if block.infobox else furniture_reason(text)
            if reason:
                changes.append(Change(f"dropped page furniture ({reason})", text, where))
                continue
            if _same(text, prov.title):
                changes.append(Change("dropped the title, repeated in the text", text, where))
                after_title = not out
                continue
            if after_title and not standfirst and _can_be_standfirst(block, text):
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
            out.append(_Para(text, number, section, caption, block.quoted, where, infobox=block.infobox))
        _drop_cut_ending(out, changes)
    credit = credits[0] if credits and all(c == credits[0] for c in credits) else "; ".join(dict.fromkeys(credits))
    return out, credit, standfirst


def _can_be_standfirst(block: Block, text: str) -> bool:
    """A standfirst is a sentence of the article's own: never a heading, an infobox, a caption or a byline."""
    return (
        not (block.heading or block.infobox or block.caption or block.quoted)
        and 5 <= len(text.split()) <= 30
        and not re.search(r"[.!?:;…]$", text)
        and not re.match(r"(?i)(?:by|posted|written|published|updated|summary)\b", text)
        and not re.search(r"[·|•]", text)
    )


_MARKER = re.compile(
    r"\[\s*(?:\d{1,3}|[a-z]|note \d{1,3}|citation needed|edit|tweak|clarification needed|who\?|when\?)\s*\]",
    re.IGNORECASE,
)


def _without_markers(text: str, block: Block, where: str, changes: list[Change]) -> str:
    """Footnote markers ("[25]", "[1 ]", "[citation needed]") and edit links taken out of the text."""
    found = _MARKER.findall(text)
    if not found:
        return text
    cleaned = _MARKER.sub("", text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)  # "Maisky [1] ." -> "Maisky."
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    if not block.heading:
        changes.append(Change(f"removed {len(found)} footnote marker(s)", " ".join(found), where))
    return cleaned


_ENDS_SENTENCE = re.compile(r"[.!?…][”’\"')\]]*$|[”\"]$")


def _drop_cut_ending(paras: list[_Para], changes: list[Change]) -> None:
    """A document whose last paragraph stops mid-sentence (a page cut short) loses that last fragment; a
    paragraph with no whole sentence before it is dropped."""
    if not paras:
        return
    last = paras[-1]
    text = last.text.rstrip()
    if (
        last.caption
        or last.infobox
        or last.quoted
        or "\n" in text
        or len(text.split()) < 7  # a list item, a closing line or a line of verse, not a sentence cut short
        or not re.search(r"[\w,;–-]$", text)
        or _ENDS_SENTENCE.search(text)
    ):
        return
    starts = _sentence_ends(text, find_spans(text))
    kept = text[: starts[-1]].rstrip() if starts else ""
    if re.search(r"\w", kept):
        changes.append(Change("dropped the cut last sentence (the page stops mid-sentence)", text[starts[-1] :]))
        paras[-1] = replace(last, text=kept)
    else:  # no whole sentence with words before the cut (". Maisky Maisky ..." keeps only the full stop)
        changes.append(Change("dropped a cut last paragraph (it stops mid-sentence)", text, last.where))
        paras.pop()


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
    return _about(found), [v for _, _, v in sorted(found, key=lambda f: f[1])]


def _about(found: list[tuple[int, int, str]]) -> str:
    """The date a paragraph is about: its first (the start of its span, or its first event), made more
    precise by a later date in the same year ("In 1939 ... on Sept. 3, 1939"), never replaced by a later
    incidental date."""
    first = min(found, key=lambda f: f[1])
    if first[2].endswith("s"):  # a decade: nothing refines it
        return first[2]

    def year(value: str) -> str:
        return value[:4] if value[:4].isdigit() else value[-4:]

    same_year = [f for f in found if not f[2].endswith("s") and year(f[2]) == year(first[2])]
    rank = {0: 0, 1: 0, 2: 1, 3: 2, 4: 3}
    return min(same_year or [first], key=lambda f: (rank[f[0]], f[1]))[2]


def _unknown_names(text: str, known: Mapping[str, set[str]]) -> list[str]:
    """Capitalised names (people, places, bodies) that no name or alias in people.toml covers."""
    known_words = {w for name in known for w in name.split()}
    folded_known = {fold_name(w) for w in known_words}
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
        if any(w in known_words or fold_name(w) in folded_known for w in words) or all(
            w in _NOT_NAMES | _CONNECTORS for w in words
        ):
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
    known = _Known(people, names)
    sharing = _sharing(" \n".join(p.text for p in paras), known)
    readers = _with_sharing(people, sharing)
    passages: list[DraftPassage] = []
    used: set[str] = set()
    unknown_speakers: list[tuple[str, str]] = []
    unknown_names: dict[str, list[str]] = {}
    not_quotations: list[tuple[str, str]] = []
    new_people: dict[str, NewPerson] = {p.id: p for p in sharing}
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
        who = attribute(p.text, spans, readers)
        quotes = []
        for span, a in zip(spans, who, strict=True):
            words = p.text[span.start : span.end]
            speaker, rule = a.speaker, a.rule
            if a.unknown and _person_like(a.unknown):
                added = _add_speaker(new_people, a.unknown, pid, people)
                speaker, rule = added.id, "named as the speaker; added to people.toml"
            elif a.unknown:
                unknown_speakers.append((a.unknown, pid))
            if not speaker and not _is_quotation(p.text, span, p.quoted_from >= 0):
                not_quotations.append((words, pid))
                continue
            quotes.append(DraftQuote(words, speaker, rule))
        date, all_dates = ("", []) if p.infobox else _date(p.text)
        if all_dates:
            dates.append((pid, ", ".join(dict.fromkeys(all_dates))))
        for name in dict.fromkeys(_unknown_names(_values(p.text) if p.infobox else p.text, names)):
            unknown_names.setdefault(name, []).append(pid)
        passages.append(
            DraftPassage(pid, p.paragraph, p.text, p.section, p.caption, date, tuple(_dedupe(quotes)), p.where)
        )
    for person in new_people.values():
        unknown_names.pop(person.name, None)
    ambiguous = _ambiguous(" \n".join(p.text for p in paras), people, new_people.values())
    return Draft(
        prov, tuple(passages), tuple(changes), tuple(d.path.name for d in docs), credit, tuple(unknown_speakers),
        tuple((n, tuple(ids)) for n, ids in sorted(unknown_names.items(), key=lambda kv: (-len(kv[1]), kv[0]))),
        tuple(dates), standfirst, tuple(new_people.values()), tuple(not_quotations), ambiguous,
    )  # fmt: skip


def _ambiguous(text: str, people: Mapping[str, Person], new: Iterable[NewPerson]) -> tuple[tuple[str, str], ...]:
    """Every alias the text uses that names two people or more, with whom it names."""
    owners: dict[str, list[str]] = {}
    for person in people.values():
        for alias in person.aliases:
            owners.setdefault(alias, []).append(f"{person.name} (people.toml)")
    for n in new:
        if n.shares:
            owners.setdefault(n.shares, []).append(f"{n.name} (this source)")
    return tuple(
        (alias, " and ".join(who))
        for alias, who in sorted(owners.items())
        if len(who) >= 2 and re.search(rf"(?<![\w’']){re.escape(alias)}(?![\w’'])", text)
    )


def _values(facts: str) -> str:
    """An infobox's values without its field names ("Birth Place: Kirillov" -> "Kirillov"), a line each."""
    return "\n".join(re.sub(r"^\s*(?:[-*•]\s+)?[^:\n]{1,40}:\s+", "", line) for line in facts.split("\n"))


def _only(ids: set[str]) -> str:
    return next(iter(sorted(ids)))


@dataclass(frozen=True)
class _Known:
    people: Mapping[str, Person]
    names: Mapping[str, set[str]]

    def who(self, surface: str) -> set[str]:
        """The people a name names, its transliterations included (Mayski is Maisky)."""
        found = self.names.get(surface)
        if found:
            return set(found)
        folded = fold_name(surface)
        return {pid for name, ids in self.names.items() if fold_name(name) == folded for pid in ids}


def _sharing(text: str, known: _Known) -> list[NewPerson]:
    """People the text names in full whose surname is a known person's bare alias ("Paul Kennedy" beside
    people.toml's Joe Kennedy, alias "Kennedy"): that alias now means two people."""
    out: dict[str, NewPerson] = {}
    for m in _NAME.finditer(text):
        words = [re.sub(r"[’']s$", "", w) for w in m.group(0).split()]
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        if len(words) < 2 or len(words) > 4:
            continue
        surname, full = words[-1], " ".join(words)
        owners = known.who(surname)
        if len(owners) != 1 or known.who(full) or any(known.who(" ".join(words[i:])) for i in range(1, len(words) - 1)):
            continue
        owner = known.people[_only(owners)]
        if any(w in owner.aliases or w in owner.name.split() or w.rstrip(".") in owner.name for w in words[:-1]):
            continue  # "Joseph P. Kennedy", "Joe Kennedy": the same man written differently
        pid = slug(full)
        if pid not in out and pid not in known.people:
            out[pid] = NewPerson(pid, full, (), shares=surname, speaker=False)
    return list(out.values())


def _with_sharing(people: Mapping[str, Person], sharing: Sequence[NewPerson]) -> dict[str, Person]:
    """people.toml with the text's new namesakes, each answering to the shared alias too, so that a bare
    surname is resolved by context in this text (`bot.curate.quotations`), or left for the curator."""
    out = dict(people)
    for n in sharing:
        out[n.id] = Person(n.id, n.name, (n.name, n.shares))
    return out


def _person_like(name: str) -> bool:
    words = name.split()
    return 1 <= len(words) <= 4 and not all(w in _NOT_NAMES for w in words) and "(" not in name


def _add_speaker(new_people: dict[str, NewPerson], name: str, pid: str, people: Mapping[str, Person]) -> NewPerson:
    key = slug(name)
    while key in people and people[key].name != name:
        key = f"{key}-source"
    found = new_people.get(key)
    person = replace(found, passages=(*found.passages, pid), speaker=True) if found else NewPerson(key, name, (pid,))
    new_people[key] = person
    return person


_TITLE_SMALL = {"a", "an", "the", "of", "to", "in", "on", "and", "or", "for", "at", "by", "with", "be", "is"}
_SPEECH_BEFORE = re.compile(
    r"\b(?:said|says|wrote|writes|told|tells|called|calls|declared|replied|remarked|noted|added|cabled|recorded|"
    r"exclaimed|answered|asked|warned|complained|insisted)\b[^.!?“”\"]{0,30}[:,]?\s*$",
    re.IGNORECASE,
)


def _is_quotation(text: str, span: Span, block: bool) -> bool:
    """Whether unattributed quoted words are a quotation: scare quotes ("the people"), a name or spelling
    ("Maysky") and a title ("I Wish To Be a Great Thunderstorm") are the author's own words."""
    words = text[span.start : span.end]
    tokens = words.split()
    if block or _SPEECH_BEFORE.search(text[max(0, span.open_at - 80) : span.open_at]):
        return True
    if re.search(r"[.!?,;:…]$", words):
        return True  # a sentence, or a piece of one, with its punctuation
    significant = [t for t in tokens if t.lower() not in _TITLE_SMALL]
    if len(tokens) >= 2 and significant and all(t[:1].isupper() for t in significant):
        return False  # a title or a name ("I Wish To Be a Great Thunderstorm", "Man of May")
    if len(tokens) == 1:
        return False  # a word held at arm's length, or a spelling ('proletarian', "Maysky")
    return not (len(tokens) <= 3 and tokens[0].lower() in {"the", "a", "an", "our", "their", "so-called"})


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
        if draft.people_toml():
            with (folder / "people.toml").open("a", encoding="utf-8") as fh:
                fh.write(draft.people_toml())
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
        out += _people_lines(d)
        out.append(f"  dates found: {len(d.dates)} passage(s)")
        for pid, found in d.dates:
            out.append(f"    {pid}: {found}")
        out.append(f"  names not in people.toml (people, places or bodies; add the people): {len(d.unknown_names)}")
        for name, ids in d.unknown_names:
            more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
            out.append(f"    {name}: {', '.join(ids[:3])}{more}")
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


def _people_lines(d: Draft) -> list[str]:
    """What the report says about people: speakers added, aliases that now name two people, names left
    for the curator, and quoted words that are not quotations."""
    out = []
    if d.new_people:
        out.append("  people the text names, added to people.toml (check each full name):")
        out += [
            f"    {n.name} [{', '.join(n.passages) or 'a namesake of ' + repr(n.shares)}] -> people.toml [{n.id}]"
            for n in d.new_people
        ]
    if d.ambiguous:
        out.append("  aliases that now name two people (a bare surname is resolved by the passage's context, or left "
                   "without a speaker; add a full alias to each person):")  # fmt: skip
        out += [f"    {alias}: {who}" for alias, who in d.ambiguous]
    if d.unknown_speakers:
        out.append("  speakers left unresolved (a name two people share, with no full name before it; decide, then "
                   "import again with --force):")  # fmt: skip
        out += [f"    {name} [{pid}]" for name, pid in d.unknown_speakers]
    if d.not_quotations:
        out.append(f"  quoted words kept as the author's own (scare quotes, names, titles): {len(d.not_quotations)}")
        out += [f"    “{_short(words, 60)}” [{pid}]" for words, pid in d.not_quotations]
    return out


IMPORTABLE = frozenset(FORMATS)


def collect_files(paths: Sequence[Path], limits: ReadLimits | None = None) -> tuple[list[Path], list[Change]]:
    """The files to import: each file given, and every file of a known format inside a folder given
    (in name order). Other files in a folder are skipped and reported; a file given by name never is.
    A folder is walked without following symbolic links out of it (bot.curate.limits.folder_files)."""
    files: list[Path] = []
    skipped: list[Change] = []
    for path in paths:
        if path.is_dir():
            found = []
            for p, why in folder_files(path, limits or ReadLimits()):
                if any(x.startswith(".") for x in p.relative_to(path).parts):
                    continue
                if why:
                    skipped.append(Change(why, p.name, str(path)))
                else:
                    found.append(p)
            found.sort()
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


def _add_people(path: Path, draft: Draft, people: Mapping[str, Person]) -> None:
    """Append the speakers the text names that people.toml does not know (a re-import adds nobody twice)."""
    fresh = replace(draft, new_people=tuple(n for n in draft.new_people if n.id not in people))
    stanzas = fresh.people_toml()
    if stanzas:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(stanzas)


def run_import(
    paths: Sequence[Path],
    prov: Provenance,
    seeds: Path,
    *,
    dry_run: bool = False,
    force: bool = False,
    encoding: str | None = None,
    limits: ReadLimits | None = None,
) -> tuple[Report, Draft]:
    """Read (within `limits`), draft, validate and (unless `dry_run` or the loader refuses) write
    seeds/<id>.toml."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", prov.id):
        raise ImportFileError(prov.id, "is not a usable source id: use lower-case letters, digits and dashes (--id)")
    target = seeds / f"{prov.id}.toml"
    if target.name in SPECIAL_FILES:
        raise ImportFileError(prov.id, f"is a reserved name in seeds/ ({target.name}); choose another --id")
    _refuse_link(target)
    if target.exists() and not force and not dry_run:
        raise ImportFileError(
            str(target), "already exists; run again with --force to replace it (passage ids that still fit are kept)"
        )
    files, skipped = collect_files(paths, limits)
    docs = [read_document(f, encoding, limits) for f in files]
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
            _write_here(target, draft.toml())
            _add_people(people_file, draft, people)
        except OSError as exc:
            raise ImportFileError(str(target), f"cannot be written ({exc.strerror}); check the seeds folder") from None
        written = True
    return Report(draft, str(target), refused, written), draft


def _refuse_link(target: Path) -> None:
    """seeds/<id>.toml is written where it is, never through a symbolic link to somewhere else."""
    if target.is_symlink():
        raise ImportFileError(
            str(target), "is a symbolic link; the importer writes only files inside the seeds folder. Remove the "
            "link (or import under another --id)",
        )  # fmt: skip


def _write_here(target: Path, text: str) -> None:
    """Write `target`, refusing a symbolic link put in its place since it was checked (O_NOFOLLOW)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o666)  # as open() would: the umask decides
    except OSError as exc:
        if target.is_symlink():
            _refuse_link(target)
        raise exc from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
