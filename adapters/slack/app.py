"""The Slack front end on slack-bolt: /maisky, mentions, direct messages and buttons.

Translation only: a Slack payload becomes a command and a caller, the front desk answers, and the
outcome becomes a Slack message, in the channel or only for the caller. The request's own thread
only hands the work to the desk's answer pool (bot/chat/pool.py: low-priority threads, a bounded
queue) and acknowledges, so every request is acknowledged within Slack's 3 seconds however busy the
answers keep the CPU; when the pool is full, the member is told at once to ask again in a moment.

Over HTTP the hand-over comes before bolt (`acknowledger`): once the guard has checked a request, the
request itself goes to the answer pool and is acknowledged empty, as bolt's listeners acknowledge
every request the pool takes; bolt's dispatch, with the listeners, then runs in the answer pool, at
low priority. When the pool is full, a slash command is acknowledged with the busy reply at once.
Only a mention or a button when the pool is full, Slack's url_verification, and every request with
OAuth (bolt answers a workspace that has no installation in the acknowledgement) meet bolt in the
request's thread.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from adapters.slack import checks, processes
from adapters.slack.installs import RateLimited, daily_poster, forget_revoked, oauth_flow
from adapters.slack.malloc import limit_arenas
from adapters.slack.members import find_members
from adapters.slack.rendering import ANOTHER, QUIZ, SOURCE, fallback_text, to_slack
from adapters.slack.responding import Responder, interactive_retries
from adapters.slack.serve import Scheduler, listen, serve_http, serve_socket
from bot.chat.commands import Another, Command, Quiz, QuizAction
from bot.chat.desk import Caller, FrontDesk, Outcome
from bot.chat.reply import Reply, read_option
from bot.errors import Busy, ServiceError
from bot.ops.settings import SlackSettings

if TYPE_CHECKING:
    from bot.ops.store import Store

__all__ = ["Listeners", "build_app", "run", "to_slack"]

log = logging.getLogger(__name__)

PREFIX = "/maisky "

# Message subtypes that carry a member's own words: a thread reply also sent to the channel, a message
# with a file, a /me line. Every other subtype is not a question: a bot's post (bot_message), an edit or
# a deletion (message_changed, message_deleted), a system line (channel_join, channel_topic, pinned_item
# and the rest) or a mention in a canvas (document_mention). https://docs.slack.dev/reference/events/message
QUESTION_SUBTYPES = frozenset({"thread_broadcast", "file_share", "me_message"})
# How long a message's ts is remembered as answered: an edit of an answered mention within this time
# gets no second answer; an edit of a message older than this is not answered at all (Slack lets
# members edit for ever, and the record of the first answer is gone).
ANSWERED_SECONDS = 30 * 24 * 3600.0
ANSWER_JOB = "slack.answer"  # the job (Listeners.work) registered with the desk's answer pool
REQUEST_JOB = "slack.request"  # bolt's dispatch of a request the guard acknowledged (Listeners.dispatch)

# Set while a request is dispatched inside the answer pool: the listeners' work is done there and then,
# and what it worked out is collected here for the pool's delivery threads.
_INLINE: ContextVar[list[tuple[Outcome, str, dict[str, Any], _Place]] | None] = ContextVar("inline", default=None)


class _Seen:
    """Ids of deliveries already handled, so a retried delivery never answers twice: in the store
    when there is one (shared by every process and kept across restarts for an hour; Slack retries
    within minutes), else in this process only."""

    def __init__(self, store: Store | None = None, size: int = 5000) -> None:
        self._store = store
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, key: str, ttl: float = 3600.0) -> bool:
        if self._store is not None:
            try:
                return self._store.first_time(f"slack:{key}", time.time(), ttl)
            except Exception:  # the database is unreachable: still answer, remembered here only
                log.warning("could not record delivery %s in the store", key, exc_info=True)
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True

    def remembered(self) -> int:
        """How many ids this process holds (none is needed beyond Slack's retries of the latest)."""
        with self._lock:
            return len(self._ids)


class DropRepeats(Middleware):
    """bolt middleware: a delivery this process took already (Slack retries one it thinks was lost) is
    acknowledged and dropped at once. A Middleware, not a function: bolt builds a function's arguments
    by name for every request."""

    def __init__(self, recent: _Seen) -> None:
        self.recent = recent

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        key = _delivery_id(req.body)
        if key and not self.recent.first_time(key):
            log.info("ignored a repeated delivery %s", key)
            return BoltResponse(status=200, body="")
        return next()


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


def _thread(body: dict[str, Any]) -> str:
    """The thread a call belongs to: a mention in a channel is answered in its own thread; a slash
    command and a direct message have none (a button click keeps the thread it was clicked in)."""
    event = body.get("event") or {}
    if event:
        return str(event.get("thread_ts") or ("" if event.get("channel_type") == "im" else event.get("ts", "")))
    return str((body.get("container") or {}).get("thread_ts") or "")


def _me(body: dict[str, Any], context: BoltContext | None) -> tuple[str, ...]:
    """The bot's own user id in this workspace (its mentions are no part of what a member says)."""
    found = {str(context.bot_user_id)} if context is not None and context.bot_user_id else set()
    found |= {str(a["user_id"]) for a in body.get("authorizations") or () if a.get("is_bot") and a.get("user_id")}
    return tuple(sorted(found))


def _direct(body: dict[str, Any]) -> bool:
    """A message event in a direct message with the bot (bolt's `event({"type": "message", "channel_type":
    "im"})` would match type and subtype only, so any message event, in any channel)."""
    event = body.get("event") or {}
    return event.get("type") == "message" and event.get("channel_type") == "im"


def _not_a_question(event: dict[str, Any]) -> str | None:
    """Why a mention or direct message is not a question (for its one log line); None when it is one."""
    subtype = event.get("subtype")
    if event.get("bot_id") or subtype == "bot_message":
        return "a bot's message"
    if subtype and subtype not in QUESTION_SUBTYPES:
        return f"a {subtype} message"
    if not event.get("user") or not event.get("channel") or not event.get("ts"):
        return "a message without an author, channel or ts"
    return None


@dataclass(frozen=True)
class _Place:
    """What the answer needs of bolt's request context, as plain values that can cross to the answer
    process: the workspace's bot token, the bot's own ids, and the installation (Enterprise Grid)."""

    token: str | None
    me: tuple[str, ...]
    enterprise: str = ""
    enterprise_install: bool = False


def _place(body: dict[str, Any], client: WebClient, context: BoltContext | None) -> _Place:
    return _Place(
        client.token,
        _me(body, context),
        str(context.enterprise_id or "") if context is not None else "",
        bool(context is not None and context.is_enterprise_install),
    )


def _kind(event: dict[str, Any]) -> str:
    return "mention" if event.get("type") == "app_mention" else "direct message"


def _choice(body: dict[str, Any]) -> Quiz:
    """The quiz option a button's value carries: its question and the option."""
    carried = read_option(str((body.get("actions") or [{}])[0].get("value", "")))
    if carried is None:
        log.warning("malformed quiz button value")
    token, option = carried or ("", -1)
    return Quiz(QuizAction.CHOOSE, token=token, option=option)


def _message(outcome: Outcome) -> dict[str, Any]:
    return to_slack(outcome.reply)


def _response_type(outcome: Outcome) -> str:
    return "ephemeral" if outcome.private else "in_channel"


def _ack(ack: Callable[..., None]) -> None:
    ack()


class Listeners:
    """Bolt's listeners. Each runs in the request's own thread, hands the work to the desk's answer pool
    and acknowledges; the work turns a Slack payload into a command and a caller, and the front desk's
    outcome into a message, which the pool's delivery threads send (`deliver`); only a busy reply is sent
    from here, by the `senders`. Bolt passes arguments by name; `client` is the request's own, which bolt
    gives the workspace's bot token (one token, or each installation's)."""

    def __init__(
        self,
        desk: FrontDesk,
        allowlist: frozenset[str],
        responder: Responder,
        senders: Executor | None = None,
        seen: _Seen | None = None,
        base_url: str = WebClient.BASE_URL,
    ) -> None:
        self.desk = desk
        self.allowlist = allowlist
        self.responder = responder
        self.senders = senders or ThreadPoolExecutor(max_workers=4, thread_name_prefix="maisky-send")
        self.seen = seen or _Seen()  # the messages (team, channel, ts) answered already
        self.base_url = base_url  # the Web API the answers' own clients call
        self._busy_message: tuple[Reply, dict[str, Any]] | None = None  # (the busy reply, its acknowledgement)
        self.app: App | None = None  # bolt's app, for the requests dispatched in the answer pool

    # before bolt: the guard's hand-over, and bolt's dispatch in the answer pool

    def early(self, body: bytes, environ: dict[str, Any]) -> bytes | None:
        """Hand a request the guard checked to the answer pool, to be dispatched there by bolt, and say what to
        acknowledge it with now: b"" (nothing), the busy reply (a slash command when the pool is full), or
        None when bolt must answer it in this thread (a url_verification; a mention or button when full)."""
        if b"url_verification" in body:
            return None
        pool = self.desk.pool
        if pool.full():
            form = str(environ.get("CONTENT_TYPE") or "").startswith("application/x-www-form-urlencoded")
            if not form or body.startswith(b"payload=") or not (body.startswith(b"command=") or b"&command=" in body):
                return None  # not a slash command: bolt's listener says it (their busy reply is a message)
            pool.refused()
            return json.dumps(self._busy_ack(self.desk.parse(""))).encode()
        headers = {"content-type": str(environ.get("CONTENT_TYPE") or "")}
        for key, value in environ.items():
            if key.startswith("HTTP_X_SLACK_"):
                headers[key[5:].replace("_", "-").lower()] = str(value)
        try:
            pool.call(REQUEST_JOB, body.decode("utf-8"), headers)
        except (Busy, ServiceError):  # bolt answers it here: the busy reply, or the error
            return None
        return b""

    def dispatch(self, raw: str, headers: dict[str, str]) -> list[tuple[Outcome, str, dict[str, Any], _Place]] | None:
        """bolt's dispatch of a request acknowledged already, in the answer pool: its listeners work the
        answers out here (`_hand_over`); what they give is delivered by the pool's delivery threads."""
        assert self.app is not None
        collected: list[tuple[Outcome, str, dict[str, Any], _Place]] = []
        token = _INLINE.set(collected)
        try:
            try:
                given: dict[str, str | Sequence[str]] = dict(headers)
                request = BoltRequest(body=raw, headers=given)
            except Exception as exc:  # its message may quote the body (the guard checked the shapes bolt reads)
                log.warning("dropped a Slack request bolt could not read (%s)", type(exc).__name__)
                return None
            response = self.app.dispatch(request)
        finally:
            _INLINE.reset(token)
        # bolt's own message in an ack (ours make none once the pool took the work) comes too late to be sent
        if response.status == 200 and response.body:
            log.warning("bolt answered a Slack request acknowledged already; its message was dropped")
        return collected or None

    def deliver_all(self, collected: list[tuple[Outcome, str, dict[str, Any], _Place]], *_: Any) -> None:
        for outcome, kind, body, place in collected:
            self.deliver(outcome, kind, body, place)

    def is_admin(self, user: str, client: WebClient) -> bool:
        try:
            info = client.users_info(user=user)["user"]
        except SlackApiError:
            log.warning("could not look up Slack user %s; treating as not an admin", user, exc_info=True)
            return False
        return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))

    def may_manage(self, user: str, client: WebClient) -> bool:
        """Workspace admins and owners, and the allowlist, manage daily posts (and whoever an admin
        granted the right: the desk asks the store)."""
        return user in self.allowlist or self.is_admin(user, client)

    def caller(self, body: dict[str, Any], client: WebClient, place: _Place) -> Caller:
        team, channel, user = _where(body)
        name = body.get("user_name") or (body.get("user") or {}).get("name", "")
        return Caller(
            "slack", team, channel, user, may_manage=lambda: self.may_manage(user, client), name=str(name),
            may_administer=lambda: self.is_admin(user, client),
            reach=lambda: checks.reach(client, channel, name=str(body.get("channel_name") or "")),
            thread=_thread(body), me=place.me, find_member=lambda typed: find_members(client, typed),
            # bolt's reading of the installation (Enterprise Grid), kept with a subscription made here
            enterprise=place.enterprise, enterprise_install=place.enterprise_install,
        )  # fmt: skip

    def respond(self, body: dict[str, Any], outcome: Outcome, **extra: Any) -> None:
        """To the request's response_url, over a kept-alive connection; a 429 is retried."""
        url = str(body.get("response_url") or "")
        self.responder(url, response_type=_response_type(outcome), **extra, **_message(outcome))

    def client(self, place: _Place) -> WebClient:
        """A Web API client for the request's workspace (bolt's own client stays in the request's process)."""
        return WebClient(token=place.token, base_url=self.base_url, retry_handlers=interactive_retries())

    def work(self, kind: str, body: dict[str, Any], place: _Place) -> Outcome | None:
        """The answer to a request (None: nothing to send), worked out in the desk's answer pool, which may
        be another process (bot/chat/pool.py: AnswerProcess): so it takes only picklable values, and its
        client is made here from the request's token (bolt's client for the workspace)."""
        key = _delivery_id(body)
        if key and not self.seen.first_time(key):  # a retry that another process (or a restart) took
            log.info("ignored a repeated delivery %s", key)
            return None
        caller = self.caller(body, self.client(place), place)
        if kind == "command":
            return self.desk.handle_line(str(body.get("text", "")), caller)
        if kind == "another":
            key = str((body.get("actions") or [{}])[0].get("value", ""))[:64]
            return self.desk.handle(Another(key or "-"), caller)  # no key: the turn expired
        if kind == "choose":
            return self.desk.handle(_choice(body), caller)
        event = body["event"]
        # a claim in the store (shared by processes): made in the answer's work, after the ack
        why = self.answered_already(body, event)
        if why is not None:
            log.info("ignored a Slack %s (%s): %s", _kind(event), _delivery_id(body) or "no id", why)
            return None
        return self.desk.handle_line(str(event.get("text", "")), caller)

    def deliver(self, outcome: Outcome, kind: str, body: dict[str, Any], place: _Place) -> None:
        """Send what `work` worked out, from the answer pool's delivery threads (in the answer process,
        where there is one: the acknowledging process never handles an answer)."""
        self.send(kind, body, self.client(place), outcome)

    def send(self, kind: str, body: dict[str, Any], client: WebClient, outcome: Outcome) -> None:
        """A reply where the request came from: a slash command's or a button's response_url (a button's
        reply is a new message), or the thread of a mention (a private reply only to its author)."""
        try:
            if kind == "command":
                self.respond(body, outcome)
            elif kind in ("another", "choose"):
                self.respond(body, outcome, replace_original=False)
            else:
                event = body["event"]
                direct = event.get("channel_type") == "im"
                thread = event.get("thread_ts") or (None if direct else event["ts"])
                if outcome.private and not direct:
                    client.chat_postEphemeral(
                        channel=event["channel"], user=event["user"], thread_ts=thread, **_message(outcome)
                    )
                else:
                    client.chat_postMessage(channel=event["channel"], thread_ts=thread, **_message(outcome))
        except Exception:
            log.exception("could not send a reply to Slack")

    def _hand_over(self, kind: str, body: dict[str, Any], client: WebClient, context: BoltContext | None) -> bool:
        """Queue the work in the answer pool, which also delivers it; False when the pool is full. Inside
        the pool (a request dispatched there), the work is done at once and collected for delivery."""
        inline = _INLINE.get()
        if inline is not None:
            place = _place(body, client, context)
            outcome = self.work(kind, body, place)
            if outcome is not None:
                inline.append((outcome, kind, body, place))
            return True
        try:
            self.desk.pool.call(ANSWER_JOB, kind, body, _place(body, client, context))
        except Busy:
            return False
        return True

    def _busy(self, kind: str, body: dict[str, Any], client: WebClient, command: Command) -> None:
        """The busy reply, sent by a sender (never in the request's thread: it waits on Slack)."""
        self.senders.submit(self.send, kind, body, client, self.desk.busy(command))

    def _busy_ack(self, command: Command) -> dict[str, Any]:
        """The busy reply as the acknowledgement's own body: built once (the wording does not change)."""
        busy = self.desk.busy(command)
        if self._busy_message is None or self._busy_message[0] != busy.reply:
            self._busy_message = (busy.reply, {"response_type": _response_type(busy), **_message(busy)})
        return self._busy_message[1]

    # the listeners: each runs in the request's thread and returns at once

    def command(self, ack: Callable[..., None], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """/maisky text; when the pool is full, the busy reply is the acknowledgement itself."""
        if self._hand_over("command", body, client, context):
            ack()
            return
        ack(**self._busy_ack(self.desk.parse(str(body.get("text", "")), _me(body, context))))

    def another(self, ack: Callable[..., None], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """The "Another passage" button: its value is the key of the conversation turn it follows."""
        ack()
        if not self._hand_over("another", body, client, context):
            self._busy("another", body, client, Another("-"))

    def choose(self, ack: Callable[..., None], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """A quiz option button: its value carries the question and the option."""
        ack()
        if not self._hand_over("choose", body, client, context):
            self._busy("choose", body, client, _choice(body))

    def mention(self, ack: Callable[..., None], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """A mention in a channel (answered in its thread) or a direct message."""
        ack()
        event = body["event"]
        why = _not_a_question(event)
        if why is not None:
            log.info("ignored a Slack %s (%s): %s", _kind(event), _delivery_id(body) or "no id", why)
            return
        if not self._hand_over("mention", body, client, context):
            self._busy("mention", body, client, self.desk.parse(str(event.get("text", "")), _me(body, context)))

    def answered_already(self, body: dict[str, Any], event: dict[str, Any]) -> str | None:
        """Each message is answered once, whatever Slack delivers for it: an edited mention comes again as
        a new app_mention (new event_id, same ts, an `edited` object), and a mention can also come as a
        message event. The (team, channel, ts) is claimed in the store, shared by every process; an edit
        of a message nobody answered (the mention was added by the edit) is answered in its thread."""
        ts = str(event["ts"])
        if event.get("edited"):
            try:
                old = time.time() - float(ts) > ANSWERED_SECONDS
            except ValueError:
                old = True
            if old:
                return f"an edit of message {ts}, older than the record of answers"
        team = _where(body)[0]
        if not self.seen.first_time(f"ts:{team}:{event['channel']}:{ts}", ANSWERED_SECONDS):
            return f"{'an edit of ' if event.get('edited') else ''}message {ts}, answered already"
        return None


_early: weakref.WeakKeyDictionary[App, Callable[[bytes, dict[str, Any]], bytes | None]] = weakref.WeakKeyDictionary()


def acknowledger(app: App) -> Callable[[bytes, dict[str, Any]], bytes | None] | None:
    """For the guard (`make_server`'s `early`): the hand-over of a checked request to the answer pool, before
    bolt; None where bolt must see every request first (OAuth: it answers a workspace with no installation)."""
    return _early.get(app)


def build_app(desk: FrontDesk, slack: SlackSettings, client: WebClient | None = None) -> App:
    """The bolt app with every listener registered, answering through `desk` (bot.ops.bootstrap.build_desk
    builds it, with the daily posts and the quiz where they are set up); `client` is injectable for tests.

    Acks are sent from the request's own thread (`process_before_response`), so they never queue
    behind answers; answers are worked out in the desk's answer pool (bounded, at lower priority) and
    sent where they were worked out, by `slack.workers` delivery threads over kept-alive connections.
    With OAuth settings the app serves every workspace that installed it (adapters/slack/installs.py):
    listeners use the request's own client, which bolt gives the workspace's bot token."""
    daily = desk.daily()
    token = None if slack.oauth else slack.bot_token
    client = client or WebClient(token=token, base_url=slack.api_url, retry_handlers=interactive_retries())
    flow = None
    if slack.oauth:
        if daily is None:
            raise ServiceError("SLACK_CLIENT_ID: installing in many workspaces needs the database (DATABASE_URL)")
        flow = oauth_flow(slack, daily.store)
    app = App(
        client=client,
        signing_secret=slack.signing_secret or None,
        request_verification_enabled=not slack.socket_mode,
        oauth_flow=flow,
        process_before_response=True,
        # the senders: busy replies (and bolt's own lazy listeners, none here) wait here on Slack
        listener_executor=ThreadPoolExecutor(max_workers=slack.workers, thread_name_prefix="maisky-send"),
        before_authorize=RateLimited(),
        # what bolt itself tells a member when it finds no installation (or the one token fails): ours, labelled
        user_facing_authorize_error_message=fallback_text(desk.core.voice.notice("not_installed")),
    )
    # Deliveries are claimed in the store (shared by every process) by the answer's work, not here: a
    # write there can wait on the database's lock, held by the answers, and the ack must not. Here only
    # this process's recent ids, so a retry it already took is dropped at once.
    seen = _Seen(daily.store if daily is not None else None)

    app.use(DropRepeats(_Seen()))

    listen = Listeners(
        desk, slack.daily_allowlist, Responder(), app.listener_runner.listener_executor, seen, base_url=client.base_url
    )
    desk.pool.register(ANSWER_JOB, listen.work, deliver=listen.deliver, deliverers=slack.workers)
    desk.pool.register(REQUEST_JOB, listen.dispatch, deliver=listen.deliver_all, deliverers=slack.workers)
    listen.app = app
    if not slack.oauth and not slack.socket_mode:
        _early[app] = listen.early
    app.command("/maisky")(listen.command)
    app.action(ANOTHER)(listen.another)
    app.action(SOURCE)(_ack)
    app.action(QUIZ)(listen.choose)
    app.event("app_mention")(listen.mention)
    app.event("message", matchers=[_direct])(listen.mention)

    @app.event("message")  # bolt runs the first listener that matches: this one gets the rest
    def other_messages(ack: Callable[[], None], body: dict[str, Any]) -> None:
        """A message outside a direct message: an admin who adds message.channels (or .groups, .mpim)
        gets one for every message, and one more for each mention (which comes as app_mention too).
        Acknowledged and not answered."""
        ack()
        where = (body.get("event") or {}).get("channel_type") or "no channel_type"
        log.debug("ignored a Slack message event outside a direct message (%s, %s)", _delivery_id(body), where)

    # bolt tries listeners in the order they were added, building each matcher's arguments anew: the
    # member's own requests first, Slack's rare notices about the installation last
    forget_revoked(app, slack)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("slack request failed (%s)", _delivery_id(body) or "no id", exc_info=error)

    return app


def run(desk: FrontDesk, slack: SlackSettings, shutdown_seconds: float = 20) -> None:
    """Serve until stopped: Socket Mode or HTTP on `slack.host:port` at /slack/events, as `slack.mode` says,
    over HTTP in `slack.processes` processes (adapters/slack/processes.py). Where the desk has daily posts,
    a scheduler thread posts the daily quotations too (in the first process). SIGTERM/SIGINT stop it
    gracefully."""

    limit_arenas()  # before the answering threads start: their freed memory stays reusable by all
    app = build_app(desk, slack)
    daily = desk.daily()
    sockets, family = None, None
    if not slack.socket_mode and slack.processes > 1:
        sockets = listen(slack)  # made before the fork: every process takes requests from the same queue
        family = processes.fork(slack.processes)
    # an answer process (bot/chat/pool.py) forks here: its jobs are registered and no thread runs yet
    desk.pool.start()

    def start_scheduler(stop: threading.Event) -> threading.Thread:
        assert daily is not None
        poster = daily_poster(slack, app.client, daily)
        thread = threading.Thread(target=daily.serve, args=({"slack": poster}, stop), name="maisky-daily", daemon=True)
        thread.start()
        return thread

    posts = daily is not None and (family is None or family.first)
    scheduler = Scheduler(daily, start_scheduler if posts else None)
    if slack.socket_mode:
        log.info(serve_socket(app, slack, scheduler, shutdown_seconds, pool=desk.pool))
        return
    line = serve_http(
        app, slack, scheduler, shutdown_seconds, pool=desk.pool, sockets=sockets, family=family, early=acknowledger(app)
    )
    if family is None or family.first:
        log.info(line)
        return
    log.info("%s %s", family.name(), line)
    logging.shutdown()  # flushed: this process ends here, not in the code the first process returns to
    os._exit(0)
