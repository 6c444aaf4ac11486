"""A local stand-in for the Stripe API that the `stripe` SDK is pointed at (`api_base`):
it records every request and answers `GET /v2/core/events/{id}` with the full events it
was given, after the error statuses it was scripted to answer first."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers.http_server import Received

__all__ = ["ERRORS", "StripeApi", "serve_stripe_api"]

#: The v2 error body Stripe answers with each status (a 401 quotes part of the key).
ERRORS: dict[int, dict[str, Any]] = {
    401: {
        "type": "invalid_request_error",
        "code": "unauthorized",
        "message": "Invalid API Key provided: sk_test_****",
    },
    403: {"type": "invalid_request_error", "code": "forbidden", "message": "The key lacks the permission."},
    404: {"type": "invalid_request_error", "code": "not_found", "message": "No such event."},
    429: {"type": "rate_limit", "code": "rate_limited", "message": "Too many requests."},
    500: {"type": "api_error", "code": "internal_error", "message": "An unknown error occurred."},
}
EVENTS_PATH = "/v2/core/events/"


class StripeApi(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []
        #: Full events by id; an id not here is a 404.
        self.events: dict[str, dict[str, Any]] = {}
        #: Statuses answered first, in turn, before the events are.
        self.script: list[int] = []
        #: Seconds to wait before each answer (timeouts).
        self.delay = 0.0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def retrieves(self) -> list[Received]:
        return [r for r in self.received if r.method == "GET" and r.path.startswith(EVENTS_PATH)]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected."""


class _Handler(BaseHTTPRequestHandler):
    server: StripeApi

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.lock:
            self.server.received.append(Received("GET", self.path, headers, b"", time.monotonic()))
            status = self.server.script.pop(0) if self.server.script else 200
        time.sleep(self.server.delay)
        found = self.server.events.get(self.path.split("?")[0].removeprefix(EVENTS_PATH))
        if status == 200 and (not self.path.startswith(EVENTS_PATH) or found is None):
            status = 404
        body = found if status == 200 else {"error": ERRORS.get(status, ERRORS[500])}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Request-Id", "req_stub")
        if status == 429:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def serve_stripe_api() -> Iterator[StripeApi]:
    """A stub Stripe API on a free port of 127.0.0.1 for the duration of the block."""
    server = StripeApi()
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
