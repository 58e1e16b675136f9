"""The /maisky slash-command group: each subcommand turns its options into a command value and
hands it to the client's front desk. Nothing here decides anything."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.commands import About, Another, Ask, Daily, DailyAction, Help, Quote, Sources, Who
from bot.schedule import zone_names

if TYPE_CHECKING:
    from adapters.discord.client import MaiskyClient

__all__ = ["DailyCommands", "MaiskyCommands"]

Interaction = discord.Interaction[Any]


class DailyCommands(app_commands.Group):
    """/maisky daily subscribe|unsubscribe|status|preview."""

    def __init__(self, client: MaiskyClient) -> None:
        super().__init__(name="daily", description="A daily quotation in this channel (managers change it)")
        self.client = client

    @app_commands.command(name="subscribe", description="Post one of Maisky's quotations here every day")
    @app_commands.describe(time="Local time, HH:MM (default 09:00)", timezone="Area/City, e.g. Europe/London")
    async def subscribe(self, interaction: Interaction, time: str | None = None, timezone: str | None = None) -> None:
        await self.client.answer(interaction, Daily(DailyAction.SUBSCRIBE, time or "", timezone or ""))

    @subscribe.autocomplete("timezone")
    async def zones(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower().replace(" ", "_")
        names = sorted(n for k, n in zone_names().items() if typed in k and "/" in n)
        return [app_commands.Choice(name=n, value=n) for n in names[:25]]

    @app_commands.command(name="unsubscribe", description="Stop the daily quotation in this channel")
    async def unsubscribe(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Daily(DailyAction.UNSUBSCRIBE))

    @app_commands.command(name="status", description="Whether and when this channel gets its daily quotation")
    async def status(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Daily(DailyAction.STATUS))

    @app_commands.command(name="preview", description="The quotation this channel gets next")
    async def preview(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Daily(DailyAction.PREVIEW))


class MaiskyCommands(app_commands.Group):
    """/maisky: one group, so the bot never collides with other bots' commands."""

    def __init__(self, client: MaiskyClient) -> None:
        super().__init__(name="maisky", description="Maisky as narrator: answers only from cited sources")
        self.client = client
        self.add_command(DailyCommands(client))

    @app_commands.command(name="ask", description="Ask about Maisky's London years; the answer is a cited passage")
    @app_commands.describe(question="Your question", private="Only you see the answer (default: everyone)")
    async def ask(
        self, interaction: Interaction, question: app_commands.Range[str, 1, 1000], private: bool = False
    ) -> None:
        await self.client.answer(interaction, Ask(question, private))

    @app_commands.command(name="another", description="The next passage for your last question")
    async def another(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Another())

    @app_commands.command(name="quote", description="One of Maisky's own quotations, with its citation")
    async def quote(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Quote())

    @app_commands.command(name="who", description="What the sources say about a person")
    @app_commands.describe(person="A person the sources mention (start typing for suggestions)")
    async def who(self, interaction: Interaction, person: app_commands.Range[str, 1, 100]) -> None:
        await self.client.answer(interaction, Who(person))

    @who.autocomplete("person")
    async def people(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=p.name, value=p.name) for p in self.client.desk.core.people(current)[:25]]

    @app_commands.command(name="sources", description="The sources the bot speaks through")
    async def sources(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Sources())

    @app_commands.command(name="about", description="What this bot is and how it answers")
    async def about(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, About())

    @app_commands.command(name="help", description="The commands")
    async def help(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Help())
