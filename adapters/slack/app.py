"""The Slack front end on slack-bolt: /maisky, mentions, direct messages and buttons.

Translation only: a Slack payload becomes a command and a caller, the front desk answers, and the
outcome becomes a Slack message, in the channel or only for the caller. Everything slow runs in
bolt's lazy listeners, so every request is acknowledged within Slack's 3 seconds.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from adapters.slack.rendering import ANOTHER, QUIZ, SOURCE, read_another, read_quiz, to_slack
from bot import Maisky
from bot.commands import Another, Quiz, QuizAction
from bot.desk import Caller, FrontDesk, Outcome
from bot.settings import SlackSettings

if TYPE_CHECKING:
    from bot.daily import Daily
    from bot.quiz import Quiz as QuizService

__all__ = ["Listeners", "build_app", "run", "to_slack"]

log = logging.getLogger(__name__)

PREFIX = "/maisky "
_LEADING_MENTION = re.compile(r"^\s*(<@[A-Z0-9]+(\|[^>]*)?>[\s,:]*)+")


class _Seen:
    """Ids of deliveries already handled, so a retried delivery never answers twice."""

    def __init__(self, size: int = 5000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
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


def _response_type(outcome: Outcome) -> str:
    return "ephemeral" if outcome.private else "in_channel"


def _ack(ack: Callable[..., None]) -> None:
    ack()


class Listeners:
    """Bolt's listeners (run lazily, after the ack): each turns a Slack payload into a command and a
    caller, and the front desk's outcome into a message. Bolt passes arguments by name."""

    def __init__(self, desk: FrontDesk, client: WebClient, allowlist: frozenset[str]) -> None:
        self.desk = desk
        self.client = client
        self.allowlist = allowlist

    def may_manage(self, user: str) -> bool:
        """Workspace admins and owners, and the allowlist, manage daily posts."""
        if user in self.allowlist:
            return True
        try:
            info = self.client.users_info(user=user)["user"]
        except SlackApiError:
            log.warning("could not look up Slack user %s; treating as not an admin", user, exc_info=True)
            return False
        return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))

    def caller(self, body: dict[str, Any]) -> Caller:
        team, channel, user = _where(body)
        name = body.get("user_name") or (body.get("user") or {}).get("name", "")
        return Caller("slack", team, channel, user, may_manage=lambda: self.may_manage(user), name=str(name))

    def command(self, body: dict[str, Any], respond: Callable[..., Any]) -> None:
        """/maisky text."""
        outcome = self.desk.handle_line(body.get("text", ""), self.caller(body))
        respond(response_type=_response_type(outcome), **_message(outcome))

    def another(self, body: dict[str, Any], respond: Callable[..., Any]) -> None:
        """The "Another passage" button: its value carries the question and the rank."""
        carried = read_another(str((body.get("actions") or [{}])[0].get("value", "")))
        if carried is None:
            log.warning("malformed %s button value", ANOTHER)
        outcome = self.desk.handle(Another(*carried) if carried else Another(), self.caller(body))
        respond(response_type=_response_type(outcome), replace_original=False, **_message(outcome))

    def choose(self, body: dict[str, Any], respond: Callable[..., Any]) -> None:
        """A quiz option button: its value carries the question and the option."""
        carried = read_quiz(str((body.get("actions") or [{}])[0].get("value", "")))
        if carried is None:
            log.warning("malformed quiz button value")
        token, option = carried or ("", -1)
        outcome = self.desk.handle(Quiz(QuizAction.CHOOSE, token=token, option=option), self.caller(body))
        respond(response_type=_response_type(outcome), replace_original=False, **_message(outcome))

    def mention(self, body: dict[str, Any], client: WebClient) -> None:
        """A mention in a channel (answered in its thread) or a direct message."""
        event = body["event"]
        if event.get("bot_id") or event.get("subtype"):
            return  # our own posts and edits are not questions
        outcome = self.desk.handle_line(_LEADING_MENTION.sub("", event.get("text", "")), self.caller(body))
        direct = event.get("channel_type") == "im"
        thread = event.get("thread_ts") or (None if direct else event["ts"])
        if outcome.private and not direct:
            client.chat_postEphemeral(
                channel=event["channel"], user=event["user"], thread_ts=thread, **_message(outcome)
            )
        else:
            client.chat_postMessage(channel=event["channel"], thread_ts=thread, **_message(outcome))


def build_app(
    core: Maisky,
    slack: SlackSettings,
    client: WebClient | None = None,
    daily: Daily | None = None,
    quiz: QuizService | None = None,
) -> App:
    """The bolt app with every listener registered; `client`, `daily` and `quiz` are injectable for tests."""
    client = client or WebClient(token=slack.bot_token, base_url=slack.api_url)
    app = App(
        client=client,
        signing_secret=slack.signing_secret or None,
        request_verification_enabled=not slack.socket_mode,
    )
    seen = _Seen()

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

    listen = Listeners(FrontDesk(core, daily, prefix=PREFIX, quiz=quiz), client, slack.daily_allowlist)
    app.command("/maisky")(ack=_ack, lazy=[listen.command])
    app.action(ANOTHER)(ack=_ack, lazy=[listen.another])
    app.action(SOURCE)(_ack)
    app.action(QUIZ)(ack=_ack, lazy=[listen.choose])
    app.event("app_mention")(ack=_ack, lazy=[listen.mention])
    app.event({"type": "message", "channel_type": "im"})(ack=_ack, lazy=[listen.mention])

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("slack request failed (%s)", _delivery_id(body) or "no id", exc_info=error)

    return app


def run(core: Maisky, slack: SlackSettings, daily: Daily | None = None, quiz: QuizService | None = None) -> None:
    """Serve until stopped: Socket Mode with an app token, else HTTP on `slack.host:port` at /slack/events.
    With `daily`, a scheduler thread posts the daily quotations too; with `quiz`, channels can hold a quiz."""
    app = build_app(core, slack, daily=daily, quiz=quiz)
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
