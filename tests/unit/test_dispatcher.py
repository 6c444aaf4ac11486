"""The dispatcher over a real SQLite store, with `MemorySink` scripts as the far side."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog

from gateway.config import DispatcherSettings, StoreSettings
from gateway.dispatcher import HANDOFF_BATCHES, Dispatcher
from gateway.events import Event
from gateway.observability import Metrics
from gateway.sinks import Delivered, MemorySink, Outcome, Permanent, Retry
from gateway.store import Claimed, DeliveryRecord, Settlement, Store, open_store
from gateway.store.sqlite import SQLiteStore

from ._fakes import FakeClock, make_event

pytestmark = pytest.mark.anyio

POLICY = DispatcherSettings(
    max_attempts=5,
    base_delay_seconds=10.0,
    max_delay_seconds=600.0,
    batch_size=100,
    poll_interval_seconds=3600.0,  # only `notify` wakes the background loop in these tests
    lease_seconds=60.0,
)


@pytest.fixture
async def store(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = open_store(StoreSettings(url=sqlite_url), POLICY, clock)
    store.rng = random.Random(7)  # noqa: S311 - retry jitter, not cryptography
    await store.open()
    yield store
    await store.close()


def dispatcher_for(store: Store, sink: MemorySink, settings: DispatcherSettings = POLICY) -> Dispatcher:
    return Dispatcher(store, {sink.name: sink}, settings, Metrics())


def sample(dispatcher: Dispatcher, name: str, **labels: str) -> float:
    value = dispatcher.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def scripted(*outcomes: Outcome) -> Callable[[Event], Outcome]:
    """A script answering `outcomes` in turn, then `Delivered()` forever."""
    queue: Iterator[Outcome] = iter(outcomes)
    return lambda _event: next(queue, Delivered())


def by_id(events: Sequence[Event]) -> list[Event]:
    """Events claimed together have no order among themselves."""
    return sorted(events, key=lambda e: e.id)


async def persist(store: Store, clock: FakeClock, count: int = 1) -> list[Event]:
    events = [make_event(at=clock.now) for _ in range(count)]
    await store.persist(events, ["mem"])
    return events


async def record(store: Store, event: Event) -> DeliveryRecord:
    found = await store.get_event(event.id)
    assert found is not None
    [delivery] = found[1]
    return delivery


async def test_delivered(store: Store, clock: FakeClock) -> None:
    sink = MemorySink("mem")
    dispatcher = dispatcher_for(store, sink)
    events = await persist(store, clock, 3)

    assert await dispatcher.run_once("mem") == 3
    assert by_id(sink.events) == by_id(events)
    for event in events:
        assert (await record(store, event)).state == "delivered"
    assert sample(dispatcher, "hookgate_deliveries_delivered_total", sink="mem") == 3
    assert sample(dispatcher, "hookgate_delivery_batch_size_count", sink="mem") == 1
    assert sample(dispatcher, "hookgate_delivery_batch_size_sum", sink="mem") == 3
    assert sample(dispatcher, "hookgate_delivery_duration_seconds_count", sink="mem") == 1
    assert await dispatcher.run_once("mem") == 0


async def test_retry_then_success_once_due(store: Store, clock: FakeClock) -> None:
    sink = MemorySink("mem", script=scripted(Retry("timeout: upstream slow")))
    dispatcher = dispatcher_for(store, sink)
    [event] = await persist(store, clock)

    assert await dispatcher.run_once("mem") == 1
    retry = await record(store, event)
    assert (retry.state, retry.attempts, retry.last_cause) == ("retry", 1, "timeout: upstream slow")
    assert clock.now <= retry.due_at <= clock.now + POLICY.base_delay_seconds
    assert sample(dispatcher, "hookgate_deliveries_retried_total", sink="mem", cause="timeout") == 1
    assert sink.events == []

    clock.now = retry.due_at - 0.001
    assert await dispatcher.drain() == 0
    clock.now = retry.due_at
    assert await dispatcher.drain() == 1
    done = await record(store, event)
    assert (done.state, done.attempts) == ("delivered", 2)
    assert sink.attempts == [event, event]
    assert sink.events == [event]
    assert sample(dispatcher, "hookgate_deliveries_delivered_total", sink="mem") == 1
    assert sample(dispatcher, "hookgate_deliveries_dead_lettered_total", sink="mem") == 0


async def test_each_attempt_logs_its_event_ids_and_the_retry_cause(store: Store, clock: FakeClock) -> None:
    outcomes: dict[str, Outcome] = {}
    sink = MemorySink("mem", script=lambda event: outcomes.get(event.id, Delivered()))
    dispatcher = dispatcher_for(store, sink)
    first, second, third = await persist(store, clock, 3)
    outcomes[second.id] = Retry("throttled: 429")
    outcomes[third.id] = Retry("timeout: upstream slow")

    with structlog.testing.capture_logs() as logs:
        await dispatcher.run_once("mem")
        outcomes.clear()
        clock.advance(POLICY.max_delay_seconds)
        await dispatcher.run_once("mem")

    attempts = [e for e in logs if e["event"] == "delivery_attempt"]
    assert len(attempts) == 2
    retried, delivered = attempts
    assert sorted(retried["event_ids"]) == sorted(e.id for e in (first, second, third))
    assert (retried["delivered"], retried["retry"], retried["log_level"]) == (1, 2, "info")
    assert set(retried["retry_cause"].split("; ")) == {"throttled: 429", "timeout: upstream slow"}
    assert sorted(delivered["event_ids"]) == sorted(e.id for e in (second, third))
    assert delivered["delivered"] == 2
    assert "retry_cause" not in delivered


async def test_permanent_is_dead_lettered(store: Store, clock: FakeClock) -> None:
    sink = MemorySink("mem", script=scripted(Permanent("rejected: 400 bad entry")))
    dispatcher = dispatcher_for(store, sink)
    [event] = await persist(store, clock)

    assert await dispatcher.drain() == 1
    [dead] = await store.list_dead()
    assert (dead.event_id, dead.sink, dead.last_cause) == (event.id, "mem", "rejected: 400 bad entry")
    assert sample(dispatcher, "hookgate_deliveries_dead_lettered_total", sink="mem") == 1
    assert sample(dispatcher, "hookgate_deliveries_delivered_total", sink="mem") == 0
    clock.advance(POLICY.max_delay_seconds * 10)
    assert await dispatcher.drain() == 0


async def test_out_of_attempts_is_dead_lettered(store: Store, clock: FakeClock) -> None:
    store.delivery_policy = POLICY.model_copy(update={"max_attempts": 1})  # the store owns the retry policy
    sink = MemorySink("mem", script=scripted(Retry("timeout")))
    dispatcher = dispatcher_for(store, sink, store.delivery_policy)
    [event] = await persist(store, clock)

    assert await dispatcher.run_once("mem") == 1
    assert (await record(store, event)).last_cause == "max_attempts: timeout"
    assert sample(dispatcher, "hookgate_deliveries_dead_lettered_total", sink="mem") == 1
    assert sample(dispatcher, "hookgate_deliveries_retried_total", sink="mem", cause="timeout") == 0


async def test_a_sink_that_raises_has_the_whole_batch_retried(store: Store, clock: FakeClock) -> None:
    def explode(event: Event) -> Outcome:
        raise RuntimeError("connection reset")

    sink = MemorySink("mem", script=explode)
    dispatcher = dispatcher_for(store, sink)
    events = await persist(store, clock, 2)

    assert await dispatcher.run_once("mem") == 2
    for event in events:
        retry = await record(store, event)
        assert (retry.state, retry.last_cause) == ("retry", "sink_error: RuntimeError: connection reset")
    assert sample(dispatcher, "hookgate_deliveries_retried_total", sink="mem", cause="sink_error") == 2
    assert sample(dispatcher, "hookgate_deliveries_delivered_total", sink="mem") == 0

    sink.script = None  # the sink recovers
    clock.advance(POLICY.max_delay_seconds)
    assert await dispatcher.drain() == 2
    assert by_id(sink.events) == by_id(events)


class ShortSink(MemorySink):
    """A buggy sink: one outcome fewer than the events it was given."""

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        return (await super().deliver(events))[:-1]


async def test_a_sink_answering_the_wrong_number_of_outcomes_is_retried(
    store: Store, clock: FakeClock
) -> None:
    sink = ShortSink("mem")
    dispatcher = dispatcher_for(store, sink)
    events = await persist(store, clock, 3)

    assert await dispatcher.run_once("mem") == 3
    for event in events:
        retry = await record(store, event)
        assert retry.state == "retry"
        assert retry.last_cause == "sink_error: RuntimeError: sink returned 2 outcomes for 3 events"
    assert sample(dispatcher, "hookgate_deliveries_retried_total", sink="mem", cause="sink_error") == 3
    assert sample(dispatcher, "hookgate_deliveries_delivered_total", sink="mem") == 0


async def test_batches_are_bounded_by_the_sink_and_the_settings(store: Store, clock: FakeClock) -> None:
    sink = MemorySink("mem")
    sink.max_batch = 2
    dispatcher = dispatcher_for(store, sink)
    await persist(store, clock, 5)
    assert await dispatcher.run_once("mem") == 2
    assert await dispatcher.drain("mem") == 3
    assert sample(dispatcher, "hookgate_delivery_batch_size_count", sink="mem") == 3

    sink.max_batch = 100
    narrow = dispatcher_for(store, sink, POLICY.model_copy(update={"batch_size": 4}))
    await persist(store, clock, 5)
    assert await narrow.run_once("mem") == 4


@dataclass
class ObservedStore(SQLiteStore):
    """The real store, announcing claims and settlements so a test can wait for them."""

    claims: int = 0
    settled: list[str] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def claim(self, sink: str, limit: int) -> list[Claimed]:
        claimed = await super().claim(sink, limit)
        async with self.changed:
            self.claims += 1
            self.changed.notify_all()
        return claimed

    async def settle(
        self, sink: str, claimed: Sequence[Claimed], results: Sequence[Settlement], *, duration: float = 0.0
    ) -> list[Any]:
        transitions = await super().settle(sink, claimed, results, duration=duration)
        async with self.changed:
            self.settled.extend(r.event_id for r in results)
            self.changed.notify_all()
        return transitions


async def test_the_background_loop_delivers_when_notified(sqlite_url: str, clock: FakeClock) -> None:
    store = ObservedStore(StoreSettings(url=sqlite_url), POLICY, clock)
    await store.open()
    sink = MemorySink("mem")
    dispatcher = dispatcher_for(store, sink)
    try:
        await dispatcher.start()
        async with asyncio.timeout(10), store.changed:
            # The loop found nothing to do and sleeps for the poll interval (an hour)...
            await store.changed.wait_for(lambda: store.claims >= 1)
        events = await persist(store, clock, 2)
        dispatcher.notify(["mem"])  # ...so only this can wake it in time.
        async with asyncio.timeout(10), store.changed:
            await store.changed.wait_for(lambda: len(store.settled) == 2)
        assert by_id(sink.events) == by_id(events)
        for event in events:
            assert (await record(store, event)).state == "delivered"
        dispatcher.notify(["elsewhere"])  # a sink nobody dispatches to: harmless
    finally:
        await dispatcher.stop()
        await store.close()
    assert sample(dispatcher, "hookgate_deliveries_delivered_total", sink="mem") == 2


async def test_has_room_only_while_running_and_within_the_bound(sqlite_url: str, clock: FakeClock) -> None:
    store = ObservedStore(StoreSettings(url=sqlite_url), POLICY, clock)
    await store.open()
    dispatcher = dispatcher_for(store, MemorySink("mem"))
    assert not dispatcher.has_room(["mem"], 1)  # not started: nobody would deliver from memory
    try:
        await dispatcher.start()
        bound = HANDOFF_BATCHES * POLICY.batch_size
        assert dispatcher.has_room(["mem"], bound)
        assert not dispatcher.has_room(["mem"], bound + 1)
        assert not dispatcher.has_room(["mem", "elsewhere"], 1)
        assert not dispatcher.has_room([], 1)
    finally:
        await dispatcher.stop()
        await store.close()


async def test_handed_off_events_are_delivered_without_a_claim(sqlite_url: str, clock: FakeClock) -> None:
    store = ObservedStore(StoreSettings(url=sqlite_url), POLICY, clock)
    await store.open()
    sink = MemorySink("mem")
    dispatcher = dispatcher_for(store, sink)
    try:
        await dispatcher.start()
        async with asyncio.timeout(10), store.changed:
            await store.changed.wait_for(lambda: store.claims >= 1)  # the first poll, then idle
        events = [make_event(at=clock.now) for _ in range(3)]
        assert dispatcher.has_room(["mem"], len(events))
        await store.persist(events, ["mem"], leased=True)
        for event in events:
            leased = await record(store, event)
            assert (leased.state, leased.attempts) == ("forwarding", 1)
        dispatcher.hand_off(events, ["mem"])
        async with asyncio.timeout(10), store.changed:
            await store.changed.wait_for(lambda: len(store.settled) == 3)
        assert store.claims == 1  # straight from memory: no claim query
        assert by_id(sink.events) == by_id(events)
        for event in events:
            assert (await record(store, event)).state == "delivered"
    finally:
        await dispatcher.stop()
        await store.close()


async def test_a_crash_with_hand_offs_in_memory_loses_nothing(store: Store, clock: FakeClock) -> None:
    events = [make_event(at=clock.now) for _ in range(2)]
    await store.persist(events, ["mem"], leased=True)  # accepted, then the process died
    assert await store.claim("mem", 10) == []  # leased to the dead process
    assert await store.release_claims() == 2  # what a restart does
    sink = MemorySink("mem")
    assert await dispatcher_for(store, sink).drain() == 2
    assert by_id(sink.events) == by_id(events)


async def test_retries_due_in_the_store_are_not_starved_by_hand_offs(store: Store, clock: FakeClock) -> None:
    sink = MemorySink("mem", script=scripted(Retry("busy")))
    dispatcher = dispatcher_for(store, sink, POLICY.model_copy(update={"poll_interval_seconds": 0.0}))
    [old] = await persist(store, clock)
    assert await dispatcher.run_once("mem") == 1  # fails once: a retry is scheduled
    clock.advance(POLICY.max_delay_seconds + 1)  # ...and is now due
    new = [make_event(at=clock.now) for _ in range(2)]
    await store.persist(new, ["mem"], leased=True)
    dispatcher.hand_off(new, ["mem"])
    assert await dispatcher.run_once("mem") == 1  # the store is polled first: the retry
    assert sink.events == [old]
    assert await dispatcher.run_once("mem") == 2  # then the hand-offs
    assert by_id(sink.events[1:]) == by_id(new)


class HeldSink(MemorySink):
    """A sink whose batches wait until `release` is set: a slow consumer, held by the test."""

    def __init__(self, name: str, *, in_flight: int | None = None, max_batch: int = 100) -> None:
        super().__init__(name)
        self.in_flight = in_flight
        self.max_batch = max_batch
        self.release = asyncio.Event()
        self.waiting: list[Event] = []
        self.changed = asyncio.Condition()

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        async with self.changed:
            self.waiting.extend(events)
            self.changed.notify_all()
        await self.release.wait()
        return await super().deliver(events)


async def test_a_sink_with_in_flight_gets_new_batches_while_others_are_under_way(
    sqlite_url: str, clock: FakeClock
) -> None:
    store = ObservedStore(StoreSettings(url=sqlite_url), POLICY, clock)
    await store.open()
    held = HeldSink("mem", in_flight=4, max_batch=1)
    dispatcher = dispatcher_for(store, held)
    try:
        await dispatcher.start()
        events = await persist(store, clock, 6)
        dispatcher.notify(["mem"])
        async with asyncio.timeout(10), held.changed:
            # Four batches of one, each started before the others ended...
            await held.changed.wait_for(lambda: len(held.waiting) == 4)
        assert store.settled == []  # ...and none of them has ended
        held.release.set()
        async with asyncio.timeout(10), store.changed:
            await store.changed.wait_for(lambda: len(store.settled) == 6)
        assert by_id(held.events) == by_id(events)  # each exactly once
        for event in events:
            delivery = await record(store, event)
            assert (delivery.state, delivery.attempts) == ("delivered", 1)
    finally:
        await dispatcher.stop()
        await store.close()


async def test_a_held_sink_holds_up_neither_another_sink_nor_its_hand_offs(
    sqlite_url: str, clock: FakeClock
) -> None:
    store = ObservedStore(StoreSettings(url=sqlite_url), POLICY, clock)
    await store.open()
    held, fast = HeldSink("slow", max_batch=2), MemorySink("fast")
    settings = POLICY.model_copy(update={"poll_interval_seconds": 10.0})  # under half a lease
    dispatcher = Dispatcher(store, {"slow": held, "fast": fast}, settings, Metrics())
    try:
        await dispatcher.start()
        first = [make_event(at=clock.now) for _ in range(2)]
        assert dispatcher.has_room(["slow", "fast"], 2)
        await store.persist(first, ["slow", "fast"], leased=True)
        dispatcher.hand_off(first, ["slow", "fast"])
        async with asyncio.timeout(10), store.changed:
            await store.changed.wait_for(lambda: len(store.settled) == 2)  # the fast sink's
        assert by_id(fast.events) == by_id(first)
        more = [make_event(at=clock.now) for _ in range(2)]
        await store.persist(more, ["slow", "fast"], leased=True)
        dispatcher.hand_off(more, ["slow", "fast"])  # waits in memory for the held sink
        async with asyncio.timeout(10), store.changed:
            await store.changed.wait_for(lambda: len(store.settled) == 4)
        # The held sink's oldest hand-off has waited a poll interval: it is behind, so new
        # events wait for it in the store (unleased) instead of in memory.
        assert dispatcher.has_room(["slow", "fast"], 1)
        clock.advance(settings.poll_interval_seconds + 1)
        assert not dispatcher.has_room(["slow", "fast"], 1)
        assert dispatcher.has_room(["fast"], 1)
        held.release.set()
        async with asyncio.timeout(10), store.changed:
            await store.changed.wait_for(lambda: len(store.settled) == 8)
        assert by_id(held.events) == by_id(first + more)  # from memory, each once
    finally:
        await dispatcher.stop()
        await store.close()


async def test_a_hand_off_older_than_half_a_lease_is_left_to_the_store(
    store: Store, clock: FakeClock
) -> None:
    sink = MemorySink("mem")
    dispatcher = dispatcher_for(store, sink)
    events = [make_event(at=clock.now) for _ in range(2)]
    await store.persist(events, ["mem"], leased=True)
    dispatcher.hand_off(events, ["mem"])
    clock.advance(POLICY.lease_seconds / 2 + 1)  # its lease could end during the attempt
    with structlog.testing.capture_logs() as logs:
        assert await dispatcher.run_once("mem") == 0  # not sent from memory...
    assert [entry["event"] for entry in logs] == ["handoff_expired"]
    assert sink.events == []
    clock.advance(POLICY.lease_seconds)
    assert await dispatcher.drain("mem") == 2  # ...but claimed once the lease has ended
    assert by_id(sink.events) == by_id(events)
