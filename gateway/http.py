"""The HTTP edge: `POST /webhooks/{source}` → connector → store → 2xx.

    404 unknown source · 405 method · 413 too large · 401 not authentic (generic body; the
    cause goes to the log) · 400 malformed · 503 store unavailable · 200 accepted/duplicate

Nothing a caller sends can produce a 500 or a stack trace. The pure ASGI middleware
binds request context for structlog and writes one JSON log line per request.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors import (
    HandshakeResponse,
    Headers,
    MalformedPayloadError,
    VerificationError,
    WebhookRequest,
)
from gateway.errors import StoreError
from gateway.events import build_event

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.config import Source

__all__ = ["RequestLogMiddleware", "webhook_endpoint"]

log = structlog.get_logger()
LOG_KEY = "hookgate.log"


class RequestLogMiddleware:
    """Pure ASGI: binds `request_id`, then logs one summary line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        fields: dict[str, Any] = scope.setdefault(LOG_KEY, {})
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            latency = time.perf_counter() - started
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                latency_ms=round(latency * 1000, 3),
                **fields,
            )
            structlog.contextvars.clear_contextvars()


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status_code=status, media_type="application/json")


class _TooLargeError(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _public_url(source: Source, request: Request) -> str:
    """The URL the provider called: the configured public URL, never the Host header."""
    if source.public_url:
        base = source.public_url
    else:
        server = request.scope.get("server") or ("localhost", None)
        host, port = server[0], server[1]
        base = f"{request.url.scheme}://{host}" + (f":{port}" if port else "")
    url = f"{base}{request.url.path}"
    query = request.scope.get("query_string", b"")
    return f"{url}?{query.decode('latin-1')}" if query else url


def webhook_endpoint(gateway: Gateway) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        fields: dict[str, Any] = request.scope.setdefault(LOG_KEY, {})
        name = request.path_params["source"]
        source = gateway.settings.sources.get(name)
        fields["source"] = name
        if source is None:
            fields["cause"] = "unknown_source"
            return _error(404, "unknown source")
        metrics = gateway.metrics
        metrics.received.labels(name).inc()
        started = time.perf_counter()
        try:
            return await _ingest(gateway, source, request, fields)
        finally:
            metrics.request_latency.labels(name).observe(time.perf_counter() - started)

    return endpoint


async def _ingest(gateway: Gateway, source: Source, request: Request, fields: dict[str, Any]) -> Response:
    connector = source.connector
    metrics = gateway.metrics

    def reject(status: int, cause: str, message: str) -> Response:
        fields["cause"] = cause
        metrics.rejected.labels(source.name, cause).inc()
        return _error(status, message)

    if request.method not in connector.methods:
        return reject(405, "method_not_allowed", "method not allowed")
    try:
        body = await _read_body(request, source.max_body_bytes)
    except _TooLargeError:
        return reject(413, "too_large", "payload too large")
    webhook = WebhookRequest(
        method=request.method,
        body=body,
        headers=Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]),
        query=tuple(request.query_params.multi_items()),
        url=_public_url(source, request),
    )
    now = gateway.clock()
    try:
        answer = connector.handshake(webhook, now)
        if answer is None and request.method != "POST":
            return reject(405, "method_not_allowed", "method not allowed")
        if answer is None:
            connector.verify(webhook, now)
    except VerificationError as exc:
        fields["cause_detail"] = exc.cause
        return reject(401, "verification_failed", "unauthorized")
    except Exception as exc:  # noqa: BLE001 - fail closed: a connector bug is not a 500
        log.error("connector_error", step="verify", error=type(exc).__name__)
        fields["cause_detail"] = "connector_error"
        return reject(401, "verification_failed", "unauthorized")
    if answer is not None:
        fields["handshake"] = True
        return _handshake_response(answer)

    try:
        found = connector.normalize(webhook)
        if not found:
            raise MalformedPayloadError("no_events")
        events = [build_event(source, pe, now) for pe in found]
    except MalformedPayloadError as exc:
        fields["cause_detail"] = exc.cause
        return reject(400, "malformed", "malformed payload")
    except Exception as exc:  # noqa: BLE001 - never a 500 from input
        log.error("connector_error", step="normalize", error=type(exc).__name__)
        fields["cause_detail"] = "connector_error"
        return reject(400, "malformed", "malformed payload")

    try:
        results = await gateway.store.persist(events, source.sinks)
    except StoreError as exc:
        log.error("store_unavailable", error=str(exc))
        return reject(503, "store_unavailable", "temporarily unavailable, retry later")
    duplicates = sum(r.duplicate for r in results)
    if duplicates:
        metrics.duplicates.labels(source.name).inc(duplicates)
    if duplicates < len(results):
        metrics.persisted.labels(source.name).inc(len(results) - duplicates)
        gateway.dispatcher.notify(source.sinks)
    ids = [r.event_id for r in results]
    fields["event_ids"] = ids
    fields["duplicates"] = duplicates
    status = "duplicate" if duplicates == len(results) else "accepted"
    return Response(
        json.dumps({"status": status, "event_ids": ids}),
        status_code=200,
        media_type="application/json",
    )


def _handshake_response(answer: HandshakeResponse) -> Response:
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)
