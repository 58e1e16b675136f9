"""The Slack front end on slack-bolt: /maisky, mentions, direct messages and buttons.

Thin by design: Slack payload -> plain question -> core -> Reply -> Block Kit. Everything slow
runs in bolt's lazy listeners, so every request is acknowledged within Slack's 3 seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import Kind, Maisky, Reply
from bot.daily import Daily
from bot.excerpt import excerpt
from bot.settings import SlackSettings
from bot.store import Store

__all__ = ["build_app", "route", "run", "to_slack"]

log = logging.getLogger(__name__)

SECTION_LIMIT = 3000  # characters of mrkdwn in one section block
MAX_BLOCKS = 50
ANOTHER = "maisky_another"
SOURCE = "maisky_source"
SUBCOMMANDS = ("ask", "quote", "who", "sources", "about", "help", "daily")
PUBLIC = (Kind.ANSWER, Kind.DECLINE, Kind.QUOTE, Kind.WHO, Kind.SOURCES)  # the rest only the asker sees
_LEADING_MENTION = re.compile(r"^\s*(<@[A-Z0-9]+(\|[^>]*)?>[\s,:]*)+")


def escape(text: str) -> str:
    """Slack mrkdwn escaping: with &, < and > escaped nothing can form a mention, link or <!channel>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(action_id: str, label: str, **extra: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}, **extra}


def _bullets(lines: tuple[str, ...], title: str = "") -> list[dict[str, Any]]:
    """Bulleted lines in as few sections as the section limit allows."""
    blocks, chunk = [], f"*{escape(title)}*\n" if title else ""
    for line in lines:
        item, _ = excerpt("• " + escape(line), SECTION_LIMIT - 1)
        if len(chunk) + len(item) + 1 > SECTION_LIMIT:
            blocks.append(_section(chunk.rstrip()))
            chunk = ""
        chunk += item + "\n"
    if chunk.strip():
        blocks.append(_section(chunk.rstrip()))
    return blocks


def _passage_section(reply: Reply) -> dict[str, Any]:
    """Narration, the passage as a block quote and whose it is, cut at a sentence to fit one section."""
    head, tail = escape(reply.narration) + "\n\n", "\n— " + escape(reply.passage_by)
    budget = SECTION_LIMIT - len(head) - len(tail)
    while True:
        text, _ = excerpt(reply.passage, budget)
        quoted = "\n".join("> " + escape(line) if line else ">" for line in text.split("\n"))
        if len(head) + len(quoted) + len(tail) <= SECTION_LIMIT:
            return _section(head + quoted + tail)
        budget -= 200  # escaping and "> " prefixes made it longer than its raw length


def to_slack(reply: Reply) -> dict[str, Any]:
    """A Reply as chat.postMessage / response_url arguments: Block Kit plus a labelled fallback text."""
    label = f"*{escape(reply.label)}* · {escape(reply.disclosure)}"
    blocks: list[dict[str, Any]] = [_context(label)]
    if reply.passage:
        blocks.append(_passage_section(reply))
    else:
        blocks.append(_section(escape(excerpt(reply.narration, SECTION_LIMIT)[0])))
    if reply.quotations:
        blocks += _bullets(tuple(q.line for q in reply.quotations), "Quoted in this passage")
    blocks += _bullets(reply.items) + _bullets(reply.suggestions)
    if reply.citation:
        blocks.append(_context(excerpt("Source: " + escape(reply.citation.line), SECTION_LIMIT)[0]))
        if reply.kind in (Kind.ANSWER, Kind.WHO):
            buttons = [_button(SOURCE, "Source", url=reply.citation.url)]
            if reply.kind is Kind.ANSWER:  # "another" re-asks the question; a who reply has none
                value = json.dumps({"q": reply.question[:1000], "r": reply.rank + 1})
                buttons.insert(0, _button(ANOTHER, "Another passage", value=value))
            blocks.append({"type": "actions", "elements": buttons})
    text = f"{reply.label} ({reply.disclosure}) {reply.narration}"
    if reply.citation:
        text += f" Source: {reply.citation.line}"
    return {"text": escape(excerpt(text, 3000)[0]), "blocks": blocks[:MAX_BLOCKS]}


def route(text: str) -> tuple[str, str]:
    """`/maisky` text -> (subcommand, argument). Bare text is a question; a lone word that looks
    like a mistyped subcommand, or nothing at all, gets help."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return "help", ""
    first, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
    if first in SUBCOMMANDS:
        return first, rest
    if not rest and (first.startswith(("-", "/")) or any(fuzz.ratio(first, c) >= 75 for c in SUBCOMMANDS)):
        return "help", ""
    return "ask", text.strip()


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


@dataclass(frozen=True)
class _Asker:
    """Who asked, and where, from a slash command, a button click or an event alike."""

    team: str
    user: str
    channel: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> _Asker:
        event = body.get("event") or {}
        return cls(
            team=body.get("team_id") or (body.get("team") or {}).get("id", ""),
            user=body.get("user_id") or (body.get("user") or {}).get("id", "") or event.get("user", ""),
            channel=body.get("channel_id") or (body.get("channel") or {}).get("id", "") or event.get("channel", ""),
        )

    @property
    def key(self) -> str:
        """Per-user cooldown key."""
        return f"slack:{self.team}:{self.user}"


def _daily_args(words: list[str]) -> tuple[str, str]:
    """(time, zone) from `on 18:30 Europe/London` in either order; either may be missing."""
    time_text = next((w for w in words if any(c.isdigit() for c in w) and "/" not in w), "")
    zone_text = next((w for w in words if w != time_text), "")
    return time_text, zone_text


def build_app(core: Maisky, slack: SlackSettings, client: WebClient | None = None, daily: Daily | None = None) -> App:
    """The bolt app with every listener registered; `client` and `daily` are injectable for tests."""
    client = client or WebClient(token=slack.bot_token, base_url=slack.api_url)
    app = App(
        client=client,
        signing_secret=slack.signing_secret or None,
        request_verification_enabled=not slack.socket_mode,
    )
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
        if user in slack.daily_allowlist:
            return True
        try:
            info = client.users_info(user=user)["user"]
        except SlackApiError:
            log.warning("could not look up Slack user %s; treating as not an admin", user, exc_info=True)
            return False
        return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))

    def daily_command(arg: str, user: str, channel: str, team: str) -> Reply:
        if daily is None:
            return core.voice.notice("daily_unavailable")
        action, *rest = arg.split() or ["status"]
        now = dt.datetime.now(dt.UTC)
        match action.lower():
            case "on" | "subscribe":
                if not may_manage(user):
                    return core.voice.notice("daily_not_allowed")
                return daily.subscribe("slack", channel, team, user, *_daily_args(rest), now)
            case "off" | "unsubscribe":
                if not may_manage(user):
                    return core.voice.notice("daily_not_allowed")
                return daily.unsubscribe("slack", channel)
            case "status":
                return daily.status("slack", channel, now)
            case "preview":
                return daily.preview("slack", channel, now)
        return core.help("/maisky ")

    def answer(text: str, who: _Asker) -> Reply:
        command, arg = route(text)
        if command == "daily":
            return core.safely(lambda: daily_command(arg, who.user, who.channel, who.team))
        if command in ("ask", "who"):
            waiting = core.gate(who.key)
            if waiting:
                return waiting
        calls: dict[str, Callable[[], Reply]] = {
            "ask": lambda: core.ask(arg),
            "who": lambda: core.who(arg),
            "quote": lambda: core.quote(dt.date.today()),
            "sources": core.sources,
            "about": core.about,
        }
        return core.safely(calls.get(command, lambda: core.help("/maisky ")))

    def just_ack(ack: Callable[..., None]) -> None:
        ack()

    def command(body: dict[str, Any], respond: Callable[..., Any]) -> None:
        text = body.get("text", "")
        reply = answer(text, _Asker.of(body))
        public = reply.kind in PUBLIC and route(text)[0] != "daily"  # daily settings are the manager's business
        respond(response_type="in_channel" if public else "ephemeral", **to_slack(reply))

    def another(body: dict[str, Any], respond: Callable[..., Any]) -> None:
        try:
            data = json.loads(body["actions"][0]["value"])
            question, rank = str(data["q"]), int(data["r"])
        except (KeyError, IndexError, ValueError, TypeError):
            log.warning("malformed %s button value", ANOTHER)
            question, rank = "", 0
        reply = core.gate(_Asker.of(body).key) or core.safely(lambda: core.ask(question, rank=rank))
        respond(response_type="ephemeral", replace_original=False, **to_slack(reply))

    def mention(body: dict[str, Any], client: WebClient) -> None:
        event = body["event"]
        if event.get("bot_id") or event.get("subtype"):
            return  # our own posts and edits are not questions
        text = _LEADING_MENTION.sub("", event.get("text", ""))
        reply = answer(text or "help", _Asker.of(body))
        thread = event.get("thread_ts") or (event["ts"] if event.get("channel_type") != "im" else None)
        client.chat_postMessage(channel=event["channel"], thread_ts=thread, **to_slack(reply))

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
        SocketModeHandler(app, slack.app_token).start()
    else:
        import waitress  # a production WSGI server; bolt's own app.start() is for development
        from slack_bolt.adapter.wsgi import SlackRequestHandler

        log.info("Slack: HTTP on %s:%s at /slack/events", slack.host, slack.port)
        waitress.serve(SlackRequestHandler(app), host=slack.host, port=slack.port, ident="maisky")
