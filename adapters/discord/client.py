"""The Discord front end on discord.py: the /maisky command group, mentions, DMs and buttons.

Thin by design: interaction -> plain question -> core (in a thread) -> Reply -> embed. Every
interaction is deferred before any work, so Discord's 3-second window is always met.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands

from bot import Kind, Maisky, Reply
from bot.daily import Daily
from bot.errors import ServiceError
from bot.excerpt import excerpt
from bot.schedule import zone_names
from bot.settings import DiscordSettings

__all__ = [
    "PERMISSIONS",
    "build_client",
    "commands_hash",
    "run",
    "sync_commands",
    "to_discord",
    "use_endpoints",
]

log = logging.getLogger(__name__)

CONTENT_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
NO_PINGS = discord.AllowedMentions.none()
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


def _md(text: str) -> str:
    """Discord markdown escaped: what the sources say is shown as written, never as formatting."""
    return discord.utils.escape_markdown(text)


def _bullets(lines: tuple[str, ...], title: str = "") -> str:
    body = "\n".join("• " + _md(line) for line in lines)
    return f"**{_md(title)}**\n{body}" if title and body else body


def _description(reply: Reply) -> str:
    """Narration, the passage as a block quote, then the lists; the passage is cut to fit."""
    narration = _md(reply.narration)
    rest = "\n\n".join(
        part
        for part in (
            _bullets(tuple(q.line for q in reply.quotations), "Quoted in this passage"),
            _bullets(reply.items),
            _bullets(reply.suggestions),
        )
        if part
    )
    rest, _ = excerpt(rest, DESCRIPTION_LIMIT // 2)
    if not reply.passage:
        return excerpt("\n\n".join(p for p in (narration, rest) if p), DESCRIPTION_LIMIT)[0]
    by = "\n— " + _md(reply.passage_by)
    budget = DESCRIPTION_LIMIT - len(narration) - len(rest) - len(by) - 8
    while True:
        text, _ = excerpt(reply.passage, budget)
        quoted = "\n".join("> " + _md(line) if line else "> " for line in text.split("\n"))
        full = "\n\n".join(p for p in (narration, quoted + by, rest) if p)
        if len(full) <= DESCRIPTION_LIMIT:
            return full
        budget -= 200  # escaping and "> " made it longer than its raw length


def to_discord(reply: Reply) -> dict[str, Any]:
    """A Reply as message arguments: the label in the content and the embed's author line,
    narration and passage in the description, the citation in a field, the passage id in the footer."""
    content = excerpt(f"**{_md(reply.label)}** · {_md(reply.disclosure)}", CONTENT_LIMIT)[0]
    embed = discord.Embed(description=_description(reply), colour=discord.Colour.dark_red())
    embed.set_author(name=reply.label)
    if reply.citation:
        embed.add_field(name="Source", value=excerpt(_md(reply.citation.line), FIELD_LIMIT)[0], inline=False)
        embed.set_footer(text=f"Passage {reply.citation.passage_id}")
    return {"content": content, "embed": embed, "allowed_mentions": NO_PINGS}


class _Questions:
    """Questions behind "Another passage" buttons, by a short key that fits in a custom_id.

    Held in memory: after a restart an old button answers that it has expired."""

    def __init__(self, size: int = 10_000) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def put(self, question: str) -> str:
        key = secrets.token_hex(8)
        self._items[key] = question
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> str | None:
        return self._items.get(key)


def commands_hash(tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None) -> str:
    """A fingerprint of the command set exactly as sync would send it."""
    payload = [c.to_dict(tree) for c in tree.get_commands(guild=guild)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


async def sync_commands(tree: app_commands.CommandTree[Any], ds: DiscordSettings, *, force: bool = False) -> bool:
    """Sync the commands only when they changed since the last sync (or when forced): Discord
    limits command creates per day, so syncing on every start or reconnect would burn them."""
    guild = discord.Object(id=ds.guild_id) if ds.guild_id else None
    if guild:
        tree.copy_global_to(guild=guild)
    digest = commands_hash(tree, guild)
    mark = ds.state_dir / f"discord-commands-{ds.guild_id or 'global'}.sha256"
    if not force and mark.is_file() and mark.read_text().strip() == digest:
        log.info("Discord commands unchanged; not syncing")
        return False
    synced = await tree.sync(guild=guild)
    ds.state_dir.mkdir(parents=True, exist_ok=True)
    mark.write_text(digest + "\n")
    log.info("synced %d Discord command(s) to %s", len(synced), f"guild {ds.guild_id}" if guild else "all guilds")
    return True


def _keep_gateway(client: discord.Client, url: str) -> None:
    """An auto-sharded client takes its gateway URL from Discord's /gateway/bot answer; keep the
    shard count from that answer but connect to the configured gateway (a gateway proxy)."""
    ask = client.http.get_bot_gateway

    async def bot_gateway() -> Any:
        count, _, limits = await ask()
        return count, url, limits

    client.http.get_bot_gateway = bot_gateway  # type: ignore[method-assign]


def use_endpoints(ds: DiscordSettings) -> None:
    """Point discord.py at the configured REST base and gateway (proxies, or local fakes in tests)."""
    discord.http.Route.BASE = ds.api_base
    if ds.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(ds.gateway_url)


def build_client(
    core: Maisky, ds: DiscordSettings, *, force_sync: bool = False, daily: Daily | None = None
) -> discord.Client:
    """The client with its command tree, button handler and mention handler; nothing connects yet.
    With `daily`, the /maisky daily commands work and a scheduler thread posts what is due."""
    use_endpoints(ds)
    intents = discord.Intents.default()  # mentions and DMs carry their text without the privileged intent
    kind = discord.AutoShardedClient if ds.shards is not None else discord.Client
    options: dict[str, Any] = {"intents": intents, "allowed_mentions": NO_PINGS}
    if ds.shards:
        options["shard_count"] = ds.shards
    client = kind(**options)
    if ds.gateway_url and ds.shards == 0:
        _keep_gateway(client, ds.gateway_url)
    tree = app_commands.CommandTree(client)
    questions = _Questions()

    def view_for(reply: Reply) -> discord.ui.View | None:
        if not reply.citation or reply.kind not in (Kind.ANSWER, Kind.WHO):
            return None
        view = discord.ui.View(timeout=None)
        if reply.kind is Kind.ANSWER:
            view.add_item(AnotherPassage(questions.put(reply.question), reply.rank + 1))
        view.add_item(discord.ui.Button(label="Source", url=reply.citation.url, style=discord.ButtonStyle.link))
        return view

    def message(reply: Reply) -> dict[str, Any]:
        out = to_discord(reply)
        view = view_for(reply)
        if view is not None:
            out["view"] = view
        return out

    async def answer(
        interaction: discord.Interaction[Any],
        make: Callable[[], Reply],
        *,
        ephemeral: bool = False,
        gated: bool = False,
    ) -> None:
        if gated:
            waiting = core.gate(f"discord:{interaction.user.id}")
            if waiting:
                await interaction.response.send_message(**to_discord(waiting), ephemeral=True)
                return
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        reply = await asyncio.to_thread(core.safely, make)
        await interaction.edit_original_response(**message(reply))

    class AnotherPassage(
        discord.ui.DynamicItem[discord.ui.Button[Any]],
        template=r"maisky:another:(?P<key>[0-9a-f]{16}):(?P<rank>[0-9]{1,3})",
    ):
        """The next-best passage for the same question, shown only to whoever clicks."""

        def __init__(self, key: str, rank: int) -> None:
            super().__init__(
                discord.ui.Button(
                    label="Another passage",
                    style=discord.ButtonStyle.secondary,
                    custom_id=f"maisky:another:{key}:{rank}",
                )
            )
            self.key, self.rank = key, rank

        @classmethod
        async def from_custom_id(
            cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
        ) -> AnotherPassage:
            return cls(match["key"], int(match["rank"]))

        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            question = questions.get(self.key)
            if question is None:
                await interaction.response.send_message(**to_discord(core.expired()), ephemeral=True)
                return
            await answer(interaction, lambda: core.ask(question, rank=self.rank), ephemeral=True, gated=True)

    group = app_commands.Group(name="maisky", description="Maisky as narrator: answers only from cited sources")

    @group.command(name="ask", description="Ask about Maisky's London years; the answer is a cited passage")
    @app_commands.describe(question="Your question", private="Only you see the answer (default: everyone)")
    async def ask(
        interaction: discord.Interaction[Any], question: app_commands.Range[str, 1, 1000], private: bool = False
    ) -> None:
        await answer(interaction, lambda: core.ask(question), ephemeral=private, gated=True)

    @group.command(name="quote", description="One of Maisky's own quotations, with its citation")
    async def quote(interaction: discord.Interaction[Any]) -> None:
        await answer(interaction, lambda: core.quote(dt.date.today()))

    @group.command(name="who", description="What the sources say about a person")
    @app_commands.describe(person="A person the sources mention (start typing for suggestions)")
    async def who(interaction: discord.Interaction[Any], person: app_commands.Range[str, 1, 100]) -> None:
        await answer(interaction, lambda: core.who(person), gated=True)

    @who.autocomplete("person")
    async def people(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=p.name, value=p.name) for p in core.people(current)[:25]]

    @group.command(name="sources", description="The sources the bot speaks through")
    async def sources(interaction: discord.Interaction[Any]) -> None:
        await answer(interaction, core.sources)

    @group.command(name="about", description="What this bot is and how it answers")
    async def about(interaction: discord.Interaction[Any]) -> None:
        await answer(interaction, core.about, ephemeral=True)

    @group.command(name="help", description="The commands")
    async def help_(interaction: discord.Interaction[Any]) -> None:
        await answer(interaction, lambda: core.help("/maisky "), ephemeral=True)

    daily_group = app_commands.Group(
        name="daily", description="A daily quotation in this channel (managers change it)", parent=group
    )

    def may_manage(interaction: discord.Interaction[Any]) -> bool:
        perms = interaction.permissions
        return interaction.guild_id is not None and (perms.manage_channels or perms.manage_guild)

    async def daily_answer(interaction: discord.Interaction[Any], make: Callable[[Daily], Reply], manage: bool) -> None:
        if daily is None:
            await interaction.response.send_message(
                **to_discord(core.voice.notice("daily_unavailable")), ephemeral=True
            )
        elif manage and not may_manage(interaction):
            await interaction.response.send_message(
                **to_discord(core.voice.notice("daily_not_allowed")), ephemeral=True
            )
        else:
            await answer(interaction, lambda: make(daily), ephemeral=True)

    def where(interaction: discord.Interaction[Any]) -> tuple[str, str]:
        return str(interaction.channel_id), str(interaction.guild_id or "")

    @daily_group.command(name="subscribe", description="Post one of Maisky's quotations here every day")
    @app_commands.describe(time="Local time, HH:MM (default 09:00)", timezone="Area/City, e.g. Europe/London")
    async def daily_subscribe(
        interaction: discord.Interaction[Any], time: str | None = None, timezone: str | None = None
    ) -> None:
        channel, guild = where(interaction)
        now = dt.datetime.now(dt.UTC)
        await daily_answer(
            interaction,
            lambda d: d.subscribe("discord", channel, guild, str(interaction.user.id), time or "", timezone or "", now),
            manage=True,
        )

    @daily_subscribe.autocomplete("timezone")
    async def zones(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower().replace(" ", "_")
        names = sorted(n for k, n in zone_names().items() if typed in k and "/" in n)
        return [app_commands.Choice(name=n, value=n) for n in names[:25]]

    @daily_group.command(name="unsubscribe", description="Stop the daily quotation in this channel")
    async def daily_unsubscribe(interaction: discord.Interaction[Any]) -> None:
        channel, _ = where(interaction)
        await daily_answer(interaction, lambda d: d.unsubscribe("discord", channel), manage=True)

    @daily_group.command(name="status", description="Whether and when this channel gets its daily quotation")
    async def daily_status(interaction: discord.Interaction[Any]) -> None:
        channel, _ = where(interaction)
        await daily_answer(interaction, lambda d: d.status("discord", channel, dt.datetime.now(dt.UTC)), manage=False)

    @daily_group.command(name="preview", description="The quotation this channel gets next")
    async def daily_preview(interaction: discord.Interaction[Any]) -> None:
        channel, _ = where(interaction)
        await daily_answer(interaction, lambda d: d.preview("discord", channel, dt.datetime.now(dt.UTC)), manage=False)

    tree.add_command(group)

    @tree.error
    async def on_app_command_error(interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        await on_failure(interaction, error)

    async def on_failure(interaction: discord.Interaction[Any], error: Exception) -> None:
        cause = getattr(error, "original", error)
        if isinstance(cause, discord.NotFound) and cause.code == UNKNOWN_INTERACTION:
            log.warning("interaction %s expired before it was answered", interaction.id)
            return
        log.error("Discord interaction %s failed", interaction.id, exc_info=cause)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(**to_discord(core.error()), ephemeral=True)
            else:
                await interaction.response.send_message(**to_discord(core.error()), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the failure", exc_info=True)

    stop = threading.Event()

    async def setup_hook() -> None:
        client.add_dynamic_items(AnotherPassage)
        await sync_commands(tree, ds, force=force_sync)
        if daily is not None and not force_sync:
            from adapters.discord.posting import DiscordPoster  # posting imports this module

            poster = DiscordPoster(client.http, asyncio.get_running_loop())
            thread = threading.Thread(target=daily.serve, args=({"discord": poster}, stop), daemon=True)
            thread.start()
            client.daily_thread = thread  # type: ignore[attr-defined]  # for adapters.discord.serve's graceful stop

    close = client.close

    async def close_and_stop() -> None:
        stop.set()
        await close()

    client.close = close_and_stop  # type: ignore[method-assign]
    client.daily_stop = stop  # type: ignore[attr-defined]

    client.setup_hook = setup_hook  # type: ignore[method-assign]

    @client.event
    async def on_message(msg: discord.Message) -> None:
        me = client.user
        if me is None or msg.author.bot:
            return
        if not isinstance(msg.channel, discord.DMChannel) and me not in msg.mentions:
            return
        text = re.sub(rf"<@!?{me.id}>", " ", msg.content).strip()
        waiting = core.gate(f"discord:{msg.author.id}")
        if waiting:
            reply = waiting
        elif text:
            reply = await asyncio.to_thread(core.safely, lambda: core.ask(text))
        else:
            reply = core.help("/maisky ")
        try:
            await msg.reply(**message(reply), mention_author=False)
        except discord.HTTPException:
            log.exception("could not reply to message %s", msg.id)

    client.maisky_tree = tree  # type: ignore[attr-defined]  # for `maisky discord sync` and tests
    return client


def run(
    core: Maisky,
    ds: DiscordSettings,
    *,
    sync_only: bool = False,
    daily: Daily | None = None,
    shutdown_seconds: float = 20,
) -> None:
    """Connect and serve until stopped (SIGTERM/SIGINT stop it gracefully); with `sync_only`, push the
    commands once and exit."""
    from adapters.discord.serve import serve_until_stopped

    client = build_client(core, ds, force_sync=sync_only, daily=daily)

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
