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
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from bot.sources.corpus import Corpus, Passage, Source

__all__ = ["paragraphs", "sentence_passages", "with_prose"]

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
    return _kept("prose", "paragraphs", limit, min_words, lambda: _scan(limit, min_words))


def _kept(kind: str, field: str, limit: int, min_words: int, build: Callable[[], list[str]]) -> list[str]:
    """Up to `limit` texts from the cache folder's file for `kind`, else `build()`'s, kept there
    (with whether they are all there are) for the next run."""
    from bot.search.embedding import default_cache_dir

    kept = default_cache_dir() / f"bench-{kind}-{sys.version_info[0]}{sys.version_info[1]}-{min_words}.json"
    try:
        cached = json.loads(kept.read_text(encoding="utf-8"))
        if cached["complete"] or len(cached[field]) >= limit:
            return list(cached[field][:limit])
    except (OSError, ValueError, KeyError):
        pass
    found = build()
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps({"complete": len(found) < limit, field: found}), encoding="utf-8")
    return found


def _modules() -> Iterator[tuple[str, list[str]]]:
    """Each installed module's source and the paragraphs of its documentation strings, spaces folded."""
    for path in _files():
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
            tree = ast.parse(source)
        except (SyntaxError, ValueError, OSError, RecursionError):
            continue
        paras: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                paras.extend(_WS.sub(" ", para).strip() for para in (doc or "").split("\n\n"))
        yield source, paras


def _scan(limit: int, min_words: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for _, paras in _modules():
        for text in paras:
            if text in seen or not _prose(text, min_words):
                continue
            seen.add(text)
            out.append(text)
            if len(out) >= limit:
                return out
    return out


def sentence_passages(limit: int, min_words: int = 8) -> list[str]:
    """Up to `limit` sentence-sized passages: the paragraphs of `paragraphs()` first (about 13,000
    in this project's dev install), then every distinct sentence of at least `min_words` words of
    the same documentation strings that is not already inside one of them, then of the comments
    (consecutive `#` lines joined) of the same modules. Real prose for corpora of 100,000
    passages, which the paragraphs alone cannot fill. Kept in the cache folder like `paragraphs`."""
    return _kept("sentences", "passages", limit, min_words, lambda: _sentence_scan(limit, min_words))


def _sentence_scan(limit: int, min_words: int) -> list[str]:
    out = paragraphs(limit)
    seen = set(out)
    inside = {s for p in out for s in _sentences(p)}
    if len(out) < limit:
        for text in _scan_all(min_words):
            if text in seen or text in inside:
                continue
            seen.add(text)
            out.append(text)
            if len(out) >= limit:
                break
    return out


def _sentences(text: str) -> list[str]:
    from bot.search.semantic import sentences

    return sentences(text)


def _prose(text: str, min_words: int) -> bool:
    return (
        len(text.split()) >= min_words
        and not _CODEISH.search(text)
        and sum(c.isalpha() or c == " " for c in text) >= 0.9 * len(text)
    )


def _scan_all(min_words: int) -> Iterator[str]:
    """Sentences of documentation strings, then of comments, of every installed module."""
    comments: list[str] = []
    for source, paras in _modules():
        for para in paras:
            yield from (s for s in _sentences(para) if _prose(s, min_words))
        block: list[str] = []
        for line in [*source.splitlines(), ""]:
            stripped = line.strip()
            if stripped.startswith("#") and not stripped.startswith("#!"):
                block.append(stripped.lstrip("#").strip())
            elif block:
                comments.extend(s for s in _sentences(" ".join(block)) if _prose(s, min_words))
                block = []
    yield from comments


def with_prose(corpus: Corpus, n: int, *, sentences: bool = False) -> Corpus:
    """`corpus` plus `n` unrelated passages (fewer if the installation has fewer): paragraphs of
    documentation, or with `sentences` the sentence-sized passages that reach 100,000."""
    source = Source("docs", "Python documentation strings", "Various", "Installed packages", dt.date(2026, 1, 1),
                    "https://docs.python.org", "docs.toml")  # fmt: skip
    texts = sentence_passages(n) if sentences else paragraphs(n)
    extra = tuple(Passage(f"docs.p{i}", source, i + 1, t, ()) for i, t in enumerate(texts))
    return replace(corpus, sources=(*corpus.sources, source), passages=(*corpus.passages, *extra))
