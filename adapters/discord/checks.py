"""Discord's side of `maisky doctor` and of the subscribe-time check: facts from the REST API.

The bot user (`GET /users/@me`) proves the token; the command set is synced when its fingerprint
matches the one kept in MAISKY_STATE_DIR at the last sync, or else when Discord's own copy has the
same shape; a channel can be posted in when the bot's permissions there, computed from the server's
roles and the channel's overwrites the way Discord does, include what a daily post needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

import aiohttp
import discord
from discord import app_commands

from adapters.discord.endpoints import Endpoints, RoutedHTTP
from adapters.discord.sync import commands_hash
from bot.club.reach import Reach, Trouble
from bot.errors import MaiskyError
from bot.ops.doctor import Finding, Place
from bot.ops.settings import DiscordSettings

__all__ = ["NEEDED", "DiscordProbe", "interaction_reach", "lacking", "message_reach", "permissions_in"]

T = TypeVar("T")

# What a daily post needs in a channel (it is an embed), in Discord's own order.
NEEDED = ("view_channel", "send_messages", "embed_links")
THREADS = (10, 11, 12)  # thread channel types: sending there needs send_messages_in_threads


def label(permission: str) -> str:
    """`send_messages` as Discord's settings name it: "Send Messages"."""
    return permission.replace("_", " ").title()


def lacking(perms: discord.Permissions, thread: bool = False) -> tuple[str, ...]:
    """The permissions a daily post needs that `perms` lacks, as Discord's settings name them."""
    needed = [*NEEDED[:1], "send_messages_in_threads" if thread else "send_messages", *NEEDED[2:]]
    return tuple(label(p) for p in needed if not getattr(perms, p))


def interaction_reach(interaction: discord.Interaction[Any]) -> Reach:
    """Whether the bot can post where the interaction came from: Discord sends the bot's own
    permissions in that channel with every interaction (`app_permissions`)."""
    if interaction.guild_id is None:
        return Reach()  # a direct message
    channel_type = getattr(interaction.channel, "type", None)
    thread = channel_type is not None and channel_type.value in THREADS
    missing = lacking(interaction.app_permissions, thread)
    return Reach(Trouble.MISSING, missing) if missing else Reach()


def message_reach(msg: discord.Message) -> Reach:
    """Whether the bot can post where a message (a mention) came from, from the gateway's cache."""
    channel = msg.channel
    me = getattr(msg.guild, "me", None)  # None in a DM, or where the server is not cached: cannot tell
    if me is None or isinstance(channel, discord.abc.PrivateChannel) or not hasattr(channel, "permissions_for"):
        return Reach()
    missing = lacking(channel.permissions_for(me), isinstance(channel, discord.Thread))
    return Reach(Trouble.MISSING, missing) if missing else Reach()


def permissions_in(
    guild: dict[str, Any], member: dict[str, Any], channel: dict[str, Any], user_id: int
) -> discord.Permissions:
    """The member's permissions in the channel, from raw REST payloads, in Discord's order: the
    @everyone role, the member's roles, then the channel's overwrites for @everyone, roles, member."""
    if int(guild.get("owner_id") or 0) == user_id:
        return discord.Permissions.all()
    roles = {int(r["id"]): int(r.get("permissions") or 0) for r in guild.get("roles", [])}
    guild_id = int(guild["id"])
    mine = {int(r) for r in member.get("roles", [])}
    perms = discord.Permissions(roles.get(guild_id, 0))
    for role in mine:
        perms.value |= roles.get(role, 0)
    if perms.administrator:
        return discord.Permissions.all()
    overwrites = channel.get("permission_overwrites") or []
    everyone = [o for o in overwrites if int(o["id"]) == guild_id]
    for o in everyone:
        perms.handle_overwrite(int(o["allow"]), int(o["deny"]))
    allow = deny = 0
    for o in overwrites:
        if int(o.get("type", 0)) == 0 and int(o["id"]) in mine:
            allow |= int(o["allow"])
            deny |= int(o["deny"])
    perms.handle_overwrite(allow, deny)
    for o in overwrites:
        if int(o.get("type", 0)) == 1 and int(o["id"]) == user_id:
            perms.handle_overwrite(int(o["allow"]), int(o["deny"]))
    if not perms.view_channel:  # Discord: without View Channel nothing else applies
        return discord.Permissions.none()
    return perms


def _shape(commands: Iterable[dict[str, Any]]) -> list[Any]:
    """What matters of a command set for "is it synced": names, types, descriptions, options, and
    where each top-level command is offered (`contexts`, `integration_types`; Discord's defaults for
    an unset list: every context, server installs)."""

    def one(c: dict[str, Any]) -> tuple[Any, ...]:
        options = tuple(sorted(one(o) for o in c.get("options") or []))
        choices = tuple(sorted(str(ch.get("value")) for ch in c.get("choices") or []))
        return (c.get("name"), int(c.get("type") or 1), c.get("description", ""), options, choices)

    def top(c: dict[str, Any]) -> tuple[Any, ...]:
        where = (tuple(sorted(c.get("contexts") or (0, 1, 2))), tuple(sorted(c.get("integration_types") or (0,))))
        return (*one(c), where)

    return sorted(top(c) for c in commands)


def advice(reach: Reach) -> tuple[str, str] | None:
    """What is wrong and how to fix it, in Discord's terms; None where bot.ops.doctor.advice says it."""
    missing = ", ".join(reach.missing)
    match reach.trouble:
        case Trouble.GONE:
            return "the channel is gone, or the bot cannot see it", (
                "give the bot's role View Channel there, or unsubscribe if it was deleted"
            )
        case Trouble.MISSING:
            return f"the bot lacks the permission(s) {missing} in this channel", (
                f"in the channel's settings, Permissions, allow {missing} for the bot's role"
            )
    return None


class DiscordProbe:
    """The Discord bot token, the synced command set, and whether the bot can post in a channel.
    `tree` builds the bot's command tree as this version has it (None: the command set is not checked)."""

    platform = "discord"

    def __init__(self, ds: DiscordSettings, tree: Callable[[], app_commands.CommandTree[Any]] | None = None) -> None:
        self.ds = ds
        self.tree = tree
        self._loop = asyncio.new_event_loop()
        self._http: RoutedHTTP | None = None
        self.user_id = 0
        self.working = False

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    def close(self) -> None:
        if self._http is not None:
            self._run(self._http.close())
        self._loop.close()

    def account(self) -> list[Finding]:
        return self._run(self._account())

    async def _account(self) -> list[Finding]:
        self._http = RoutedHTTP(self._loop, Endpoints.of(self.ds))
        try:
            me = await self._http.static_login(self.ds.token)
        except discord.LoginFailure:
            return [Finding("discord", "DISCORD_TOKEN", False, "Discord refused the token",
                            "copy the token again from the developer portal (Bot page, Reset Token)")]  # fmt: skip
        except (aiohttp.ClientError, TimeoutError, discord.HTTPException) as exc:
            return [Finding("discord", "DISCORD_API_BASE", False, f"cannot reach {self.ds.api_base} ({exc})",
                            "check the network, or DISCORD_API_BASE")]  # fmt: skip
        self.working = True
        self.user_id = int(me["id"])
        found = [Finding("discord", "DISCORD_TOKEN", True, f"accepted: bot user {me.get('username', '?')}")]
        if self.tree is not None:
            try:
                tree = self.tree()
            except MaiskyError as exc:
                found.append(Finding("discord", "commands", False, f"not checked: the bot cannot start ({exc})",
                                     "fix what the message names"))  # fmt: skip
            else:
                found.append(await self._commands(tree))
        return found

    async def _commands(self, tree: app_commands.CommandTree[Any]) -> Finding:
        guild = discord.Object(id=self.ds.guild_id) if self.ds.guild_id else None
        if guild:
            tree.copy_global_to(guild=guild)
        mark = self.ds.state_dir / f"discord-commands-{self.ds.guild_id or 'global'}.sha256"
        where = f"server {self.ds.guild_id}" if guild else "all servers"
        if mark.is_file() and mark.read_text().strip() == await commands_hash(tree, guild):
            return Finding("discord", "commands", True, f"synced to {where} (as recorded in {mark})")
        assert self._http is not None
        http: Any = self._http
        try:
            app = await http.application_info()
            app_id = int(app["id"])
            remote = await (http.get_guild_commands(app_id, guild.id) if guild else http.get_global_commands(app_id))
        except (aiohttp.ClientError, TimeoutError, discord.HTTPException) as exc:
            return Finding("discord", "commands", False, f"could not read the commands from Discord ({exc})",
                           "run `maisky discord sync`")  # fmt: skip
        local = [c.to_dict(tree) for c in tree.get_commands(guild=guild)]
        if _shape(remote) == _shape(local):
            return Finding("discord", "commands", True, f"synced to {where} (Discord's copy matches)")
        what = "never synced" if not remote else "Discord's copy differs from this version's commands"
        return Finding("discord", "commands", False, f"{what} ({where})",
                       "run `maisky discord sync` (or start the bot, which syncs when they changed)")  # fmt: skip

    def advice(self, reach: Reach) -> tuple[str, str] | None:
        return advice(reach)

    def reach(self, place: Place) -> Reach:
        if not self.working:
            return Reach(Trouble.UNKNOWN, detail="the bot token does not work")
        return self._run(self._reach(place))

    async def _reach(self, place: Place) -> Reach:
        assert self._http is not None
        http: Any = self._http  # its answers are discord.py's TypedDicts; read here as plain JSON
        try:
            channel = await http.get_channel(int(place.channel))
            guild_id = channel.get("guild_id") or place.workspace
            if not guild_id:
                return Reach()  # a direct message: nothing to check
            guild = await http.get_guild(int(guild_id))
            member = await http.get_member(int(guild_id), self.user_id)
        except (discord.NotFound, discord.Forbidden) as exc:
            return Reach(Trouble.GONE, detail=f"{exc.status} {exc.text}")
        except (aiohttp.ClientError, TimeoutError, discord.HTTPException, ValueError) as exc:
            return Reach(Trouble.UNKNOWN, detail=str(exc) or type(exc).__name__)
        if int(channel.get("type", 0)) in THREADS and channel.get("parent_id"):
            thread = True
            try:
                parent = await http.get_channel(int(channel["parent_id"]))
            except discord.HTTPException as exc:
                return Reach(Trouble.GONE, detail=f"{exc.status} {exc.text}")
        else:
            thread, parent = False, channel
        missing = lacking(permissions_in(guild, member, parent, self.user_id), thread)
        return Reach(Trouble.MISSING, missing) if missing else Reach()
