"""A Reply as a Slack message: Block Kit built with slack_sdk's block models, which check Slack's
limits, plus a labelled fallback text. Markup, escaping and Slack's limits only: the words, the
lettered options and the buttons come laid out in the reply (bot/chat/reply.py). All text is
mrkdwn-escaped, so nothing forms a mention."""

from __future__ import annotations

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

from bot import Reply
from bot.chat.excerpt import excerpt
from bot.chat.reply import ActionKind

__all__ = ["ANOTHER", "QUIZ", "SOURCE", "escape", "to_slack"]

SECTION_LIMIT = 3000  # characters of mrkdwn in one section block
MAX_BLOCKS = 50
ANOTHER = "maisky_another"
SOURCE = "maisky_source"
QUIZ = re.compile(r"^maisky_quiz_[0-9]$")  # one action id per option of a quiz question
BUTTON_TEXT_LIMIT = 75
MAX_RANK = 999  # runners-up a button may ask for: more than anyone clicks through (Discord's carry 3 digits)
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


def _choices(reply: Reply) -> list[Block]:
    """A quiz question's options as lettered lines, readable without the buttons."""
    return [_section("\n".join(escape(line) for line in reply.lettered))]


def _buttons(reply: Reply) -> list[Block]:
    """The reply's actions as one row of buttons."""
    elements = []
    for n, action in enumerate(reply.actions):
        label = excerpt(action.label, BUTTON_TEXT_LIMIT, mark="…")[0]
        match action.kind:
            case ActionKind.ANOTHER:
                elements.append(ButtonElement(text=label, action_id=ANOTHER, value=action.value))
            case ActionKind.SOURCE:
                elements.append(ButtonElement(text=label, action_id=SOURCE, url=action.value))
            case ActionKind.OPTION:
                elements.append(ButtonElement(text=label, action_id=f"maisky_quiz_{n}", value=action.value))
    return [ActionsBlock(elements=elements)] if elements else []


def fallback_text(reply: Reply) -> str:
    """The message as plain text, for notifications, screen readers and clients without blocks: the
    label, the narration, any content note, the passage and whose it is, the options or the list,
    and the citation. The passage is cut at a sentence if the whole would not fit."""
    head = f"{reply.label} ({reply.disclosure})\n{reply.narration}"
    if reply.note:
        head += f"\n{reply.words.content_note}: {reply.note}"
    tail = "".join(f"\n{line}" for line in reply.lettered)
    tail += "".join(f"\n• {item}" for item in reply.items)
    if reply.citation:
        tail += f"\n{reply.words.source}: {reply.citation.line}"
    tail = excerpt(tail, TEXT_LIMIT // 2)[0]
    body = ""
    if reply.passage:
        by = f"\n— {reply.passage_by}" if reply.passage_by else ""
        room = max(TEXT_LIMIT - len(head) - len(tail) - len(by) - 4, 200)
        body = "\n\n" + excerpt(reply.passage, room)[0] + by
    return escape(excerpt(head + body + "\n" + tail, TEXT_LIMIT)[0])


def to_slack(reply: Reply) -> dict[str, Any]:
    """A Reply as chat.postMessage / response_url arguments: Block Kit plus a labelled fallback text."""
    words = reply.words
    blocks: list[Block] = [_context(f"*{escape(reply.label)}* · {escape(reply.disclosure)}")]
    if reply.note:
        blocks.append(_section(excerpt(f"*{escape(words.content_note)}:* " + escape(reply.note), SECTION_LIMIT)[0]))
    if reply.passage:
        blocks.append(_passage_section(reply))
    else:
        blocks.append(_section(escape(excerpt(reply.narration, SECTION_LIMIT)[0])))
    if reply.choices:
        blocks += _choices(reply)
        if not reply.citation:
            blocks += _buttons(reply)
    if reply.quotations:
        blocks += _bullets(tuple(q.line for q in reply.quotations), words.quoted)
    blocks += _bullets(reply.items) + _bullets(reply.suggestions)
    if reply.citation:
        blocks.append(_context(excerpt(f"{escape(words.source)}: " + escape(reply.citation.line), SECTION_LIMIT)[0]))
        blocks += _buttons(reply)
    return {"text": fallback_text(reply), "blocks": [b.to_dict() for b in blocks[:MAX_BLOCKS]]}
