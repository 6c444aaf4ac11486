"""Discovery off the request path: stored events queued, inferred in batches, versioned.

The edge hands each request's newly stored events to `Discovery.observe`, which only
appends them to a bounded queue (full: they are not inferred, and counted in
`hookgate_schema_events_skipped_total{reason="queue_full"}`). A background task takes
up to `batch_size` events at a time, infers the schema of each (source, detail-type) in
a worker thread, and records it (`SchemaRegistry.record`). Before inferring an event, it
asks whether the version its schema was last counted for already describes it
(`describes`: a walk that builds nothing); such an event is counted without inference,
so a stream of events that fit costs a fraction of inferring each.

Inference is pure Python, so it is given a CPU budget: `max_cpu_share` of one CPU,
refilled continuously, with a burst of `BURST_CPU_SECONDS`. While the budget is spent,
whole batches are skipped (`reason="sampled"`): under a load the budget cannot follow,
discovery samples instead of slowing ingest; below it, every event is counted. A new version is logged; one
that breaks its schema's compatibility mode is drift: a warning, the metric
`hookgate_schema_drift_total{source,detail_type}`, and, like every new version, a
`Schema Version Created` event put on the local buses, where rules route it like any
other event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter

from gateway.errors import StoreError
from gateway.events import Event, isoformat, new_event_id
from gateway.schemas._compat import Mode
from gateway.schemas._infer import Limits, describes, infer, merge
from gateway.schemas._registry import Observation, Recorded, SchemaRegistry
from gateway.schemas._settings import SchemaSettings

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.offload import Offload

__all__ = ["EVENT_SOURCE", "VERSION_CREATED", "Discovery", "SourcePolicy", "bus_emitter", "version_event"]

log = structlog.get_logger()

#: The `source` of the events hookgate puts on its buses about its schemas.
EVENT_SOURCE = "hookgate.schemas"
VERSION_CREATED = "Schema Version Created"
#: The registry discovered schemas belong to, as EventBridge names its own.
REGISTRY_NAME = "discovered-schemas"

Emit = Callable[[Event], Awaitable[None]]
#: The inference CPU time that may be spent at once before `max_cpu_share` applies.
BURST_CPU_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """What discovery needs of a source: its envelope `source` and the mode its new
    schemas start with."""

    event_source: str
    compatibility: Mode = "BACKWARD"


class Discovery:
    """The queue and the background task of schema discovery (one per gateway)."""

    def __init__(
        self,
        registry: SchemaRegistry,
        settings: SchemaSettings,
        sources: Mapping[str, SourcePolicy],
        clock: Callable[[], float],
        *,
        emit: Emit | None = None,
        metrics: CollectorRegistry | None = None,
        offload: Offload | None = None,
    ) -> None:
        self.registry = registry
        #: Where a batch holding a large event is inferred, off the event loop.
        self.offload = offload
        self.settings = settings
        self.sources = dict(sources)
        self.clock = clock
        self.emit = emit
        self.limits = Limits(settings.max_depth, settings.max_properties, settings.max_nodes)
        self._queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(settings.queue_size)
        self._task: asyncio.Task[None] | None = None
        self._budget = BURST_CPU_SECONDS  # inference CPU seconds that may be spent now
        self._refilled = time.monotonic()
        self._cost = 0.005  # inference CPU seconds per event, as last measured (a cautious start)
        #: (source, detail-type) → the content of the version its last batch was counted
        #: for: every later version describes it, so an event it describes needs no inference
        self._known: dict[tuple[str, str], dict[str, Any]] = {}
        self.drift = Counter(
            "hookgate_schema_drift",
            "New schema versions that broke their schema's compatibility mode",
            ["source", "detail_type"],
            registry=metrics,
        )
        self.skipped = Counter(
            "hookgate_schema_events_skipped",
            "Stored events not counted for a schema version, by reason",
            ["source", "reason"],
            registry=metrics,
        )
        self.versions = Counter(
            "hookgate_schema_versions", "Schema versions created", ["source"], registry=metrics
        )

    def observe(self, source: str, events: Sequence[Event]) -> None:
        """Queue newly stored events of a source that discovers schemas (never waits)."""
        if source not in self.sources:
            return
        for event in events:
            try:
                self._queue.put_nowait((source, event))
            except asyncio.QueueFull:
                self.skipped.labels(source, "queue_full").inc()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="schema-discovery")

    async def stop(self) -> None:
        """End the task, then record what is queued, as far as the CPU budget goes (the
        rest is skipped as sampled): a stop never waits on a long inference."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(StoreError):
            while not self._queue.empty():
                batch = self._afforded(self._take())
                if batch:
                    await self._batch(batch)

    async def drain(self) -> list[Recorded]:
        """Record every event queued now (tests, and `stop`)."""
        done: list[Recorded] = []
        while not self._queue.empty():
            done += await self._batch(self._take())
        return done

    def _take(self) -> list[tuple[str, Event]]:
        batch: list[tuple[str, Event]] = []
        while len(batch) < self.settings.batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    def _affordable(self) -> int:
        """How many events the CPU budget pays for now."""
        now = time.monotonic()
        share = self.settings.max_cpu_share
        self._budget = min(BURST_CPU_SECONDS, self._budget + (now - self._refilled) * share)
        self._refilled = now
        return max(0, int(self._budget / self._cost)) if self._budget > 0 else 0

    def _afforded(self, batch: list[tuple[str, Event]]) -> list[tuple[str, Event]]:
        """The part of `batch` the budget pays for; the rest is counted as sampled."""
        affordable = self._affordable()
        for source, _ in batch[affordable:]:
            self.skipped.labels(source, "sampled").inc()
        return batch[:affordable]

    async def _loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = self._afforded([first, *self._take()])
            if not batch:
                continue
            try:
                await self._batch(batch)
            except StoreError as exc:  # the events stay stored; only their count is lost
                log.error("schema_discovery_failed", error=str(exc), events=len(batch))

    async def _batch(self, batch: list[tuple[str, Event]]) -> list[Recorded]:
        # A large event's text is parsed by C code that keeps the GIL: in a thread, it would
        # hold the event loop up just the same; in a worker process, it does not.
        offload = self.offload
        keys = {(source, event.detail_type) for source, event in batch}
        known = {key: self._known[key] for key in keys if key in self._known}
        inferred = None
        if offload is not None and any(offload.wanted(len(event.entry)) for _, event in batch):
            inferred = await offload.call(infer_batch, batch, self.limits, self.sources, known)
        if inferred is None:
            inferred = await asyncio.to_thread(infer_batch, batch, self.limits, self.sources, known)
        observations, unreadable, spent = inferred
        self._budget -= spent
        self._cost = max(spent / len(batch), 1e-6)
        for source, count in unreadable.items():
            self.skipped.labels(source, "unreadable").inc(count)
        done = []
        for observation in observations:
            recorded = await self.registry.record(
                observation,
                self.clock(),
                max_versions=self.settings.max_versions_per_schema,
                max_schemas=self.settings.max_schemas_per_source,
                limits=self.limits,
            )
            if recorded.content is not None:
                self._known[observation.source, observation.detail_type] = recorded.content
            await self._report(observation, recorded)
            done.append(recorded)
        return done

    async def _report(self, observation: Observation, recorded: Recorded) -> None:
        source, detail_type = observation.source, observation.detail_type
        if recorded.overflow is not None:
            self.skipped.labels(source, f"max_{recorded.overflow}").inc(observation.count)
            log.warning(
                "schema_limit_reached",
                schema=recorded.name,
                limit=recorded.overflow,
                events=observation.count,
            )
            return
        if not recorded.created or recorded.verdict is None:
            return
        self.versions.labels(source).inc()
        verdict = recorded.verdict
        log.info(
            "schema_version_created",
            schema=recorded.name,
            version=recorded.version,
            verdict=verdict.describe(),
        )
        if not verdict.compatible:
            self.drift.labels(source, detail_type).inc()
            log.warning(
                "schema_drift",
                schema=recorded.name,
                source=source,
                detail_type=detail_type,
                version=recorded.version,
                verdict=verdict.describe(),
            )
        if self.emit is not None:
            try:
                await self.emit(version_event(recorded, self.clock()))
            except StoreError as exc:
                log.error("schema_event_not_stored", schema=recorded.name, error=str(exc))


def version_event(recorded: Recorded, now: float) -> Event:
    """The `Schema Version Created` event of a new version, shaped like EventBridge's own
    (its `detail` has EventBridge's keys, then hookgate's compatibility verdict)."""
    verdict = recorded.verdict
    event_id = new_event_id(now)
    detail = {
        "SchemaName": recorded.name,
        "SchemaType": "OpenApi3",
        "RegistryName": REGISTRY_NAME,
        "CreationDate": isoformat(now),
        "Version": str(recorded.version),
        "Compatibility": verdict.mode if verdict else "NONE",
        "Compatible": verdict.compatible if verdict else True,
        "Verdict": verdict.describe() if verdict else "",
    }
    entry = {
        "version": "0",
        "id": event_id,
        "detail-type": VERSION_CREATED,
        "source": EVENT_SOURCE,
        "time": isoformat(now),
        "resources": [],
        "detail": detail,
    }
    return Event(
        id=event_id,
        source=EVENT_SOURCE,
        dedup_key=f"{recorded.name}/{recorded.version}",
        detail_type=VERSION_CREATED,
        received_at=now,
        entry=orjson.dumps(entry).decode(),
    )


def bus_emitter(gateway: Gateway) -> Emit | None:
    """Puts an event on the gateway's buses, routed by their rules and stored like any
    event (None: the gateway has no bus or no store)."""
    store, buses = gateway.store, tuple(gateway.buses)
    if store is None or not buses:
        return None

    async def emit(event: Event) -> None:
        routed = gateway.route([event], buses)
        if routed is None:
            return
        events, routes = routed
        if not routes[0]:
            return
        await store.persist(events, routes=routes)
        if gateway.dispatcher is not None:
            gateway.dispatcher.notify(routes[0])

    return emit


def infer_batch(
    batch: list[tuple[str, Event]],
    limits: Limits,
    sources: Mapping[str, SourcePolicy],
    known: Mapping[tuple[str, str], dict[str, Any]],
) -> tuple[list[Observation], dict[str, int], float]:
    """Per (source, detail-type), the merged schema of the batch's details that its known
    version (`known`) does not describe (that version, when it describes them all); the
    events that could not be read, per source; the CPU time it took."""
    started = time.thread_time()
    groups: dict[tuple[str, str], tuple[dict[str, Any] | None, int, str]] = {}
    unreadable: dict[str, int] = {}
    for source, event in batch:
        try:
            detail = orjson.loads(event.entry).get("detail")
        except (orjson.JSONDecodeError, AttributeError):
            unreadable[source] = unreadable.get(source, 0) + 1
            continue
        key = (source, event.detail_type)
        fitted = known.get(key)
        schema = None if fitted is not None and describes(fitted, detail, limits) else infer(detail, limits)
        found = groups.get(key)
        if found is None:
            groups[key] = (schema, 1, event.id)
            continue
        merged = found[0]
        if schema is not None:
            merged = schema if merged is None else merge(merged, schema, limits)
        groups[key] = (merged, found[1] + 1, found[2])
    observations = []
    for (source, detail_type), (schema, count, sample) in groups.items():
        policy = sources[source]
        observed = schema if schema is not None else known[source, detail_type]
        observations.append(
            Observation(
                source, policy.event_source, detail_type, observed, count, sample, policy.compatibility
            )
        )
    return observations, unreadable, time.thread_time() - started
