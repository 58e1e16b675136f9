"""Quotations in a text: every quoted span, and its speaker only where the text names one unambiguously.

Spans are found with curly and straight, double and single marks, nested, and with the
convention that a quotation running over several paragraphs opens each and closes only the
last. A speaker is set only by a few fixed patterns around the marks, with the name one of
`people.toml`'s names or aliases naming exactly one person:

- ``Maisky wrote: “…”``, ``Maisky commented, “…”``, ``Maisky cabled the Kremlin: “…”`` (name, speech verb);
- ``“…,” Churchill said`` and ``“…,” said Churchill`` (after the closing mark, the quotation ending in a comma);
- ``Churchill told him that “…”`` (the subject of the speech verb, with a short clause naming no one else);
- the second half of a quotation split by such a clause (``“…,” remembered Nicolson, “…”``);
- inside a quotation already attributed, ``I thought: ‘…’`` is the same speaker's.

Everything else is left without a speaker: a pronoun (``he wrote``), a name that is not the
subject (``telling Maisky that “…”``), or a name two people share. An importer never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.sources.corpus import Person

__all__ = ["Attribution", "Found", "Span", "attribute", "find_spans", "speaker_names"]

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
            rf"^.*(?:^|[\s(,;:—–])(?:{name}|(?P<cap>{_CAPITALISED}))\s+(?:{verbs})\b(?P<clause>{clause})[:,]?\s*$",
            re.DOTALL,
        )
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
        ids = self.names.get(surface or "", set())
        return next(iter(ids)) if len(ids) == 1 else ""


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
        # it open whose words they are
        named_again = bool(m and p.any_name and p.any_name.search(m.group("clause")))
        if m and not named_again and (m.group("name") or m.group("cap") not in _NOT_NAMES):
            result = _resolve(p, m.group("name"), m.group("cap"), "name and speech verb before the quotation")
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


def _resolve(p: _Patterns, name: str | None, cap: str | None, rule: str) -> Attribution:
    if name:
        who = p.person(name)
        return Attribution(who, rule) if who else Attribution("", unknown=f"{name} (names more than one person)")
    if cap:
        return Attribution("", unknown=cap)
    return Attribution("")


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
