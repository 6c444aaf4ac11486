"""The enrichment step: stored events completed by their source's enricher before delivery,
through the dispatcher over a real SQLite store, with a scripted enricher and memory sinks."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import structlog

from connectors import Enricher, EnrichmentError
from gateway.config import DispatcherSettings, StoreSettings
from gateway.dispatcher import Dispatcher
from gateway.enrichment import Enrichment, SourceEnricher
from gateway.events import Event
from gateway.observability import Metrics
from gateway.sinks import MemorySink
from gateway.store import DeliveryRecord, Store, open_store

from ._fakes import FakeClock, make_event

pytestmark = pytest.mark.anyio

POLICY = DispatcherSettings(
    max_attempts=3,
    base_delay_seconds=10.0,
    max_delay_seconds=600.0,
    poll_interval_seconds=3600.0,
    lease_seconds=60.0,
)
NOTIFICATION = {"id": "evt_1", "object": "notification"}
FULL = {"id": "evt_1", "object": "notification", "data": {"amount": 2000}}


class ScriptedEnricher(Enricher):
    """Completes notifications with `FULL`, or raises what `script` gives for the call."""

    def __init__(self, script: Callable[[int], Exception | None] = lambda _n: None, delay: float = 0) -> None:
        self.script = script
        self.delay = delay
        self.calls: list[Any] = []
        self.opened = self.closed = 0

    async def open(self) -> None:
        self.opened += 1

    async def close(self) -> None:
        self.closed += 1

    def wants(self, payload: Any) -> bool:
        return isinstance(payload, dict) and payload.get("object") == "notification"

    async def enrich(self, payload: Any) -> Any:
        self.calls.append(payload)
        if self.delay:
            await asyncio.sleep(self.delay)
        failure = self.script(len(self.calls))
        if failure is not None:
            raise failure
        return FULL


@pytest.fixture
async def store(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = open_store(StoreSettings(url=sqlite_url), POLICY, clock)
    store.rng = random.Random(7)  # noqa: S311 - retry jitter, not cryptography
    await store.open()
    yield store
    await store.close()


def thin_event(at: float, payload: Any = NOTIFICATION, *, detail_format: str = "envelope") -> Event:
    event = make_event(at=at)
    entry = json.loads(event.entry)
    if detail_format == "payload":
        entry["detail"] = payload
    else:
        entry["detail"]["payload"] = payload
    return Event(event.id, event.source, event.dedup_key, event.detail_type, at, json.dumps(entry))


def setup(
    store: Store, enricher: ScriptedEnricher, *, detail_format: str = "envelope"
) -> tuple[Dispatcher, MemorySink, MemorySink]:
    a, b = MemorySink("a"), MemorySink("b")
    source = SourceEnricher(enricher, "payload" if detail_format == "payload" else "envelope")
    enrichment = Enrichment(store, {"stripe": source})
    return Dispatcher(store, {"a": a, "b": b}, POLICY, Metrics(), enrichment), a, b


def payload_of(event: Event) -> Any:
    return event.as_dict()["detail"]["payload"]


async def record(store: Store, event: Event, sink: str) -> DeliveryRecord:
    found = await store.get_event(event.id)
    assert found is not None
    return {r.sink: r for r in found[1]}[sink]


async def test_the_api_is_called_once_and_every_sink_gets_the_full_event(
    store: Store, clock: FakeClock
) -> None:
    enricher = ScriptedEnricher()
    dispatcher, a, b = setup(store, enricher)
    event = thin_event(clock.now)
    await store.persist([event], ["a", "b"])

    with structlog.testing.capture_logs() as logs:
        assert await dispatcher.drain() == 2
    assert enricher.calls == [NOTIFICATION]
    assert [payload_of(e) for e in a.events + b.events] == [FULL, FULL]
    assert a.events[0].as_dict()["detail"]["metadata"] == event.as_dict()["detail"]["metadata"]
    found = await store.get_event(event.id)
    assert found is not None
    assert payload_of(found[0]) == FULL
    assert [line["event_id"] for line in logs if line["event"] == "enriched"] == [event.id]
    # A replay delivers the stored, complete event without calling the API again.
    assert await store.replay(sinks=["a"]) == 1
    assert await dispatcher.drain() == 1
    assert payload_of(a.events[-1]) == FULL
    assert len(enricher.calls) == 1


async def test_sinks_handed_the_event_from_memory_share_one_call(sqlite_url: str, clock: FakeClock) -> None:
    store = open_store(StoreSettings(url=sqlite_url), POLICY, clock)
    enricher = ScriptedEnricher(delay=0.05)
    dispatcher, a, b = setup(store, enricher)
    await store.open()
    await dispatcher.start()
    try:
        events = [thin_event(clock.now) for _ in range(3)]
        assert dispatcher.has_room(["a", "b"], 3)
        await store.persist(events, ["a", "b"], leased=True)
        dispatcher.hand_off(events, ["a", "b"])
        async with asyncio.timeout(5):
            while len(a.events) < 3 or len(b.events) < 3:  # noqa: ASYNC110 - the sinks have no event to wait on
                await asyncio.sleep(0.01)
    finally:
        await dispatcher.stop()
        await store.close()
    assert len(enricher.calls) == 3
    assert all(payload_of(e) == FULL for e in a.events + b.events)
    assert (enricher.opened, enricher.closed) == (1, 1)


async def test_a_retryable_failure_is_retried_with_backoff(store: Store, clock: FakeClock) -> None:
    outage = EnrichmentError("acme_api_error: 503", retry=True)
    enricher = ScriptedEnricher(lambda n: outage if n <= 2 else None)
    dispatcher, a, _ = setup(store, enricher)
    event = thin_event(clock.now)
    await store.persist([event], ["a"])

    with structlog.testing.capture_logs() as logs:
        assert await dispatcher.drain("a") == 1
    retry = await record(store, event, "a")
    assert (retry.state, retry.last_cause) == ("retry", "enrichment: acme_api_error: 503")
    assert a.attempts == []  # the sink never saw the notification
    [failed] = [line for line in logs if line["event"] == "enrichment_failed"]
    assert (failed["cause"], failed["retry"], failed["log_level"]) == ("acme_api_error: 503", True, "warning")
    [attempt] = [line for line in logs if line["event"] == "delivery_attempt"]
    assert (attempt["retry"], attempt["retry_cause"]) == (1, "enrichment: acme_api_error: 503")

    for _ in range(2):
        clock.now = (await record(store, event, "a")).due_at
        assert await dispatcher.drain("a") == 1
    assert (await record(store, event, "a")).state == "delivered"
    assert [payload_of(e) for e in a.events] == [FULL]
    assert len(enricher.calls) == 3


async def test_a_final_failure_is_dead_lettered_with_its_cause(store: Store, clock: FakeClock) -> None:
    enricher = ScriptedEnricher(lambda _n: EnrichmentError("acme_unauthorized: 401", retry=False))
    dispatcher, a, _ = setup(store, enricher)
    event, plain = thin_event(clock.now), make_event(at=clock.now)
    await store.persist([event, plain], ["a"])

    assert await dispatcher.drain("a") == 2
    [dead] = await store.list_dead()
    assert (dead.event_id, dead.sink) == (event.id, "a")
    assert dead.last_cause == "enrichment: acme_unauthorized: 401"
    assert a.events == [plain]  # the rest of the batch is delivered
    found = await store.get_event(event.id)
    assert found is not None
    assert payload_of(found[0]) == NOTIFICATION


async def test_out_of_attempts_is_dead_lettered(store: Store, clock: FakeClock) -> None:
    enricher = ScriptedEnricher(lambda _n: EnrichmentError("acme_unreachable", retry=True))
    dispatcher, _, _ = setup(store, enricher)
    event = thin_event(clock.now)
    await store.persist([event], ["a"])
    for _ in range(POLICY.max_attempts):
        clock.now = max(clock.now, (await record(store, event, "a")).due_at)
        await dispatcher.drain("a")
    [dead] = await store.list_dead()
    assert dead.last_cause == "max_attempts: enrichment: acme_unreachable"


async def test_an_enricher_bug_is_retried_not_raised(store: Store, clock: FakeClock) -> None:
    enricher = ScriptedEnricher(lambda _n: KeyError("boom"))
    dispatcher, _, _ = setup(store, enricher)
    event = thin_event(clock.now)
    await store.persist([event], ["a"])
    assert await dispatcher.drain("a") == 1
    assert (await record(store, event, "a")).last_cause == "enrichment: enricher_error: KeyError"


async def test_with_detail_format_payload_the_detail_is_replaced(store: Store, clock: FakeClock) -> None:
    dispatcher, a, _ = setup(store, ScriptedEnricher(), detail_format="payload")
    event = thin_event(clock.now, detail_format="payload")
    await store.persist([event], ["a"])
    assert await dispatcher.drain("a") == 1
    assert a.events[0].as_dict()["detail"] == FULL


async def test_what_the_enricher_does_not_want_and_other_sources_pass_untouched(
    store: Store, clock: FakeClock
) -> None:
    enricher = ScriptedEnricher()
    dispatcher, a, _ = setup(store, enricher)
    complete = thin_event(clock.now, {"id": "evt_2", "object": "event"})
    other = make_event(at=clock.now, source="github")
    await store.persist([complete, other], ["a"])
    assert await dispatcher.drain("a") == 2
    assert sorted(e.entry for e in a.events) == sorted([complete.entry, other.entry])
    assert enricher.calls == []
