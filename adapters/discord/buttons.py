"""The buttons: "Another passage", whose custom_id (100 characters at most) carries the key of the
conversation turn it follows (bot/chat/memory.py keeps the turn), and a quiz question's options."""

from __future__ import annotations

import re
from typing import Any

import discord

from adapters.discord.answering import Answering
from bot.chat.commands import Another, Quiz, QuizAction

__all__ = ["AnotherPassage", "QuizOption", "forged"]


class AnotherPassage(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    # buttons sent before conversation turns carried a rank too: their keys are unknown, so they expire
    template=r"maisky:another:(?P<key>[0-9a-f]{16})(?::[0-9]{1,3})?",
):
    """The next-best passage for the turn's question, shown only to whoever clicks."""

    def __init__(self, key: str, label: str = "Another passage") -> None:
        super().__init__(
            discord.ui.Button(label=label[:80], style=discord.ButtonStyle.secondary, custom_id=f"maisky:another:{key}")
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnotherPassage:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: Answering = interaction.client
        await client.answer(interaction, Another(self.key))


class QuizOption(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"maisky:quiz:(?P<token>[0-9]{1,18}):(?P<option>[0-9])",
):
    """One option of a quiz question; its custom_id names the question, so a click on an old
    question's button finds that question closed."""

    def __init__(self, token: str, option: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=(label or str(option))[:80], style=discord.ButtonStyle.secondary,
                custom_id=f"maisky:quiz:{token}:{option}",
            )
        )  # fmt: skip
        self.token, self.option = token, option

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> QuizOption:
        return cls(match["token"], int(match["option"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: Answering = interaction.client
        await client.answer(interaction, Quiz(QuizAction.CHOOSE, token=self.token, option=self.option))


def forged(custom_id: str) -> bool:
    """Whether a button's custom_id claims to be ours but is none we send (a forged rank such as -1000,
    or a damaged id): no item of ours would answer it, so the click is told the button is no longer valid."""
    if not custom_id.startswith("maisky:"):
        return False
    items: tuple[Any, ...] = (AnotherPassage, QuizOption)
    return not any(item.__discord_ui_compiled_template__.fullmatch(custom_id) for item in items)
