"""Daily posts to Discord through the REST API, with platform errors sorted into "gone" and "later"."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from adapters.discord.endpoints import Endpoints, RoutedHTTP
from adapters.discord.rendering import NO_PINGS, to_discord
from bot import Reply
from bot.errors import ChannelGone, PostLater, ServiceError
from bot.settings import DiscordSettings

__all__ = ["DiscordPoster", "rest_poster"]


async def rest_poster(ds: DiscordSettings) -> tuple[DiscordPoster, discord.http.HTTPClient]:
    """A poster over the REST API alone (no gateway), for `maisky daily run-due`; close its client."""
    http = RoutedHTTP(asyncio.get_running_loop(), Endpoints.of(ds))
    try:
        await http.static_login(ds.token)
    except discord.LoginFailure as exc:
        await http.close()
        raise ServiceError("DISCORD_TOKEN was rejected by Discord") from exc
    return DiscordPoster(http, asyncio.get_running_loop()), http


class DiscordPoster:
    """Posts daily quotations through the REST API from the scheduler's thread, on the client's loop."""

    def __init__(self, http: discord.http.HTTPClient, loop: asyncio.AbstractEventLoop) -> None:
        self.http = http
        self.loop = loop

    def post(self, channel: str, reply: Reply) -> None:
        asyncio.run_coroutine_threadsafe(self.send(channel, reply), self.loop).result(timeout=120)

    async def send(self, channel: str, reply: Reply) -> None:
        out = to_discord(reply)
        try:
            with discord.http.handle_message_parameters(
                content=out["content"], embed=out["embed"], allowed_mentions=NO_PINGS
            ) as params:
                await self.http.send_message(int(channel), params=params)
        except (discord.NotFound, discord.Forbidden) as exc:  # deleted channel, or access lost
            raise ChannelGone(f"{exc.status} {exc.text or 'no access'}") from exc
        except discord.HTTPException as exc:
            raise PostLater(f"{exc.status} {exc.text}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PostLater(str(exc) or type(exc).__name__) from exc
