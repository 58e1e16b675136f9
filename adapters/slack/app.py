"""The Slack front end on slack-bolt: /maisky, mentions, direct messages and buttons.

Translation only: a Slack payload becomes a command and a caller, the front desk answers, and the
outcome becomes a Slack message, in the channel or only for the caller. Everything slow runs in
bolt's lazy listeners, so every request is acknowledged within Slack's 3 seconds.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from adapters.slack.rendering import ANOTHER, SOURCE, read_another, to_slack
from bot import Maisky
from bot.commands import Another
from bot.desk import Caller, FrontDesk, Outcome
from bot.settings import SlackSettings

if TYPE_CHECKING:
    from bot.daily import Daily
    from bot.store import Store

__all__ = ["build_app", "run", "to_slack"]

log = logging.getLogger(__name__)

PREFIX = "/maisky "
_LEADING_MENTION = re.compile(r"^\s*(<@[A-Z0-9]+(\|[^>]*)?>[\s,:]*)+")


class _Seen:
    """Ids of deliveries already handled, so a retried delivery never answers twice: in the store
    when there is one (shared by every process and kept across restarts for an hour; Slack retries
    within minutes), else in this process only."""

    def __init__(self, store: Store | None = None, size: int = 5000) -> None:
        self._store = store
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        if self._store is not None:
            try:
                return self._store.first_time(f"slack:{key}", time.time())
            except Exception:  # the database is unreachable: still answer, remembered here only
                log.warning("could not record delivery %s in the store", key, exc_info=True)
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True


def _delivery_id(body: dict[str, Any]) -> str:
    return str(body.get("event_id") or body.get("trigger_id") or "")


def _where(body: dict[str, Any]) -> tuple[str, str, str]:
    """(team, channel, user) from a slash command, a button click or an event alike."""
    event = body.get("event") or {}
    return (
        body.get("team_id") or (body.get("team") or {}).get("id", ""),
        body.get("channel_id") or (body.get("channel") or {}).get("id", "") or event.get("channel", ""),
        body.get("user_id") or (body.get("user") or {}).get("id", "") or event.get("user", ""),
    )


def _message(outcome: Outcome) -> dict[str, Any]:
    return to_slack(outcome.reply)


def build_app(core: Maisky, slack: SlackSettings, client: WebClient | None = None, daily: Daily | None = None) -> App:
    """The bolt app with every listener registered; `client` and `daily` are injectable for tests."""
    client = client or WebClient(token=slack.bot_token, base_url=slack.api_url)
    app = App(
        client=client,
        signing_secret=slack.signing_secret or None,
        request_verification_enabled=not slack.socket_mode,
    )
    desk = FrontDesk(core, daily, prefix=PREFIX)
    seen = _Seen(daily.store if daily is not None else None)

    @app.use
    def drop_repeats(
        body: dict[str, Any],
        next: Callable[[], None],  # bolt injects arguments by name
    ) -> BoltResponse | None:
        key = _delivery_id(body)
        if key and not seen.first_time(key):
            log.info("ignored a repeated delivery %s", key)
            return BoltResponse(status=200, body="")
        next()
        return None

    def may_manage(user: str) -> bool:
        """Workspace admins and owners, and the allowlist, manage daily posts."""
        if user in slack.daily_allowlist:
            return True
        try:
            info = client.users_info(user=user)["user"]
        except SlackApiError:
            log.warning("could not look up Slack user %s; treating as not an admin", user, exc_info=True)
            return False
        return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))

    def caller(body: dict[str, Any]) -> Caller:
        team, channel, user = _where(body)
        name = body.get("user_name") or (body.get("user") or {}).get("name", "")
        return Caller("slack", team, channel, user, may_manage=lambda: may_manage(user), name=str(name))

    def just_ack(ack: Callable[..., None]) -> None:
        ack()

    def command(body: dict[str, Any], respond: Callable[..., Any]) -> None:
        outcome = desk.handle_line(body.get("text", ""), caller(body))
        respond(response_type="ephemeral" if outcome.private else "in_channel", **_message(outcome))

    def another(body: dict[str, Any], respond: Callable[..., Any]) -> None:
        carried = read_another(str((body.get("actions") or [{}])[0].get("value", "")))
        if carried is None:
            log.warning("malformed %s button value", ANOTHER)
        outcome = desk.handle(Another(*carried) if carried else Another(), caller(body))
        response_type = "ephemeral" if outcome.private else "in_channel"
        respond(response_type=response_type, replace_original=False, **_message(outcome))

    def mention(body: dict[str, Any], client: WebClient) -> None:
        event = body["event"]
        if event.get("bot_id") or event.get("subtype"):
            return  # our own posts and edits are not questions
        outcome = desk.handle_line(_LEADING_MENTION.sub("", event.get("text", "")), caller(body))
        direct = event.get("channel_type") == "im"
        thread = event.get("thread_ts") or (None if direct else event["ts"])
        if outcome.private and not direct:
            client.chat_postEphemeral(
                channel=event["channel"], user=event["user"], thread_ts=thread, **_message(outcome)
            )
        else:
            client.chat_postMessage(channel=event["channel"], thread_ts=thread, **_message(outcome))

    app.command("/maisky")(ack=just_ack, lazy=[command])
    app.action(ANOTHER)(ack=just_ack, lazy=[another])
    app.action(SOURCE)(just_ack)
    app.event("app_mention")(ack=just_ack, lazy=[mention])
    app.event({"type": "message", "channel_type": "im"})(ack=just_ack, lazy=[mention])

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("slack request failed (%s)", _delivery_id(body) or "no id", exc_info=error)

    return app


def run(core: Maisky, slack: SlackSettings, daily: Daily | None = None) -> None:
    """Serve until stopped: Socket Mode with an app token, else HTTP on `slack.host:port` at /slack/events.
    With `daily`, a scheduler thread posts the daily quotations too."""
    app = build_app(core, slack, daily=daily)
    if daily is not None:
        from adapters.slack.posting import SlackPoster  # posting imports this module

        stop = threading.Event()
        threading.Thread(target=daily.serve, args=({"slack": SlackPoster(app.client)}, stop), daemon=True).start()
    if slack.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        log.info("Slack: Socket Mode")
        SocketModeHandler(app, slack.app_token).start()  # type: ignore[no-untyped-call]
    else:
        import waitress  # a production WSGI server; bolt's own app.start() is for development
        from slack_bolt.adapter.wsgi import SlackRequestHandler

        log.info("Slack: HTTP on %s:%s at /slack/events", slack.host, slack.port)
        waitress.serve(SlackRequestHandler(app), host=slack.host, port=slack.port, ident="maisky")
