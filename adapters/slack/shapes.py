"""The shapes of a Slack request body that bolt and our listeners rely on, checked before dispatch.

Bolt's matchers and context builders read fields such as `body["event"]["type"]`, `body["actions"][0]`
or `body["view"]["callback_id"]` without checking their types, so a correctly signed body whose
`event` is a list raises inside bolt and is answered 500 with a traceback. `problem` names the first
field of the wrong type (never its value), so the guard can answer 400 with one log line instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["problem"]

# Fields that are text wherever they appear (the body, its event, actions, view, message...).
_STRINGS = frozenset(
    "type token team_id user_id user_name channel_id channel_name enterprise_id api_app_id command text "
    "response_url trigger_id event_id callback_id action_id block_id value ts thread_ts channel_type subtype "
    "bot_id user_team tab function_execution_id app_installed_team_id".split()
)
# Fields that are objects, and are read as objects.
_OBJECTS = frozenset(
    "event view message previous_message container item assistant_thread function_data workflow_step function".split()
)
# Fields that are an object or, in some payloads, an id (bolt accepts both).
_OBJECT_OR_ID = frozenset("team user channel enterprise".split())
# Fields that are lists of objects, read by index.
_LISTS = frozenset("actions authorizations".split())
# Fields that hold an id (as do `team`, `user`, `channel`, `enterprise` when they are not objects, and
# those objects' `id`): Slack's are about 11 characters; the bot's tables keep 64 (VARCHAR(64) on
# PostgreSQL, where a longer one failed the insert).
_IDS = frozenset("team_id user_id channel_id enterprise_id".split())
MAX_ID = 64
_MAX_DEPTH = 8  # Slack nests these fields a few levels at most (event.message.user); deeper is not looked at


def problem(body: Mapping[str, Any]) -> str:
    """The first field of `body` whose type bolt or the listeners cannot use, as 'event is not an object';
    '' when every field it reads has the type Slack sends."""
    return _types(body) or (_command(body) if "command" in body else "")


def _command(body: Mapping[str, Any]) -> str:
    """A slash command carries who typed it, where, and where to answer; the answer needs all three."""
    for key in ("user_id", "channel_id"):
        if not body.get(key):
            return f"a slash command without {key}"
    if not str(body.get("response_url") or "").startswith(("https://", "http://")):
        return "a slash command without an http(s) response_url"
    return ""


def _types(body: Mapping[str, Any]) -> str:
    todo: list[tuple[Mapping[str, Any], str, int]] = [(body, "", 0)]
    while todo:
        obj, where, depth = todo.pop()
        for key, value in obj.items():
            if value is None:
                continue  # Slack sends null for absent ones (team in an org-wide install)
            name = f"{where}{key}"
            if key in _STRINGS and not isinstance(value, str) and not (key == "text" and where.startswith("actions")):
                return f"{name} is not a string"  # (an action's text is its button's label: an object)
            if key in _OBJECTS and not isinstance(value, dict):
                return f"{name} is not an object"
            if key in _OBJECT_OR_ID and not isinstance(value, dict | str):
                return f"{name} is neither an object nor an id"
            if key in _OBJECT_OR_ID and isinstance(value, dict) and not isinstance(value.get("id", ""), str | None):
                return f"{name}.id is not a string"  # bolt takes it for the id, and looks the installation up by it
            if key in _IDS or key in _OBJECT_OR_ID:
                an_id = value.get("id") if isinstance(value, dict) else value
                if isinstance(an_id, str) and len(an_id) > MAX_ID:
                    return f"{name} is longer than a Slack id ({len(an_id)} characters)"
            if key in _LISTS:
                if not isinstance(value, list):
                    return f"{name} is not a list"
                for n, item in enumerate(value):
                    if not isinstance(item, dict):
                        return f"{name}[{n}] is not an object"
                    if depth < _MAX_DEPTH:
                        todo.append((item, f"{name}[{n}].", depth + 1))
            elif isinstance(value, dict) and (key in _OBJECTS or key in _OBJECT_OR_ID) and depth < _MAX_DEPTH:
                todo.append((value, f"{name}.", depth + 1))
    return ""
