"""A Reply as a Slack message: Block Kit built with slack_sdk's block models, which check Slack's
limits, plus a labelled fallback text. All text is mrkdwn-escaped, so nothing forms a mention."""

from __future__ import annotations

import json
import re
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
from bot.chat.excerpt import excerpt

__all__ = [
    "ANOTHER", "QUIZ", "SOURCE", "VALUE_LIMIT", "another_value", "escape", "quiz_value", "read_another", "read_quiz",
    "to_slack",
]  # fmt: skip

SECTION_LIMIT = 3000  # characters of mrkdwn in one section block
VALUE_LIMIT = 2000  # characters in a button's value
MAX_BLOCKS = 50
ANOTHER = "maisky_another"
SOURCE = "maisky_source"
QUIZ = re.compile(r"^maisky_quiz_[0-9]$")  # one action id per option of a quiz question
LETTERS = "ABCDEFGHIJ"
BUTTON_TEXT_LIMIT = 75
TEXT_LIMIT = 3000  # characters of the fallback text


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
    head = escape(reply.narration) + "\n\n"
    tail = "\n— " + escape(reply.passage_by) if reply.passage_by else ""
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


def quiz_value(token: str, option: int) -> str:
    """What a quiz option button carries: the question it belongs to and the option."""
    return f"{token}:{option}"


def read_quiz(value: str) -> tuple[str, int] | None:
    token, _, option = value.partition(":")
    return (token, int(option)) if token.isdigit() and option.isdigit() else None


def _choices(reply: Reply) -> list[Block]:
    """A quiz question's options: lettered lines (readable without the buttons), then a button each."""
    lines = tuple(f"{LETTERS[n]}. {c}" for n, c in enumerate(reply.choices))
    buttons = [
        ButtonElement(
            text=excerpt(line, BUTTON_TEXT_LIMIT, mark="…")[0], action_id=f"maisky_quiz_{n}",
            value=quiz_value(reply.token, n),
        )
        for n, line in enumerate(lines)
    ]  # fmt: skip
    return [_section("\n".join(escape(line) for line in lines)), ActionsBlock(elements=buttons)]


def fallback_text(reply: Reply) -> str:
    """The message as plain text, for notifications, screen readers and clients without blocks: the
    label, the narration, any content note, the passage and whose it is, the options or the list,
    and the citation. The passage is cut at a sentence if the whole would not fit."""
    head = f"{reply.label} ({reply.disclosure})\n{reply.narration}"
    if reply.note:
        head += f"\nContent note: {reply.note}"
    tail = "".join(f"\n{LETTERS[n]}. {c}" for n, c in enumerate(reply.choices))
    tail += "".join(f"\n• {item}" for item in reply.items)
    if reply.citation:
        tail += f"\nSource: {reply.citation.line}"
    tail = excerpt(tail, TEXT_LIMIT // 2)[0]
    body = ""
    if reply.passage:
        by = f"\n— {reply.passage_by}" if reply.passage_by else ""
        room = max(TEXT_LIMIT - len(head) - len(tail) - len(by) - 4, 200)
        body = "\n\n" + excerpt(reply.passage, room)[0] + by
    return escape(excerpt(head + body + "\n" + tail, TEXT_LIMIT)[0])


def to_slack(reply: Reply) -> dict[str, Any]:
    """A Reply as chat.postMessage / response_url arguments: Block Kit plus a labelled fallback text."""
    blocks: list[Block] = [_context(f"*{escape(reply.label)}* · {escape(reply.disclosure)}")]
    if reply.note:
        blocks.append(_section(excerpt("*Content note:* " + escape(reply.note), SECTION_LIMIT)[0]))
    if reply.passage:
        blocks.append(_passage_section(reply))
    else:
        blocks.append(_section(escape(excerpt(reply.narration, SECTION_LIMIT)[0])))
    if reply.choices:
        blocks += _choices(reply)
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
    return {"text": fallback_text(reply), "blocks": [b.to_dict() for b in blocks[:MAX_BLOCKS]]}
