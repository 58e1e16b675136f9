"""Unrelated real prose for benchmarks: paragraphs of the documentation strings of installed Python
modules (the standard library first, then site-packages), read with `ast` (nothing is imported).

Deterministic for a given Python installation. Documentation is the "unrelated prose" of the
issue: it shares many ordinary words with the bundled article (war, ambassador, history do not
occur; "record", "opinion", "London" occasionally do) but none of its subject.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from bot.corpus import Corpus, Passage, Source

__all__ = ["paragraphs", "with_prose"]

_WS = re.compile(r"\s+")
_CODEISH = re.compile(r"[{}<>=\[\]_|`\\]|\.\.\.|>>>|::|\(\)")


def _files() -> Iterator[Path]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), *(Path(p) for p in sys.path if p.endswith("site-packages"))]
    for root in roots:
        if root.is_dir():
            yield from sorted(root.rglob("*.py"))


def paragraphs(limit: int, min_words: int = 25) -> list[str]:
    """Up to `limit` distinct prose paragraphs of at least `min_words` words (kept in the cache
    folder after the first run: parsing every installed module takes minutes)."""
    from bot.embedding import default_cache_dir

    kept = default_cache_dir() / f"bench-prose-{sys.version_info[0]}{sys.version_info[1]}-{min_words}.json"
    try:
        cached = json.loads(kept.read_text(encoding="utf-8"))
        if cached["complete"] or len(cached["paragraphs"]) >= limit:
            return list(cached["paragraphs"][:limit])
    except (OSError, ValueError, KeyError):
        pass
    found = _scan(limit, min_words)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps({"complete": len(found) < limit, "paragraphs": found}), encoding="utf-8")
    return found


def _scan(limit: int, min_words: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for path in _files():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError, RecursionError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            for para in doc.split("\n\n"):
                text = _WS.sub(" ", para).strip()
                if len(text.split()) < min_words or _CODEISH.search(text) or text in seen:
                    continue
                if sum(c.isalpha() or c == " " for c in text) < 0.9 * len(text):
                    continue
                seen.add(text)
                out.append(text)
                if len(out) >= limit:
                    return out
    return out


def with_prose(corpus: Corpus, n: int) -> Corpus:
    """`corpus` plus `n` unrelated passages (fewer if the installation has fewer)."""
    source = Source("docs", "Python documentation strings", "Various", "Installed packages", dt.date(2026, 1, 1),
                    "https://docs.python.org", "docs.toml")  # fmt: skip
    extra = tuple(Passage(f"docs.p{i}", source, i + 1, t, ()) for i, t in enumerate(paragraphs(n)))
    return replace(corpus, sources=(*corpus.sources, source), passages=(*corpus.passages, *extra))
