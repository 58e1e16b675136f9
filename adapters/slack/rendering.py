"""A Reply as a Slack message: Block Kit built with slack_sdk's block models, which check Slack's
limits, plus a labelled fallback text. All text is mrkdwn-escaped, so nothing forms a mention."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import Kind, Reply
from bot.excerpt import excerpt

__all__ = ["ANOTHER", "SOURCE", "VALUE_LIMIT", "another_value", "escape", "read_another", "to_slack"]

SECTION_LIMIT = 3000  # characters of mrkdwn in one section block
VALUE_LIMIT = 2000  # characters in a button's value
MAX_BLOCKS = 50
ANOTHER = "maisky_another"
SOURCE = "maisky_source"


def escape(text: str) -> str:
    """Slack mrkdwn escaping: with &, < and > escaped nothing can form a mention, link or <!channel>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _bullets(lines: tuple[str, ...], title: str = "") -> list[Block]:
    """Bulleted lines in as few sections as the section limit allows."""
    blocks: list[Block] = []
    chunk = f"*{escape(title)}*\n" if title else ""
    for line in lines:
        item, _ = excerpt("• " + escape(line), SECTION_LIMIT - 1)
        if len(chunk) + len(item) + 1 > SECTION_LIMIT:
            blocks.append(_section(chunk.rstrip()))
            chunk = ""
        chunk += item + "\n"
    if chunk.strip():
        blocks.append(_section(chunk.rstrip()))
    return blocks


def _passage_section(reply: Reply) -> SectionBlock:
    """Narration, the passage as a block quote and whose it is, cut at a sentence to fit one section."""
    head, tail = escape(reply.narration) + "\n\n", "\n— " + escape(reply.passage_by)
    budget = SECTION_LIMIT - len(head) - len(tail)
    while True:
        text, _ = excerpt(reply.passage, budget)
        quoted = "\n".join("> " + escape(line) if line else ">" for line in text.split("\n"))
        if len(head) + len(quoted) + len(tail) <= SECTION_LIMIT:
            return _section(head + quoted + tail)
        budget -= 200  # escaping and "> " prefixes made it longer than its raw length


def another_value(question: str, rank: int) -> str:
    """What an "Another passage" button carries: the question and the rank to show, within Slack's
    2,000 characters however long the question and whatever its characters."""
    value = json.dumps({"q": question, "r": rank}, ensure_ascii=False)
    while len(value) > VALUE_LIMIT:
        question = question[: len(question) - (len(value) - VALUE_LIMIT)]
        value = json.dumps({"q": question, "r": rank}, ensure_ascii=False)
    return value


def read_another(value: str) -> tuple[str, int] | None:
    """The question and rank an "Another passage" button carries; None if the value is not one."""
    try:
        data = json.loads(value)
        return str(data["q"]), int(data["r"])
    except (KeyError, ValueError, TypeError):
        return None


def to_slack(reply: Reply) -> dict[str, Any]:
    """A Reply as chat.postMessage / response_url arguments: Block Kit plus a labelled fallback text."""
    blocks: list[Block] = [_context(f"*{escape(reply.label)}* · {escape(reply.disclosure)}")]
    if reply.passage:
        blocks.append(_passage_section(reply))
    else:
        blocks.append(_section(escape(excerpt(reply.narration, SECTION_LIMIT)[0])))
    if reply.quotations:
        blocks += _bullets(tuple(q.line for q in reply.quotations), "Quoted in this passage")
    blocks += _bullets(reply.items) + _bullets(reply.suggestions)
    if reply.citation:
        blocks.append(_context(excerpt("Source: " + escape(reply.citation.line), SECTION_LIMIT)[0]))
        if reply.kind in (Kind.ANSWER, Kind.WHO):
            buttons = [ButtonElement(text="Source", action_id=SOURCE, url=reply.citation.url)]
            if reply.kind is Kind.ANSWER:  # "another" re-asks the question; a who reply has none
                value = another_value(reply.question, reply.rank + 1)
                buttons.insert(0, ButtonElement(text="Another passage", action_id=ANOTHER, value=value))
            blocks.append(ActionsBlock(elements=buttons))
    text = f"{reply.label} ({reply.disclosure}) {reply.narration}"
    if reply.citation:
        text += f" Source: {reply.citation.line}"
    return {"text": escape(excerpt(text, 3000)[0]), "blocks": [b.to_dict() for b in blocks[:MAX_BLOCKS]]}
