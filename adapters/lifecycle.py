"""Start-up and shutdown of the long-running processes, shared by every front end.

Logging is configured once from the settings. Start-up failures that come from outside (a token the
platform rejects, an address it cannot reach, a database it cannot open) become one `ServiceError`
or `ConfigError` naming the setting, which the command line prints without a traceback. A stop
signal (SIGTERM, SIGINT) starts a bounded drain: no new work, in-flight replies and a daily send
finish, connections close, and one line says how it went.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

from bot import Maisky, Settings
from bot.errors import ConfigError, MaiskyError, ServiceError
from bot.ops.bootstrap import build_daily
from bot.ops.logs import REDACTED, Rewrite, setup

if TYPE_CHECKING:
    from bot.club.daily import Daily
    from bot.ops.settings import DiscordSettings, SlackSettings

__all__ = [
    "LIBRARY_REWRITES", "Stopper", "check_discord_gateway", "check_slack_token", "configure_logging",
    "database_errors", "open_daily", "reaching", "warn_if_ephemeral",
]  # fmt: skip

log = logging.getLogger("maisky")

# Library log messages that carry a request body (bolt formats the whole body into them), or that
# every correct start would print.
LIBRARY_REWRITES = (
    Rewrite("slack_bolt", "As you gave `client` as well, `token` will be unused", None),
    Rewrite("slack_bolt", "Invalid request signature detected", "Invalid request signature detected (body not logged)"),
    Rewrite("slack_bolt", "Unhandled request (", "Unhandled Slack request (body not logged)"),
    Rewrite("slack_bolt", "A global middleware", "A global middleware gave no response (body not logged)"),
    Rewrite("discord.client", "PyNaCl is not installed", None),  # voice is never used
    Rewrite("discord.client", "davey is not installed", None),
)


def configure_logging(settings: Settings) -> None:
    """LOG_LEVEL and LOG_FORMAT for this process; every configured secret is kept out of every line."""
    setup(settings.log_level, settings.log_format, secret_values=settings.secret_values(), rewrites=LIBRARY_REWRITES)


def warn_if_ephemeral(settings: Settings) -> None:
    if settings.ephemeral_sqlite:
        log.warning(
            "daily subscriptions are kept in a SQLite file on this dyno's disk, which Heroku wipes at every "
            "restart and deploy: set DATABASE_URL to a PostgreSQL database (heroku addons:create heroku-postgresql)"
        )


def _first_line(exc: BaseException, secrets: list[str]) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    for value in secrets:
        line = line.replace(value, REDACTED)
    return line


def open_daily(settings: Settings, core: Maisky) -> Daily:
    """The daily-post service; a database that cannot be opened is a ConfigError naming the setting."""
    with database_errors(settings):
        return build_daily(settings, core)


@contextlib.contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """A database that cannot be opened or used becomes a ConfigError naming the setting, without a traceback."""
    import sqlite3

    import sqlalchemy.exc

    name = "DATABASE_URL" if settings.values.get("DATABASE_URL") else "MAISKY_DB"
    try:
        yield
    except MaiskyError:
        raise
    except (sqlalchemy.exc.SQLAlchemyError, sqlite3.Error, ImportError) as exc:
        detail = _first_line(exc, settings.secret_values())
        raise ConfigError([f"{name}: cannot open the database: {detail}"]) from exc


@contextlib.contextmanager
def reaching(platform: str, settings: Settings) -> Iterator[None]:
    """While a front end starts: what the platform or the network refuses becomes one clear error."""
    secrets = settings.secret_values()
    try:
        yield
    except MaiskyError:
        raise
    except OSError as exc:
        if platform == "slack" and isinstance(exc, urllib.error.URLError):
            where = settings.values.get("SLACK_API_URL") or "https://slack.com/api/"
            reason = getattr(exc.reason, "strerror", None) or exc.reason
            raise ServiceError(f"cannot reach Slack's Web API at {where} (SLACK_API_URL): {reason}") from exc
        raise ServiceError(f"{platform}: {_first_line(exc, secrets)}") from exc
    except Exception as exc:
        message = _slack_refusal(exc, secrets) if platform == "slack" else None
        if message is None:
            raise
        raise ServiceError(message) from exc


def check_slack_token(slack: SlackSettings) -> None:
    """Ask Slack who the bot token belongs to (auth.test) once, quietly and without retries, so a
    rejected token or an unreachable SLACK_API_URL is one clear line instead of library noise."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    if not slack.bot_token:  # OAuth without a single-workspace token: each installation has its own
        return
    quiet = logging.getLogger("maisky.preflight")
    quiet.disabled = True
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=15, logger=quiet, retry_handlers=[])
    try:
        client.auth_test()
    except SlackApiError as exc:
        code = exc.response.get("error", "rejected") if exc.response is not None else "rejected"
        raise ServiceError(
            f"SLACK_BOT_TOKEN was rejected by Slack ({code}): copy the Bot User OAuth Token (xoxb-...) again from "
            "OAuth & Permissions, and reinstall the app if it was uninstalled"
        ) from exc
    except (OSError, ValueError) as exc:
        reason = getattr(getattr(exc, "reason", None), "strerror", None) or getattr(exc, "reason", None) or exc
        raise ServiceError(f"cannot reach Slack's Web API at {slack.api_url} (SLACK_API_URL): {reason}") from exc


def check_discord_gateway(ds: DiscordSettings, timeout: float = 15) -> None:
    """Open the gateway once and wait for its HELLO. discord.py retries a first connection that
    fails and then crashes on its own missing websocket (an AttributeError traceback), so an
    unreachable gateway is caught here, before it starts."""
    import asyncio
    import json

    import aiohttp

    endpoint = ds.api_base.rstrip("/") + "/gateway"

    class Unexpected(Exception):
        """Discord's API or gateway answered, but not as Discord does (`args`: where, what came)."""

    async def hello() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            url = ds.gateway_url
            if not url:
                async with session.get(endpoint) as resp:
                    body = await resp.read()
                    try:
                        url = json.loads(body)["url"]
                    except (ValueError, KeyError, TypeError):
                        kind = resp.content_type or "no content type"
                        raise Unexpected(f"GET {endpoint}", f"HTTP {resp.status}, {kind}, no gateway url") from None
                    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
                        raise Unexpected(f"GET {endpoint}", f"HTTP {resp.status}, a gateway url not ws:// or wss://")
            async with session.ws_connect(url) as ws:
                msg = await ws.receive(timeout=timeout)
                try:
                    op = json.loads(msg.data).get("op") if msg.type is aiohttp.WSMsgType.TEXT else None
                except (ValueError, AttributeError):
                    op = None
                if op != 10:
                    raise Unexpected(f"the gateway {url}", "no HELLO as its first message")

    try:
        asyncio.run(hello())
    except Unexpected as exc:
        where, what = exc.args
        setting = "DISCORD_GATEWAY_URL" if ds.gateway_url else "DISCORD_API_BASE (it should end in /api/v10)"
        raise ServiceError(
            f"Discord answered something unexpected at {where} ({what}): check {setting}, or any proxy in between"
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError, TypeError) as exc:
        reason = str(exc) or type(exc).__name__
        if ds.gateway_url:
            where = f"the Discord gateway at {ds.gateway_url} (DISCORD_GATEWAY_URL)"
        else:
            where = f"Discord's gateway through {ds.api_base} (DISCORD_API_BASE)"
        raise ServiceError(f"cannot reach {where}: {reason}") from exc


def _slack_refusal(exc: Exception, secrets: list[str]) -> str | None:
    """A token Slack rejected at start-up, said plainly."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, BoltError) and "auth.test" in str(exc):
        code = str(exc).rpartition("'error': '")[2].split("'")[0] or "rejected"
        return (
            f"SLACK_BOT_TOKEN was rejected by Slack ({code}): copy the Bot User OAuth Token (xoxb-...) again "
            "from OAuth & Permissions, and reinstall the app if it was uninstalled"
        )
    if isinstance(exc, SlackApiError):
        code = str(exc.response.get("error", "")) if exc.response is not None else ""
        method = exc.response.api_url.rsplit("/", 1)[-1] if exc.response is not None else ""
        if method == "apps.connections.open":
            return (
                f"SLACK_APP_TOKEN was rejected by Slack ({code}): generate an app-level token with the "
                "connections:write scope under Basic Information, App-Level Tokens"
            )
        return f"Slack refused {method or 'a call'} at start-up ({code})"
    return None


def bind_error(exc: OSError, host: str, port: int) -> ServiceError:
    """PORT or HOST unusable, said plainly."""
    if exc.errno == errno.EADDRINUSE:
        return ServiceError(f"PORT: {port} is already in use on {host} (another process is listening there)")
    if exc.errno == errno.EACCES:
        return ServiceError(f"PORT: {port} needs privileges this process does not have (use a port above 1023)")
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return ServiceError(f"HOST: {host!r} is not an address of this machine ({exc.strerror or exc})")
    return ServiceError(f"cannot listen on {host}:{port} (HOST, PORT): {exc.strerror or exc}")


@dataclass
class Stopper:
    """The stop signal and the bounded drain that follows it.

    `install` routes SIGTERM and SIGINT here (main thread only). The first signal sets `stopping`
    and runs `drain(deadline)` in a thread, which returns what it finished; then `done` is set and
    `wake` is called, so a serving loop blocked in the main thread returns (a signal handler that
    finds `done` set raises KeyboardInterrupt there). A second signal during the drain stops at once."""

    timeout: float
    drain: Callable[[float], list[str]] = lambda deadline: []
    wake: Callable[[], None] = lambda: None
    stopping: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    signal_name: str = ""
    started: float = 0.0
    notes: list[str] = field(default_factory=list)

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping.is_set():
            if self.done.is_set():
                raise KeyboardInterrupt  # the drain is over: leave the serving loop
            log.warning("second %s: stopping now, without waiting", signal.Signals(signum).name)
            raise SystemExit(1)
        self.begin(signal.Signals(signum).name)

    def begin(self, name: str) -> None:
        """Stop taking work and drain in the background (callable without a signal, in tests)."""
        self.signal_name, self.started = name, time.monotonic()
        self.stopping.set()
        threading.Thread(target=self._drain, name="maisky-drain", daemon=True).start()

    def _drain(self) -> None:
        try:
            self.notes = self.drain(time.monotonic() + self.timeout)
        except Exception:
            log.exception("stopping: the drain failed")
        self.done.set()
        self.wake()

    def settle(self) -> None:
        """The serving loop is over: from here a stop signal is ignored. The drain's wake-up signal may
        arrive late, even after Python has put the default action back at exit, where it would kill a
        process that stopped cleanly (exit -15 instead of 0)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)

    def summary(self) -> str:
        took = time.monotonic() - self.started if self.started else 0.0
        notes = "; ".join(self.notes) if self.notes else "nothing was in flight"
        return f"stopped on {self.signal_name or 'request'} after {took:.1f} s: {notes}"


def wake_main() -> None:
    """Make the main thread's serving loop notice (a signal interrupts its select at once)."""
    os.kill(os.getpid(), signal.SIGTERM)
