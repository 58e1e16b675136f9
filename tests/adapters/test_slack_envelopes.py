"""Malformed Socket Mode envelopes, through slack_sdk's own client against a local WebSocket server:
each is acknowledged (when it carries an id), logged in one line without a traceback, and dropped;
the connection then still answers a well-formed slash command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from adapters.slack.app import build_app
from adapters.slack.envelopes import GuardedSocketModeHandler, malformed
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.slack_fakes import FakeSlack, settings

DEEP = 100_000

# (envelope id Slack would expect an ack for, or None where none can be read; the raw message)
MALFORMED: list[tuple[str | None, str]] = [
    ("bad-payload-str", json.dumps({"envelope_id": "bad-payload-str", "type": "slash_commands", "payload": "x"})),
    ("bad-payload-list", json.dumps({"envelope_id": "bad-payload-list", "type": "events_api", "payload": [1, 2]})),
    ("bad-type", json.dumps({"envelope_id": "bad-type", "type": 5, "payload": {}})),
    (
        "bad-accepts",
        json.dumps(
            {"envelope_id": "bad-accepts", "type": "slash_commands", "payload": {}, "accepts_response_payload": "yes"}
        ),
    ),
    ("bad-retry", json.dumps({"envelope_id": "bad-retry", "type": "events_api", "payload": {}, "retry_attempt": "1"})),
    ("not-json", '{"envelope_id": "not-json", "type": "events_api", "payload": {'),
    ("deep", '{"envelope_id": "deep", "type": "events_api", "payload": ' + "[" * DEEP + "]" * DEEP + "}"),
    (
        "cmd-wrong-fields",
        json.dumps(
            {
                "envelope_id": "cmd-wrong-fields",
                "type": "slash_commands",
                "payload": {"command": 5, "text": ["x"], "team_id": {"a": 1}},
            }
        ),
    ),
    (
        "event-str",
        json.dumps(
            {
                "envelope_id": "event-str",
                "type": "events_api",
                "payload": {"type": "event_callback", "event": "app_mention", "team_id": "T1"},
            }
        ),
    ),
    (
        "action-str",
        json.dumps(
            {
                "envelope_id": "action-str",
                "type": "interactive",
                "payload": {"type": "block_actions", "actions": "x", "user": "U1"},
            }
        ),
    ),
    ("unknown-kind", json.dumps({"envelope_id": "unknown-kind", "type": "something_new", "payload": {"a": 1}})),
    (None, json.dumps({"envelope_id": 5, "type": "events_api", "payload": {}})),
    (None, "{" + "[" * DEEP),
    (None, "not json at all"),
    (None, json.dumps({"type": "events_api", "payload": {"x": 1}})),
]

GOOD = {
    "envelope_id": "good",
    "type": "slash_commands",
    "accepts_response_payload": True,
    "payload": {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/maisky", "api_app_id": "A1",
                "text": "Was Eden made of iron?", "response_url": "", "trigger_id": "t-good"},
}  # fmt: skip


class RawSocket:
    """Plays Slack's side of Socket Mode: hello, then each raw message in turn; records every ack."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        self.acks: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self.port = 0
        self._stop: asyncio.Future[None] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._thread.start()
        assert self.ready.wait(60)

    async def _handle(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}, "connection_info": {}}))
        for message in self.messages:
            await ws.send(message)
        with contextlib.suppress(ConnectionClosed):  # the client goes when the test ends
            async for message in ws:
                with self.cond:
                    self.acks.append(json.loads(message))
                    self.cond.notify_all()

    async def _main(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._handle, "127.0.0.1", 0, max_size=None) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self.ready.set()
            await self._stop

    def acked(self) -> list[str]:
        with self.cond:
            return [str(a.get("envelope_id")) for a in self.acks]

    def wait_acked(self, ids: set[str], timeout: float = 180) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: ids <= {str(a.get("envelope_id")) for a in self.acks}, timeout)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(lambda: self._stop is not None and self._stop.set_result(None))
        self._thread.join(10)


def test_malformed_envelopes_are_acked_logged_once_and_dropped(
    fake_slack: FakeSlack, make_core: MakeCore, caplog: pytest.LogCaptureFixture
) -> None:
    good = dict(GOOD, payload=dict(GOOD["payload"], response_url=f"{fake_slack.url}/response/good"))  # type: ignore[arg-type]
    ws = RawSocket([raw for _, raw in MALFORMED] + [json.dumps(good)])
    fake_slack.ws_url = f"ws://127.0.0.1:{ws.port}/link"
    slack = settings(fake_slack, app_token="xapp-test")
    handler = GuardedSocketModeHandler(
        build_app(desk_for(make_core()), slack), slack.app_token, receive_buffer_size=65536
    )
    expected = {eid for eid, _ in MALFORMED if eid is not None}
    caplog.set_level(logging.INFO)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
        assert ws.wait_acked(expected | {"good"}), f"never acknowledged: {sorted(expected - set(ws.acked()))}"
        answer = fake_slack.wait_for("/response/good")[0].body
        assert "soft clay" in json.dumps(answer, ensure_ascii=False)
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        ws.close()
    assert sorted(ws.acked()) == sorted(expected | {"good"}), "each envelope is acknowledged exactly once"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    dropped = [r.getMessage() for r in caplog.records if "Socket Mode envelope" in r.getMessage()]
    assert len(dropped) == len(MALFORMED), dropped
    assert all(len(line) < 200 and "[[[" not in line for line in dropped)


def test_a_well_formed_envelope_passes_the_screen() -> None:
    assert malformed(json.dumps(GOOD)) is None
    assert malformed(json.dumps({"type": "hello", "num_connections": 1})) is None
    assert malformed(json.dumps({"type": "disconnect", "reason": "refresh_requested"})) is None
