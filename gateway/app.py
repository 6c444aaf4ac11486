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
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.config import Settings, SourceSpec
from gateway.connections import BodyReader
from gateway.dispatcher import Dispatcher
from gateway.enrichment import Enrichment, SourceEnricher
from gateway.errors import StoreError
from gateway.events import Event
from gateway.http import RequestLogMiddleware, Source, WebhookHandler
from gateway.observability import Metrics
from gateway.sinks import Sink
from gateway.store import QUEUE_STATES, DeliveryQueue, Inbox, RetryPolicy, Store, StoreAdmin, open_store

if TYPE_CHECKING:
    from gateway.router.bus import Bus

__all__ = ["Gateway", "GatewayApp", "build_sinks", "build_source", "create_app"]

log = structlog.get_logger()

PURGE_INTERVAL_SECONDS = 3600.0


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
    #: After `stop`: the deliveries the store still had to make (None: it did not answer).
    left_pending: int | None = None
    #: Lambda mode: after a delivery failed verification, the source rebuilt with its
    #: secrets read again, to verify it once more (None: nothing new to verify it with).
    refresh_source: Callable[[Source], Awaitable[Source | None]] | None = None
    #: Reads the edge's request bodies under `[server]`'s limits (`gateway.connections`).
    bodies: BodyReader = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self.settings.server
        self.bodies = BodyReader(
            timeout_seconds=server.body_timeout_seconds,
            min_bytes_per_second=server.body_min_bytes_per_second,
            max_buffered_bytes=server.max_buffered_body_bytes,
        )

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
        if dispatch and store is not None and self.dispatcher is not None:
            await self.dispatcher.start()
            self._tasks.append(asyncio.create_task(self._purge_loop(store), name="purge"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
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
    gateway = Gateway(settings, sources, inbox, dict(sinks), metrics, clock, durable, dispatcher, buses)

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if durable is None:  # an inbox that keeps nothing is ready once it is built
            return _json({"status": "ready"})
        try:
            await asyncio.wait_for(durable.depth(), timeout=2.0)
        except (StoreError, TimeoutError) as exc:
            log.warning("not_ready", error=str(exc))
            return _json({"status": "unavailable"}, 503)
        return _json({"status": "ready"})

    async def metrics_endpoint(request: Request) -> Response:
        with contextlib.suppress(StoreError, TimeoutError):
            depth = {} if durable is None else await asyncio.wait_for(durable.depth(), timeout=2.0)
            for sink in gateway.sinks:
                for state in QUEUE_STATES:
                    metrics.queue_depth.labels(sink, state).set(depth.get((sink, state), 0))
        with contextlib.suppress(StoreError, TimeoutError):
            lag = {} if durable is None else await asyncio.wait_for(durable.oldest_pending(), timeout=2.0)
            for sink in gateway.sinks:
                metrics.oldest_pending_age.labels(sink).set(lag.get(sink, 0.0))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start(dispatch=dispatch)
        try:
            yield
        finally:
            await gateway.stop()

    # With a metrics port, `/metrics` is served there only (`GatewayApp.metrics_app`).
    metrics_route = Route("/metrics", metrics_endpoint, methods=["GET"])
    separate = settings.server.metrics_port is not None
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *(() if separate else (metrics_route,)),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    metrics_app = RequestLogMiddleware(Starlette(routes=[metrics_route])) if separate else None
    return GatewayApp(gateway, app, metrics_app)


def build_source(spec: SourceSpec) -> Source:
    """The running source of a configured one: its connector built from its options."""
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    return Source(**fields, connector=spec.cls(spec.options))


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

    def __init__(self, gateway: Gateway, app: Starlette, metrics_app: ASGIApp | None = None) -> None:
        self.gateway = gateway
        self.state = app.state
        #: What the separate metrics listener serves (`[server] metrics_port`), if any.
        self.metrics_app = metrics_app
        self._webhooks = WebhookHandler(gateway)
        self._other = RequestLogMiddleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(WebhookHandler.prefix):
            await self._webhooks(scope, receive, send)
        else:
            await self._other(scope, receive, send)


def _buses(settings: Settings) -> dict[str, Bus]:
    if not settings.buses:
        return {}
    from gateway.router.bus import Bus  # noqa: PLC0415 - loaded with the first bus

    return {name: Bus(name, bus) for name, bus in settings.buses.items()}


def _json(value: object, status: int = 200) -> Response:
    return Response(json.dumps(value), status_code=status, media_type="application/json")
