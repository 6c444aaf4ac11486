"""A destination down for longer than a count-based budget lasts (12 attempts of backoff
capped at 600 s: about 9 minutes), seen by the dispatcher over a real SQLite store with
the default `[dispatcher]` settings: its breaker opens after a few attempts fail alike, the
queued events spend no attempts while it is paused, one delivery probes it now and then,
and once it is back the breaker closes and every event is delivered, none dead-lettered
(`hookgate_sink_circuit_state`, `circuit_opened`, `circuit_closed`)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import structlog

from gateway.circuit import CircuitBreaker
from gateway.config import DispatcherSettings, StoreSettings
from gateway.dispatcher import Dispatcher
from gateway.events import Event
from gateway.observability import Metrics
from gateway.sinks import Delivered, MemorySink, Outcome, Permanent, Retry
from gateway.store import Store, open_store

from ._fakes import FakeClock, make_event

pytestmark = pytest.mark.anyio

EVENTS = 50
OUTAGE_SECONDS = 15 * 60  # longer than the 9 minutes 12 attempts used to last
#: The budget before: 12 attempts, and no breaker.
COUNTED = DispatcherSettings(max_attempts=12, max_age_seconds=3 * 24 * 3600, breaker_failures=0)


@pytest.fixture
async def store(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = open_store(StoreSettings(url=sqlite_url), DispatcherSettings(), clock)
    store.rng = random.Random(11)  # noqa: S311 - retry jitter, not cryptography
    await store.open()
    yield store
    await store.close()


async def outage(
    store: Store, clock: FakeClock, settings: DispatcherSettings
) -> tuple[Dispatcher, MemorySink, set[float | None]]:
    """`EVENTS` events queued for a sink down for `OUTAGE_SECONDS`, then up; the
    dispatcher runs a pass every second of the fake clock for half an hour. Also the
    values `hookgate_sink_circuit_state` took between passes."""
    store.delivery_policy = settings
    back_at = clock.now + OUTAGE_SECONDS

    def down_then_up(_event: Event) -> Outcome:
        return Retry("http_503: service unavailable") if clock.now < back_at else Delivered()

    sink = MemorySink("mem", script=down_then_up)
    dispatcher = Dispatcher(store, {"mem": sink}, settings, Metrics())
    await store.persist([make_event(at=clock.now) for _ in range(EVENTS)], ["mem"])
    seen: set[float | None] = set()
    for _ in range(30 * 60):
        while await dispatcher.run_once("mem"):
            pass
        seen.add(dispatcher.metrics.registry.get_sample_value("hookgate_sink_circuit_state", {"sink": "mem"}))
        clock.advance(1)
    return dispatcher, sink, seen


async def test_a_long_outage_dead_letters_nothing_and_everything_is_delivered_after(
    store: Store, clock: FakeClock
) -> None:
    with structlog.testing.capture_logs() as logs:
        dispatcher, sink, seen = await outage(store, clock, DispatcherSettings())
    assert await store.list_dead() == []
    assert sorted(e.id for e in sink.events) == sorted({e.id for e in sink.events})  # each once
    assert len(sink.events) == EVENTS
    # a few attempts per event before the breaker opened, then one probe per pause
    assert len(sink.attempts) - EVENTS <= 5 * EVENTS + 20, len(sink.attempts)
    assert max(Counter(e.id for e in sink.attempts).values()) <= 8
    assert seen == {0.0, 1.0}  # closed, open (half-open lasts one probe, within a pass)
    assert dispatcher.metrics.registry.get_sample_value("hookgate_sink_circuit_state", {"sink": "mem"}) == 0
    opened = [entry for entry in logs if entry["event"] == "circuit_opened"]
    closed = [entry for entry in logs if entry["event"] == "circuit_closed"]
    assert len(opened) == 1
    assert (opened[0]["sink"], opened[0]["cause"], opened[0]["failures"]) == ("mem", "http_503", 5)
    assert len(closed) == 1
    # closed by the first probe once the sink was back (probes are at most 300 s apart)
    assert OUTAGE_SECONDS - 60 <= closed[0]["open_seconds"] <= OUTAGE_SECONDS + 300


async def test_the_same_outage_under_a_count_budget_dead_letters_the_queue(
    store: Store, clock: FakeClock
) -> None:
    """What the outage costs without the breaker and with 12 attempts (the scenario is real)."""
    _, sink, _ = await outage(store, clock, COUNTED)
    dead = await store.list_dead()
    assert len(dead) > EVENTS // 4  # full jitter: 12 attempts last 15 minutes for about half
    assert {d.last_cause for d in dead} == {"max_attempts: http_503: service unavailable"}
    assert len(sink.events) == EVENTS - len(dead)


def test_the_breaker_opens_on_failures_alike_and_closes_after_a_probe() -> None:
    breaker = CircuitBreaker(3, open_seconds=10, max_open_seconds=25)
    down = [Retry("http_503: down")] * 4
    assert breaker.record(down, 0) is None
    assert breaker.record([Retry("timeout: read")], 1) is None  # another cause: counted afresh
    assert breaker.record(down, 2) is None
    assert breaker.record([Delivered(), Retry("http_503: down")], 3) is None  # a delivery resets
    assert [breaker.record(down, t) for t in (4, 5, 6)] == [None, None, "opened"]
    assert (breaker.state, breaker.allowed(15.9)) == ("open", 0)
    assert (breaker.allowed(16), breaker.state) == (1, "half_open")
    assert breaker.record(down[:1], 16) is None  # the probe failed: a pause twice as long
    assert (breaker.allowed(35.9), breaker.allowed(36)) == (0, 1)
    assert breaker.record(down[:1], 36) is None
    assert (breaker.pause, breaker.allowed(60.9), breaker.allowed(61)) == (25, 0, 1)  # capped
    assert breaker.record([Permanent("http_404")], 61) == "closed"  # an answer about the event
    assert breaker.allowed(61) is None


def test_a_breaker_with_no_threshold_never_opens() -> None:
    breaker = CircuitBreaker(0, open_seconds=10, max_open_seconds=10)
    for t in range(100):
        assert breaker.record([Retry("http_503: down")], t) is None
    assert breaker.allowed(100) is None
