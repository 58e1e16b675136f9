"""Discord's command sync: a fingerprint of the command set, and a sync only when it changed."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands

from adapters.discord.translator import DataTranslator
from bot.ops.settings import DiscordSettings

__all__ = ["commands_hash", "sync_commands"]

log = logging.getLogger(__name__)


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
