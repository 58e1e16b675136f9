"""Where one client's requests go: Discord itself, a proxy, or a local fake in tests.

discord.py builds every REST URL from the class attribute `Route.BASE`; changing it would move every
client in the process. Instead each client gets an HTTP client that rewrites its own requests, its
gateway connection and its interaction responses (which discord.py sends through the webhook adapter
in the context variable `async_context`: the client sets it in each interaction's own task).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import yarl
from discord.http import Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from bot.ops.settings import DiscordSettings

__all__ = ["Endpoints", "RoutedHTTP", "RoutedWebhooks", "use_in_this_context"]

DISCORD_GATEWAY_HOST = "discord.gg"


@dataclass(frozen=True)
class Endpoints:
    api_base: str = Route.BASE  # no trailing slash
    gateway: str = ""  # empty: whatever Discord says

    @classmethod
    def of(cls, ds: DiscordSettings) -> Endpoints:
        return cls(ds.api_base.rstrip("/"), ds.gateway_url)

    def rest(self, url: str) -> str:
        """A URL discord.py built on Route.BASE, moved onto this client's base."""
        return self.api_base + url[len(Route.BASE) :] if url.startswith(Route.BASE) else url

    def websocket(self, url: str) -> str:
        """Discord's gateway URL moved onto the configured gateway, keeping discord.py's query."""
        if not self.gateway:
            return url
        given, ours = yarl.URL(url), yarl.URL(self.gateway)
        if not (given.host or "").endswith(DISCORD_GATEWAY_HOST):
            return url  # a resume URL our gateway handed out
        return str(ours.with_query(given.query))


class RoutedHTTP(discord.http.HTTPClient):
    """discord.py's HTTP client with its requests and gateway moved onto `endpoints`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, endpoints: Endpoints, **options: Any) -> None:
        super().__init__(loop, **options)
        self.endpoints = endpoints

    async def request(self, route: Route, **kwargs: Any) -> Any:
        route.url = self.endpoints.rest(route.url)
        return await super().request(route, **kwargs)

    async def ws_connect(self, url: str, *, compress: int = 0) -> aiohttp.ClientWebSocketResponse:
        return await super().ws_connect(self.endpoints.websocket(url), compress=compress)

    async def get_bot_gateway(self) -> Any:
        """The auto-sharded client's shard count from Discord, its gateway from `endpoints`."""
        count, url, limits = await super().get_bot_gateway()
        return count, self.endpoints.gateway or url, limits


class RoutedWebhooks(AsyncWebhookAdapter):
    """Interaction responses and follow-ups, moved onto `endpoints`."""

    def __init__(self, endpoints: Endpoints) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.endpoints = endpoints

    async def request(self, route: Route, session: aiohttp.ClientSession, **kwargs: Any) -> Any:
        route.url = self.endpoints.rest(route.url)
        return await super().request(route, session, **kwargs)


def use_in_this_context(endpoints: Endpoints) -> None:
    """Send the interaction responses of the running task (and of tasks it starts) to `endpoints`."""
    if endpoints.api_base != Route.BASE:
        async_context.set(RoutedWebhooks(endpoints))
