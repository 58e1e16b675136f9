"""The Discord front end on discord.py: the /maisky command group, mentions, DMs and buttons.

Translation only: an interaction or a message becomes a command and a caller, the front desk
answers (in a thread), and the outcome becomes a message, public or only for the caller. A quick
answer is sent at once; a slow one is deferred first, so Discord's 3-second window is always met.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands

from adapters.discord.buttons import AnotherPassage, QuizOption, forged
from adapters.discord.checks import interaction_reach, message_reach
from adapters.discord.commands import MaiskyCommands
from adapters.discord.endpoints import Endpoints, RoutedHTTP, use_in_this_context
from adapters.discord.gateway import guard_parsers
from adapters.discord.posting import DiscordPoster
from adapters.discord.rendering import NO_PINGS, to_discord
from adapters.discord.serve import serve_until_stopped
from adapters.discord.sync import commands_hash, sync_commands
from adapters.discord.translator import DataTranslator
from bot.chat.commands import Command
from bot.chat.desk import Caller, FrontDesk, Outcome
from bot.chat.reply import ActionKind, read_option
from bot.errors import Busy, ServiceError
from bot.ops.settings import DiscordSettings

if TYPE_CHECKING:
    from pathlib import Path


__all__ = [
    "PERMISSIONS", "MaiskyClient", "ShardedMaiskyClient", "build_client", "commands_hash", "run", "sync_commands",
    "to_discord",
]  # fmt: skip

log = logging.getLogger(__name__)

PREFIX = "/maisky "
QUICK = 1.5  # seconds: an answer ready by then is sent at once; a slower one is deferred first
UNKNOWN_INTERACTION = 10062  # the interaction expired before we answered it
# What members write: every other message type is a system message ("pinned a message", a member joined).
SPOKEN = (discord.MessageType.default, discord.MessageType.reply)
# What the bot needs in a channel; the invite URL in docs/discord.md carries this value (a test checks they agree).
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    read_message_history=True,
    use_application_commands=True,
)


class CommandChanged(app_commands.AppCommandError):
    """An interaction for a command as a member's client still has it from before an update: options
    this version does not know (discord.py ignores them silently)."""

    def __init__(self, command: str, options: list[str]) -> None:
        super().__init__(f"/{command} has no option(s) {', '.join(repr(o) for o in options)}")


# discord.py's own errors for an interaction whose command does not match this version's commands.
STALE = (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch, app_commands.TransformerError,
         CommandChanged)  # fmt: skip


def _given_options(data: dict[str, Any]) -> list[str]:
    """The option names an interaction gives its (sub)command, below any subcommand group and subcommand."""
    options: list[dict[str, Any]] = data.get("options") or []
    while options and options[0].get("type") in (1, 2):  # SUB_COMMAND, SUB_COMMAND_GROUP
        options = options[0].get("options") or []
    return [str(o.get("name", "")) for o in options]


def _stale(error: Exception) -> str:
    """What did not match, in a few words of our own (discord.py's messages can quote a typed value)."""
    if isinstance(error, app_commands.CommandNotFound):
        return f"no command {' '.join([*error.parents, error.name])!r}"
    if isinstance(error, CommandChanged):
        return str(error)
    if isinstance(error, app_commands.TransformerError):
        return f"a value of a {error.type.name} option it no longer takes"
    command = getattr(error, "command", None)
    return f"/{getattr(command, 'qualified_name', '?')} has other options now"


class MaiskyTree(app_commands.CommandTree["MaiskyClient"]):
    """The command tree; each interaction's responses go to its client's endpoints."""

    async def interaction_check(self, interaction: discord.Interaction[MaiskyClient], /) -> bool:
        use_in_this_context(self.client.endpoints)  # this interaction's task only, before any response
        command = interaction.command  # None where discord.py will raise CommandNotFound itself
        if isinstance(command, app_commands.Command):
            known = {p.display_name for p in command.parameters}
            unknown = [n for n in _given_options(dict(interaction.data or {})) if n not in known]
            if unknown:
                raise CommandChanged(command.qualified_name, unknown)
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
        self.translator = DataTranslator(translations)
        self.tree = MaiskyTree(self)
        self.tree.add_command(MaiskyCommands(self))
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        guard_parsers(self._connection)  # an event discord.py cannot parse is logged and skipped
        self.daily_stop = threading.Event()  # the scheduler's stop; adapters.discord.serve sets it on SIGTERM
        self.daily_thread: threading.Thread | None = None  # ... and waits for this thread's send to finish

    async def setup_hook(self) -> None:
        self.add_dynamic_items(AnotherPassage, QuizOption)
        await self.tree.set_translator(self.translator)  # command and option descriptions, per locale
        if self.force_sync or self.ds.syncs_commands:
            await sync_commands(self.tree, self.ds, force=self.force_sync)
        else:
            log.info("Discord commands: synced by the process that runs shard 0, not this one")
        daily = self.desk.daily()
        if daily is not None and not self.force_sync:
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
        # a reply to the answer of a slash command names the command's interaction (interaction_metadata)
        command = interaction.type is discord.InteractionType.application_command
        return Caller(
            "discord", str(interaction.guild_id or ""), str(interaction.channel_id or ""), str(interaction.user.id),
            may_manage=manages, name=interaction.user.display_name,
            may_administer=interaction.guild_id is not None and perms.manage_guild,
            reach=lambda: interaction_reach(interaction), direct=interaction.guild_id is None,
            message=str(interaction.id) if command else "",
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

        # a server not cached yet (its GUILD_CREATE still to come) is still named, by the message's channel,
        # so a mention and a slash command in one channel are one member's talk there
        guild = str(msg.guild.id if msg.guild else getattr(msg.channel, "guild_id", None) or "")
        role = msg.guild.self_role if msg.guild else None
        me = tuple(str(x.id) for x in (self.user, role) if x is not None)
        return Caller(
            "discord", guild, str(msg.channel.id), str(msg.author.id), may_manage=manages, name=msg.author.display_name,
            may_administer=administers, reach=lambda: message_reach(msg), me=me,
            direct=isinstance(msg.channel, discord.abc.PrivateChannel), message=str(msg.id),
            reply_to=self.replied_to(msg),
        )  # fmt: skip

    def replied_to(self, msg: discord.Message) -> str:
        """When `msg` replies to one of the bot's answers: the id of what that answer answered (a member's
        message, or a slash command's interaction); "" when it replies to nothing of the bot's. A message
        of the bot's that answers nothing (a daily post) gives its own id: a conversation with no turn yet."""
        ref = msg.reference
        answer = (ref.resolved if isinstance(ref.resolved, discord.Message) else ref.cached_message) if ref else None
        if answer is None or self.user is None or answer.author.id != self.user.id:
            return ""
        if answer.reference is not None and answer.reference.message_id is not None:
            return str(answer.reference.message_id)
        if answer.interaction_metadata is not None:
            return str(answer.interaction_metadata.id)
        return str(answer.id)

    async def message(self, outcome: Outcome) -> dict[str, Any]:
        """The outcome as message arguments, with the reply's actions as buttons."""
        out = to_discord(outcome.reply)
        items: list[discord.ui.Item[Any]] = []
        for action in outcome.reply.actions:
            match action.kind:
                case ActionKind.ANOTHER:
                    items.append(AnotherPassage(action.value, action.label))
                case ActionKind.SOURCE:
                    items.append(
                        discord.ui.Button(label=action.label[:80], url=action.value, style=discord.ButtonStyle.link)
                    )
                case ActionKind.OPTION:
                    carried = read_option(action.value)
                    if carried is not None:
                        token, option = carried
                        items.append(QuizOption(token, option, action.label))
        if items:
            view = discord.ui.View(timeout=None)
            for item in items:
                view.add_item(item)
            out["view"] = view
        return out

    # answering

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """A click on a button of ours that none of our items answers (forged or damaged): say it is no
        longer valid, rather than leave the member with Discord's "interaction failed"."""
        data: dict[str, Any] = dict(interaction.data or {})
        if interaction.type is discord.InteractionType.component and forged(str(data.get("custom_id", ""))):
            log.warning("a button with a malformed custom_id was clicked")
            use_in_this_context(self.endpoints)
            await interaction.response.send_message(**to_discord(self.desk.core.expired()), ephemeral=True)

    async def answer(self, interaction: discord.Interaction[Any], command: Command) -> None:
        """Hand the command to the desk's answer pool (its own bounded, low-priority threads, never the
        loop's default executor); send a quick outcome at once, else defer and follow up. When the pool
        is full, the first response is the busy reply."""
        use_in_this_context(self.endpoints)
        loop = asyncio.get_running_loop()
        try:
            work = loop.run_in_executor(self.desk.pool, self.desk.handle, command, self.caller(interaction))
        except Busy:
            outcome = self.desk.busy(command)
            await interaction.response.send_message(**await self.message(outcome), ephemeral=True)
            return
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

    async def on_message(self, msg: discord.Message) -> None:
        me = self.user
        if me is None or msg.author.bot or msg.type not in SPOKEN:
            return
        direct = isinstance(msg.channel, discord.DMChannel)
        role = msg.guild.self_role if msg.guild else None  # the bot's own managed role
        if not direct and me not in msg.mentions and (role is None or role not in msg.role_mentions):
            return
        caller = self.message_caller(msg)
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(
                self.desk.pool, self.desk.handle_line, msg.content, caller
            )
        except Busy:
            outcome = self.desk.busy(self.desk.parse(msg.content, caller.me))
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
        if isinstance(error, STALE):
            await self.on_changed_command(interaction, error)
            return
        log.error("Discord interaction %s failed", interaction.id, exc_info=cause)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(**to_discord(self.desk.core.error()), ephemeral=True)
            else:
                await interaction.response.send_message(**to_discord(self.desk.core.error()), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the failure", exc_info=True)

    async def on_changed_command(self, interaction: discord.Interaction[Any], error: Exception) -> None:
        """A member's client offered a command as it was before an update: retrying cannot help, so say
        it changed and that reloading Discord fetches the new one. One log line, no traceback."""
        log.warning("interaction %s used a command this version does not have (%s); told to reload Discord",
                    interaction.id, _stale(error))  # fmt: skip
        try:
            if interaction.type is discord.InteractionType.autocomplete:
                await interaction.response.autocomplete([])
            elif interaction.response.is_done():
                await interaction.followup.send(**to_discord(self.desk.core.changed()), ephemeral=True)
            else:
                await interaction.response.send_message(**to_discord(self.desk.core.changed()), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the member that the command changed")


class ShardedMaiskyClient(MaiskyClient, discord.AutoShardedClient):
    """The same bot on an auto-sharded connection, for bots in thousands of servers."""


def build_client(desk: FrontDesk, ds: DiscordSettings, *, force_sync: bool = False) -> MaiskyClient:
    """The client answering through `desk` (bot.ops.bootstrap.build_desk builds it); nothing connects yet.
    Where the desk has daily posts, a scheduler thread posts what is due."""
    translations = desk.core.voice.persona_dir / "translations"  # MAISKY_PERSONA's, else the bundled persona's
    if ds.shards is None:
        return MaiskyClient(desk, ds, force_sync=force_sync, translations=translations)
    shard_ids = list(ds.shard_ids) if ds.shard_ids is not None else None  # None: every shard, in this process
    return ShardedMaiskyClient(
        desk, ds, force_sync=force_sync, translations=translations, shard_count=ds.shards or None, shard_ids=shard_ids
    )  # 0: Discord's count


def run(desk: FrontDesk, ds: DiscordSettings, *, sync_only: bool = False, shutdown_seconds: float = 20) -> None:
    """Connect and serve until stopped (SIGTERM/SIGINT stop it gracefully); with `sync_only`, push the
    commands once and exit."""
    client = build_client(desk, ds, force_sync=sync_only)

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
