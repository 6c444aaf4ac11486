"""The composition root: `create_app(settings, *, store=None, sinks=None, clock=None)`.

Everything is built here from parameters; the `hookgate serve` command and tests are a
few lines over it. `build_source` and `build_sinks` turn validated settings into the
running connectors and sinks (for the CLI and Lambda mode too).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors import SignedDelivery
from gateway.addresses import ClientAddress, parse_networks
from gateway.admin.replays import Replays
from gateway.admin.stream import LiveFeed
from gateway.config import Settings, SourceSpec
from gateway.connections import BodyReader
from gateway.dispatcher import Dispatcher
from gateway.enrichment import Enrichment, SourceEnricher
from gateway.errors import StoreError
from gateway.events import Event
from gateway.http import RequestLogMiddleware, Source, WebhookHandler, store_events
from gateway.observability import Metrics
from gateway.offload import Offload
from gateway.ratelimit import RateLimiter
from gateway.requestlog import REDACTED_HEADERS, Redactor, RequestLog
from gateway.sinks import Sink
from gateway.store import (
    QUEUE_STATES,
    DeliveryQueue,
    Inbox,
    PersistResult,
    RequestLogPolicy,
    RetryPolicy,
    Store,
    StoreAdmin,
    open_store,
)

if TYPE_CHECKING:
    from gateway.router.bus import Bus
    from gateway.schemas import Discovery, SchemaEnforcer

__all__ = [
    "Gateway",
    "GatewayApp",
    "build_sinks",
    "build_source",
    "create_app",
    "sample_delivery",
    "webhook_url",
]

log = structlog.get_logger()

PURGE_INTERVAL_SECONDS = 3600.0
#: `/readyz` waits this long for the store's answer.
PROBE_TIMEOUT_SECONDS = 2.0
#: After a write failed, `/readyz` says not ready for this long before it probes again.
RECHECK_SECONDS = 5.0


@dataclass
class Gateway:
    """The running parts of one gateway, reachable from tests as `app.state.gateway`."""

    settings: Settings
    sources: dict[str, Source]
    #: Where the edge persists events: the store, or Lambda mode's `DirectStore`.
    inbox: Inbox
    sinks: dict[str, Sink]
    metrics: Metrics
    clock: Callable[[], float]
    #: The hookgate store behind the inbox (queue and admin side), with its dispatcher.
    #: None for an inbox that puts events on their sinks itself (Lambda mode): nothing
    #: is queued, dispatched, purged or shown.
    store: Store | None = None
    dispatcher: Dispatcher | None = None
    #: The local event buses (their rules' targets are in `sinks`).
    buses: dict[str, Bus] = field(default_factory=dict)
    #: The requests log (None: nothing keeps one, Lambda mode).
    requests: RequestLog | None = None
    #: What the edge stores, to the admin API's live streams.
    feed: LiveFeed = field(default_factory=LiveFeed)
    #: The replays the admin API started in this process.
    replays: Replays = field(default_factory=Replays)
    #: After `stop`: the deliveries the store still had to make (None: it did not answer).
    left_pending: int | None = None
    #: Lambda mode: after a delivery failed verification, the source rebuilt with its
    #: secrets read again, to verify it once more (None: nothing new to verify it with).
    refresh_source: Callable[[Source], Awaitable[Source | None]] | None = None
    #: Schema discovery (`gateway.schemas`), when a source of a durable store has it on.
    discovery: Discovery | None = None
    #: The check of enforcing sources' events against pinned schema versions.
    schema_enforcer: SchemaEnforcer | None = None
    #: Reads the edge's request bodies under `[server]`'s limits (`gateway.connections`).
    bodies: BodyReader = field(init=False)
    #: The edge's token buckets (`gateway.ratelimit`).
    limiter: RateLimiter = field(init=False)
    #: Who a request comes from, behind `[server] trusted_proxies` (`gateway.addresses`).
    clients: ClientAddress = field(init=False)
    #: Normalizes large bodies in worker processes (`gateway.offload`).
    offload: Offload = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self.settings.server
        self.bodies = BodyReader(
            timeout_seconds=server.body_timeout_seconds,
            min_bytes_per_second=server.body_min_bytes_per_second,
            max_buffered_bytes=server.max_buffered_body_bytes,
        )
        self.limiter = RateLimiter(
            server.rate_limits, {name: spec.rate_limit for name, spec in self.settings.sources.items()}
        )
        self.clients = ClientAddress(parse_networks(server.trusted_proxies, named=False))
        self.offload = Offload(server.worker_parse_bytes)

    def route(
        self, events: Sequence[Event], sinks: Sequence[str]
    ) -> tuple[list[Event], list[tuple[str, ...]]] | None:
        """Per event, where it goes when `sinks` name a bus (None: every event to `sinks`)."""
        if not self.buses:
            return None
        from gateway.router.bus import route_events  # noqa: PLC0415 - loaded with the first bus

        return route_events(events, sinks, self.buses)

    async def start(self, *, dispatch: bool = True) -> None:
        await self.inbox.open()
        store = self.store
        if store is not None and store.single_node:  # leases left by this node's previous run
            released = await store.release_claims()
            if released:
                log.info("claims_released", count=released)
        if self.requests is not None:
            self._tasks.append(asyncio.create_task(self.requests.run(), name="requests-log"))
        if self.discovery is not None:
            await self.discovery.start()
        if self.schema_enforcer is not None:
            await self.schema_enforcer.start()
        if dispatch and store is not None and self.dispatcher is not None:
            await self.dispatcher.start()
            self._tasks.append(asyncio.create_task(self._purge_loop(store), name="purge"))

    async def stop(self) -> None:
        await self.replays.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.discovery is not None:  # what it still has queued is recorded, and reported
            await self.discovery.stop()
        if self.schema_enforcer is not None:
            await self.schema_enforcer.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        store = self.store
        if store is not None and not store.single_node:  # the other replicas take over its leases
            try:
                released = await store.release_claims()
            except StoreError as exc:
                log.warning("claims_not_released", error=str(exc))
            else:
                if released:
                    log.info("claims_released", count=released)
        if store is not None:
            with contextlib.suppress(StoreError, TimeoutError):
                depth = await asyncio.wait_for(store.depth(), timeout=2.0)
                self.left_pending = sum(count for (_, state), count in depth.items() if state != "dead")
        self.offload.close()
        await self.inbox.close()

    @staticmethod
    async def _purge_loop(store: StoreAdmin) -> None:
        while True:
            try:
                purged = await store.purge()
                if purged:
                    log.info("purged", events=purged)
            except StoreError as exc:
                log.error("purge_failed", error=str(exc))
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)


def create_app(
    settings: Settings,
    *,
    store: Inbox | None = None,
    sinks: Mapping[str, Sink] | None = None,
    clock: Callable[[], float] | None = None,
    dispatch: bool = True,
) -> GatewayApp:
    """Build the ASGI app. `dispatch=False` runs the edge without a dispatcher loop; an
    inbox that is not a whole `Store` (Lambda mode's) runs it without a dispatcher at all."""
    clock = clock or time.time
    metrics = Metrics()
    inbox = store or open_store(settings.store, settings.dispatcher, clock)
    durable = inbox if isinstance(inbox, Store) else None
    if sinks is None:
        sinks = build_sinks(settings)
    sinks = dict(sinks)
    if durable is not None:
        durable.policies.update(_sink_policies(settings))
        volume = durable.volume()
        if volume is not None:
            metrics.watch_volume(volume)
    buses = _buses(settings)
    for bus in buses.values():  # each target of a bus's rules is a sink of its own
        bus.instrument(metrics.registry)
        sinks.update(bus.targets())
        if durable is not None:
            durable.policies.update(bus.policies())
    sources = {name: build_source(spec) for name, spec in settings.sources.items()}
    dispatcher = None
    if durable is not None:
        enrichment = _enrichment(durable, sources)
        dispatcher = Dispatcher(durable, sinks, settings.dispatcher, metrics, enrichment)
    else:
        for sink in sinks.values():  # the dispatcher does it when there is one
            sink.instrument(metrics.registry)
    gateway = Gateway(
        settings,
        sources,
        inbox,
        dict(sinks),
        metrics,
        clock,
        durable,
        dispatcher,
        buses,
        requests=_requests_log(settings, durable),
    )
    gateway.discovery, gateway.schema_enforcer = _discovery(gateway), _enforcer(gateway)
    apis = _connect_buses(gateway) if buses else {}

    healthz, readyz, metrics_route = _probes(gateway)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start(dispatch=dispatch)
        try:
            yield
        finally:
            grace = settings.server.shutdown_grace_seconds
            try:  # bounded: a sink that blocks must not hold the process past its grace
                await asyncio.wait_for(gateway.stop(), grace)
            except TimeoutError:
                log.warning("stop_timed_out", grace_seconds=grace)

    # With a metrics port, `/metrics` is served there only (`GatewayApp.metrics_app`).
    separate = settings.server.metrics_port is not None
    # With an admin port, the admin API is served there only (`GatewayApp.admin_app`).
    admin, admin_apart = _admin_routes(gateway), settings.admin.separate
    app = Starlette(
        routes=[
            healthz,
            readyz,
            *(() if separate else (metrics_route,)),
            *(() if admin_apart else admin),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    metrics_app = _listener([metrics_route], separate)
    return GatewayApp(gateway, app, metrics_app, _listener(admin, admin_apart), apis)


def _probes(gateway: Gateway) -> tuple[Route, Route, Route]:
    """`/healthz` (the process runs), `/readyz` (the store answers, and commits: not ready
    while its last write failed, until a probe commits again) and `/metrics`."""
    store, metrics = gateway.store, gateway.metrics

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if store is None:  # an inbox that keeps nothing is ready once it is built
            return _json({"status": "ready"})
        try:
            if store.commit_failure is None:
                await asyncio.wait_for(store.depth(), timeout=PROBE_TIMEOUT_SECONDS)
            elif store.clock() - store.commit_failed_at < RECHECK_SECONDS:
                raise StoreError(store.commit_failure)  # a write failed just now: not ready
            else:  # no write failed lately: does one commit now?
                await asyncio.wait_for(store.probe_commit(), timeout=PROBE_TIMEOUT_SECONDS)
        except (StoreError, TimeoutError) as exc:
            log.warning("not_ready", error=str(exc))
            return _json({"status": "unavailable"}, 503)
        return _json({"status": "ready"})

    async def metrics_endpoint(request: Request) -> Response:
        with contextlib.suppress(StoreError, TimeoutError):
            depth = {} if store is None else await asyncio.wait_for(store.depth(), timeout=2.0)
            for sink in gateway.sinks:
                for state in QUEUE_STATES:
                    metrics.queue_depth.labels(sink, state).set(depth.get((sink, state), 0))
        with contextlib.suppress(StoreError, TimeoutError):
            lag = {} if store is None else await asyncio.wait_for(store.oldest_pending(), timeout=2.0)
            for sink in gateway.sinks:
                metrics.oldest_pending_age.labels(sink).set(lag.get(sink, 0.0))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return (
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    )


def _admin_routes(gateway: Gateway) -> list[BaseRoute]:
    """The admin API and the console, imported only when they are on (Lambda mode and a
    server without admin tokens never load them, nor click and httpx with them)."""
    if not gateway.settings.admin.enabled:
        return []
    from gateway.admin.app import admin_routes  # noqa: PLC0415 - its endpoints use this module

    return admin_routes(gateway)


def _listener(routes: list[BaseRoute], apart: bool) -> ASGIApp | None:
    """What a listener of its own serves (`routes`, when `apart`), logged like the rest."""
    return RequestLogMiddleware(Starlette(routes=routes)) if routes and apart else None


def _requests_log(settings: Settings, store: Store | None) -> RequestLog | None:
    """The requests log, kept while the admin API is on (its `[admin]` bounds and
    redactions); none without a store to keep it in."""
    admin = settings.admin
    if store is None or not admin.enabled:
        return None
    store.request_log = RequestLogPolicy(admin.requests_retention_hours * 3600.0, admin.requests_max_rows)
    redactor = Redactor((*REDACTED_HEADERS, *(name.lower() for name in admin.redact_headers)))
    return RequestLog(store, redactor, keep_rejected_bodies=admin.keep_rejected_bodies)


def build_source(spec: SourceSpec) -> Source:
    """The running source of a configured one: its connector built from its options."""
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(SourceSpec)}
    return Source(**fields, connector=spec.cls(spec.options))


def sample_delivery(source: Source, now: float) -> SignedDelivery:
    """A correctly signed sample delivery for `source` (`hookgate send-test`, the admin
    API's source test): its connector's sample body, signed as the provider would."""
    connector = source.connector
    return connector.sign(connector.sample_body(now), now)


def webhook_url(settings: Settings, source: str) -> str:
    """The URL a source's provider calls: its public URL, else the server's address (a
    wildcard listener is reached on loopback)."""
    spec = settings.sources[source]
    if spec.public_url:
        return f"{spec.public_url}/webhooks/{source}"
    host = settings.server.host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard listener is reached on loopback
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.server.port}/webhooks/{source}"


def _enrichment(queue: DeliveryQueue, sources: Mapping[str, Source]) -> Enrichment | None:
    """The enrichment step of the sources whose connector has an enricher (None: no source)."""
    found = {}
    for name, source in sources.items():
        enricher = source.connector.enricher()
        if enricher is not None:
            found[name] = SourceEnricher(enricher, source.detail_format)
    return Enrichment(queue, found) if found else None


def _sink_policies(settings: Settings) -> dict[str, RetryPolicy]:
    """The sinks that have a `retry_policy` of their own, and that policy in full."""
    defaults = settings.dispatcher
    return {
        name: RetryPolicy(
            spec.retry_policy.max_attempts or defaults.max_attempts,
            float(spec.retry_policy.max_age_seconds or defaults.max_age_seconds),
        )
        for name, spec in settings.sinks.items()
        if spec.retry_policy is not None
    }


def build_sinks(settings: Settings) -> dict[str, Sink]:
    """Every configured sink, built from its options (not opened)."""
    return {name: spec.cls(name, spec.options) for name, spec in settings.sinks.items()}


class GatewayApp:
    """The ASGI application: `/webhooks/…` straight to the webhook handler (the hot path),
    everything else (health, metrics, lifespan) through Starlette."""

    def __init__(
        self,
        gateway: Gateway,
        app: Starlette,
        metrics_app: ASGIApp | None = None,
        admin_app: ASGIApp | None = None,
        apis: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self.gateway = gateway
        self.state = app.state
        #: What the separate metrics listener serves (`[server] metrics_port`), if any.
        self.metrics_app = metrics_app
        #: What the admin API's own listener serves (`[admin] port`), if any.
        self.admin_app = admin_app
        self._webhooks = WebhookHandler(gateway)
        self._other = RequestLogMiddleware(app)
        #: The buses' EventBridge API, by path (`POST` only).
        self._apis = dict(apis or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(WebhookHandler.prefix):
            await self._webhooks(scope, receive, send)
        elif scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self._apis:
            await self._apis[scope["path"]](scope, receive, send)
        else:
            await self._other(scope, receive, send)


def _discovery(gateway: Gateway) -> Discovery | None:
    """Schema discovery over the store, for the sources that have it on (None: none has)."""
    policies = {
        name: (source.event_source, source.schema_compatibility)
        for name, source in gateway.sources.items()
        if source.schema_discovery
    }
    if gateway.store is None or not policies:
        return None
    from gateway.schemas import Discovery, SourcePolicy, bus_emitter, open_registry  # noqa: PLC0415

    return Discovery(
        open_registry(gateway.store),
        gateway.settings.schemas,
        {name: SourcePolicy(*policy) for name, policy in policies.items()},
        gateway.clock,
        emit=bus_emitter(gateway),
        metrics=gateway.metrics.registry,
        offload=gateway.offload,
    )


def _enforcer(gateway: Gateway) -> SchemaEnforcer | None:
    """The schema check of the sources that enforce one (None: none does)."""
    modes = {
        name: s.schema_enforcement for name, s in gateway.sources.items() if s.schema_enforcement != "off"
    }
    if gateway.store is None or not modes:
        return None
    from gateway.schemas import SchemaEnforcer, open_registry  # noqa: PLC0415

    return SchemaEnforcer(open_registry(gateway.store), modes, metrics=gateway.metrics.registry)


def _buses(settings: Settings) -> dict[str, Bus]:
    if not settings.buses:
        return {}
    from gateway.router.bus import Bus  # noqa: PLC0415 - loaded with the first bus

    return {name: Bus(name, bus) for name, bus in settings.buses.items()}


def _connect_buses(gateway: Gateway) -> dict[str, ASGIApp]:
    """The buses' `bus` targets put events through the gateway's inbox; the buses' API
    endpoints, by path."""
    from gateway.router.eventbridge_api import api_endpoints  # noqa: PLC0415 - loaded with the first bus
    from gateway.router.targets._bus import BusTarget  # noqa: PLC0415

    async def publish(bus: str, events: Sequence[Event]) -> list[PersistResult]:
        return await store_events(gateway, events, (bus,))

    for sink in gateway.sinks.values():
        target = getattr(sink, "target", None)
        if isinstance(target, BusTarget):
            target.publish = publish
    return dict(api_endpoints(gateway))


def _json(value: object, status: int = 200) -> Response:
    return Response(json.dumps(value), status_code=status, media_type="application/json")
