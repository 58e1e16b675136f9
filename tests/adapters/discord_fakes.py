"""A local fake of Discord's REST API, and raw gateway payloads for discord.py's own dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
from aiohttp import web

from bot.ops.settings import DiscordSettings

BOT_ID, APP_ID, GUILD_ID, CHANNEL_ID, USER_ID = "1000", "2000", "400000000000000000", "5000", "6000"
DM_ID = "7000"  # the direct-message channel the fake opens with any user
TOKEN = "MTAwMA.fake.token"
# what the bot may do in the fake's channel (each interaction carries it as app_permissions)
BOT_PERMISSIONS = str(discord.Permissions(view_channel=True, send_messages=True, embed_links=True).value)
_ids = itertools.count(900000)


def user(uid: str = USER_ID, name: str = "member", bot: bool = False) -> dict[str, Any]:
    return {"id": uid, "username": name, "discriminator": "0", "avatar": None, "global_name": name, "bot": bot}


BOT_USER = user(BOT_ID, "Maisky", bot=True)


def message_payload(channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(next(_ids)), "channel_id": channel_id, "type": 0, "content": body.get("content", ""),
        "author": BOT_USER, "embeds": body.get("embeds", []), "attachments": [], "mentions": [], "mention_roles": [],
        "mention_everyone": False, "pinned": False, "tts": False, "timestamp": "2026-11-27T00:00:00+00:00",
        "edited_timestamp": None, "flags": body.get("flags", 0), "components": body.get("components", []),
    }  # fmt: skip


@dataclass
class Call:
    method: str
    path: str
    body: Any


@dataclass
class FakeDiscord:
    """Records every REST call. `fail` maps a path fragment to queued (status, json) answers."""

    calls: list[Call] = field(default_factory=list)
    fail: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    base: str = ""
    gateway: str = ""
    identify: dict[str, Any] = field(default_factory=dict)  # what the bot sent to the fake gateway
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # dispatched after READY
    _runner: web.AppRunner | None = None
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}/api/v10"
        self.gateway = f"ws://127.0.0.1:{port}/gateway"

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """Enough of Discord's gateway: HELLO, IDENTIFY, READY, heartbeat acks, then the queued events."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}})
        seq = 0
        async for msg in ws:
            data = json.loads(msg.data)
            if data["op"] == 1:
                await ws.send_json({"op": 11})
            elif data["op"] == 2:
                self.identify = data["d"]
                seq += 1
                ready = {
                    "v": 10, "user": BOT_USER, "guilds": [], "session_id": "s1", "resume_gateway_url": self.gateway,
                    "application": {"id": APP_ID, "flags": 0}, "private_channels": [], "relationships": [],
                }  # fmt: skip
                await ws.send_json({"op": 0, "t": "READY", "s": seq, "d": ready})
                for name, event in self.events:
                    seq += 1
                    await ws.send_json({"op": 0, "t": name, "s": seq, "d": event})
        return ws

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # exactly "application/json": discord.py decodes JSON only then (aiohttp's json_response adds a charset)
        return web.Response(
            body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers
        )

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/api/v10")
        raw = await request.read()
        body: Any = None
        if raw:
            if request.content_type == "application/json":
                body = json.loads(raw)
            else:  # multipart: discord.py sends the JSON part as payload_json
                form = await request.post()
                body = json.loads(str(form.get("payload_json", "{}")))
        self.calls.append(Call(request.method, path, body))
        self._event.set()
        for fragment, queue in self.fail.items():
            if fragment in path and queue:
                status, data = queue.pop(0)
                headers = {"Via": "1.1 google"}  # without Via a 429 looks like a Cloudflare ban
                if status == 429:
                    headers |= {"Retry-After": str(data.get("retry_after", 0.1)), "X-RateLimit-Scope": "user"}
                return self._json(data, status, headers)
        if path == "/users/@me":
            return self._json(BOT_USER)
        if path == "/oauth2/applications/@me":
            return self._json({"id": APP_ID, "name": "Maisky", "description": "", "icon": None, "bot_public": True,
                               "bot_require_code_grant": False, "owner": user("7", "owner"), "verify_key": "k",
                               "flags": 0})  # fmt: skip
        if path == "/users/@me/channels" and request.method == "POST":
            return self._json(
                {"id": DM_ID, "type": 1, "recipients": [user(body["recipient_id"])], "last_message_id": None}
            )
        if path.endswith("/callback"):
            return self._json(
                {"interaction": {"id": path.split("/")[2], "type": 2}, "resource": {"type": body["type"]}}
            )
        if "/webhooks/" in path or path.endswith("/messages"):
            return self._json(message_payload(CHANNEL_ID, body or {}))
        if path.endswith("/commands") and request.method == "PUT":
            return self._json([{**c, "id": str(next(_ids)), "application_id": APP_ID, "version": "1"} for c in body])
        return self._json({"message": "404: Not Found", "code": 0}, 404)

    async def answers(self, count: int = 1, timeout: float = 600, *, to: str = "") -> list[dict[str, Any]]:
        """The bot's messages in answer to interactions (only to the one whose token is `to`, if given), in
        order, however each was sent: at once (callback type 4), by editing a deferred response, or as a
        follow-up. `flags` 64 = ephemeral."""

        def answer(c: Call) -> bool:
            if to and f"/{to}/" not in c.path:
                return False
            return (c.path.endswith("/callback") and c.body.get("type") == 4) or (
                "/webhooks/" in c.path
                and (c.method == "POST" or c.path.endswith("/messages/@original"))
                and c.method != "DELETE"
            )

        def deferred_flags(edit: Call) -> dict[str, Any]:
            # Discord decides a deferred answer's visibility at the deferral: the edit inherits its flags.
            token = edit.path.split("/webhooks/", 1)[1].split("/")[1]
            for c in self.calls:
                if c.path.endswith(f"/{token}/callback") and c.body.get("type") == 5:
                    return {"flags": c.body.get("data", {}).get("flags", 0)}
            return {}

        calls = await self.wait_for(answer, count, timeout)
        return [
            c.body["data"]
            if c.path.endswith("/callback")
            else {**deferred_flags(c), **c.body}
            if c.path.endswith("/messages/@original")
            else c.body
            for c in calls
        ]

    async def wait_for(self, predicate: Any, count: int = 1, timeout: float = 600) -> list[Call]:
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls if predicate(c)]
            if len(found) >= count:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"expected {count} matching call(s); got {[(c.method, c.path) for c in self.calls]}"
                )
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), left)


def command(name: str, options: list[dict[str, Any]] | None = None, *, interaction_id: str | None = None,
            kind: int = 2, uid: str = USER_ID, app_permissions: str = BOT_PERMISSIONS) -> dict[str, Any]:  # fmt: skip
    """A raw INTERACTION_CREATE for /maisky <name>, as the gateway delivers it."""
    iid = interaction_id or str(next(_ids))
    return {
        "id": iid, "application_id": APP_ID, "type": kind, "token": f"tok-{iid}", "version": 1,
        "data": {"id": "3000", "name": "maisky", "type": 1,
                 "options": [{"type": 1, "name": name, "options": options or []}]},
        "guild_id": GUILD_ID, "channel_id": CHANNEL_ID,
        "channel": {"id": CHANNEL_ID, "type": 0, "guild_id": GUILD_ID, "name": "history", "position": 0,
                    "permission_overwrites": [], "nsfw": False, "parent_id": None},
        "member": {"user": user(uid), "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False,
                   "mute": False, "permissions": "0", "flags": 0},
        "app_permissions": app_permissions, "locale": "en-US", "guild_locale": "en-US", "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID}, "context": 0, "attachment_size_limit": 10485760,
    }  # fmt: skip


def component(custom_id: str, uid: str = USER_ID) -> dict[str, Any]:
    """A click on a button with `custom_id`, on the message that carries it."""
    base = command("ask", uid=uid, kind=3)
    base["data"] = {"custom_id": custom_id, "component_type": 2}
    button = {"type": 2, "style": 2, "label": "Another passage", "custom_id": custom_id}
    base["message"] = message_payload(
        CHANNEL_ID, {"content": "earlier answer", "components": [{"type": 1, "components": [button]}]}
    )
    return base


def channel_message(content: str, *, dm: bool = False, author: dict[str, Any] | None = None,
                    mentions: list[dict[str, Any]] | None = None, mention_roles: list[str] | None = None,
                    kind: int = 0) -> dict[str, Any]:  # fmt: skip
    """A MESSAGE_CREATE; `kind` is the message type (0 DEFAULT, 19 REPLY; the others are system messages)."""
    data = message_payload(CHANNEL_ID, {"content": content})
    data["author"] = author or user()
    data["mentions"] = mentions or []
    data["mention_roles"] = mention_roles or []
    data["type"] = kind
    if not dm:
        data["guild_id"] = GUILD_ID
        data["member"] = {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False}
    return data


def settings(fake: FakeDiscord, state: Path, guild: int | None = None) -> DiscordSettings:
    """The Discord front end's settings, its REST API pointed at the fake."""
    return DiscordSettings(TOKEN, guild, fake.base, "", None, state)


# Payloads shaped as discord-api-docs describes them (github.com/discord/discord-api-docs at commit
# c98d64bc233833839cf0d8d369e81b77f21ade60; each note names the page under developers/).

BOT_ROLE_ID = "8100"  # the role Discord creates for the bot when it joins a server (managed, tags.bot_id)
OTHER_ROLE_ID = "8200"  # a role of the server's own, such as "Historians"
PINNED = 6  # resources/message.mdx, Message Types: CHANNEL_PINNED_MESSAGE


def role(
    rid: str, name: str, *, bot_id: str | None = None, permissions: str = "0", position: int = 1
) -> dict[str, Any]:
    """topics/permissions.mdx, Role Object (Example Role), with Role Tags' `bot_id` for a bot's managed role."""
    data: dict[str, Any] = {
        "id": rid, "name": name, "color": 0, "colors": {"primary_color": 0, "secondary_color": None,
        "tertiary_color": None}, "hoist": False, "icon": None, "unicode_emoji": None, "position": position,
        "permissions": permissions, "managed": bot_id is not None, "mentionable": bot_id is None, "flags": 0,
    }  # fmt: skip
    if bot_id is not None:
        data["tags"] = {"bot_id": bot_id}
    return data


def guild_create() -> dict[str, Any]:
    """events/gateway-events.mdx, Guild Create: a guild object (resources/guild.mdx, Guild Object) with the
    extra fields; without the presences intent `members` holds only the bot itself."""
    everyone = role(GUILD_ID, "@everyone", position=0, permissions=str(discord.Permissions(view_channel=True,
                    send_messages=True, read_message_history=True).value))  # fmt: skip
    mine = role(BOT_ROLE_ID, "Maisky", bot_id=BOT_ID, permissions=str(discord.Permissions(embed_links=True).value))
    member = {"user": BOT_USER, "nick": None, "avatar": None, "roles": [BOT_ROLE_ID], "joined_at":
              "2024-01-01T00:00:00+00:00", "premium_since": None, "deaf": False, "mute": False, "flags": 0,
              "pending": False}  # fmt: skip
    channel = {"id": CHANNEL_ID, "type": 0, "guild_id": GUILD_ID, "position": 0, "permission_overwrites": [],
               "name": "history", "topic": None, "nsfw": False, "last_message_id": None, "rate_limit_per_user": 0,
               "parent_id": None}  # fmt: skip
    return {
        "id": GUILD_ID, "name": "History Club", "icon": None, "splash": None, "discovery_splash": None,
        "owner_id": "7", "afk_channel_id": None, "afk_timeout": 300, "verification_level": 1,
        "default_message_notifications": 1, "explicit_content_filter": 2,
        "roles": [everyone, mine, role(OTHER_ROLE_ID, "Historians", position=2)], "emojis": [], "features": [],
        "mfa_level": 0, "application_id": None, "system_channel_id": CHANNEL_ID, "system_channel_flags": 0,
        "rules_channel_id": None, "vanity_url_code": None, "description": None, "banner": None, "premium_tier": 0,
        "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0, "stickers": [],
        "premium_progress_bar_enabled": False, "safety_alerts_channel_id": None,
        "joined_at": "2024-01-01T00:00:00+00:00", "large": False, "unavailable": False, "member_count": 2,
        "voice_states": [], "members": [member], "channels": [channel], "threads": [], "presences": [],
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
    }  # fmt: skip


def dm_command(name: str, options: list[dict[str, Any]] | None = None, *, group: str = "") -> dict[str, Any]:
    """An INTERACTION_CREATE from a direct message with the bot (interactions/receiving-and-responding.mdx,
    Interaction Object): `user` instead of `member`, no `guild_id`, `context` 1 (BOT_DM), and
    `authorizing_integration_owners` {"0": "0"} for a server-installed app used in its bot's DM."""
    data = command(name, options)
    for key in ("guild_id", "member"):
        del data[key]
    data["user"] = user()
    data["channel"] = {"id": DM_ID, "type": 1, "last_message_id": None, "flags": 0, "recipients": [user()]}
    data["channel_id"] = DM_ID
    data["context"] = 1
    data["authorizing_integration_owners"] = {"0": "0"}
    data["app_permissions"] = str(discord.Permissions(view_channel=True, send_messages=True, embed_links=True).value)
    if group:  # a subcommand of a subcommand group: /maisky <group> <name>
        data["data"]["options"] = [{"type": 2, "name": group, "options": data["data"]["options"]}]
    return data
