"""Fault injection: the EventBridge sink, the real dispatcher and a real SQLite store, with
time moved by a fake clock. Whatever AWS does, every stored event ends up delivered or
dead-lettered with its cause; nothing vanishes."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from gateway.config import DispatcherSettings, StoreSettings
from gateway.dispatcher import Dispatcher
from gateway.events import Event
from gateway.observability import Metrics
from gateway.sinks import Retry
from gateway.store import Claimed, Settlement, Store, open_store
from tests.helpers.eventbridge import FakeAws, Harness, Reply, accept, harness

from ._fakes import FakeClock, make_event

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("aws_env")]

POLICY = DispatcherSettings(
    max_attempts=12,
    base_delay_seconds=1.0,
    max_delay_seconds=600.0,
    batch_size=500,
    poll_interval_seconds=3600.0,
    lease_seconds=60.0,
)
OUTAGE = 600.0  # ten minutes


@pytest.fixture
async def store(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = open_store(StoreSettings(url=sqlite_url), POLICY, clock)
    store.rng = random.Random(3)  # noqa: S311 - retry jitter, not cryptography
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    found = await harness()
    yield found
    await found.sink.close()


async def persist(store: Store, clock: FakeClock, count: int, *, malformed: bool = False) -> list[Event]:
    events = [
        make_event(at=clock.now, detail_type="broken" if malformed else "invoice.paid") for _ in range(count)
    ]
    await store.persist(events, ["bus"])
    return events


async def run_until_settled(dispatcher: Dispatcher, store: Store, clock: FakeClock, limit: float) -> None:
    """Deliver, move the clock 5 s, again, until nothing is queued (or `limit` seconds pass)."""
    end = clock.now + limit
    while clock.now < end:
        await dispatcher.drain()
        depth = await store.depth()
        if not any(n for (_, state), n in depth.items() if state in ("pending", "forwarding", "retry")):
            return
        clock.advance(5.0)
    raise AssertionError(f"still queued after {limit} s: {await store.depth()}")


async def states(store: Store, events: list[Event]) -> dict[str, tuple[str, str | None]]:
    found: dict[str, tuple[str, str | None]] = {}
    for event in events:
        stored = await store.get_event(event.id)
        assert stored is not None, f"event {event.id} vanished"
        [delivery] = stored[1]
        found[event.id] = (delivery.state, delivery.last_cause)
    return found


async def test_ten_minutes_of_outage_and_every_kind_of_fault(
    store: Store, clock: FakeClock, h: Harness
) -> None:
    start = clock.now
    faults = iter(
        [
            (400, "ThrottlingException", "Rate exceeded"),
            (500, "InternalException", "Internal error"),
            ConnectionClosedError(endpoint_url="http://127.0.0.1:9"),  # connection reset mid-call
            ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ]
        * 10_000
    )
    rng = random.Random(5)  # noqa: S311 - which entries fail, not cryptography

    def eventbridge(entries: list[dict[str, Any]]) -> Reply:
        if clock.now < start + OUTAGE:
            fault: Reply = next(faults)
            return fault
        results: list[dict[str, Any]] = []
        for entry in entries:
            roll = rng.random()
            if entry["DetailType"] == "broken":
                results.append({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
            elif roll < 0.1:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "Internal failure"})
            elif roll < 0.2:
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
            else:
                results.append({"EventId": f"eb-{rng.getrandbits(32)}"})
        return results

    h.aws.put_events = eventbridge
    dispatcher = Dispatcher(store, {"bus": h.sink}, POLICY, Metrics())
    events = await persist(store, clock, 120)
    broken = await persist(store, clock, 5, malformed=True)
    for _ in range(10):  # webhooks keep arriving during the outage
        clock.advance(OUTAGE / 10)
        await dispatcher.drain()
        events += await persist(store, clock, 20)
    await run_until_settled(dispatcher, store, clock, limit=24 * 3600)

    found = await states(store, events + broken)
    for event in broken:
        assert found[event.id] == ("dead", "MalformedDetail: Detail is malformed.")
    delivered = {event_id for event_id, (state, _) in found.items() if state == "delivered"}
    dead = {event_id: cause for event_id, (state, cause) in found.items() if state == "dead"}
    assert delivered | set(dead) == {e.id for e in events + broken}
    assert delivered == set(h.aws.accepted)  # delivered means EventBridge has it
    assert all(cause for cause in dead.values())
    assert len(delivered) >= 0.9 * len(events)  # twelve attempts outlast ten minutes for most
    assert any(op == "PutEvents" for op, _ in h.aws.calls)


async def test_an_access_outage_does_not_use_up_the_attempt_budget(
    store: Store, clock: FakeClock, h: Harness
) -> None:
    store.delivery_policy = POLICY.model_copy(update={"max_attempts": 2})
    start = clock.now

    def eventbridge(entries: list[dict[str, Any]]) -> Reply:
        if clock.now < start + OUTAGE:
            return (400, "AccessDeniedException", "User is not authorized to perform: events:PutEvents")
        return accept(entries)

    h.aws.put_events = eventbridge
    dispatcher = Dispatcher(store, {"bus": h.sink}, store.delivery_policy, Metrics())
    events = await persist(store, clock, 30)
    await run_until_settled(dispatcher, store, clock, limit=3 * 3600)
    found = await states(store, events)
    assert {state for state, _ in found.values()} == {"delivered"}
    assert set(h.aws.accepted) == {e.id for e in events}


async def test_uncharged_retries_still_end_at_max_age(store: Store, clock: FakeClock) -> None:
    store.delivery_policy = POLICY.model_copy(update={"max_attempts": 1, "max_age_seconds": 100})
    [event] = await persist(store, clock, 1)
    [claimed] = await store.claim("bus", 10)
    free = Retry("AccessDeniedException: denied", charge=False)
    [kept] = await store.settle("bus", [claimed], [Settlement(event.id, "retry", free.cause, charge=False)])
    assert (kept.state, kept.cause) == ("retry", free.cause)  # attempt 1 of 1, not dead
    clock.advance(200)
    [again] = await store.claim("bus", 10)
    [dead] = await store.settle("bus", [again], [Settlement(event.id, "retry", free.cause, charge=False)])
    assert (dead.state, dead.cause) == ("dead", f"max_age: {free.cause}")
    charged = Claimed(event, again.attempts)
    assert store._transition("bus", charged, Settlement(event.id, "retry", "x"), clock.now).state == "dead"


async def test_the_dispatcher_passes_charge_through(store: Store, clock: FakeClock, h: Harness) -> None:
    store.delivery_policy = POLICY.model_copy(update={"max_attempts": 1})
    h.aws.put_events = lambda _entries: (403, "UnrecognizedClientException", "bad token")
    dispatcher = Dispatcher(store, {"bus": h.sink}, store.delivery_policy, Metrics())
    [event] = await persist(store, clock, 1)
    await dispatcher.drain()
    assert (await states(store, [event]))[event.id] == ("retry", "UnrecognizedClientException: bad token")
    retried = dispatcher.metrics.registry.get_sample_value(
        "hookgate_deliveries_retried_total", {"sink": "bus", "cause": "UnrecognizedClientException"}
    )
    assert retried == 1


async def test_a_stored_entry_the_sink_cannot_read_is_dead_lettered(
    store: Store, clock: FakeClock, h: Harness
) -> None:
    event = dataclasses.replace(make_event(at=clock.now), entry=json.dumps({"detail": []}))
    await store.persist([event], ["bus"])
    dispatcher = Dispatcher(store, {"bus": h.sink}, POLICY, Metrics())
    await dispatcher.drain()
    state, cause = (await states(store, [event]))[event.id]
    assert state == "dead"
    assert cause is not None
    assert cause.startswith("invalid_detail_type")


def test_fake_aws_is_the_one_under_test() -> None:
    assert FakeAws().put_events is accept
