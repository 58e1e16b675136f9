"""Daily posts to Slack through the Web API, with Slack's answers sorted by what they tell us.

Slack has no idempotency key for chat.postMessage, and finding out whether a post arrived would
need history scopes that let the bot read every message in the channel. So a post whose fate is
unknown (a timeout or dropped connection after the request went out, `fatal_error`,
`internal_error`, an HTTP 5xx) is never resent: it is reported as sent, unconfirmed. For the same
reason the client used here has slack_sdk's retry handlers turned off (by default it retries a
request once on a connection error, which can post twice).
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from adapters.slack.rendering import to_slack
from bot import Reply
from bot.club.daily import Pace
from bot.errors import ChannelGone, OutcomeUnknown, PostLater, TokenRejected

__all__ = ["GONE", "REJECTED", "UNKNOWN", "SlackPoster"]

# The channel cannot be posted to until someone fixes something there: pause that channel.
GONE = frozenset("channel_not_found not_in_channel is_archived channel_is_archived restricted_action".split())
# The bot itself is refused (every channel would fail alike): stop, change nothing.
REJECTED = frozenset(
    "invalid_auth not_authed token_revoked token_expired account_inactive missing_scope team_access_not_granted "
    "no_permission ekm_access_denied org_login_required team_not_found app_uninstalled".split()
)
# Slack may have stored the message before it failed.
UNKNOWN = frozenset("fatal_error internal_error request_timeout service_unavailable".split())


class SlackPoster:
    """Posts daily quotations through the Web API, at most once per channel and day."""

    # "several hundred messages per minute" per workspace for chat.postMessage
    pace = Pace(5.0, per_workspace=True)

    def __init__(self, client: WebClient, timeout: float = 20.0) -> None:
        # A client of its own: the same token and API URL, no automatic retries, a bounded wait.
        self.client = WebClient(token=client.token, base_url=client.base_url, timeout=round(timeout), retry_handlers=[])
        self._rendered: dict[int, tuple[Reply, dict[str, Any]]] = {}

    def _render(self, reply: Reply) -> dict[str, Any]:
        """Block Kit for `reply`, worked out once for every channel a pass gives the same reply."""
        kept = self._rendered.get(id(reply))
        if kept is not None and kept[0] is reply:
            return kept[1]
        if len(self._rendered) > 256:
            self._rendered.clear()
        rendered = to_slack(reply)
        # as slack_sdk would turn the blocks into dicts on every call
        rendered["blocks"] = [b.to_dict() if isinstance(b, Block) else b for b in rendered.get("blocks", [])]
        self._rendered[id(reply)] = (reply, rendered)  # the reply kept alive, so its id is not reused
        return rendered

    def post(self, channel: str, reply: Reply, key: str, workspace: str = "") -> None:
        try:
            self.client.chat_postMessage(channel=channel, **self._render(reply))
        except SlackApiError as exc:
            response = exc.response
            code = str(response.get("error", "")) if response is not None and isinstance(response.data, dict) else ""
            status = response.status_code if response is not None else 0
            if code in GONE:
                raise ChannelGone(code) from exc
            if code in REJECTED or status == 401:
                raise TokenRejected(code or f"HTTP {status}") from exc
            if status == 429 or code == "ratelimited":
                raise PostLater(code or "ratelimited", retry_after=_retry_after(response)) from exc
            if code in UNKNOWN or status >= 500:
                raise OutcomeUnknown(code or f"HTTP {status}") from exc
            raise PostLater(code or f"HTTP {status}") from exc
        except (TimeoutError, ConnectionResetError, http.client.HTTPException) as exc:
            # the request went out; whether Slack stored it is unknown
            raise OutcomeUnknown(type(exc).__name__ + (f": {exc}" if str(exc) else "")) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout, ConnectionResetError)):
                raise OutcomeUnknown(str(exc.reason) or type(exc.reason).__name__) from exc
            raise PostLater(str(exc.reason)) from exc  # refused, no route, DNS: nothing was sent
        except OSError as exc:
            raise PostLater(str(exc) or type(exc).__name__) from exc


def _retry_after(response: object) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None
