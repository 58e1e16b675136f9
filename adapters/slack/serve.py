"""Running the Slack app until stopped: HTTP under waitress behind the guard, or Socket Mode.

Both log one "ready" line once they take requests, and on SIGTERM or SIGINT stop taking work,
let acknowledged replies (bolt's lazy listeners) and a daily send finish within the configured
bound, close their connections, and log one line.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from adapters.lifecycle import Stopper, bind_error, wake_main
from adapters.slack.http import EVENTS_PATH, HEALTH_PATH, Guard, Health, carry_request_ids
from adapters.slack.processes import Family
from bot.club.daily import Daily
from bot.errors import ServiceError
from bot.ops.settings import SlackSettings

__all__ = ["Scheduler", "listen", "make_server", "serve_http", "serve_socket"]

log = logging.getLogger("maisky.slack")


class Scheduler:
    """The daily scheduler thread of this process (absent when there is no daily service)."""

    def __init__(self, daily: Daily | None, start: Callable[[threading.Event], threading.Thread] | None) -> None:
        self.daily = daily
        self.stop = threading.Event()
        self._start = start
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start posting (once the front end is up, so a start-up failure posts nothing)."""
        if self._start is not None and self.thread is None:
            self.thread = self._start(self.stop)

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def database_ok(self) -> bool:
        if self.daily is None:
            return True
        import sqlalchemy as sa

        with self.daily.store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True

    def health(self) -> dict[str, Callable[[], bool]]:
        if self.daily is None:
            return {}
        if self._start is None:  # one of several HTTP processes that leaves the posts to the first
            return {"database": self.database_ok}
        return {"database": self.database_ok, "scheduler": self.alive}

    def halt(self, deadline: float) -> str | None:
        """Stop after the send in progress (bounded by `deadline`); what happened, for the stop line."""
        if self.thread is None:
            return None
        self.stop.set()
        self.thread.join(max(0.0, deadline - time.monotonic()))
        return "daily scheduler still sending at the deadline" if self.thread.is_alive() else "daily scheduler stopped"

    def close(self) -> None:
        if self.daily is not None:
            self.daily.store.engine.dispose()


def _wait_for_listeners(executor: Executor, deadline: float, pool: Executor | None = None) -> str:
    """Let the answers already acknowledged be worked out (`pool`) and sent (bolt's listener executor,
    the senders) before `deadline`; new ones are refused."""

    def finish() -> None:
        if pool is not None:
            pool.shutdown(wait=True)  # each answer in hand is worked out and delivered before it returns
        executor.shutdown(wait=True)

    waiter = threading.Thread(target=finish, daemon=True)
    waiter.start()
    waiter.join(max(0.0, deadline - time.monotonic()))
    return "replies in flight abandoned at the deadline" if waiter.is_alive() else "replies in flight finished"


def _server_options(slack: SlackSettings) -> dict[str, Any]:
    return {
        "host": slack.host, "port": slack.port, "ident": "maisky", "threads": slack.threads,
        "connection_limit": slack.connection_limit, "channel_timeout": slack.idle_timeout,
        "cleanup_interval": 1, "max_request_body_size": slack.max_body,  # each second: the read deadlines
        "clear_untrusted_proxy_headers": True,
    }  # fmt: skip


def _listening(slack: SlackSettings, make: Callable[..., Any]) -> Any:
    """`make(**the server's options)`, with a port or host that cannot be used said plainly."""
    try:
        return make(**_server_options(slack))
    except OSError as exc:
        raise bind_error(exc, slack.host, slack.port) from exc
    except ValueError as exc:  # waitress's word for a host name that does not resolve
        raise ServiceError(f"HOST: {slack.host!r} is not a host name or address of this machine") from exc


def listen(slack: SlackSettings) -> list[socket.socket]:
    """The listening sockets, made before the HTTP processes are forked, so all of them take requests
    from the same queue (adapters/slack/processes.py)."""
    from adapters.slack.deadlines import listen as make

    sockets: list[socket.socket] = _listening(slack, make)
    return sockets


def make_server(
    app: App,
    slack: SlackSettings,
    health: Health,
    sockets: list[socket.socket] | None = None,
    early: Callable[[bytes, dict[str, Any]], bytes | None] | None = None,
) -> tuple[Any, Guard]:
    """The guarded bolt app in a waitress server bound to HOST:PORT (or on `sockets`, made already), with
    the configured limits and deadlines for reading each request (adapters/slack/deadlines.py). `early`
    (adapters/slack/app.py: `acknowledger`) takes a checked request off bolt's path in this process."""
    from adapters.slack.deadlines import create_server

    oauth = app.oauth_flow
    pages = frozenset({oauth.install_path, oauth.redirect_uri_path}) if oauth is not None else frozenset()
    guard = Guard(
        SlackRequestHandler(app),
        slack.signing_secret,
        max_body=slack.max_body,
        health=health,
        browser_paths=pages,
        early=early,
    )
    carry_request_ids(app.listener_runner.listener_executor)
    server = _listening(slack, lambda **options: create_server(guard, sockets=sockets, **options))
    return server, guard


def serve_http(
    app: App,
    slack: SlackSettings,
    scheduler: Scheduler,
    shutdown_seconds: float,
    pool: Executor | None = None,
    *,
    sockets: list[socket.socket] | None = None,
    family: Family | None = None,
    early: Callable[[bytes, dict[str, Any]], bytes | None] | None = None,
) -> str:
    """Serve HTTP at /slack/events (and /healthz) until a stop signal; returns the stop line. With a
    `family`, this is one of several processes on the same `sockets` (adapters/slack/processes.py)."""
    checks = scheduler.health()
    alive = getattr(pool, "alive", None)
    if alive is not None:  # an answer process that died answers nothing more: the process must be replaced
        checks["answers"] = alive
    if family is not None:
        if not family.first and "database" in checks:
            checks["scheduler"] = family.alive  # the posts run in the first process: is it there?
        checks["processes"] = family.alive
    health = Health(checks)
    server, guard = make_server(app, slack, health, sockets, early)

    def drain(deadline: float) -> list[str]:
        if family is not None:
            if family.first:
                family.stop_others()  # each drains within the same bound, beside this one
            else:
                family.stopping()
        notes = (
            [] if guard.wait_idle(max(0.0, deadline - time.monotonic())) else ["requests still open at the deadline"]
        )
        notes.append(_wait_for_listeners(app.listener_runner.listener_executor, deadline, pool))
        halted = scheduler.halt(deadline)
        others = family.wait_others(deadline) if family is not None and family.first else None
        return [*notes, *(n for n in (halted, others) if n)]

    stopper = Stopper(shutdown_seconds, drain, wake_main, stopping=health.stopping)
    stopper.install()
    if family is not None:
        if not family.first:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C: the first process decides
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # held since the fork, handled now
        family.watch(lambda: os.kill(os.getpid(), signal.SIGTERM))
    scheduler.start()
    if family is None or family.first:
        processes = f", {family.count} processes" if family is not None else ""
        log.info("ready: Slack over HTTP on %s:%s at %s (health at %s%s)", slack.host, slack.port, EVENTS_PATH,
                 HEALTH_PATH, processes)  # fmt: skip
    else:
        log.info("%s ready", family.name())
    try:
        server.run()  # returns when the drain is over (or on a second signal)
    finally:
        stopper.settle()
        server.close()
        scheduler.close()
    return stopper.summary()


def serve_socket(
    app: App, slack: SlackSettings, scheduler: Scheduler, shutdown_seconds: float, pool: Executor | None = None
) -> str:
    """Serve over Socket Mode until a stop signal; returns the stop line."""
    from adapters.slack.envelopes import GuardedSocketModeHandler

    handler = GuardedSocketModeHandler(app, slack.app_token)

    def drain(deadline: float) -> list[str]:
        handler.close()  # type: ignore[no-untyped-call]  # no new envelopes
        notes = [_wait_for_listeners(app.listener_runner.listener_executor, deadline, pool)]
        halted = scheduler.halt(deadline)
        return [*notes, halted] if halted else notes

    stopper = Stopper(shutdown_seconds, drain)
    handler.connect()
    stopper.install()
    scheduler.start()
    log.info("ready: Slack over Socket Mode")
    try:
        stopper.done.wait()
    finally:
        scheduler.close()
    return stopper.summary()
