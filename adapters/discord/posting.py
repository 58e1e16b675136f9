"""Daily posts to Discord through the REST API, with Discord's answers sorted by what they tell us.

Every post carries a `nonce` made from the channel and its local date, with `enforce_nonce`:
Discord then answers a repeat within a few minutes with the message it already created instead
of posting again. That makes a resend after a timeout, a dropped connection or a 5xx harmless, so
the poster retries those a few times by itself, quickly; only if every try leaves the outcome
unknown is the post reported as sent, unconfirmed.

The request is made once per try on discord.py's own session, with the payload built by
discord.py (`handle_message_parameters`), but not through `HTTPClient.request`: that method
retries 5xx answers and connection resets up to five times by itself, and answers 429 by
sleeping; here every retry is ours, and a Retry-After goes back to the scheduler, which holds
the other posts back too.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import aiohttp
import discord

from adapters.discord.endpoints import Endpoints, RoutedHTTP
from adapters.discord.rendering import NO_PINGS, to_discord
from bot import Reply
from bot.errors import ChannelGone, OutcomeUnknown, PostLater, ServiceError, TokenRejected
from bot.ops.settings import DiscordSettings

__all__ = ["DiscordPoster", "nonce", "rest_poster"]


async def rest_poster(ds: DiscordSettings, timeout: float = 20.0) -> tuple[DiscordPoster, discord.http.HTTPClient]:
    """A poster over the REST API alone (no gateway), for `maisky daily run-due`; close its client."""
    http = RoutedHTTP(asyncio.get_running_loop(), Endpoints.of(ds))
    try:
        await http.static_login(ds.token)
    except discord.LoginFailure as exc:
        await http.close()
        raise ServiceError("DISCORD_TOKEN was rejected by Discord") from exc
    except (aiohttp.ClientError, TimeoutError, discord.HTTPException) as exc:
        await http.close()
        raise ServiceError(f"cannot reach Discord ({ds.api_base}): {type(exc).__name__}") from exc
    return DiscordPoster(http, asyncio.get_running_loop(), timeout=timeout), http


def nonce(key: str) -> str:
    """Discord's nonce is at most 25 characters: a digest of the channel and its local date."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]


class DiscordPoster:
    """Posts daily quotations through the REST API from the scheduler's thread, on the client's loop."""

    def __init__(
        self, http: discord.http.HTTPClient, loop: asyncio.AbstractEventLoop, *, timeout: float = 20.0,
        tries: int = 3, pause: float = 1.0,
    ) -> None:  # fmt: skip
        self.http = http
        self.loop = loop
        self.timeout = timeout
        self.tries = tries  # sends of one post, all with the same nonce
        self.pause = pause  # seconds before the second try; doubles

    def post(self, channel: str, reply: Reply, key: str) -> None:
        future = asyncio.run_coroutine_threadsafe(self.send(channel, reply, key), self.loop)
        future.result(timeout=self.tries * (self.timeout + 10) + 60)

    async def send(self, channel: str, reply: Reply, key: str) -> None:
        out = to_discord(reply)
        with discord.http.handle_message_parameters(
            content=out["content"], embed=out["embed"], allowed_mentions=NO_PINGS, nonce=nonce(key)
        ) as params:
            payload = params.payload or {}  # no files: the whole message is this JSON payload
        route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=int(channel))
        unknown = ""
        for attempt in range(self.tries):
            if attempt:
                await asyncio.sleep(self.pause * 2 ** (attempt - 1))
            try:
                status, data, headers = await self._once(route, payload)
            except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
                raise PostLater(f"cannot connect: {exc.os_error}") from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                unknown = type(exc).__name__  # it may have arrived; the nonce makes a resend harmless
                continue
            if 200 <= status < 300:
                return
            text = _text(data)
            if status in (403, 404):  # deleted channel, or access lost
                raise ChannelGone(f"{status} {text or 'no access'}")
            if status == 401:
                raise TokenRejected(f"{status} {text or 'unauthorized'}")
            if status == 429:
                raise PostLater(f"429 {text or 'rate limited'}", retry_after=_retry_after(data, headers))
            if status >= 500:
                unknown = f"{status} {text}".strip()
                continue
            raise PostLater(f"{status} {text}".strip())
        raise OutcomeUnknown(f"{unknown}, {self.tries} tries")

    async def _once(self, route: discord.http.Route, payload: dict[str, Any]) -> tuple[int, Any, Any]:
        session: aiohttp.ClientSession = self.http._HTTPClient__session  # type: ignore[attr-defined]
        headers = {"User-Agent": self.http.user_agent, "Authorization": f"Bot {self.http.token}",
                   "Content-Type": "application/json"}  # fmt: skip
        url = self.http.endpoints.rest(route.url) if isinstance(self.http, RoutedHTTP) else route.url
        async with session.request(
            route.method, url, data=discord.utils._to_json(payload), headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout), proxy=self.http.proxy, proxy_auth=self.http.proxy_auth,
        ) as response:  # fmt: skip
            data = await discord.http.json_or_text(response)
            return response.status, data, response.headers


def _text(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message", ""))
    return str(data)[:200]


def _retry_after(data: Any, headers: Any) -> float | None:
    raw = data.get("retry_after") if isinstance(data, dict) else None
    if raw is None:
        raw = headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None
