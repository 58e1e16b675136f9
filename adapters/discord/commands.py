"""The /maisky slash-command group: each subcommand turns its options into a command value and
hands it to the client's front desk. Nothing here decides anything."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from adapters.discord.answering import Answering
from bot.chat.commands import (
    About,
    Another,
    Ask,
    Daily,
    DailyAction,
    Help,
    Quiz,
    QuizAction,
    Quote,
    Sources,
    Timeline,
    Who,
)
from bot.club.schedule import zone_names

__all__ = ["DailyCommands", "MaiskyCommands"]

Interaction = discord.Interaction[Any]
T = app_commands.locale_str  # every description goes through the tree's translator (adapters/discord/translator.py)


class DailyCommands(app_commands.Group):
    """/maisky daily subscribe|unsubscribe|status|preview."""

    def __init__(self, client: Answering) -> None:
        super().__init__(name="daily", description=T("A daily quotation in this channel (managers change it)"))
        self.client = client

    @app_commands.command(name="subscribe", description=T("Post one of Maisky's quotations here every day"))
    @app_commands.describe(time=T("Local time, HH:MM (default 09:00)"), timezone=T("Area/City, e.g. Europe/London"))
    async def subscribe(self, interaction: Interaction, time: str | None = None, timezone: str | None = None) -> None:
        await self.client.answer(interaction, Daily(DailyAction.SUBSCRIBE, time or "", timezone or ""))

    @subscribe.autocomplete("timezone")
    async def zones(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower().replace(" ", "_")
        names = sorted(n for k, n in zone_names().items() if typed in k and "/" in n)
        return [app_commands.Choice(name=n, value=n) for n in names[:25]]

    @app_commands.command(name="unsubscribe", description=T("Stop the daily quotation in this channel"))
    async def unsubscribe(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Daily(DailyAction.UNSUBSCRIBE))

    @app_commands.command(name="status", description=T("Whether and when this channel gets its daily quotation"))
    async def status(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Daily(DailyAction.STATUS))

    @app_commands.command(name="preview", description=T("The quotation this channel gets next"))
    async def preview(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Daily(DailyAction.PREVIEW))


@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
class MaiskyCommands(app_commands.Group):
    """/maisky: one group, so the bot never collides with other bots' commands.

    Where it is offered is set here, not left to the portal's defaults: installed to servers only (the
    bot answers where it is a member), used in servers and in direct messages with the bot. Discord
    takes `contexts` on top-level commands only, so `/maisky daily` cannot be limited to servers by
    itself; in a DM the desk answers it with word that daily posts are for server channels."""

    def __init__(self, client: Answering) -> None:
        super().__init__(name="maisky", description=T("Maisky as narrator: answers only from cited sources"))
        self.client = client
        self.add_command(DailyCommands(client))

    def to_dict(self, tree: app_commands.CommandTree[Any]) -> dict[str, Any]:
        """discord.py's payload without `dm_permission`, which Discord deprecated for `contexts`."""
        payload = super().to_dict(tree)
        payload.pop("dm_permission", None)
        return payload

    @app_commands.command(name="ask", description=T("Ask about Maisky's London years; the answer is a cited passage"))
    @app_commands.describe(question=T("Your question"), private=T("Only you see the answer (default: everyone)"))
    async def ask(
        self, interaction: Interaction, question: app_commands.Range[str, 1, 1000], private: bool = False
    ) -> None:
        await self.client.answer(interaction, Ask(question, private))

    @app_commands.command(name="another", description=T("The next passage for your last question"))
    async def another(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Another())

    @app_commands.command(name="quote", description=T("One of Maisky's own quotations, with its citation"))
    async def quote(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Quote())

    @app_commands.command(name="who", description=T("What the sources say about a person"))
    @app_commands.describe(person=T("A person the sources mention (start typing for suggestions)"))
    async def who(self, interaction: Interaction, person: app_commands.Range[str, 1, 100]) -> None:
        await self.client.answer(interaction, Who(person))

    @who.autocomplete("person")
    async def people(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=p.name, value=p.name) for p in self.client.desk.core.people(current)[:25]]

    @app_commands.command(name="quiz", description=T("A quiz question for this channel: who said it, or when was it"))
    @app_commands.describe(
        answer=T("Your answer to the open question: a name, a year, or an option's letter"),
        action=T("Stop the open question and show its answer, or show the scores"),
    )
    @app_commands.choices(
        action=[app_commands.Choice(name="stop", value="stop"), app_commands.Choice(name="scores", value="scores")]
    )
    async def quiz(
        self,
        interaction: Interaction,
        answer: app_commands.Range[str, 1, 100] | None = None,
        action: app_commands.Choice[str] | None = None,
    ) -> None:
        if answer:
            command = Quiz(QuizAction.ANSWER, answer=answer)
        else:
            command = Quiz(QuizAction(action.value) if action else QuizAction.ASK)
        await self.client.answer(interaction, command)

    @app_commands.command(name="timeline", description=T("The dated passages in order, by year, decade or range"))
    @app_commands.describe(years=T("A year, a decade or a range: 1939, 1930s, 1939-1941 (start typing for years)"))
    async def timeline(self, interaction: Interaction, years: app_commands.Range[str, 1, 20] | None = None) -> None:
        await self.client.answer(interaction, Timeline(years or ""))

    @timeline.autocomplete("years")
    async def years(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Years the sources date passages in; after "1939-", the years that can end the range."""
        first, dash, rest = current.strip().partition("-")
        core = self.client.desk.core
        if dash and first.isdigit():
            ends = [y for y in core.timeline_years(rest) if y >= int(first)]
            return [app_commands.Choice(name=f"{first}-{y}", value=f"{first}-{y}") for y in ends[:25]]
        return [app_commands.Choice(name=str(y), value=str(y)) for y in core.timeline_years(first)[:25]]

    @app_commands.command(name="sources", description=T("The sources the bot speaks through"))
    async def sources(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Sources())

    @app_commands.command(name="about", description=T("What this bot is and how it answers"))
    async def about(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, About())

    @app_commands.command(name="help", description=T("The commands"))
    async def help(self, interaction: Interaction) -> None:
        await self.client.answer(interaction, Help())
