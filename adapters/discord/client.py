"""The Discord front end on discord.py: the /maisky command group, mentions, DMs and buttons.

Translation only: an interaction or a message becomes a command and a caller, the front desk
answers (in a thread), and the outcome becomes a message, public or only for the caller. A quick
answer is sent at once; a slow one is deferred first, so Discord's 3-second window is always met.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands

from adapters.discord.buttons import (
    AnotherPassage,
    MemoryBook,
    QuestionBook,
    QuestionStore,
    QuizOption,
    StoreBook,
    question_key,
)
from adapters.discord.checks import interaction_reach, message_reach
from adapters.discord.commands import MaiskyCommands
from adapters.discord.endpoints import Endpoints, RoutedHTTP, use_in_this_context
from adapters.discord.rendering import LETTERS, NO_PINGS, to_discord
from adapters.discord.translator import DataTranslator
from bot import Kind, Maisky
from bot.chat.commands import Command
from bot.chat.desk import Caller, FrontDesk, Outcome
from bot.errors import ServiceError
from bot.ops.settings import DiscordSettings

if TYPE_CHECKING:
    from pathlib import Path

    from bot.club.daily import Daily
    from bot.club.quiz import Quiz

__all__ = [
    "PERMISSIONS", "MaiskyClient", "ShardedMaiskyClient", "build_client", "commands_hash", "run", "sync_commands",
    "to_discord",
]  # fmt: skip

log = logging.getLogger(__name__)

PREFIX = "/maisky "
QUICK = 1.5  # seconds: an answer ready by then is sent at once; a slower one is deferred first
UNKNOWN_INTERACTION = 10062  # the interaction expired before we answered it
# What the bot needs in a channel; README's invite URL carries this value (a test checks they agree).
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    read_message_history=True,
    use_application_commands=True,
)


async def commands_hash(tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None) -> str:
    """A fingerprint of the command set exactly as sync would send it, translations included."""
    translator = tree.translator or DataTranslator()  # a tree not yet set up: the bundled translations
    payload = [await c.get_translated_payload(tree, translator) for c in tree.get_commands(guild=guild)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


async def sync_commands(tree: app_commands.CommandTree[Any], ds: DiscordSettings, *, force: bool = False) -> bool:
    """Sync the commands only when they changed since the last sync (or when forced): Discord
    limits command creates per day, so syncing on every start or reconnect would burn them."""
    guild = discord.Object(id=ds.guild_id) if ds.guild_id else None
    if guild:
        tree.copy_global_to(guild=guild)
    digest = await commands_hash(tree, guild)
    mark = ds.state_dir / f"discord-commands-{ds.guild_id or 'global'}.sha256"
    if not force and mark.is_file() and mark.read_text().strip() == digest:
        log.info("Discord commands unchanged; not syncing")
        return False
    synced = await tree.sync(guild=guild)
    ds.state_dir.mkdir(parents=True, exist_ok=True)
    mark.write_text(digest + "\n")
    log.info("synced %d Discord command(s) to %s", len(synced), f"guild {ds.guild_id}" if guild else "all guilds")
    return True


class MaiskyTree(app_commands.CommandTree["MaiskyClient"]):
    """The command tree; each interaction's responses go to its client's endpoints."""

    async def interaction_check(self, interaction: discord.Interaction[MaiskyClient], /) -> bool:
        use_in_this_context(self.client.endpoints)  # this interaction's task only, before any response
        return True


class MaiskyClient(discord.Client):
    """The bot: its command tree, the button, mentions and DMs, all answered by one front desk.
    `endpoints` are this client's own REST base and gateway; nothing else in the process moves."""

    def __init__(
        self,
        desk: FrontDesk,
        ds: DiscordSettings,
        *,
        force_sync: bool = False,
        questions: QuestionBook | None = None,
        translations: Path | None = None,
        **options: Any,
    ) -> None:
        # mentions and DMs carry their text without the privileged message-content intent
        super().__init__(intents=discord.Intents.default(), allowed_mentions=NO_PINGS, **options)
        self.endpoints = Endpoints.of(ds)
        self.http = RoutedHTTP(self.loop, self.endpoints)
        self._connection.http = self.http  # the connection state sends through the same client
        self.desk = desk
        self.ds = ds
        self.force_sync = force_sync
        self.questions: QuestionBook = questions or MemoryBook()
        self.translator = DataTranslator(translations)
        self.tree = MaiskyTree(self)
        self.tree.add_command(MaiskyCommands(self))
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        self.daily_stop = threading.Event()  # the scheduler's stop; adapters.discord.serve sets it on SIGTERM
        self.daily_thread: threading.Thread | None = None  # ... and waits for this thread's send to finish

    async def setup_hook(self) -> None:
        self.add_dynamic_items(AnotherPassage, QuizOption)
        await self.tree.set_translator(self.translator)  # command and option descriptions, per locale
        await sync_commands(self.tree, self.ds, force=self.force_sync)
        daily = self.desk.daily()
        if daily is not None and not self.force_sync:
            from adapters.discord.posting import DiscordPoster  # posting imports this package

            poster = DiscordPoster(self.http, asyncio.get_running_loop())
            self.daily_thread = threading.Thread(
                target=daily.serve, args=({"discord": poster}, self.daily_stop), daemon=True
            )
            self.daily_thread.start()

    async def close(self) -> None:
        self.daily_stop.set()
        await super().close()

    # translation: platform -> caller, outcome -> message

    def caller(self, interaction: discord.Interaction[Any]) -> Caller:
        perms = interaction.permissions
        manages = interaction.guild_id is not None and (perms.manage_channels or perms.manage_guild)
        return Caller(
            "discord", str(interaction.guild_id or ""), str(interaction.channel_id or ""), str(interaction.user.id),
            may_manage=manages, name=interaction.user.display_name,
            may_administer=interaction.guild_id is not None and perms.manage_guild,
            reach=lambda: interaction_reach(interaction),
        )  # fmt: skip

    def message_caller(self, msg: discord.Message) -> Caller:
        def manages() -> bool:
            author = msg.author
            if not isinstance(author, discord.Member) or isinstance(msg.channel, discord.abc.PrivateChannel):
                return False
            perms = msg.channel.permissions_for(author)
            return perms.manage_channels or perms.manage_guild

        def administers() -> bool:
            return isinstance(msg.author, discord.Member) and msg.author.guild_permissions.manage_guild

        guild = str(msg.guild.id) if msg.guild else ""
        return Caller(
            "discord", guild, str(msg.channel.id), str(msg.author.id), may_manage=manages, name=msg.author.display_name,
            may_administer=administers, reach=lambda: message_reach(msg),
        )  # fmt: skip

    async def message(self, outcome: Outcome) -> dict[str, Any]:
        """The outcome as message arguments, with its buttons; an answer's question is put in the book."""
        out = to_discord(outcome.reply)
        reply = outcome.reply
        if reply.citation and reply.kind in (Kind.ANSWER, Kind.WHO):
            view = discord.ui.View(timeout=None)
            if reply.kind is Kind.ANSWER:
                key = question_key(reply.question)
                try:
                    await asyncio.to_thread(self.questions.remember, key, reply.question)
                except Exception:  # the answer still goes out; only its button may find no question later
                    log.exception("could not keep the question behind an Another passage button")
                view.add_item(AnotherPassage(key, reply.rank + 1))
            view.add_item(discord.ui.Button(label="Source", url=reply.citation.url, style=discord.ButtonStyle.link))
            out["view"] = view
        if reply.choices and reply.token:
            view = discord.ui.View(timeout=None)
            for n, choice in enumerate(reply.choices):
                view.add_item(QuizOption(reply.token, n, f"{LETTERS[n]}. {choice}"))
            out["view"] = view
        return out

    async def recall(self, key: str) -> str | None:
        try:
            return await asyncio.to_thread(self.questions.recall, key)
        except Exception:
            log.exception("could not look up the question behind an Another passage button")
            return None

    # answering

    async def answer(self, interaction: discord.Interaction[Any], command: Command) -> None:
        """Hand the command to the desk; send a quick outcome at once, else defer and follow up."""
        use_in_this_context(self.endpoints)
        work = asyncio.ensure_future(asyncio.to_thread(self.desk.handle, command, self.caller(interaction)))
        done, _ = await asyncio.wait({work}, timeout=QUICK)
        if done:
            outcome = work.result()
            await interaction.response.send_message(**await self.message(outcome), ephemeral=outcome.private)
            return
        private = self.desk.expects_private(command)
        await interaction.response.defer(ephemeral=private, thinking=True)
        outcome = await work
        if outcome.private and not private:  # an invalid question or an error: only the asker sees it
            await interaction.delete_original_response()
            await interaction.followup.send(**await self.message(outcome), ephemeral=True)
        else:
            await interaction.edit_original_response(**await self.message(outcome))

    async def send_expired(self, interaction: discord.Interaction[Any]) -> None:
        """For a button whose question is no longer known."""
        use_in_this_context(self.endpoints)
        await interaction.response.send_message(**to_discord(self.desk.core.expired()), ephemeral=True)

    async def on_message(self, msg: discord.Message) -> None:
        me = self.user
        if me is None or msg.author.bot:
            return
        direct = isinstance(msg.channel, discord.DMChannel)
        if not direct and me not in msg.mentions:
            return
        text = re.sub(rf"<@!?{me.id}>", " ", msg.content).strip()
        outcome = await asyncio.to_thread(self.desk.handle_line, text, self.message_caller(msg))
        out = await self.message(outcome)
        try:
            if outcome.private and not direct:  # only the asker should see it: in their DMs
                try:
                    await msg.author.send(**out)
                    return
                except discord.HTTPException:
                    log.warning("could not send a private reply to %s by DM; replying in the channel", msg.author.id)
            await msg.reply(**out, mention_author=False)
        except discord.HTTPException:
            log.exception("could not reply to message %s", msg.id)

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await self.on_failure(interaction, error)

    async def on_failure(self, interaction: discord.Interaction[Any], error: Exception) -> None:
        use_in_this_context(self.endpoints)
        cause = getattr(error, "original", error)
        if isinstance(cause, discord.NotFound) and cause.code == UNKNOWN_INTERACTION:
            log.warning("interaction %s expired before it was answered", interaction.id)
            return
        log.error("Discord interaction %s failed", interaction.id, exc_info=cause)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(**to_discord(self.desk.core.error()), ephemeral=True)
            else:
                await interaction.response.send_message(**to_discord(self.desk.core.error()), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the failure", exc_info=True)


class ShardedMaiskyClient(MaiskyClient, discord.AutoShardedClient):
    """The same bot on an auto-sharded connection, for bots in thousands of servers."""


def build_client(
    core: Maisky, ds: DiscordSettings, *, force_sync: bool = False, daily: Daily | None = None, quiz: Quiz | None = None
) -> MaiskyClient:
    """The client with its front desk; nothing connects yet. With `daily`, the /maisky daily
    commands work and a scheduler thread posts what is due; with `quiz`, channels can hold a quiz."""
    desk = FrontDesk(core, daily, prefix=PREFIX, quiz=quiz)
    store = daily.store if daily is not None else None
    questions = StoreBook(store) if isinstance(store, QuestionStore) else MemoryBook()
    if ds.shards is None:
        return MaiskyClient(desk, ds, force_sync=force_sync, questions=questions)
    return ShardedMaiskyClient(
        desk, ds, force_sync=force_sync, questions=questions, shard_count=ds.shards or None
    )  # 0: Discord's count


def run(
    core: Maisky,
    ds: DiscordSettings,
    *,
    sync_only: bool = False,
    daily: Daily | None = None,
    quiz: Quiz | None = None,
    shutdown_seconds: float = 20,
) -> None:
    """Connect and serve until stopped (SIGTERM/SIGINT stop it gracefully); with `sync_only`, push the
    commands once and exit."""
    from adapters.discord.serve import serve_until_stopped

    client = build_client(core, ds, force_sync=sync_only, daily=daily, quiz=quiz)

    async def main() -> None:
        async with client:
            if sync_only:
                await client.login(ds.token)  # runs setup_hook, which syncs; no gateway connection
                return
            stopped = await serve_until_stopped(client, ds.token, shutdown_seconds)
            if stopped:
                log.info(stopped)

    try:
        asyncio.run(main())
    except discord.LoginFailure as exc:
        raise ServiceError("DISCORD_TOKEN was rejected by Discord; copy it again from the developer portal") from exc
    except (aiohttp.ClientConnectorError, discord.GatewayNotFound) as exc:
        raise ServiceError(f"cannot reach Discord ({ds.api_base}): {exc}") from exc
