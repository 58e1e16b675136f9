"""Questions to offer after a decline: ones the sources answer, nearest to what was asked."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Sequence

from bot.search.analysis import fold
from bot.search.matcher import Match, Matcher, QueryTerm

__all__ = ["Suggestions"]

COUNT = 4  # questions offered with a decline


def same_question(text: str) -> str:
    """A question as compared with those already asked: folded, punctuation and spacing dropped."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(text)))


class Suggestions:
    """The persona's questions, each with the passage that answers it (found on first use), offered
    nearest first: those whose passage the declined question came closest to, then those sharing
    most of its words (weighted by rarity), then in the persona's order."""

    def __init__(self, matcher: Matcher, questions: Sequence[str], count: int = COUNT) -> None:
        self.matcher = matcher
        self.questions = tuple(dict.fromkeys(questions))
        self.count = count
        self._answers: dict[str, tuple[str, frozenset[str]]] | None = None
        self._lock = threading.Lock()

    def answers(self) -> dict[str, tuple[str, frozenset[str]]]:
        """question -> (the passage that answers it, its index terms); questions that find nothing are left out."""
        with self._lock:
            if self._answers is None:
                found: dict[str, tuple[str, frozenset[str]]] = {}
                for q in self.questions:
                    result = self.matcher.search(q, limit=1)
                    if result.answered:
                        found[q] = (result.matches[0].passage.id, frozenset(t.token.term for t in result.terms))
                self._answers = found
            return self._answers

    def nearest(
        self,
        terms: Sequence[QueryTerm],
        matches: Sequence[Match] = (),
        *,
        asked: Collection[str] = (),
        shown: Collection[str] = (),
    ) -> tuple[str, ...]:
        """The questions to offer for a declined question with these terms and runners-up; none whose
        text was `asked` or whose passage was `shown` in the conversation."""
        near = {m.passage.id: n for n, m in enumerate(matches)}
        weights = {qt.token.term: qt.idf for qt in terms if qt.known and not qt.cue}
        asked_ = {same_question(a) for a in asked}
        scored = []
        for order, (q, (pid, qterms)) in enumerate(self.answers().items()):
            if same_question(q) in asked_ or pid in shown:
                continue
            closeness = len(near) - near[pid] if pid in near else 0
            shared = sum(w for t, w in weights.items() if t in qterms)
            scored.append((-closeness, -shared, order, q))
        scored.sort()
        offered: dict[str, str] = {}  # passage -> question: one question per passage
        for *_, q in scored:
            offered.setdefault(self.answers()[q][0], q)
            if len(offered) == self.count:
                break
        return tuple(offered.values())
