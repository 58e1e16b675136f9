"""Calibrate the reader's thresholds (bot/weights/reader.json) on the TUNING question sets only.

    python training/reader_calibrate.py [--write]

Each tuning set is run on the bundled corpus with and without the passages' keywords: the two
stages find their best candidates once, the shipped reader reads them once, and every choice of
thresholds on a small grid is then decided by the matcher's own `decide`. The chosen ranking
weight, veto and answer thresholds maximise the questions right over all tuning sets (ties: the
fewest wrong answers, then the setting closest to the two stages alone); the "closest passage"
threshold is the lowest that shows the closest passage to at most a fifth of the tuning sets'
out-of-scope questions. The held-out sets (heldout-questions, added-heldout, wikipedia-questions)
are never read here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import Settings, build  # noqa: E402
from bot.search.evaluation import EvalItem, _holds, load_questions  # noqa: E402
from bot.search.matcher import Matcher, MatchResult  # noqa: E402
from bot.search.reader import Card, Reading, load_reader, weights_dir  # noqa: E402

TUNING = [
    "dev-questions.yaml",
    "club-questions.yaml",
    "paraphrase-tuning.yaml",
    "offtopic-tuning.yaml",
    "added-tuning.yaml",
]
HELD_OUT = {"heldout-questions.yaml", "added-heldout.yaml", "wikipedia-questions.yaml"}


@dataclass
class Case:
    item: EvalItem
    stages: MatchResult  # the two stages alone, with up to `candidates` matches
    readings: list[Reading]


def collect(matcher: Matcher, items: list[EvalItem], candidates: int) -> list[Case]:
    reader = load_reader()
    assert reader is not None
    cases = []
    for item in items:
        result = matcher.search(item.q, limit=candidates)
        readings = reader.read(item.q, [m.passage.text for m in result.matches]) if result.matches else []
        cases.append(Case(item, result, readings))
    return cases


def judge(matcher: Matcher, case: Case, card: Card | None) -> tuple[bool, bool, str, bool]:
    """(correct, wrong answer, tier, closest holds what was asked) for one question."""
    if card is None or not case.readings:
        result = replace(case.stages, matches=case.stages.matches[:3])
    else:
        result = matcher.decide(case.item.q, case.stages.terms, case.stages.matches, case.readings, card, 3)
    expect = case.item.expect
    top1 = bool(result.answered and expect and result.matches and _holds(result.matches[0].passage.text, expect))
    correct = top1 if expect else not result.answered
    near = bool(expect and result.tier == "closest" and _holds(result.matches[0].passage.text, expect))
    return correct, result.answered and not correct, result.tier, near


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="write the chosen thresholds to bot/weights/reader.json")
    p.add_argument("--candidates", type=int, default=8)
    args = p.parse_args(argv)
    core = build(Settings.from_env())
    base = core.matcher.rebuilt(reader=False)
    runs: list[tuple[str, Matcher, list[Case]]] = []
    for keywords in (True, False):
        matcher = base if keywords else base.rebuilt(keywords=False)
        for name in TUNING:
            assert name not in HELD_OUT
            items = load_questions(ROOT / "tests" / "data" / name)
            runs.append(
                (
                    f"{name} ({'keywords' if keywords else 'no keywords'})",
                    matcher,
                    collect(matcher, items, args.candidates),
                )
            )
            print(f"read {name}, keywords {keywords}", file=sys.stderr, flush=True)
    card = load_reader()
    assert card is not None
    sha = card.card.sha256

    def score(c: Card | None) -> tuple[int, int]:
        right = wrong = 0
        for _, matcher, cases in runs:
            for case in cases:
                ok, bad, _, _ = judge(matcher, case, c)
                right += ok
                wrong += bad
        return right, wrong

    before = score(None)
    print(f"two stages alone: {before[0]} right, {before[1]} wrong answers", flush=True)
    best: tuple[tuple[int, int, float], Card] | None = None
    for weight, veto, answer in itertools.product(
        (0.0, 0.25, 0.5, 1.0, 2.0), (0.0, 0.02, 0.05, 0.1, 0.2, 0.3), (0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01)
    ):
        c = Card(sha, answer=answer, veto=veto, near=1.01, weight=weight, candidates=args.candidates)
        right, wrong = score(c)
        key = (right, -wrong, -(weight + veto + (1.01 - answer)))
        if best is None or key > best[0]:
            best = (key, c)
    assert best is not None
    chosen = best[1]
    print(f"chosen: weight {chosen.weight}, veto {chosen.veto}, answer {chosen.answer}: {best[0][0]} right, {-best[0][1]} wrong",
          flush=True)  # fmt: skip
    outside = [(m, case) for _, m, cases in runs for case in cases if not case.item.expect]
    near = 1.01
    for threshold in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05):
        c = replace(chosen, near=threshold)
        shown = sum(judge(m, case, c)[2] == "closest" for m, case in outside)
        if shown > len(outside) / 5:
            break
        near = threshold
    # with no weight in the ranking, only the best passage's reading decides anything: read that one
    chosen = replace(chosen, near=near, candidates=1 if chosen.weight == 0 else args.candidates)
    print(f"closest passage from reader >= {near}", flush=True)
    for label, matcher, cases in runs:
        rows = [judge(matcher, case, None) for case in cases]
        after = [judge(matcher, case, chosen) for case in cases]
        n = len(cases)
        tiers = {t: sum(r[2] == t for r in after) for t in ("answer", "closest", "decline")}
        print(f"  {label}: overall {sum(r[0] for r in rows) / n:.3f} -> {sum(r[0] for r in after) / n:.3f};"
              f" wrong answers {sum(r[1] for r in rows)} -> {sum(r[1] for r in after)}; replies {tiers},"
              f" closest holding the answer {sum(r[3] for r in after)}", flush=True)  # fmt: skip
    if args.write:
        path = weights_dir() / "reader.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data.update(
            answer=chosen.answer, veto=chosen.veto, near=chosen.near, weight=chosen.weight, candidates=chosen.candidates
        )
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
