"""waitress with deadlines for reading a request, and room always kept for new connections.

waitress closes a connection only when it has been idle for `channel_timeout`, and stops accepting
when `connection_limit` connections are open. So a client that sends one byte every few seconds
keeps its connection for ever, and a hundred such clients hold the port. Here each request must
have sent its headers within `HEADER_SECONDS` of its first byte and its body within `BODY_SECONDS`
of its headers, or its connection is closed; and when the limit is reached, the oldest connections
that are not being answered (idle, or still sending) are closed to make room, so a new request
is always taken. A request waitress refuses itself (a body over the limit, before the guard sees it;
malformed headers) gets the same one log line as the guard's refusals. waitress's warning that requests
wait for an HTTP thread is kept to one line a minute.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import InternalServerError, RequestEntityTooLarge

from adapters.slack.http import log_refusal
from bot.ops.logs import request_context

__all__ = ["BODY_SECONDS", "HEADER_SECONDS", "ROOM", "OncePerMinute", "create_server"]

log = logging.getLogger(__name__)

HEADER_SECONDS = 5.0  # from a request's first byte to the end of its headers (Slack sends them at once)
BODY_SECONDS = 10.0  # from the end of the headers to the end of the body (a few kilobytes)
ROOM = 0.1  # the share of the connection limit freed when it is reached


class OncePerMinute(logging.Filter):
    """One record a minute from the logger it filters. waitress warns "Task queue depth is N" for every
    request that finds no HTTP thread idle: a burst of 64 requests wrote dozens of lines, each while
    waitress held the lock its threads take requests under."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        self._next = float("-inf")
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = self.clock()
            if now < self._next:
                return False
            self._next = now + self.every
        record.msg = f"{record.msg} (requests waiting for an HTTP thread; more in the next minute are not logged)"
        return True


def quiet_queue_warnings() -> None:
    """Keep waitress's queue warning to one line a minute (once per process, however many servers)."""
    queue_log = logging.getLogger("waitress.queue")  # waitress.task.ThreadedTaskDispatcher.queue_logger
    if not any(isinstance(f, OncePerMinute) for f in queue_log.filters):
        queue_log.addFilter(OncePerMinute())


class RefusalTask(ErrorTask):
    """waitress's answer to a request it would not read (413, 400, 431, 501), logged like the guard's
    refusals: one line with the reason and the status, never the request. (An application error,
    waitress's 500, is logged by waitress itself with its traceback.)"""

    def execute(self) -> None:
        error = cast(Any, self.request).error  # (types-waitress has the request as an Error)
        if error is not None and not isinstance(error, InternalServerError):  # logged before it is answered
            if isinstance(error, RequestEntityTooLarge):
                reason = f"body over the {self.channel.server.adj.max_request_body_size}-byte limit"
            else:  # the class's own fixed words ("Bad Request"): the detail may quote what the client sent
                reason = f"waitress could not read it ({error.reason})"
            with request_context():
                log_refusal(reason, f"{error.code} {error.reason}")
        super().execute()


class DeadlineChannel(HTTPChannel):
    """waitress's connection, remembering when the request it is reading began and its headers ended,
    and logging the requests waitress refuses."""

    error_task_class = RefusalTask

    request_began: float | None = None
    headers_ended: float | None = None

    def received(self, data: bytes) -> bool:
        reading = self.request is not None
        done: bool = super().received(data)
        if self.request is None:  # every request in `data` was complete
            self.request_began = self.headers_ended = None
            return done
        now = time.monotonic()
        if not reading or self.request_began is None:
            self.request_began = now
        if self.request.headers_finished and self.headers_ended is None:
            self.headers_ended = now
        return done

    def overdue(self, now: float) -> str | None:
        """Which deadline the request being read has passed, if any."""
        if self.requests or self.request_began is None:
            return None  # being answered, or between requests (the idle timeout's business)
        if self.headers_ended is None:
            return "headers" if now - self.request_began > HEADER_SECONDS else None
        return "body" if now - self.headers_ended > BODY_SECONDS else None


class DeadlineServer(TcpWSGIServer):
    """waitress's TCP server, closing connections past a deadline and making room at the limit."""

    channel_class = DeadlineChannel
    _logged = 0.0

    def _channels(self) -> list[Any]:
        return list(cast(Any, self).active_channels.values())  # (types-waitress has it as a channel)

    def maintenance(self, now: Any) -> None:
        super().maintenance(now)  # the idle timeout
        clock = time.monotonic()
        late: dict[str, int] = {}
        for channel in self._channels():
            missed = channel.overdue(clock) if isinstance(channel, DeadlineChannel) else None
            if missed is not None and not channel.will_close:
                channel.will_close = True
                late[missed] = late.get(missed, 0) + 1
        if late:
            self._note("closed connections too slow to send their request: " + ", ".join(
                f"{n} past the {what} deadline" for what, n in sorted(late.items())
            ))  # fmt: skip

    def readable(self) -> bool:
        """waitress's own, but at the limit it makes room instead of logging that it stops accepting
        (which a client holding the port would turn into a line a second)."""
        now = time.time()
        if now >= self.next_channel_cleanup:
            self.next_channel_cleanup = now + self.adj.cleanup_interval  # type: ignore[assignment]
            self.maintenance(now)
        if not self.accepting:
            return False
        held = len(cast(Any, self)._map)
        if held - sum(1 for c in self._channels() if c.will_close) >= self.adj.connection_limit:
            self._make_room()
        return held < self.adj.connection_limit

    def _make_room(self) -> None:
        """Close the oldest connections that nobody is answering (idle, or still sending a request)."""
        waiting = [c for c in self._channels() if not c.requests and not c.will_close and not c.total_outbufs_len]
        if not waiting:
            return  # every connection is being answered: new ones wait in the OS queue
        waiting.sort(key=lambda c: getattr(c, "request_began", None) or c.last_activity)
        chosen = waiting[: max(1, int(self.adj.connection_limit * ROOM))]
        for channel in chosen:
            channel.will_close = True
        self._note(f"connection limit reached: closed the {len(chosen)} oldest connections not being answered")

    def _note(self, line: str) -> None:
        """One log line a minute at most: a client holding the port must not flood the log too."""
        now = time.monotonic()
        if now - self._logged >= 60:
            self._logged = now
            log.warning("%s (more in the next minute are not logged)", line)


def listen(**kw: Any) -> list[socket.socket]:
    """Bound, listening sockets for every address HOST resolves to, made as waitress makes them, for
    processes that share them (adapters/slack/processes.py: each passes them to `create_server`)."""
    adj = Adjustments(**kw)
    made: list[socket.socket] = []
    try:
        for family, kind, proto, address in cast(list[Any], adj.listen):
            sock = socket.socket(family, kind, proto)
            made.append(sock)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(adj.backlog)
    except BaseException:
        for sock in made:
            sock.close()
        raise
    return made


def create_server(application: Any, sockets: list[socket.socket] | None = None, **kw: Any) -> Any:
    """waitress.create_server for TCP, with DeadlineServer: one per address HOST resolves to, on `sockets`
    when they were made already (`listen`), else on sockets of its own."""
    adj = Adjustments(**kw)
    quiet_queue_warnings()
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    shared: dict[int, Any] = {}
    if sockets:
        servers: list[Any] = [
            DeadlineServer(
                application,
                shared,
                True,
                sock,
                dispatcher=dispatcher,
                adj=adj,
                bind_socket=False,
                sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
            )
            for sock in sockets
        ]
    else:
        servers = [
            DeadlineServer(application, shared, True, None, dispatcher=dispatcher, adj=adj, sockinfo=info)
            for info in cast(list[Any], adj.listen)
        ]
    if len(servers) == 1:
        return servers[0]
    listen = [(s.effective_host, s.effective_port) for s in servers]
    return MultiSocketServer(shared, adj, listen, dispatcher, servers[-1].log_info)
