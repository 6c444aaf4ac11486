"""A local HTTP server for the tests of HTTP sending (the `http` sink and router target,
unit and end to end): it records every request and answers as the request's JSON body asks.
A `{"respond": {"hold": true}}` request gets no answer until `server.release` is set, or
for 30 s (the tests of timeouts: a sender that returns before then gave up on its own)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HOLD_SECONDS", "HttpServer", "Received", "serve_http", "url_of"]

#: How long a held request waits for `release` at most.
HOLD_SECONDS = 30.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    received: list[Received]
    #: Lets held requests be answered (set when the server shuts down, at the latest).
    release: threading.Event
    #: Requests answered so far.
    answered: int

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected."""


def _script(body: bytes) -> dict[str, Any]:
    """The `respond` of a JSON body, at its top or in the payload of an EventBridge-shaped
    event (what a sink sends)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    detail = parsed.get("detail")
    payload = detail.get("payload") if isinstance(detail, dict) else None
    found = parsed.get("respond", payload.get("respond") if isinstance(payload, dict) else None)
    return found if isinstance(found, dict) else {}


class _Handler(BaseHTTPRequestHandler):
    """Records each request; a JSON body's `respond` ({status, headers, sleep, hold}) scripts
    the answer."""

    server: HttpServer

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.received.append(Received(self.command, self.path, headers, body, time.monotonic()))
        script = _script(body)
        time.sleep(script.get("sleep", 0))
        if script.get("hold"):
            self.server.release.wait(HOLD_SECONDS)
        self.send_response(script.get("status", 200))
        for name, value in script.get("headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"ok")
        self.server.answered += 1

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer  # noqa: N815 - http.server names

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def serve_http(port: int = 0) -> Iterator[HttpServer]:
    """A server on 127.0.0.1:`port` (0: a free one) for the duration of the block."""
    server = HttpServer(("127.0.0.1", port), _Handler)
    server.received = []
    server.release = threading.Event()
    server.answered = 0
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def url_of(server: HttpServer, path: str = "/hooks") -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}{path}"
