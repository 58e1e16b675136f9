"""Socket Mode through bolt's own handler: apps.connections.open on the fake_slack Web API hands out a
local WebSocket server, which says hello, sends a slash command envelope and expects its ack."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from websockets.asyncio.server import ServerConnection, serve

from adapters.slack.app import build_app
from adapters.slack.envelopes import GuardedSocketModeHandler
from tests.adapters import slack_payloads as payloads
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.slack_fakes import FakeSlack, settings


class FakeSocket:
    """A WebSocket server on 127.0.0.1 that plays Slack's side of Socket Mode."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.envelope = envelope
        self.acks: list[dict[str, Any]] = []
        self.acked = threading.Event()
        self.ready = threading.Event()
        self.port = 0
        self._stop: asyncio.Future[None] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._thread.start()
        assert self.ready.wait(60)

    async def _handle(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}, "connection_info": {}}))
        await ws.send(json.dumps(self.envelope))
        async for message in ws:
            data = json.loads(message)
            if data.get("envelope_id") == self.envelope["envelope_id"]:
                self.acks.append(data)
                self.acked.set()

    async def _main(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._handle, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self.ready.set()
            await self._stop

    def close(self) -> None:
        self._loop.call_soon_threadsafe(lambda: self._stop is not None and self._stop.set_result(None))
        self._thread.join(10)


def test_slash_command_over_socket_mode_is_acked_and_answered(fake_slack: FakeSlack, make_core: MakeCore) -> None:
    envelope = {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/maisky", "api_app_id": "A1",
            "text": "Was Eden made of iron?", "response_url": f"{fake_slack.url}/response/socket", "trigger_id": "t-1",
        },
    }  # fmt: skip
    ws = FakeSocket(envelope)
    fake_slack.ws_url = f"ws://127.0.0.1:{ws.port}/link"
    slack = settings(fake_slack, app_token="xapp-test")
    app = build_app(desk_for(make_core()), slack)
    handler = SocketModeHandler(app, slack.app_token)
    try:
        handler.connect()
        assert ws.acked.wait(180), "the envelope was never acknowledged"
        opened = fake_slack.wait_for("/apps.connections.open")[0]
        assert opened.headers["Authorization"] == "Bearer xapp-test"
        answer = fake_slack.wait_for("/response/socket")[0].body
        assert answer["response_type"] == "in_channel"
        assert "soft clay" in json.dumps(answer, ensure_ascii=False)
    finally:
        handler.close()
        ws.close()


def test_a_thread_broadcast_mention_over_socket_mode_is_acked_and_answered(
    fake_slack: FakeSlack, make_core: MakeCore
) -> None:
    """A thread reply also sent to the channel (subtype thread_broadcast) was dropped as an edit; over
    Socket Mode, through the guarded handler `maisky slack socket` runs, it is acknowledged and answered
    in its thread. The events_api envelope: bolt-python tests/adapter_tests/socket_mode/mock_socket_mode_server.py
    (slackapi/bolt-python@a2f21ae4)."""
    ts, root = payloads.now_ts(), payloads.now_ts(-600)
    envelope = {
        "envelope_id": "env-broadcast",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": payloads.wrap(payloads.thread_broadcast_mention(ts, root), "EvBroadcast"),
    }
    ws = FakeSocket(envelope)
    fake_slack.ws_url = f"ws://127.0.0.1:{ws.port}/link"
    slack = settings(fake_slack, app_token="xapp-test")
    handler = GuardedSocketModeHandler(build_app(desk_for(make_core()), slack), slack.app_token)
    try:
        handler.connect()
        assert ws.acked.wait(180), "the envelope was never acknowledged"
        answer = fake_slack.wait_for("/chat.postMessage")[0].body
        assert answer["channel"] == "C111" and answer["thread_ts"] == root
        assert "soft clay" in json.dumps(answer, ensure_ascii=False)
    finally:
        handler.close()
        ws.close()
