"""A Reply as a Discord message: the label in the content and the embed's author line, narration
and passage in the description, the citation in a field, the passage id in the footer. Markdown in
the sources is escaped and nothing the bot sends may ping anyone."""

from __future__ import annotations

from typing import Any

import discord

from bot import Reply
from bot.chat.excerpt import excerpt

__all__ = ["NO_PINGS", "to_discord"]

CONTENT_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
NO_PINGS = discord.AllowedMentions.none()
LETTERS = "ABCDEFGHIJ"  # quiz options are lettered in text, so no meaning rests on a button's place


def _md(text: str) -> str:
    """Discord markdown escaped: what the sources say is shown as written, never as formatting."""
    return discord.utils.escape_markdown(text)


def _bullets(lines: tuple[str, ...], title: str = "") -> str:
    body = "\n".join("• " + _md(line) for line in lines)
    return f"**{_md(title)}**\n{body}" if title and body else body


def _description(reply: Reply) -> str:
    """Narration, the passage as a block quote, then the lists; the passage is cut to fit."""
    narration = _md(reply.narration)
    if reply.note:
        narration = f"**Content note:** {_md(reply.note)}\n\n" + narration
    rest = "\n\n".join(
        part
        for part in (
            "\n".join(f"{LETTERS[n]}. {_md(c)}" for n, c in enumerate(reply.choices)),
            _bullets(tuple(q.line for q in reply.quotations), "Quoted in this passage"),
            _bullets(reply.items),
            _bullets(reply.suggestions),
        )
        if part
    )
    rest, _ = excerpt(rest, DESCRIPTION_LIMIT // 2)
    if not reply.passage:
        return excerpt("\n\n".join(p for p in (narration, rest) if p), DESCRIPTION_LIMIT)[0]
    by = "\n— " + _md(reply.passage_by) if reply.passage_by else ""
    budget = DESCRIPTION_LIMIT - len(narration) - len(rest) - len(by) - 8
    while True:
        text, _ = excerpt(reply.passage, budget)
        quoted = "\n".join("> " + _md(line) if line else "> " for line in text.split("\n"))
        full = "\n\n".join(p for p in (narration, quoted + by, rest) if p)
        if len(full) <= DESCRIPTION_LIMIT:
            return full
        budget -= 200  # escaping and "> " made it longer than its raw length


def _content(reply: Reply) -> str:
    """The message as plain text, for readers without embeds (a setting, a screen reader, a
    notification): the label, the narration, any content note, the passage and whose it is, the
    options, the citation, then the list if it fits. The passage is cut at a sentence to fit."""
    head = f"**{_md(reply.label)}** · {_md(reply.disclosure)}\n{_md(reply.narration)}"
    if reply.note:
        head += f"\nContent note: {_md(reply.note)}"
    tail = "".join(f"\n{LETTERS[n]}. {_md(c)}" for n, c in enumerate(reply.choices))
    if reply.citation:
        tail += f"\nSource: {_md(reply.citation.line)}"
    body = ""
    if reply.passage:
        by = f"\n— {_md(reply.passage_by)}" if reply.passage_by else ""
        budget = CONTENT_LIMIT - len(head) - len(tail) - len(by) - 8
        while budget > 100:
            text, _ = excerpt(reply.passage, budget)
            body = "\n\n" + "\n".join("> " + _md(line) if line else "> " for line in text.split("\n")) + by
            if len(head) + len(body) + len(tail) + 1 <= CONTENT_LIMIT:
                break
            budget -= 200  # escaping and "> " made it longer than its raw length
    text = head + body + ("\n" + tail if tail else "")
    items = "".join(f"\n• {_md(i)}" for i in reply.items)
    if items and len(text) + len(items) + 1 <= CONTENT_LIMIT:
        text += "\n" + items
    return excerpt(text, CONTENT_LIMIT)[0]


def to_discord(reply: Reply) -> dict[str, Any]:
    """A Reply as message arguments (content, embed, allowed_mentions)."""
    content = _content(reply)
    embed = discord.Embed(description=_description(reply), colour=discord.Colour.dark_red())
    embed.set_author(name=reply.label)
    if reply.citation:
        embed.add_field(name="Source", value=excerpt(_md(reply.citation.line), FIELD_LIMIT)[0], inline=False)
        embed.set_footer(text=f"Passage {reply.citation.passage_id}")
    return {"content": content, "embed": embed, "allowed_mentions": NO_PINGS}
