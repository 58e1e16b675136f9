"""How the console explains a reply: how a line was read, the question's terms, the scores and the reasons."""

from __future__ import annotations

from typing import TextIO

from bot.chat.core import Maisky
from bot.chat.desk import Outcome
from bot.search.matcher import Match, MatchResult

__all__ = ["explain", "explain_reading"]


def explain(result: MatchResult, out: TextIO) -> None:
    """Why the matcher answered or declined: the terms, the scores, the runners-up."""
    out.write("\nWhy (for curators):\n  question terms:\n")
    for qt in result.terms:
        note = []
        if qt.token.corrected:
            note.append(f"typo for {qt.token.corrected!r}")
        if qt.token.via:
            note.append(qt.token.via)
        if not qt.known:
            note.append("not in the sources")
        extra = f" ({'; '.join(note)})" if note else ""
        out.write(f"    {qt.token.surface!r} -> {qt.token.term}  weight {qt.idf:.2f}{extra}\n")
    out.write("  passages:\n")
    for n, m in enumerate(result.matches, 1):
        matched = ", ".join(m.matched)
        out.write(f"    {n}. {m.passage.id}  score {m.score:.2f}  coverage {m.coverage:.0%}  matched: {matched}\n")
        if m.meaning is not None:
            rule = f"would answer by {m.rule}" if m.accepted else "would not answer"
            out.write(
                f"       semantic: meaning {m.meaning:.2f}  word match {m.words or 0:.0%}"
                f"  lexical {m.lexical:.2f}; {rule}\n"
            )
            if m.reader is not None:
                out.write(f"       reader: {m.reader:.2f}\n")
            if _window(m):
                out.write(f"       evidence:{_window(m)}\n")
            found = ", ".join(f"{q}->{w} {c:.2f}" for q, w, c in m.pairs)
            if found:
                out.write(f"       words found: {found}\n")
    if not result.matches:
        out.write("    (none)\n")
    if result.answered:
        rules = {
            "coverage": "it covers over half of the question",
            "semantic": "its meaning is close enough",
            "reader": "the reader is sure it answers",
        }
        out.write(f"  verdict: answered ({rules.get(result.rule, result.rule)})\n")
    elif result.tier == "closest":
        out.write(f"  verdict: the closest passage, said honestly: {result.reason}\n")
    else:
        out.write(f"  verdict: declined: {result.reason}\n")


def _window(m: Match) -> str:
    """Where in the passage the sentences that answer lie, when they are not the whole passage."""
    if m.evidence is None:
        return ""
    start, end = m.evidence
    if start == 0 and end >= len(m.passage.text.rstrip()):
        return ""
    return f" characters {start}-{end}"


def explain_reading(outcome: Outcome, core: Maisky, out: TextIO) -> None:
    """How the front desk read a line (on its own, or as a follow-up of the last turn), then the
    matcher's reasons for the question it asked the sources."""
    reading = outcome.reading
    if reading is None:
        return
    out.write(f"\nHow the line was read: {reading.move.value}" + (f" ({reading.note})" if reading.note else "") + "\n")
    if reading.asks:
        explain(core.explain(reading.question), out)
