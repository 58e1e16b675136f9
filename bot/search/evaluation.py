"""Scores the matcher on question files and the bot on dialogue files: hits, declines, follow-ups.

A question file gives top-1 and top-3 hits, declines and overall; a dialogue file scores follow-ups,
lines that stand alone and small talk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import CorpusError
from bot.search.matcher import Matcher, MatchResult

__all__ = [
    "Answered", "Dialogue", "DialogueLine", "DialogueReport", "EvalItem", "EvalRecord", "EvalReport", "LineRecord",
    "evaluate", "evaluate_dialogues", "is_dialogues", "load_dialogues", "load_questions",
]  # fmt: skip


@dataclass(frozen=True)
class EvalItem:
    q: str
    expect: tuple[str, ...]  # empty: the sources are silent and the bot must decline


@dataclass(frozen=True)
class EvalRecord:
    item: EvalItem
    result: MatchResult
    top1: bool
    top3: bool

    @property
    def correct(self) -> bool:
        return self.top1 if self.item.expect else not self.result.answered

    @property
    def closest_right(self) -> bool:
        """Shown as the closest passage, and it holds what an in-scope question asked."""
        r = self.result
        return bool(self.item.expect and r.tier == "closest" and _holds(r.matches[0].passage.text, self.item.expect))


@dataclass(frozen=True)
class EvalReport:
    records: tuple[EvalRecord, ...]

    def _share(self, hits: int, total: int) -> float:
        return hits / total if total else 0.0

    @property
    def in_scope(self) -> list[EvalRecord]:
        return [r for r in self.records if r.item.expect]

    @property
    def out_of_scope(self) -> list[EvalRecord]:
        return [r for r in self.records if not r.item.expect]

    @property
    def top1(self) -> float:
        return self._share(sum(r.top1 for r in self.in_scope), len(self.in_scope))

    @property
    def top3(self) -> float:
        return self._share(sum(r.top3 for r in self.in_scope), len(self.in_scope))

    @property
    def declined(self) -> float:
        return self._share(sum(not r.result.answered for r in self.out_of_scope), len(self.out_of_scope))

    @property
    def overall(self) -> float:
        return self._share(sum(r.correct for r in self.records), len(self.records))

    def tiers(self) -> dict[str, int]:
        """The three replies counted: answers, closest passages (said honestly), declines; and of
        those, the answers that are wrong (a wrong passage, or any answer to an out-of-scope
        question) and the closest passages that hold what was asked."""
        counts = {tier: sum(r.result.tier == tier for r in self.records) for tier in ("answer", "closest", "decline")}
        counts["wrong_answers"] = sum(r.result.answered and not r.correct for r in self.records)
        counts["closest_right"] = sum(r.closest_right for r in self.records)
        return counts

    def totals(self) -> dict[str, Any]:
        return {
            "in_scope": len(self.in_scope),
            "out_of_scope": len(self.out_of_scope),
            "top1": round(self.top1, 4),
            "top3": round(self.top3, 4),
            "declined": round(self.declined, 4),
            "overall": round(self.overall, 4),
            **self.tiers(),
        }


def load_questions(path: Path) -> list[EvalItem]:
    """Read a question file in the format of tests/data/dev-questions.yaml."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(str(path), f"cannot be read as YAML: {exc}") from exc
    if not isinstance(data, list):
        raise CorpusError(str(path), "must be a list of {q, expect} items")
    items = []
    for n, entry in enumerate(data, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("q"), str):
            raise CorpusError(str(path), f"item {n} needs a text 'q'", field="q")
        expect = entry.get("expect")
        if expect == "none" or expect is None:
            items.append(EvalItem(entry["q"], ()))
        elif isinstance(expect, list) and expect and all(isinstance(e, str) for e in expect):
            items.append(EvalItem(entry["q"], tuple(expect)))
        else:
            raise CorpusError(str(path), f"item {n}: expect must be a list of phrases or 'none'", field="expect")
    return items


def _holds(text: str, phrases: Sequence[str]) -> bool:
    low = text.lower()
    return any(p.lower() in low for p in phrases)


def evaluate(matcher: Matcher, items: Sequence[EvalItem]) -> EvalReport:
    records = []
    for item in items:
        result = matcher.search(item.q, limit=3)
        hits = [_holds(m.passage.text, item.expect) for m in result.matches] if result.answered and item.expect else []
        records.append(EvalRecord(item, result, bool(hits[:1] and hits[0]), any(hits[:3])))
    return EvalReport(tuple(records))


# Dialogues: lines in order, each answered in the context of the lines before it


TALK = "talk"  # a line whose right answer is a short line in character (an acknowledgement), not a decline


@dataclass(frozen=True)
class DialogueLine:
    q: str
    expect: tuple[str, ...]  # passage ids, any of which is right; empty: no passage may be shown
    follow: bool = False  # the line cannot stand alone: it needs the turn before
    talk: bool = False  # small talk: a line in character is right, a decline is not
    member: str = "a"
    channel: str = "c1"


@dataclass(frozen=True)
class Dialogue:
    name: str
    lines: tuple[DialogueLine, ...]


@dataclass(frozen=True)
class Answered:
    passage_id: str | None
    talk: bool = False
    reading: str = ""  # how the line was read (for --verbose)


@dataclass(frozen=True)
class LineRecord:
    dialogue: str
    line: DialogueLine
    got: Answered  # in the dialogue
    alone: Answered  # the same line as a single question, in a conversation of its own

    @staticmethod
    def right(line: DialogueLine, got: Answered) -> bool:
        if line.talk:
            return got.talk
        if not line.expect:
            return got.passage_id is None
        return got.passage_id in line.expect

    @property
    def correct(self) -> bool:
        return self.right(self.line, self.got)

    @property
    def correct_alone(self) -> bool:
        return self.right(self.line, self.alone)


@dataclass(frozen=True)
class DialogueReport:
    records: tuple[LineRecord, ...]

    def _share(self, rows: Sequence[LineRecord], alone: bool = False) -> float:
        return sum(r.correct_alone if alone else r.correct for r in rows) / len(rows) if rows else 0.0

    @property
    def follow_ups(self) -> list[LineRecord]:
        return [r for r in self.records if r.line.follow]

    @property
    def standalone(self) -> list[LineRecord]:
        return [r for r in self.records if not r.line.follow and not r.line.talk]

    @property
    def talk(self) -> list[LineRecord]:
        return [r for r in self.records if r.line.talk]

    def totals(self) -> dict[str, Any]:
        return {
            "dialogues": len({r.dialogue for r in self.records}),
            "lines": len(self.records),
            "follow_ups": len(self.follow_ups),
            "standalone": len(self.standalone),
            "talk": len(self.talk),
            "follow_up_right": round(self._share(self.follow_ups), 4),
            "follow_up_right_as_single_questions": round(self._share(self.follow_ups, alone=True), 4),
            "standalone_right": round(self._share(self.standalone), 4),
            "standalone_right_as_single_questions": round(self._share(self.standalone, alone=True), 4),
            "talk_right": round(self._share(self.talk), 4),
            "overall": round(self._share(list(self.records)), 4),
        }


def is_dialogues(path: Path) -> bool:
    """Whether an eval file holds dialogues (items with `dialogue` and `lines`) rather than questions."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "dialogue" in data[0]


def load_dialogues(path: Path) -> list[Dialogue]:
    """Read a dialogue file in the format of tests/data/dialogues-heldout.yaml."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(str(path), f"cannot be read as YAML: {exc}") from exc
    if not isinstance(data, list):
        raise CorpusError(str(path), "must be a list of {dialogue, lines} items")
    dialogues = []
    for n, entry in enumerate(data, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("dialogue"), str):
            raise CorpusError(str(path), f"dialogue {n} needs a text 'dialogue' (its name)", field="dialogue")
        if not isinstance(entry.get("lines"), list) or not entry["lines"]:
            raise CorpusError(str(path), f"dialogue {n} needs a list of 'lines'", field="lines")
        lines = []
        for m, line in enumerate(entry["lines"], 1):
            where = f"dialogue {n} ({entry['dialogue']}), line {m}"
            if not isinstance(line, dict) or not isinstance(line.get("q"), str):
                raise CorpusError(str(path), f"{where} needs a text 'q'", field="q")
            expect = line.get("expect")
            talk = expect == TALK
            if expect in ("none", TALK, None):
                ids: tuple[str, ...] = ()
            elif isinstance(expect, list) and expect and all(isinstance(e, str) for e in expect):
                ids = tuple(expect)
            else:
                raise CorpusError(str(path), f"{where}: expect must be passage ids, 'none' or 'talk'", field="expect")
            follow = line.get("follow", False)
            if not isinstance(follow, bool):
                raise CorpusError(str(path), f"{where}: follow must be true or false", field="follow")
            member, channel = str(line.get("member", "a")), str(line.get("channel", "c1"))
            lines.append(DialogueLine(line["q"], ids, follow, talk, member, channel))
        dialogues.append(Dialogue(entry["dialogue"], tuple(lines)))
    return dialogues


def evaluate_dialogues(
    talk: Callable[[], Callable[[DialogueLine], Answered]], dialogues: Sequence[Dialogue]
) -> DialogueReport:
    """Each dialogue in a fresh conversation (`talk()` opens one: a function answering its lines in
    order), and each line again as a single question in a conversation of its own."""
    records = []
    for dialogue in dialogues:
        say = talk()
        for line in dialogue.lines:
            got = say(line)
            alone = talk()(line)
            records.append(LineRecord(dialogue.name, line, got, alone))
    return DialogueReport(tuple(records))
