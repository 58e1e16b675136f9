"""Scores the matcher on a question file: top-1 and top-3 hits, declines, overall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import CorpusError
from bot.search.matcher import Matcher, MatchResult

__all__ = ["EvalItem", "EvalRecord", "EvalReport", "evaluate", "load_questions"]


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
    """Read a question file in the format of shared/eval/dev-questions.yaml."""
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
