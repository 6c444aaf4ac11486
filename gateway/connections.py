"""The HTTP connections under the edge: limits on what a client may send before the app
sees a request, whichever of uvicorn's parsers (httptools or h11) reads it.

    a connection beyond `max_connections`            503, closed at once
    a request head (line + headers) > max_header_bytes  431, closed; the parser never sees more
    more than `max_header_count` header fields       431, closed
    a head not complete within header_timeout_seconds   408, closed

The head is counted in `data_received`, before the parser: a client that never ends its
headers costs the parser at most `max_header_bytes` (httptools joins a header's value piece
by piece, and has no limit of its own; h11's is set to the same size as a backstop). Each
refusal counts in `hookgate_connections_refused_total{reason}`.

The body is read by the edge through a `BodyReader`, under its own limits:

    more than the source's max_body_bytes            413
    slower than body_timeout_seconds + 1 s per body_min_bytes_per_second received   408, closed
    more than max_buffered_body_bytes held by the bodies being read at once         503
"""

from __future__ import annotations

import asyncio
import http
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BodyReader", "BodyRefusedError", "ConnectionLimits", "DisconnectedError", "protocol_class"]

Parser = Literal["auto", "httptools", "h11"]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What a connection may cost before its request reaches the app."""

    max_header_bytes: int = 32_768
    max_header_count: int = 100
    header_timeout_seconds: float = 10.0
    max_connections: int = 1000
    #: Called with the reason of each refusal (`too_many_connections`, `header_too_large`,
    #: `too_many_headers`, `header_timeout`): a metric.
    on_refused: Callable[[str], None] = lambda _: None


class BodyRefusedError(Exception):
    """A body not read: `status` (413, 408 or 503), a `cause` for the log, a `message`."""

    def __init__(self, status: int, cause: str, message: str) -> None:
        super().__init__(cause)
        self.status, self.cause, self.message = status, cause, message


class DisconnectedError(Exception):
    """The client went away before its body was read."""


class BodyReader:
    """Reads request bodies within their size, their time (`timeout_seconds`, plus one
    second per `min_bytes_per_second` received, so a large body may take longer than a small
    one but never trickle in) and a budget shared by every body being read at once
    (`max_buffered_bytes`): bytes a client holds in memory before anything verified them."""

    def __init__(self, *, timeout_seconds: float, min_bytes_per_second: int, max_buffered_bytes: int) -> None:
        self.timeout_seconds = timeout_seconds
        self.min_bytes_per_second = min_bytes_per_second
        self.max_buffered_bytes = max_buffered_bytes
        #: The bytes held by the bodies being read now.
        self.buffered = 0

    async def read(self, scope: Scope, receive: Receive, limit: int) -> bytes:
        """The raw body, read once; a `BodyRefusedError` or `DisconnectedError` if not."""
        for key, value in scope["headers"]:
            if key == b"content-length":
                if value.isdigit() and int(value) > limit:
                    raise BodyRefusedError(413, "too_large", "payload too large")
                if value.isdigit() and self.buffered + int(value) > self.max_buffered_bytes:
                    raise BodyRefusedError(503, "busy", "temporarily unavailable, retry later")
                break
        loop = asyncio.get_running_loop()
        started = loop.time()
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                deadline = started + self.timeout_seconds + size / self.min_bytes_per_second
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    raise BodyRefusedError(408, "body_timeout", "request body timeout") from None
                if message["type"] == "http.disconnect":
                    raise DisconnectedError
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyRefusedError(413, "too_large", "payload too large")
                self.buffered += len(chunk)
                chunks.append(chunk)
                if self.buffered > self.max_buffered_bytes:
                    raise BodyRefusedError(503, "busy", "temporarily unavailable, retry later")
                if not message.get("more_body", False):
                    return b"".join(chunks)
        finally:
            self.buffered -= sum(map(len, chunks))


def _answer(status: int, message: str) -> bytes:
    body = b'{"error":"' + message.encode() + b'"}'
    return (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()
        + b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        + body
    )


class _HeaderCount:
    """ASGI: a request with more than `limit` header fields answers 431 and closes."""

    def __init__(self, app: ASGIApp, limits: ConnectionLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or len(scope["headers"]) <= self.limits.max_header_count:
            await self.app(scope, receive, send)
            return
        self.limits.on_refused("too_many_headers")
        body = b'{"error":"too many header fields"}'
        await send(
            {
                "type": "http.response.start",
                "status": 431,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Guard:
    """The limits, mixed in before one of uvicorn's protocol classes. `_reading_head`
    says whether the bytes that arrive now belong to a request head."""

    limits: ClassVar[ConnectionLimits]
    transport: asyncio.Transport
    connections: set[Any]
    app: ASGIApp
    _head_bytes = 0
    _head_timer: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = _HeaderCount(self.app, self.limits)

    def _reading_head(self) -> bool:
        raise NotImplementedError

    def _busy(self) -> bool:
        """Whether a response is being produced on this connection (a pipelined head may
        be arriving meanwhile: not a stall)."""
        cycle = getattr(self, "cycle", None)
        return cycle is not None and not cycle.response_complete

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, "too many connections, retry later", "too_many_connections")
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        cycle = getattr(self, "cycle", None)
        if not self._reading_head():
            super().data_received(data)  # type: ignore[misc]
        else:
            room = self.limits.max_header_bytes - self._head_bytes
            head, rest = data[:room], data[room:]
            self._head_bytes += len(head)
            super().data_received(head)  # type: ignore[misc]
            if rest and not self.transport.is_closing():
                if self._reading_head() and getattr(self, "cycle", None) is cycle:
                    self._refuse(431, "request header too large", "header_too_large")
                    return
                super().data_received(rest)  # type: ignore[misc]
        if getattr(self, "cycle", None) is not cycle:
            # A head completed in this piece (each request gets a new cycle): what was counted
            # was that head, its body and maybe more requests; the next head starts afresh.
            self._head_bytes = 0
        if self.transport.is_closing():
            self._disarm()
        elif self._reading_head():
            self._arm()
        else:
            self._disarm()

    def _arm(self) -> None:
        """Time the head now arriving (once: its first bytes start the clock)."""
        if self._head_timer is None:
            loop = asyncio.get_running_loop()
            self._head_timer = loop.call_later(self.limits.header_timeout_seconds, self._head_timed_out)

    def _disarm(self) -> None:
        """The head is read: the next one starts from nothing."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_bytes = 0

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._reading_head():
            return
        if self._busy():  # the previous response is not out yet: wait for it
            self._arm()
            return
        self._refuse(408, "request header timeout", "header_timeout")

    def _refuse(self, status: int, message: str, reason: str) -> None:
        self.limits.on_refused(reason)
        self._disarm()
        if not self._busy():
            self.transport.write(_answer(status, message))
        self.transport.close()


def protocol_class(limits: ConnectionLimits, parser: Parser = "auto") -> type[asyncio.Protocol]:
    """uvicorn's protocol class for `parser` (auto: httptools when installed, else h11)
    bound by `limits`."""
    if parser == "auto":
        parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    base = _httptools() if parser == "httptools" else _h11()
    return type(base.__name__, (base,), {"limits": limits})


def _httptools() -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415

    class HttpTools(_Guard, HttpToolsProtocol):
        """httptools calls back as it parses: the head ends at `on_headers_complete`, and
        the next begins after `on_message_complete`."""

        _head = True

        def _reading_head(self) -> bool:
            return self._head

        def on_headers_complete(self) -> None:
            self._head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._head = True

    return HttpTools


def _h11() -> type[asyncio.Protocol]:
    import h11  # noqa: PLC0415
    from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: PLC0415

    class H11(_Guard, H11Protocol):
        """h11 reads a head while the client's side of the connection is idle (its own limit
        on an incomplete head, `h11_max_incomplete_event_size`, is a backstop)."""

        def _reading_head(self) -> bool:
            return bool(self.conn.their_state is h11.IDLE)

    return H11
