"""Scale-out test support: a round-robin TCP proxy in front of several processes, and a fake Discord
gateway that splits events over shards the way Discord does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from aiohttp import web

from tests.adapters.discord_fakes import APP_ID, BOT_USER, FakeDiscord


class RoundRobinProxy:
    """One address in front of several backends, as a load balancer is: each new TCP connection goes to
    the next backend in turn, and its bytes are copied both ways untouched. `served` lists the backend
    (its index) each connection went to, in order, so a test can tell which process got a request."""

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.served: list[int] = []
        self._next = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="round-robin-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        self._loop.run_forever()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self._next
        self._next = (self._next + 1) % len(self.backends)
        self.served.append(index)
        host, port = self.backends[index]
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except asyncio.CancelledError:
            pass  # the proxy is closing: the connection ends here
        finally:
            for w in (writer, up_writer):
                w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                if writer.can_write_eof():
                    writer.write_eof()
                else:
                    writer.close()

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            open_connections = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in open_connections:
                task.cancel()
            await asyncio.gather(*open_connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


def shard_of(guild_id: str, shard_count: int) -> int:
    """Which shard Discord sends a server's events on (its documented formula)."""
    return (int(guild_id) >> 22) % shard_count


def guild_on(shard: int, shard_count: int, start: int = 400000000000000000) -> str:
    """A server id whose events Discord sends on `shard`."""
    guild = start
    while shard_of(str(guild), shard_count) != shard:
        guild += 1 << 22
    return str(guild)


class ShardedFakeDiscord(FakeDiscord):
    """The fake REST API, and a gateway that holds one connection per shard: each IDENTIFY names its
    shard ([id, count]), and `dispatch` sends an event on the connection of the shard Discord would
    use for the event's server (direct messages on shard 0), or on the shard a test names."""

    def __init__(self) -> None:
        super().__init__()
        self.shards: dict[int, tuple[web.WebSocketResponse, list[int]]] = {}  # shard id -> socket, its sequence
        self.shard_count = 0
        self.identified: list[list[int]] = []  # every [shard, count] identified, in order
        self._shard_event = asyncio.Event()

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}})
        seq = [0]
        async for msg in ws:
            data = json.loads(msg.data)
            if data["op"] == 1:
                await ws.send_json({"op": 11})
            elif data["op"] == 2:
                shard = list(data["d"].get("shard") or [0, 1])
                self.identified.append(shard)
                seq[0] += 1
                ready = {
                    "v": 10, "user": BOT_USER, "guilds": [], "session_id": f"s{shard[0]}", "shard": shard,
                    "resume_gateway_url": self.gateway, "application": {"id": APP_ID, "flags": 0},
                    "private_channels": [], "relationships": [],
                }  # fmt: skip
                await ws.send_json({"op": 0, "t": "READY", "s": seq[0], "d": ready})
                self.shards[shard[0]] = (ws, seq)
                self.shard_count = shard[1]
                self._shard_event.set()
        return ws

    async def connected(self, shards: set[int], timeout: float = 180) -> None:
        """Wait until every shard in `shards` has identified and been sent READY."""
        try:
            async with asyncio.timeout(timeout):
                while not shards <= set(self.shards):
                    self._shard_event.clear()
                    await self._shard_event.wait()
        except TimeoutError:
            raise AssertionError(f"shards {sorted(shards)} never all identified; got {self.identified}") from None

    async def dispatch(self, name: str, data: dict[str, Any], shard: int | None = None) -> int:
        """Send a gateway event; the shard it went on."""
        if shard is None:
            guild = data.get("guild_id")
            shard = shard_of(guild, self.shard_count) if guild and self.shard_count else 0
        ws, seq = self.shards[shard]
        seq[0] += 1
        await ws.send_json({"op": 0, "t": name, "s": seq[0], "d": data})
        return shard


def in_guild(payload: dict[str, Any], guild: str, channel: str) -> dict[str, Any]:
    """An interaction payload moved to another server and channel."""
    payload = json.loads(json.dumps(payload))
    payload["guild_id"] = guild
    payload["channel_id"] = channel
    payload["channel"] |= {"id": channel, "guild_id": guild}
    payload["authorizing_integration_owners"] = {"0": guild}
    if "message" in payload:
        payload["message"]["channel_id"] = channel
    return payload
