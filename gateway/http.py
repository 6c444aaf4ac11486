"""The HTTP edge: `POST /webhooks/{source}` → connector → store → 2xx.

    404 unknown source · 403 address not allowed · 429 rate limited (Retry-After) ·
    405 method · 413 too large · 401 not authentic (generic body; the cause goes to the
    log) · 400 malformed · 503 store unavailable (with `Retry-After`) · 200 accepted/duplicate

The allowlist and the rate limits are checked before the body is read: a refused request
costs no body and no verification (its connection is closed).

Nothing a caller sends can produce a 500 or a stack trace. The pure ASGI middleware
binds request context for structlog and writes one JSON log line per request: at info,
a 401 at warning (with its cause, never the secret or the body), and the probes' and
scrapers' paths (`QUIET_PATHS`) at debug.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors import (
    Connector,
    ConnectorResponse,
    Headers,
    MalformedPayloadError,
    VerificationError,
    WebhookRequest,
)
from gateway.addresses import Allowlist
from gateway.config import SourceSpec
from gateway.connections import BodyRefusedError, DisconnectedError
from gateway.errors import StoreError
from gateway.events import Event, build_event, storable_key
from gateway.store import PersistResult, RequestRecord

if TYPE_CHECKING:
    from gateway.app import Gateway

__all__ = [
    "MAX_LOGGED_PATH",
    "QUIET_PATHS",
    "RequestLogMiddleware",
    "Source",
    "WebhookHandler",
    "normalize_events",
    "store_events",
]

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Source(SourceSpec):
    """A source at the edge: a configured source with its connector built."""

    connector: Connector
    allowlist: Allowlist = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowlist", Allowlist(self.allowed_ips))


def _begin_request() -> tuple[float, str]:
    request_id = f"{random.getrandbits(64):016x}"
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return time.perf_counter(), request_id


#: The `Retry-After` of a 503 (the store is unavailable, or the edge busy).
RETRY_AFTER_SECONDS = b"5"

#: A request line's `path` is cut to this many characters: an unknown source's name is the
#: caller's to choose.
MAX_LOGGED_PATH = 256

#: Paths polled by probes and scrapers: their request lines are debug, not info.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _end_request(
    scope: Scope, status: int, started: float, fields: dict[str, Any], level: str = "info"
) -> None:
    """The one summary line of a request, at `level`."""
    path: str = scope["path"]
    getattr(log, level)(
        "request",
        method=scope["method"],
        path=path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "…",
        status=status,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        **fields,
    )
    structlog.contextvars.clear_contextvars()


class RequestLogMiddleware:
    """Pure ASGI: binds `request_id`, then logs one summary line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, request_id = _begin_request()
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
            _end_request(scope, status, started, {}, "debug" if scope["path"] in QUIET_PATHS else "info")


def _public_url(source: Source, scope: Scope, query: str) -> str:
    """The URL the provider called: the configured public URL, never the Host header.

    Without a configured `public_url`, the address the server listens on stands in.
    """
    if source.public_url:
        base = source.public_url
    else:
        host, port = scope.get("server") or ("localhost", None)
        base = f"{scope.get('scheme', 'http')}://{host}" + (f":{port}" if port else "")
    url = base + scope.get("root_path", "") + scope["path"]
    return f"{url}?{query}" if query else url


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    content_type: bytes = b"application/json"
    #: The stored event ids (`x-hookgate-event-ids`), whatever the body says.
    event_ids: bytes = b""
    #: Headers a connector's handshake answer carries.
    headers: tuple[tuple[bytes, bytes], ...] = ()
    #: Close the connection after answering (the body was not read to its end).
    close: bool = False


def _error(status: int, message: str) -> _Answer:
    return _Answer(status, b'{"error":"' + message.encode() + b'"}')


@dataclass(slots=True)
class _Seen:
    """What the requests log needs of a request, as the edge learns it."""

    body: bytes | None = None
    #: Stored with the request's events (else it goes through the log's buffer).
    recorded: bool = False
    #: The client's address, behind trusted proxies (`gateway.addresses`).
    client: str | None = None


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _content_length(scope: Scope) -> int:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


class WebhookHandler:
    """Pure ASGI for `/webhooks/{source}`, logged like every request.

    The webhook path is the hot path, so it goes through no routing, request or response
    objects: it reads the body from `receive` and answers with two `send`s.
    """

    prefix = "/webhooks/"

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, request_id = _begin_request()
        name = scope["path"][len(self.prefix) :]
        # A source name has at most 64 characters: a longer one is the caller's, logged cut.
        fields: dict[str, Any] = {"source": name if len(name) <= 64 else name[:64] + "…"}
        seen = _Seen(client=self.gateway.clients.of(_client(scope), scope["headers"]))
        try:
            answer = await self._handle(scope, receive, name, fields, seen)
        except DisconnectedError:
            fields["cause"] = "client_disconnected"
            self._log_request(scope, name, 499, fields, seen)
            _end_request(scope, 499, started, fields)
            return
        except Exception as exc:  # a bug must not leak a traceback to the caller
            log.exception("internal_error", error=type(exc).__name__)
            self.gateway.metrics.internal_errors.inc()
            answer = _error(500, "internal error")
        body = answer.body
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [
                        (b"content-type", answer.content_type),
                        (b"content-length", b"%d" % len(body)),
                        (b"x-request-id", request_id.encode()),
                        *(((b"x-hookgate-event-ids", answer.event_ids),) if answer.event_ids else ()),
                        *answer.headers,
                        *(((b"connection", b"close"),) if answer.close else ()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            self._log_request(scope, name, answer.status, fields, seen)
            # A 401 is worth a look (a wrong secret, a proxy that re-encodes bodies, an attack).
            _end_request(scope, answer.status, started, fields, "warning" if answer.status == 401 else "info")

    def _log_request(self, scope: Scope, name: str, status: int, fields: dict[str, Any], seen: _Seen) -> None:
        """Record a request not stored with its events (rejected, a handshake) in the
        requests log's buffer. Its cause: the verification cause of a 401
        (`bad_signature`, `stale_timestamp`, …), else the edge's."""
        requests = self.gateway.requests
        if requests is None or seen.recorded:
            return
        cause = fields.get("cause_detail") if status == 401 else None
        source = self.gateway.sources.get(name)
        record = requests.record(
            now=self.gateway.clock(),
            source=storable_key(name),  # an unknown source's name is the caller's
            status=status,
            cause=cause or fields.get("cause"),
            size=len(seen.body) if seen.body is not None else _content_length(scope),
            client=seen.client,
            headers=scope["headers"],
            secret_headers=source.connector.secret_headers() if source is not None else frozenset(),
            body=seen.body,
        )
        requests.later(record)
        if self.gateway.feed.active:  # the admin API's live streams
            self.gateway.feed.publish_request(record)

    async def _handle(
        self, scope: Scope, receive: Receive, name: str, fields: dict[str, Any], seen: _Seen
    ) -> _Answer:
        gateway = self.gateway
        source = gateway.sources.get(name)
        if source is None:
            fields["cause"] = "unknown_source"
            return _error(404, "unknown source")
        counters = gateway.metrics.source(name)
        counters.received.inc()
        started = time.perf_counter()
        try:
            _admit(gateway, source, seen.client, fields)
            return await _accept(gateway, source, scope, receive, fields, seen)
        except (_Rejected, BodyRefusedError) as rejected:
            fields["cause"] = rejected.cause
            headers: tuple[tuple[bytes, bytes], ...] = ()
            if isinstance(rejected, _Rejected):
                headers = rejected.headers
                if rejected.detail:
                    fields["cause_detail"] = rejected.detail
            if rejected.status == 401:  # a failure costs its client more than a success
                gateway.limiter.failed(seen.client)
            gateway.metrics.rejected.labels(source.name, rejected.cause).inc()
            error = _error(rejected.status, rejected.message)
            if rejected.status == 503:  # temporary: say when to try again (providers that honour it wait)
                headers = (*headers, (b"retry-after", RETRY_AFTER_SECONDS))
            return _Answer(
                error.status, error.body, headers=headers, close=rejected.status in (403, 408, 413, 429, 503)
            )
        finally:
            counters.latency.observe(time.perf_counter() - started)


class _Rejected(Exception):  # noqa: N818 - control flow inside this module, not an error
    def __init__(
        self,
        status: int,
        cause: str,
        message: str,
        detail: str | None = None,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self.status, self.cause, self.message, self.detail = status, cause, message, detail
        self.headers = headers


def _admit(gateway: Gateway, source: Source, client: str | None, fields: dict[str, Any]) -> None:
    """Refuse a request before its body is read: from an address the source does not allow
    (403), or beyond a rate limit (429, with the seconds to wait)."""
    if source.allowed_ips and not source.allowlist.allows(client):
        fields["client"] = client
        raise _Rejected(403, "ip_not_allowed", "forbidden")
    refused = gateway.limiter.check(source.name, client)
    if refused is not None:
        limit, wait = refused
        fields["client"], fields["limit"] = client, limit
        gateway.metrics.rate_limited.labels(source.name, limit).inc()
        raise _Rejected(
            429, "rate_limited", "too many requests, retry later", headers=((b"retry-after", b"%d" % wait),)
        )


async def _accept(  # noqa: PLR0917 - the request's parts, passed once
    gateway: Gateway, source: Source, scope: Scope, receive: Receive, fields: dict[str, Any], seen: _Seen
) -> _Answer:
    method: str = scope["method"]
    if method not in source.connector.methods:
        raise _Rejected(405, "method_not_allowed", "method not allowed")
    body = await gateway.bodies.read(scope, receive, source.max_body_bytes)
    seen.body = body
    query = scope.get("query_string", b"").decode("latin-1")
    webhook = WebhookRequest(
        method=method,
        body=body,
        headers=Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
        query=tuple(parse_qsl(query, keep_blank_values=True)) if query else (),
        url=_public_url(source, scope, query),
    )
    now = gateway.clock()
    # A large body is verified in a thread (hashing lets go of the GIL) and parsed in a
    # worker process (parsing does not): the loop keeps serving others meanwhile.
    large = gateway.offload.wanted(len(body))
    try:
        answer = await _verified(source, webhook, now, large=large)
    except _Rejected as rejected:
        source = await _refreshed(gateway, source, rejected)
        answer = await _verified(source, webhook, now, large=large)
    if answer is not None:
        fields["handshake"] = True
        extra = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers)
        return _Answer(answer.status, answer.body, answer.content_type.encode("latin-1"), headers=extra)
    events = await _normalized(gateway, source, webhook, now) if large else _normalize(source, webhook, now)
    if gateway.schema_enforcer is not None:
        events, mismatch = gateway.schema_enforcer.check(source.name, events)
        if mismatch is not None:  # `reject`: nothing of the request is stored
            fields["cause"] = "schema_mismatch"
            gateway.metrics.rejected.labels(source.name, "schema_mismatch").inc()
            shown = {"error": "schema mismatch", "schema": mismatch.schema, "version": str(mismatch.version)}
            return _Answer(400, orjson.dumps({**shown, "path": mismatch.path}))
    ack = _acknowledge(source, webhook)
    record = None
    if gateway.requests is not None:  # stored with the events, in their commit
        record = gateway.requests.record(
            now=now,
            source=source.name,
            status=200 if ack is None else ack.status,
            cause=None,
            size=len(body),
            client=seen.client,
            headers=scope["headers"],
            secret_headers=source.connector.secret_headers(),
            record_id=events[0].id,
        )
    results, duplicates = await _store(gateway, source, events, record)
    seen.recorded = record is not None
    ids = [r.event_id for r in results]
    if record is not None and gateway.feed.active:  # the admin API's live streams
        gateway.feed.publish_request(dataclasses.replace(record, event_ids=tuple(ids)))
    fields["event_ids"] = ids
    fields["duplicates"] = duplicates
    status = "duplicate" if duplicates == len(results) else "accepted"
    listed = ",".join(ids).encode()
    if ack is not None:
        return _Answer(ack.status, ack.body, ack.content_type.encode("latin-1"), listed)
    return _Answer(200, orjson.dumps({"status": status, "event_ids": ids}), event_ids=listed)


def _acknowledge(source: Source, webhook: WebhookRequest) -> ConnectorResponse | None:
    """The connector's own answer to a stored delivery, if it has one (never an error: the
    events are stored, so a connector bug falls back to hookgate's answer)."""
    try:
        return source.connector.acknowledge(webhook)
    except Exception as exc:  # noqa: BLE001 - stored is stored; answer it
        log.error("connector_error", step="acknowledge", error=type(exc).__name__)
        return None


async def _store(
    gateway: Gateway, source: Source, events: list[Event], record: RequestRecord | None = None
) -> tuple[list[PersistResult], int]:
    """Persist `events` durably (503 when the store cannot) and hand the new ones to the
    dispatcher; the results, and how many were duplicates. `record`, the request's entry in
    the requests log, is committed with the events."""
    try:
        results = await store_events(gateway, events, source.sinks, request=record)
    except StoreError as exc:
        log.error("store_unavailable", error=str(exc))
        raise _Rejected(503, "store_unavailable", "temporarily unavailable, retry later") from None
    duplicates = sum(1 for result in results if result.duplicate)
    counters = gateway.metrics.source(source.name)
    if duplicates:
        counters.duplicates.inc(duplicates)
    if len(results) > duplicates:
        counters.persisted.inc(len(results) - duplicates)
        if gateway.discovery is not None:  # queued for schema inference, off this path
            gateway.discovery.observe(
                source.name, [e for e, r in zip(events, results, strict=True) if not r.duplicate]
            )
    return results, duplicates


async def store_events(
    gateway: Gateway,
    events: Sequence[Event],
    sinks: Sequence[str],
    *,
    request: RequestRecord | None = None,
) -> list[PersistResult]:
    """Persist `events` durably for `sinks` (through the rules of the buses among them),
    then hand the new ones to the dispatcher: from memory when it has room (stored leased
    to this process), else by a wake-up. `request` (a requests-log entry) shares the
    commit. Raises `StoreError` when the store cannot."""
    dispatcher = gateway.dispatcher
    # Through a router, each event goes to the targets of the rules it matches.
    routes: list[tuple[str, ...]] | None = None
    routed = gateway.route(events, sinks)
    if routed is not None:
        events, routes = routed
    targets = tuple(sinks) if routes is None else tuple({s for route in routes for s in route})
    leased = dispatcher is not None and dispatcher.has_room(targets, len(events))
    results = await gateway.inbox.persist(events, sinks, routes=routes, leased=leased, request=request)
    fresh = [event for event, result in zip(events, results, strict=True) if not result.duplicate]
    if fresh and gateway.feed.active:  # the admin API's live streams
        where = routes if routes is not None else [tuple(sinks)] * len(results)
        gateway.feed.publish_events(
            fresh, [w for w, r in zip(where, results, strict=True) if not r.duplicate]
        )
    # Without a dispatcher, the inbox delivered the events itself (Lambda mode).
    if fresh and dispatcher is not None:
        if routes is not None:
            for event, result, route in zip(events, results, routes, strict=True):
                if result.duplicate or not route:
                    continue
                if leased:
                    dispatcher.hand_off([event], route)
                else:
                    dispatcher.notify(route)
        elif leased:
            dispatcher.hand_off(fresh, sinks)
        else:
            dispatcher.notify(sinks)
    return results


async def _verified(
    source: Source, webhook: WebhookRequest, now: float, *, large: bool = False
) -> ConnectorResponse | None:
    """`_verify`, in a worker thread when the connector may wait on a fetch (`fetches`: a
    slow certificate or key fetch holds its own request only, never the event loop) or the
    body is `large` (hashing it lets go of the GIL)."""
    if source.connector.fetches or large:
        return await anyio.to_thread.run_sync(_verify, source, webhook, now)
    return _verify(source, webhook, now)


def _verify(source: Source, webhook: WebhookRequest, now: float) -> ConnectorResponse | None:
    """Answer a handshake, or verify; fail closed on anything unexpected."""
    try:
        answer = source.connector.handshake(webhook, now)
        if answer is None:
            if webhook.method != "POST":
                raise _Rejected(405, "method_not_allowed", "method not allowed")
            source.connector.verify(webhook, now)
    except VerificationError as exc:
        raise _Rejected(401, "verification_failed", "unauthorized", exc.cause) from None
    except _Rejected:
        raise
    except Exception as exc:  # noqa: BLE001 - a connector bug is not a 500, and not a pass
        log.error("connector_error", step="verify", error=type(exc).__name__)
        raise _Rejected(401, "verification_failed", "unauthorized", "connector_error") from None
    return answer


async def _refreshed(gateway: Gateway, source: Source, rejected: _Rejected) -> Source:
    """After a failed verification, the source rebuilt with its secrets read again (Lambda
    mode), for one more try; else `rejected` again."""
    fresh = None
    if rejected.status == 401 and gateway.refresh_source is not None:
        fresh = await gateway.refresh_source(source)
    if fresh is None:
        raise rejected
    return fresh


def normalize_events(source: Source, webhook: WebhookRequest, now: float) -> list[Event]:
    """A verified delivery's stored-event envelopes; a `MalformedPayloadError` when it has
    none (on the loop, or in a worker process: `gateway.offload`)."""
    found = source.connector.normalize(webhook)
    if not found:
        raise MalformedPayloadError("no_events")
    trace = webhook.headers.get("x-amzn-trace-id")
    return [
        build_event(
            pe,
            now,
            source=source.name,
            connector=source.connector_name,
            event_source=source.event_source,
            detail_format=source.detail_format,
            trace_header=trace,
        )
        for pe in found
    ]


async def _normalized(gateway: Gateway, source: Source, webhook: WebhookRequest, now: float) -> list[Event]:
    """`_normalize` in a worker process (on the loop if none can do it)."""
    try:
        events = await gateway.offload.normalize(source, webhook, now)
    except MalformedPayloadError as exc:
        raise _Rejected(400, "malformed", "malformed payload", exc.cause) from None
    except Exception as exc:  # noqa: BLE001 - never a 500 from input
        log.error("connector_error", step="normalize", error=type(exc).__name__)
        raise _Rejected(400, "malformed", "malformed payload", "connector_error") from None
    return _normalize(source, webhook, now) if events is None else events


def _normalize(source: Source, webhook: WebhookRequest, now: float) -> list[Event]:
    """Turn a verified delivery into stored-event envelopes; 400 when it cannot be done."""
    try:
        return normalize_events(source, webhook, now)
    except MalformedPayloadError as exc:
        raise _Rejected(400, "malformed", "malformed payload", exc.cause) from None
    except Exception as exc:  # noqa: BLE001 - never a 500 from input
        log.error("connector_error", step="normalize", error=type(exc).__name__)
        raise _Rejected(400, "malformed", "malformed payload", "connector_error") from None
