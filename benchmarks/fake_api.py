"""The plumbing the benchmarks' fake APIs share: an HTTP/1.1 handler that answers JSON, and its server."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["JsonHandler", "serve"]


class JsonHandler(BaseHTTPRequestHandler):
    """Kept-alive connections, a quiet log, and `_send` for a 200 with a JSON body."""

    protocol_version = "HTTP/1.1"

    def _send(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def serve(handler: type[JsonHandler], port: int = 0, queue: int = 1024) -> ThreadingHTTPServer:
    """A threading server on loopback for `handler` (port 0: any free one), not yet serving."""

    class Server(ThreadingHTTPServer):
        request_queue_size = queue  # a burst of clients connects at once
        daemon_threads = True

    return Server(("127.0.0.1", port), handler)
