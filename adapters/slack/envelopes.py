"""Socket Mode, hardened: every envelope is acknowledged once, and a malformed one is dropped with one line.

slack_sdk hands an envelope to bolt only if it is JSON of the right shape, and bolt acknowledges only
what a listener handled; anything else raised in a library thread (a traceback) or was never
acknowledged, so Slack would deliver it again. Here an envelope is screened as it arrives: one that
is not JSON, nested too deeply or of the wrong types is acknowledged (when its id can be read),
logged in one line without its body, and dropped; one that bolt cannot read or handle is
acknowledged the same way. An app token Slack refuses at start-up is said once, by `maisky slack`
(adapters/lifecycle.py), without slack_sdk's own error line before it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

__all__ = ["GuardedSocketModeHandler", "malformed"]

log = logging.getLogger(__name__)

_ENVELOPE_ID = re.compile(r'"envelope_id"\s*:\s*"([A-Za-z0-9._:-]{1,100})"')
# What slack_sdk's SocketModeRequest and bolt read from an envelope, and the types they expect.
_FIELDS: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "envelope_id": (str,),
    "payload": (dict,),
    "accepts_response_payload": (bool,),
    "retry_attempt": (int, type(None)),
    "retry_reason": (str, type(None)),
}

# Inside the payload: the fields bolt's own parsing (slack_bolt.request.internals) and our listeners
# read, and the types they take for granted; a field that is absent is fine.
_TEXT = (str,)
_OBJECT = (dict,)
_PAYLOAD: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(
        (
            "type",
            "team_id",
            "user_id",
            "channel_id",
            "command",
            "text",
            "trigger_id",
            "response_url",
            "api_app_id",
            "event_id",
            "user_name",
        ),
        _TEXT,
    ),
    "enterprise_id": (str, type(None)),
    **dict.fromkeys(("event", "view", "message", "previous_message", "item", "container", "state"), _OBJECT),
    **dict.fromkeys(("team", "user", "channel", "enterprise"), (dict, str, type(None))),
    **dict.fromkeys(("authorizations", "actions"), (list,)),
}
_EVENT: dict[str, tuple[type, ...]] = dict.fromkeys(
    ("type", "user", "channel", "text", "ts", "thread_ts", "bot_id", "subtype", "channel_type", "team", "user_team"),
    _TEXT,
)
_ACTION: dict[str, tuple[type, ...]] = dict.fromkeys(("type", "action_id", "block_id", "value"), _TEXT)


def _wrong(value: dict[str, Any], fields: dict[str, tuple[type, ...]], where: str) -> str | None:
    """The first field of `value` whose type is not one of `fields`' (a bool is not an int)."""
    for name, types in fields.items():
        if name in value:
            got = value[name]
            if not isinstance(got, types) or (isinstance(got, bool) and bool not in types):
                return f"{where}{name} is not a {types[0].__name__}"
    return None


def _payload_trouble(payload: dict[str, Any]) -> str | None:
    trouble = _wrong(payload, _PAYLOAD, "payload.")
    if trouble is None and isinstance(payload.get("event"), dict):
        trouble = _wrong(payload["event"], _EVENT, "payload.event.")
    for key in ("actions", "authorizations"):
        for item in payload.get(key) or []:
            if trouble is None and not isinstance(item, dict):
                trouble = f"payload.{key} holds a {type(item).__name__}"
            elif trouble is None and key == "actions":
                trouble = _wrong(item, _ACTION, "payload.actions[].")
    return trouble


def malformed(raw: str) -> tuple[str, str | None] | None:
    """Why an incoming Socket Mode message cannot be handled, and its envelope id if one can be read;
    None when it is fit for slack_sdk and bolt."""
    try:
        message = json.loads(raw)
    except RecursionError:
        return "nested too deeply", _read_id(raw)
    except ValueError:
        return "not JSON", _read_id(raw)
    if not isinstance(message, dict):
        return "not a JSON object", None
    envelope_id = message.get("envelope_id")
    known = envelope_id if isinstance(envelope_id, str) and envelope_id else None
    trouble = _wrong(message, _FIELDS, "")
    if trouble is None and known is None and "payload" in message:
        trouble = "an envelope without an envelope_id"
    if trouble is None and isinstance(message.get("payload"), dict):
        trouble = _payload_trouble(message["payload"])
    return None if trouble is None else (trouble, known)


def _read_id(raw: str) -> str | None:
    found = _ENVELOPE_ID.search(raw[:4096])
    return found[1] if found else None


class _HoldBack(logging.Filter):
    """Drops the records whose message starts with `prefix` (the error raised after them is reported)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self.prefix))


def _ack(client: BaseSocketModeClient, envelope_id: str) -> None:
    client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))


class GuardedSocketModeHandler(SocketModeHandler):
    """bolt's Socket Mode handler, screening what arrives and acknowledging what bolt could not handle."""

    def __init__(self, app: App, app_token: str, **kwargs: Any) -> None:
        super().__init__(app, app_token, **kwargs)
        enqueue = self.client.enqueue_message

        def screen(raw: str) -> None:
            trouble = malformed(raw) if isinstance(raw, str) else ("not text", None)
            if trouble is None:
                enqueue(raw)
                return
            reason, envelope_id = trouble
            if envelope_id is not None:
                _ack(self.client, envelope_id)
            log.warning(
                "dropped a malformed Socket Mode envelope: %s (%s)",
                reason,
                f"envelope {envelope_id}, acknowledged" if envelope_id else "no envelope id to acknowledge",
            )

        # the one entry every received message passes through (slack_sdk's builtin client calls it)
        self.client.enqueue_message = screen  # type: ignore[assignment]

    def connect(self) -> None:
        """Open the first connection. A refused app token raises SlackApiError, which the caller turns
        into one clear line; slack_sdk logs it first as an error of its own ("Failed to retrieve WSS
        URL: ..." with Slack's raw answer), held back here for this first connection only (a later
        reconnection that fails is still logged)."""
        held = _HoldBack("Failed to retrieve WSS URL")
        logger = self.client.logger
        logger.addFilter(held)
        try:
            super().connect()  # type: ignore[no-untyped-call]
        finally:
            logger.removeFilter(held)

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time.time()
        try:
            response = run_bolt_app(self.app, req)
        except Exception as exc:  # bolt builds its request outside its own error handling
            _ack(client, req.envelope_id)
            log.warning(
                "dropped a Socket Mode envelope bolt could not read (%s, envelope %s, acknowledged)",
                type(exc).__name__,
                req.envelope_id,
            )
            return
        if response.status != 200:  # no listener took it (or it was refused): Slack must not send it again
            _ack(client, req.envelope_id)
            log.info(
                "dropped a Socket Mode envelope no listener handled (%s %s, envelope %s, acknowledged)",
                req.type,
                response.status,
                req.envelope_id,
            )
            return
        send_response(client, req, response, start)
