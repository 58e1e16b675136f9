"""`maisky doctor` with Discord configured, against the local fake REST API: good settings, then each broken one."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from aiohttp import web

from adapters.cli import main
from adapters.discord.checks import lacking, permissions_in
from adapters.discord.client import build_client, sync_commands
from bot import Maisky
from bot.ops.store import Store
from tests.adapters.conftest import desk_for
from tests.adapters.discord_fakes import APP_ID, BOT_ID, CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord, settings

ROLE = "410000000000000000"
EVERYONE_PERMS = discord.Permissions(view_channel=True, send_messages=True, embed_links=True).value


class FakeServer(FakeDiscord):
    """The fake REST API with a server: its roles, the bot as a member, channels, the synced commands."""

    def __init__(self) -> None:
        super().__init__()
        self.roles = [{"id": GUILD_ID, "name": "@everyone", "permissions": str(EVERYONE_PERMS), "position": 0}]
        self.member_roles: list[str] = []
        self.channels: dict[str, dict[str, Any]] = {
            CHANNEL_ID: {"id": CHANNEL_ID, "type": 0, "guild_id": GUILD_ID, "name": "history",
                         "permission_overwrites": []},
        }  # fmt: skip
        self.commands: list[dict[str, Any]] = []

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/api/v10")
        parts = path.strip("/").split("/")
        if request.method == "GET" and not any(q for q in self.fail.values()):
            if parts[0] == "channels" and len(parts) == 2:
                found = self.channels.get(parts[1])
                return self._json(found) if found else self._json({"message": "Unknown Channel", "code": 10003}, 404)
            if parts[:2] == ["guilds", GUILD_ID] and len(parts) == 2:
                return self._json({"id": GUILD_ID, "name": "club", "owner_id": "7", "roles": self.roles})
            if parts[:3] == ["guilds", GUILD_ID, "members"] and parts[3:] == [BOT_ID]:
                return self._json({"user": {"id": BOT_ID, "username": "Maisky"}, "roles": self.member_roles})
            if parts[:2] == ["applications", APP_ID] and parts[-1] == "commands":
                return self._json(self.commands)
        response = await super()._handle(request)
        if request.method == "PUT" and path.endswith("/commands") and response.status == 200:
            self.commands = json.loads(bytes(response.body))  # type: ignore[arg-type]
        return response


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    """The fake on its own loop in a thread: `maisky doctor` runs its own loop, as from a shell."""
    loop = asyncio.new_event_loop()
    server = FakeServer()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(60)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def env(fake: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_GUILD_ID", "MAISKY_DB"):
        monkeypatch.delenv(name, raising=False)
    values = {"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake.base, "MAISKY_STATE_DIR": str(tmp_path / "state"),
              "DATABASE_URL": f"sqlite:///{tmp_path / 'maisky.sqlite3'}"}  # fmt: skip
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    Store(values["DATABASE_URL"]).subscribe("discord", CHANNEL_ID, GUILD_ID, "09:00", "UTC", "6000", 0.0)
    return tmp_path


def sync(core: Maisky, fake: FakeServer, state: Path) -> None:
    """Sync the commands the way `maisky discord sync` does, recording the fingerprint in `state`."""
    ds = settings(fake, state)

    async def go() -> None:
        client = build_client(desk_for(core), ds)
        await client.http.static_login(TOKEN)
        client._connection.application_id = int(APP_ID)
        try:
            await sync_commands(client.tree, ds, force=True)
        finally:
            await client.http.close()

    asyncio.run(go())


def doctor() -> tuple[int, str]:
    out = io.StringIO()
    code = main(["doctor"], out)
    return code, out.getvalue()


def row(text: str, subject: str) -> str:
    return next(line for line in text.splitlines() if subject in line)


def test_all_is_well(core: Maisky, fake: FakeServer, env: Path) -> None:
    sync(core, fake, env / "state")
    code, text = doctor()
    assert code == 0, text
    assert "as recorded" in row(text, "commands")
    assert "ok" in row(text, f"discord {CHANNEL_ID}")


def test_synced_elsewhere_matches_discords_copy(core: Maisky, fake: FakeServer, env: Path) -> None:
    sync(core, fake, env / "elsewhere")  # another machine synced; this one has no fingerprint
    code, text = doctor()
    assert code == 0, text
    assert "Discord's copy matches" in row(text, "commands")


def test_commands_never_synced_or_changed(core: Maisky, fake: FakeServer, env: Path) -> None:
    code, text = doctor()
    assert code == 1 and "never synced" in row(text, "commands") and "maisky discord sync" in text
    sync(core, fake, env / "elsewhere")
    fake.commands[0]["options"] = fake.commands[0]["options"][1:]  # an older version's command set
    code, text = doctor()
    assert code == 1 and "differs" in row(text, "commands")


def test_a_token_discord_refuses(fake: FakeServer, env: Path) -> None:
    fake.fail["/users/@me"] = [(401, {"message": "401: Unauthorized", "code": 0})]
    code, text = doctor()
    assert code == 1
    assert "refused" in row(text, "DISCORD_TOKEN") and TOKEN not in text


def test_a_channel_without_send_messages(core: Maisky, fake: FakeServer, env: Path) -> None:
    sync(core, fake, env / "state")
    deny = discord.Permissions(send_messages=True).value
    fake.channels[CHANNEL_ID]["permission_overwrites"] = [{"id": GUILD_ID, "type": 0, "allow": "0", "deny": str(deny)}]
    code, text = doctor()
    assert code == 1
    assert "Send Messages" in row(text, f"discord {CHANNEL_ID}")


def test_a_deleted_channel(core: Maisky, fake: FakeServer, env: Path) -> None:
    sync(core, fake, env / "state")
    del fake.channels[CHANNEL_ID]
    code, text = doctor()
    assert code == 1 and "gone" in row(text, f"discord {CHANNEL_ID}")


def _perms(guild_perms: int, overwrites: list[dict[str, Any]], roles: list[str] | None = None) -> discord.Permissions:
    roles_ = [{"id": GUILD_ID, "permissions": str(guild_perms)}, {"id": ROLE, "permissions": "0"}]
    guild = {"id": GUILD_ID, "owner_id": "7", "roles": roles_}
    return permissions_in(guild, {"roles": roles or []}, {"permission_overwrites": overwrites}, int(BOT_ID))


def test_permissions_follow_discords_order() -> None:
    send = discord.Permissions(send_messages=True).value
    assert lacking(_perms(EVERYONE_PERMS, [])) == ()
    denied = [{"id": GUILD_ID, "type": 0, "allow": "0", "deny": str(send)}]
    assert lacking(_perms(EVERYONE_PERMS, denied)) == ("Send Messages",)
    role_allows = [*denied, {"id": ROLE, "type": 0, "allow": str(send), "deny": "0"}]
    assert lacking(_perms(EVERYONE_PERMS, role_allows, [ROLE])) == ()
    member_denies = [*role_allows, {"id": BOT_ID, "type": 1, "allow": "0", "deny": str(send)}]
    assert lacking(_perms(EVERYONE_PERMS, member_denies, [ROLE])) == ("Send Messages",)
    hidden = [{"id": GUILD_ID, "type": 0, "allow": "0", "deny": str(discord.Permissions(view_channel=True).value)}]
    assert lacking(_perms(EVERYONE_PERMS, hidden)) == ("View Channel", "Send Messages", "Embed Links")
    admin = discord.Permissions(administrator=True).value
    assert lacking(_perms(admin, hidden)) == ()
