"""Record the shipped reader's scores for fixed pairs: tests/data/reader-reference.json.

    python training/reader_reference.py

Run after training (or calibrating) new weights; tests/test_reader.py checks that the weights
that ship still give these scores. The pairs come from the written training pairs (public texts,
training/data/written), never from the question sets: the first answered and near-miss pairs of
a few texts, and, for the ordering check, the first questions whose answering passage the reader
scores above a near miss of the same text (recorded behaviour, not a measure of accuracy).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.search.reader import load_reader  # noqa: E402


def main() -> int:
    reader = load_reader()
    assert reader is not None
    pairs = []
    ordered = []
    for name in ("munich", "molotov", "lendlease", "contrast"):
        rows = [
            json.loads(line)
            for line in (ROOT / "training" / "data" / "written" / f"{name}.jsonl").read_text().splitlines()
        ]
        for kind in ("answer", "near_miss"):
            row = next(r for r in rows if r["kind"] == kind)
            logit = float(reader.logits(row["question"], [row["passage"]])[0])
            pairs.append(
                {"question": row["question"], "passage": row["passage"], "kind": kind, "logit": round(logit, 4)}
            )
        answers = [r for r in rows if r["kind"] == "answer"]
        others = {r["passage"] for r in rows}
        for r in answers:
            wrong = next((p for p in sorted(others) if p != r["passage"]), None)
            if wrong is None:
                continue
            s = reader.logits(r["question"], [r["passage"], wrong])
            if s[0] > s[1] + 0.5:
                ordered.append({"question": r["question"], "answers": r["passage"], "does_not": wrong})
                break
    out = ROOT / "tests" / "data" / "reader-reference.json"
    out.write_text(
        json.dumps({"sha256": reader.sha256, "pairs": pairs, "ordered": ordered}, indent=1, ensure_ascii=False) + "\n"
    )
    print(f"wrote {out}: {len(pairs)} pairs, {len(ordered)} ordered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
