"""Quotations in a text: every quoted span, and its speaker only where the text names one unambiguously.

Spans are found with curly and straight, double and single marks, nested, and with the
convention that a quotation running over several paragraphs opens each and closes only the
last. A speaker is set only by a few fixed patterns around the marks, with the name one of
`people.toml`'s names or aliases naming exactly one person:

- ``Maisky wrote: “…”``, ``Maisky commented, “…”``, ``Maisky cabled the Kremlin: “…”`` (name, speech verb);
- ``“…,” Churchill said`` and ``“…,” said Churchill`` (after the closing mark, the quotation ending in a comma);
- ``Churchill told him that “…”`` (the subject of the speech verb, with a short clause naming no one else);
- the second half of a quotation split by such a clause (``“…,” remembered Nicolson, “…”``);
- inside a quotation already attributed, ``I thought: ‘…’`` is the same speaker's;
- verbs of telling with an auxiliary or a hearer: ``Churchill had told him “…”``, ``Maisky wrote to Litvinov
  that “…”`` (a name right after the verb, or after "to", is the one who heard it);
- reported speech after a relative clause: ``Masaryk, who lashed out at ..., charging that ... “…”``.

A transliteration of a known name is that person (``fold_name``: Mayski, Maysky, Majskij are Maisky).
A surname two people share is the one whose full name the passage gave last before it.

Everything else is left without a speaker: a pronoun (``he wrote``), a name that is not the
subject (``telling Maisky that “…”``), or a name two people share. An importer never guesses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from bot.sources.corpus import Person

__all__ = ["Attribution", "Found", "Span", "attribute", "find_spans", "fold_name", "speaker_names"]

_SPEECH_VERBS = (
    "said says wrote writes noted notes commented comments remarked remarks replied replies told tells asked asks "
    "added adds declared declares cabled cables recalled recalls remembered remembers recorded records observed "
    "observes explained explains insisted insists exclaimed exclaims complained complains warned warns intimated "
    "intimates answered answers announced announces admitted admits confided confides continued continues "
    "concluded concludes argued argues stated states thought thinks jotted telegraphed telegraphs responded "
    "responds retorted retorts quipped quips mused muses reflected reflects confessed confesses protested protests "
    "whispered whispers joked jokes conceded concedes recounted recounts reported reports shouted shouts"
).split()
# After the closing mark, a verb may come first ("… ,” said Churchill); `told` is left out: "“…,” told Maisky"
# would make the hearer the speaker.
_INVERTED_VERBS = (
    "said says wrote writes remembered recalled replied added noted commented observed remarked asked answered "
    "continued explained declared exclaimed insisted recorded"
).split()
_PRONOUNS = r"\b(?:he|she|they|his|her|him|them|their|we|you)\b"
_CAPITALISED = r"[A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*){0,3}"
_NOT_NAMES = {
    "He", "She", "It", "They", "We", "I", "You", "This", "That", "These", "Those", "The", "A", "An", "And", "But",
    "Then", "There", "Here", "When", "What", "His", "Her", "Their", "Our", "My", "One", "Someone", "Nobody",
}  # fmt: skip


_MARKS = re.compile("[“”\"‘’']")
# Between a speaker and a verb of telling: "Churchill had told him", "Eden later wrote"
_AUXILIARY = r"(?:(?:had|has|have|would|once|later|also|then|himself|herself|privately|openly)\s+){0,2}"
# A reported-speech participle after a relative clause: "Masaryk, who lashed out at ..., charging that “…”"
_PARTICIPLES = (
    "charging saying claiming insisting arguing warning complaining declaring adding noting writing telling "
    "asserting protesting explaining remarking stressing suggesting"
).split()


def fold_name(name: str) -> str:
    """A name reduced to what its transliterations share: Maisky, Mayski, Maysky, Mayskiy and Majskij all
    give "maiski" (accents dropped, y and j read as i, doubled vowels and a final -iy/-ij as one i)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"[yj]", "i", ascii_name)
    folded = re.sub(r"kh", "h", folded)
    folded = re.sub(r"i{2,}", "i", folded)
    return re.sub(r"[^a-z ]+", "", folded).strip()


@dataclass(frozen=True)
class Span:
    """A quoted span: `start`/`end` delimit the words inside the marks (whitespace trimmed)."""

    start: int
    end: int
    open_at: int  # index of the opening mark, or of the paragraph start for an unopened quotation
    close_at: int  # index of the closing mark, or the paragraph end for an unclosed one
    parent: int | None  # index of the enclosing span in the list, for nested quotations


@dataclass(frozen=True)
class Attribution:
    speaker: str  # a people.toml id, or "" when the text does not say unambiguously
    rule: str = ""  # which pattern set the speaker, for the report
    unknown: str = ""  # a name in the speaker's place that people.toml does not know


@dataclass(frozen=True)
class Found:
    text: str
    attribution: Attribution


def _opens(text: str, i: int) -> bool:
    before = text[i - 1] if i else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return (before.isspace() or before in "([{—–-/“‘\"'") and not after.isspace()


def _closes(text: str, i: int) -> bool:
    after = text[i + 1] if i + 1 < len(text) else " "
    return not after.isalnum()


def find_spans(text: str) -> list[Span]:
    """Every quoted span in `text`, outer before inner; paragraphs are separated by blank lines."""
    spans: list[Span] = []
    offset = 0
    for para in re.split(r"(\n\s*\n)", text):
        if para.strip():
            spans.extend(_paragraph_spans(para, offset, len(spans)))
        offset += len(para)
    return spans


def _paragraph_spans(text: str, offset: int, base: int) -> list[Span]:
    found: list[tuple[int, int]] = []  # index of the opening mark, index of the closing mark
    stack: list[tuple[str, int]] = []  # kind ("d" double, "s" single), index of the opening mark
    boundary = 0
    for mark in _MARKS.finditer(text):
        i, ch = mark.start(), mark.group()
        open_double = any(kind == "d" for kind, _ in stack)
        if ch == "“" or (ch == '"' and not open_double and _opens(text, i)):
            stack.append(("d", i))
        elif ch in '”"':
            if open_double:
                while stack:  # singles left open inside were apostrophes
                    kind, at = stack.pop()
                    if kind == "d":
                        found.append((at, i))
                        break
            elif ch == "”" and not stack and text[boundary:i].strip():
                found.append((boundary - 1, i))  # closes a quotation opened in an earlier paragraph
            if not stack:
                boundary = i + 1
        elif ch in "‘'" and _opens(text, i):
            stack.append(("s", i))
        elif ch in "’'" and stack and stack[-1][0] == "s" and _closes(text, i) and not text[i - 1].isspace():
            found.append((stack.pop()[1], i))
    doubles = [at for kind, at in stack if kind == "d"]
    if doubles:
        found.append((doubles[0], len(text)))  # runs on into the next paragraph
    found.sort(key=lambda f: (f[0], -f[1]))
    spans: list[Span] = []
    for open_at, close_at in found:
        start, end = open_at + 1, close_at
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if not re.search(r"\w", text[start:end]):
            continue
        parent = None
        for j in range(len(spans) - 1, -1, -1):
            outer = spans[j]
            if outer.open_at - offset <= open_at and close_at <= outer.close_at - offset and outer.end - offset >= end:
                parent = base + j
                break
        spans.append(Span(start + offset, end + offset, open_at + offset, close_at + offset, parent))
    return spans


def speaker_names(people: Mapping[str, Person]) -> dict[str, set[str]]:
    """Every name and alias (as written) -> the ids of the people it names."""
    names: dict[str, set[str]] = {}
    for person in people.values():
        if not person.listed:
            continue
        for name in (person.name, *person.aliases):
            if name[:1].isupper():
                names.setdefault(name, set()).add(person.id)
    return names


class _Patterns:
    def __init__(self, names: Mapping[str, set[str]]) -> None:
        self.names = names
        alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        name = rf"(?P<name>{alternation})(?![\w’'])" if alternation else r"(?P<name>(?!x)x)"
        verbs = "|".join(_SPEECH_VERBS)
        inverted = "|".join(_INVERTED_VERBS)
        clause = r"[^“”\"‘’.!?;]{0,60}?"
        # `^.*` makes the match the rightmost speaker: in "Maisky told how Churchill said:" it is Churchill
        self.before = re.compile(
            rf"^.*(?:^|[\s(,;:—–])(?:{name}|(?P<cap>{_CAPITALISED}))\s+{_AUXILIARY}(?:{verbs})\b(?P<clause>{clause})"
            r"[:,]?\s*$",
            re.DOTALL,
        )
        participles = "|".join(_PARTICIPLES)
        self.relative = re.compile(
            rf"^.*(?:^|[\s(,;:—–])(?:{name}|(?P<cap>{_CAPITALISED})),\s+who\s+[^“”\"‘’.!?;]{{0,160}}?,\s+"
            rf"(?:{participles})\b(?P<clause>[^“”\"‘’.!?;]{{0,160}})[:,]?\s*$",
            re.DOTALL,
        )
        # "Maisky wrote to Litvinov that “…”", "Churchill had told Maisky: “…”": a name heard, not speaking
        self.addressee = re.compile(rf"^\s*(?:to\s+)?(?:{name})" if alternation else r"(?!x)x")
        self.folded: dict[str, set[str]] = {}
        for surface, ids in names.items():
            self.folded.setdefault(fold_name(surface), set()).update(ids)
        self.after = re.compile(
            rf"^\s*,?\s*(?:(?:{inverted})\s+(?:{name}|(?P<cap>{_CAPITALISED}))"
            rf"|(?:{name.replace('?P<name>', '?P<name2>')}|(?P<cap2>{_CAPITALISED}))\s+(?:{verbs}))\b"
            rf"(?P<rest>[^“”\"‘’.!?;]*)"
        )
        self.first_person = re.compile(rf"(?:^|[\s,;:—–])I\s+{clause}\b(?:{verbs})\b[^“”\"‘’.!?;]{{0,40}}[:,]?\s*$")
        self.any_name = re.compile(name) if alternation else None
        reporting = "|".join(
            (*_SPEECH_VERBS, "saying", "writing", "telling", "asking", "adding", "noting", "remarking")
        )
        self.reported = re.compile(rf"(?:{name}|\b(?:he|she|they)\b)\s+(?:{reporting})\b")

    def person(self, surface: str | None) -> str:
        ids = self.names.get(surface or "", set()) or self.folded.get(fold_name(surface or ""), set())
        return next(iter(ids)) if len(ids) == 1 else ""

    def candidates(self, surface: str) -> set[str]:
        return self.names.get(surface, set()) or self.folded.get(fold_name(surface), set())


def attribute(text: str, spans: list[Span], people: Mapping[str, Person]) -> list[Attribution]:
    """The speaker of each span where the text says so unambiguously, else an empty speaker."""
    p = _Patterns(speaker_names(people))
    out: list[Attribution] = []
    continues: dict[int, Attribution] = {}
    for n, span in enumerate(spans):
        if n in continues:
            out.append(continues[n])
            continue
        lead_start = spans[span.parent].start if span.parent is not None else _clause_start(text, span.open_at)
        lead = text[lead_start : span.open_at] if span.open_at > lead_start else ""
        result = Attribution("")
        m = p.before.search(lead)
        # a name between the verb and the quotation ("Maisky wrote that Churchill was tired: “…”") leaves
        # it open whose words they are, unless it is only the one spoken to ("wrote to Litvinov that")
        named_again = bool(m and p.any_name and p.any_name.search(m.group("clause")))
        if named_again and m and p.any_name:
            heard = p.addressee.match(m.group("clause"))
            named_again = not heard or bool(p.any_name.search(m.group("clause")[heard.end() :]))
        if m and not named_again and (m.group("name") or m.group("cap") not in _NOT_NAMES):
            result = _resolve(p, m.group("name"), m.group("cap"), "name and speech verb before the quotation")
        if not result.speaker and not result.unknown:
            r = p.relative.search(lead)
            if r and not (p.any_name and p.any_name.search(r.group("clause"))) and r.group("cap") not in _NOT_NAMES:
                result = _resolve(p, r.group("name"), r.group("cap"), "name, relative clause and reported speech")
        if result.unknown.endswith(_SHARED):
            result = _by_context(p, text[: span.open_at], result)
        if not result.speaker and span.parent is not None and out[span.parent].speaker:
            fp = p.first_person.search(lead)
            said = fp.group(0) if fp else ""
            if fp and not re.search(_PRONOUNS, said, re.IGNORECASE) and not (p.any_name and p.any_name.search(said)):
                result = Attribution(out[span.parent].speaker, "“I …:” inside that speaker's quotation")
        # after the closing mark only while the sentence goes on: in “…,” Churchill said the quotation
        # ends in a comma (or ? or !); after “….” a name begins the next sentence and says nothing of it
        if not result.speaker and not result.unknown and text[span.start : span.end].endswith((",", "?", "!")):
            tail_end = spans[span.parent].end if span.parent is not None else len(text)
            tail = text[span.close_at + 1 : tail_end]
            a = p.after.match(tail)
            if a:
                name = a.group("name") or a.group("name2")
                cap = a.group("cap") or a.group("cap2")
                # "“…,” Maisky recalled Churchill saying" reports someone else's words: no speaker
                reported = p.reported.search(a.group("rest"))
                if not reported and (name or (cap and cap not in _NOT_NAMES)):
                    result = _resolve(p, name, cap, "name and speech verb after the quotation")
                    nxt = _next_sibling(spans, n)
                    if result.speaker and nxt is not None:
                        clause = text[span.close_at + 1 : spans[nxt].open_at]
                        if (
                            a.end() == len(clause)
                            and clause.rstrip().endswith(",")
                            and text[span.start : span.end].endswith(",")
                        ):
                            continues[nxt] = Attribution(
                                result.speaker, "the rest of a quotation split by its attribution"
                            )
        out.append(result)
    return out


_SHARED = " (names more than one person)"


def _resolve(p: _Patterns, name: str | None, cap: str | None, rule: str) -> Attribution:
    if name:
        who = p.person(name)
        return Attribution(who, rule) if who else Attribution("", rule, unknown=f"{name}{_SHARED}")
    if cap:
        who = p.person(cap)  # a transliteration of a known name: "Mayski wrote"
        return (
            Attribution(who, f"{rule}; {cap} read as a spelling of a known name")
            if who
            else Attribution("", unknown=cap)
        )
    return Attribution("")


def _by_context(p: _Patterns, before: str, result: Attribution) -> Attribution:
    """A bare surname two people share ("Kennedy") is the one whose full name the text gave last before
    it; with no full name before it, it stays unresolved for the curator, never a guess."""
    alias = result.unknown[: -len(_SHARED)]
    ids = p.candidates(alias)
    last_at, who = -1, ""
    for surface, named in p.names.items():
        if surface == alias or len(named) != 1 or not named <= ids or len(surface.split()) < 2:
            continue
        at = before.rfind(surface)
        if at > last_at:
            last_at, who = at, next(iter(named))
    if who:
        return Attribution(who, f"{result.rule}; {alias} is the {who} named earlier in the passage")
    return result


def _clause_start(text: str, at: int) -> int:
    """Where the sentence holding position `at` starts, not crossing an earlier quotation's marks."""
    i = at
    while i > 0:
        ch = text[i - 1]
        if ch in '“”"‘’' and not (ch == "’" and i < len(text) and text[i].isalpha()):
            break
        if ch in ".!?" and (i == at or text[i].isspace()):
            break
        i -= 1
    return i


def _next_sibling(spans: list[Span], n: int) -> int | None:
    for j in range(n + 1, len(spans)):
        if spans[j].parent == spans[n].parent:
            return j
    return None
