"""What the slash commands and buttons hand their work to: the client, answering through its desk."""

from __future__ import annotations

from typing import Any, Protocol

import discord

from bot.chat.commands import Command
from bot.chat.desk import FrontDesk

__all__ = ["Answering"]


class Answering(Protocol):
    """The client as the commands and buttons see it (adapters.discord.client.MaiskyClient)."""

    desk: FrontDesk

    async def answer(self, interaction: discord.Interaction[Any], command: Command) -> None: ...
