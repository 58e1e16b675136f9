"""Drops from a pip-compile lock what the bot never imports: the packages that a dependency declares
but we do not use, and everything only they pull in. Run by bin/lock; the lock is installed --no-deps.

tokenizers declares huggingface-hub for `Tokenizer.from_pretrained`, which downloads from a model hub:
the bot reads its tokenizer from the installed model package and must never fetch at run time.
onnxruntime declares flatbuffers and packaging for its tools (quantization, the ORT model format,
the transformers scripts, onnxruntime.backend); `import onnxruntime` and an inference session need neither.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

UNUSED = {"huggingface-hub", "flatbuffers", "packaging"}


def prune(text: str, unused: set[str]) -> tuple[str, list[str]]:
    head, *blocks = re.split(r"\n(?=[a-z0-9])", text)
    parents: dict[str, set[str]] = {}
    for block in blocks:
        name = block.split("==", 1)[0]
        via = re.findall(r"#\s+(?:via\s+)?([^\n]+)", block)
        parents[name] = {p.strip() for line in via for p in line.replace("#", "").split(",") if p.strip()}
    dropped = set(unused) & set(parents)
    while True:
        more = {n for n, ps in parents.items() if n not in dropped and ps and ps <= dropped}
        if not more:
            break
        dropped |= more
    kept = [b for b in blocks if b.split("==", 1)[0] not in dropped]
    return "\n".join([head, *kept]) + ("" if text.endswith("\n") and kept else "\n"), sorted(dropped)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        path = Path(arg)
        text, dropped = prune(path.read_text(encoding="utf-8"), UNUSED)
        path.write_text(text, encoding="utf-8")
        print(f"{path}: left out {', '.join(dropped) or 'nothing'}", file=sys.stderr)
