"""Daily posts to Slack through the Web API, with platform errors sorted into "gone" and "later"."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from adapters.slack.app import to_slack
from bot import Reply
from bot.errors import ChannelGone, PostLater

__all__ = ["GONE", "SlackPoster"]

# Errors after which posting to a channel cannot work until someone fixes something.
GONE = frozenset(
    "channel_not_found not_in_channel is_archived channel_is_archived restricted_action account_inactive "
    "token_revoked invalid_auth missing_scope team_access_not_granted".split()
)


class SlackPoster:
    """Posts daily quotations through the Web API."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, channel: str, reply: Reply) -> None:
        try:
            self.client.chat_postMessage(channel=channel, **to_slack(reply))
        except SlackApiError as exc:
            code = str(exc.response.get("error", "")) if exc.response is not None else ""
            if code in GONE:
                raise ChannelGone(code) from exc
            raise PostLater(code or str(exc)) from exc
        except OSError as exc:  # connection refused, reset, timed out
            raise PostLater(str(exc)) from exc
