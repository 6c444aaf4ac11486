"""The store contract: one suite per role, run on every backend that claims the role.

`CLAIMS` names the roles each backend implements: SQLite and PostgreSQL (in a schema of
its own per test; skipped without a server, except in CI) are whole stores, Lambda mode's
`DirectStore` an inbox only (here over `MemorySink`s and an in-memory dedup table). The
inbox contract runs on all three; the queue and admin contracts, which seed through the
inbox and observe through the admin side, on the whole stores. A durable backend is one
entry of `BACKENDS` (the `[store]` settings of a fresh, empty store). Time moves only
through the fake clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from gateway._dedup_table import DedupTable, Held
from gateway.aws_lambda import DirectStore
from gateway.config import DispatcherSettings, StoreSettings
from gateway.errors import StoreError
from gateway.events import Event
from gateway.sinks import MemorySink
from gateway.store import (
    Claimed,
    DeadLetter,
    DeliveryQueue,
    DeliveryRecord,
    Inbox,
    PersistResult,
    RetryPolicy,
    Settlement,
    Store,
    StoreAdmin,
    open_store,
)
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SCHEMA_VERSION, SQLiteStore

from ._fakes import FakeClock, make_event
from ._postgres import postgres_schema

pytestmark = pytest.mark.anyio

SettleOutcome = Literal["delivered", "retry", "permanent"]
SEED = 20240821
RETENTION = 3600
#: A retry policy with round numbers, so schedules are easy to check by hand.
POLICY: dict[str, Any] = {
    "max_attempts": 5,
    "max_age_seconds": 86_400,
    "base_delay_seconds": 10.0,
    "max_delay_seconds": 600.0,
    "lease_seconds": 60.0,
}

#: Backend name → the roles it claims. Each role's contract runs on every backend claiming it.
CLAIMS: dict[str, tuple[str, ...]] = {
    "direct": ("inbox",),
    "postgres": ("inbox", "queue", "admin"),
    "sqlite": ("inbox", "queue", "admin"),
}
#: Durable backend name → the `[store]` settings of a fresh store (given the test's
#: temporary directory), for as long as the context lasts.
BACKENDS: dict[str, Callable[[Path], AbstractContextManager[dict[str, Any]]]] = {
    "sqlite": lambda tmp: nullcontext({"url": f"sqlite:///{tmp / 'hookgate.db'}"}),
    "postgres": lambda _tmp: postgres_schema(),
}


def claiming(*roles: str) -> list[str]:
    """The backends that implement every one of `roles`."""
    return sorted(name for name, claimed in CLAIMS.items() if set(roles) <= set(claimed))


WHOLE_STORES = claiming("inbox", "queue", "admin")


class MemoryDedupTable(DedupTable):
    """Lambda mode's dedup table with DynamoDB's conditional writes over a dict."""

    def __init__(self) -> None:
        super().__init__("memory")
        self.items: dict[str, tuple[str, bool, int, float]] = {}  # event id, done, expires, lease

    def open(self) -> None:
        """Nothing to connect to."""

    def close(self) -> None:
        """Nothing to release."""

    def claim(self, event: Event, now: float, lease_until: float, expires_at: int) -> Held | None:
        found = self.items.get(self.key(event))
        if found is None or found[2] <= now or (not found[1] and found[3] <= now):
            self.items[self.key(event)] = (event.id, False, expires_at, lease_until)
            return None
        return Held(found[0], done=found[1])

    def complete(self, event: Event, expires_at: int) -> bool:
        if not self._ours(event):
            return False
        self.items[self.key(event)] = (event.id, True, expires_at, 0.0)
        return True

    def release(self, event: Event) -> bool:
        if not self._ours(event):
            return False
        del self.items[self.key(event)]
        return True

    def _ours(self, event: Event) -> bool:
        found = self.items.get(self.key(event))
        return found is not None and found[0] == event.id


@dataclass
class StoreFactory:
    """Opens stores on one database; several opens of the same settings see the same data."""

    table: dict[str, Any]
    clock: FakeClock
    opened: list[Store] = field(default_factory=list)

    async def __call__(self, *, retention: int = RETENTION, **policy: Any) -> Store:
        store = open_store(
            StoreSettings.model_validate({**self.table, "dedup_retention_seconds": retention}),
            DispatcherSettings.model_validate({**POLICY, **policy}),
            self.clock,
        )
        store.rng = random.Random(SEED)  # noqa: S311 - retry jitter, not cryptography
        await store.open()
        self.opened.append(store)
        return store


@pytest.fixture(params=WHOLE_STORES)
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StoreFactory]:
    with BACKENDS[request.param](tmp_path) as table:
        factory = StoreFactory(table, clock)
        yield factory
        for store in factory.opened:
            await store.close()


@pytest.fixture
async def store(stores: StoreFactory) -> Store:
    return await stores()


@pytest.fixture(params=claiming("inbox"))
async def inbox(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Inbox]:
    """A fresh inbox of each backend claiming the role."""
    if request.param not in BACKENDS:
        direct = DirectStore(
            StoreSettings(dedup_retention_seconds=RETENTION),
            clock,
            POLICY["lease_seconds"],
            sinks={name: MemorySink(name) for name in ("a", "b")},
            dedup=MemoryDedupTable(),
        )
        await direct.open()
        yield direct
        await direct.close()
        return
    with BACKENDS[request.param](tmp_path) as table:
        factory = StoreFactory(table, clock)
        yield await factory()
        for store in factory.opened:
            await store.close()


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_each_backend_claims_the_roles_it_implements(name: str) -> None:
    cls = {"direct": DirectStore, "postgres": PostgresStore, "sqlite": SQLiteStore}[name]
    roles = (("inbox", Inbox), ("queue", DeliveryQueue), ("admin", StoreAdmin))
    assert tuple(role for role, base in roles if issubclass(cls, base)) == CLAIMS[name]


async def persist_one(store: Inbox, event: Event, sinks: tuple[str, ...] = ("a",)) -> PersistResult:
    [result] = await store.persist([event], sinks)
    return result


async def deliveries(store: Store, event_id: str) -> dict[str, DeliveryRecord]:
    found = await store.get_event(event_id)
    assert found is not None, f"event {event_id} is not stored"
    return {record.sink: record for record in found[1]}


async def claim_ids(store: Store, sink: str = "a", limit: int = 100) -> list[str]:
    return [c.event.id for c in await store.claim(sink, limit)]


async def settle_all(
    store: Store, claimed: list[Claimed], outcome: SettleOutcome, cause: str | None = None, sink: str = "a"
) -> None:
    await store.settle(sink, claimed, [Settlement(c.event.id, outcome, cause) for c in claimed])


# -- the inbox: persist and dedup (observed through the admin side where one is needed) ---


async def test_persist_creates_a_pending_delivery_per_sink(store: Store, clock: FakeClock) -> None:
    event = make_event(at=clock.now)
    assert await store.persist([event], ["archive", "bus"]) == [PersistResult(event.id, duplicate=False)]
    found = await store.get_event(event.id)
    assert found is not None
    stored, records = found
    assert stored == event
    assert [(r.sink, r.state, r.attempts, r.due_at, r.last_cause) for r in records] == [
        ("archive", "pending", 0, clock.now, None),
        ("bus", "pending", 0, clock.now, None),
    ]
    assert await store.depth() == {("archive", "pending"): 1, ("bus", "pending"): 1}


async def test_persist_of_nothing_is_a_no_op(store: Store) -> None:
    assert await store.persist([], ["a"]) == []
    assert await store.list_events() == []


async def test_same_source_and_key_is_a_duplicate_of_the_first_event(store: Store, clock: FakeClock) -> None:
    first = make_event(at=clock.now, key="evt_1")
    assert await persist_one(store, first) == PersistResult(first.id, duplicate=False)
    clock.advance(RETENTION - 1)
    again = make_event(at=clock.now, key="evt_1")
    assert await persist_one(store, again) == PersistResult(first.id, duplicate=True)
    assert await store.get_event(again.id) is None
    assert [e.id for e in await store.list_events()] == [first.id]
    assert await store.depth() == {("a", "pending"): 1}


async def test_same_key_from_another_source_is_not_a_duplicate(inbox: Inbox, clock: FakeClock) -> None:
    stripe = make_event(at=clock.now, source="stripe", key="42")
    github = make_event(at=clock.now, source="github", key="42")
    assert await persist_one(inbox, stripe) == PersistResult(stripe.id, duplicate=False)
    assert await persist_one(inbox, github) == PersistResult(github.id, duplicate=False)


async def test_a_key_is_stored_again_once_the_retention_window_has_passed(
    inbox: Inbox, clock: FakeClock
) -> None:
    first = make_event(at=clock.now, key="evt_1")
    await persist_one(inbox, first)
    clock.advance(RETENTION + 1)
    later = make_event(at=clock.now, key="evt_1")
    assert await persist_one(inbox, later) == PersistResult(later.id, duplicate=False)
    # ...and the new sighting starts a new window.
    clock.advance(1)
    assert await persist_one(inbox, make_event(at=clock.now, key="evt_1")) == PersistResult(
        later.id, duplicate=True
    )


async def test_duplicates_within_one_batch_are_stored_once(inbox: Inbox, clock: FakeClock) -> None:
    a, b = make_event(at=clock.now, key="k"), make_event(at=clock.now, key="k")
    assert await inbox.persist([a, b], ["a"]) == [
        PersistResult(a.id, duplicate=False),
        PersistResult(a.id, duplicate=True),
    ]


async def test_concurrent_persists_of_one_key_store_it_exactly_once(store: Store, clock: FakeClock) -> None:
    events = [make_event(at=clock.now, key="evt_race") for _ in range(25)]
    results = await asyncio.gather(*(persist_one(store, e) for e in events))
    winners = [r for r in results if not r.duplicate]
    assert len(winners) == 1
    assert {r.event_id for r in results} == {winners[0].event_id}
    assert [e.id for e in await store.list_events()] == [winners[0].event_id]
    assert await store.depth() == {("a", "pending"): 1}


async def test_a_failing_persist_does_not_fail_the_ones_committed_with_it(
    store: Store, clock: FakeClock
) -> None:
    existing = make_event(at=clock.now)
    await persist_one(store, existing)
    # A fresh dedup key but an id already in `events`: the insert violates the primary key.
    clash = dataclasses.replace(make_event(at=clock.now, key="evt_clash"), id=existing.id)
    good = [make_event(at=clock.now) for _ in range(4)]
    batch = [good[0], good[1], clash, good[2], good[3]]
    results = await asyncio.gather(*(persist_one(store, e) for e in batch), return_exceptions=True)

    assert isinstance(results[2], StoreError)
    assert [results[i] for i in (0, 1, 3, 4)] == [PersistResult(e.id, duplicate=False) for e in good]
    assert {e.id for e in await store.list_events()} == {existing.id, *(e.id for e in good)}
    # The failed call kept nothing, not even its dedup key: the provider's retry gets in.
    retry = make_event(at=clock.now, key="evt_clash")
    assert await persist_one(store, retry) == PersistResult(retry.id, duplicate=False)


async def test_every_inbox_routes_the_same_way(inbox: Inbox, clock: FakeClock) -> None:
    """The routing policy lives in the `Inbox` base: every backend gets it."""
    assert await inbox.persist([], ["a"]) == []
    with pytest.raises(ValueError, match="2 routes for 3 events"):
        await inbox.persist([make_event(at=clock.now) for _ in range(3)], routes=[("a",), ("a",)])
    first, again = make_event(at=clock.now, key="k"), make_event(at=clock.now, key="k")
    assert await inbox.persist([first, again], routes=[("a",), ("b",)]) == [
        PersistResult(first.id, duplicate=False),
        PersistResult(first.id, duplicate=True),
    ]


async def test_a_closed_store_refuses_work(stores: StoreFactory, clock: FakeClock) -> None:
    store = await stores()
    await store.close()
    with pytest.raises(StoreError):
        await store.persist([make_event(at=clock.now)], ["a"])
    with pytest.raises(StoreError):
        await store.list_events()


# The delivery queue and the admin side: seeded through the inbox, observed through the admin
# side, on the backends claiming all three roles.

# -- the queue: claims and leases ----------------------------------------------------------


async def test_claims_are_leased_until_they_expire(store: Store, clock: FakeClock) -> None:
    first = make_event(at=clock.now)
    await persist_one(store, first)
    clock.advance(1)
    second = make_event(at=clock.now)
    await persist_one(store, second)

    claimed = await store.claim("a", 10)
    assert [(c.event, c.attempts) for c in claimed] == [(first, 1), (second, 1)]
    assert (await deliveries(store, first.id))["a"].state == "forwarding"
    assert await claim_ids(store) == []
    clock.advance(POLICY["lease_seconds"] - 1)
    assert await claim_ids(store) == []

    clock.advance(2)
    again = await store.claim("a", 10)
    assert sorted((c.event.id, c.attempts) for c in again) == sorted([(first.id, 2), (second.id, 2)])


async def test_claim_takes_the_oldest_due_first_up_to_the_limit_and_per_sink(
    store: Store, clock: FakeClock
) -> None:
    events = []
    for _ in range(3):
        events.append(make_event(at=clock.now))
        await persist_one(store, events[-1], ("a", "b"))
        clock.advance(1)
    assert await claim_ids(store, "a", limit=2) == [events[0].id, events[1].id]
    assert await claim_ids(store, "a", limit=2) == [events[2].id]
    assert await claim_ids(store, "b", limit=10) == [e.id for e in events]
    assert await claim_ids(store, "nowhere") == []


async def test_a_leased_persist_is_claimed_by_the_caller_until_the_lease_ends(
    store: Store, clock: FakeClock
) -> None:
    event = make_event(at=clock.now)
    [result] = await store.persist([event], ["a", "b"], leased=True)
    assert not result.duplicate
    for record in (await deliveries(store, event.id)).values():
        assert (record.state, record.attempts) == ("forwarding", 1)
    assert await claim_ids(store, "a") == []
    [duplicate] = await store.persist([make_event(at=clock.now, key=event.dedup_key)], ["a"], leased=True)
    assert duplicate == PersistResult(event.id, duplicate=True)
    clock.advance(POLICY["lease_seconds"] + 1)
    [again] = await store.claim("a", 10)
    assert (again.event.id, again.attempts) == (event.id, 2)


async def test_release_claims_makes_every_lease_due_now(store: Store, clock: FakeClock) -> None:
    assert await store.release_claims() == 0
    events = [make_event(at=clock.now) for _ in range(2)]
    await store.persist(events, ["a"])
    await store.claim("a", 10)
    assert await store.release_claims() == 2
    again = await store.claim("a", 10)
    assert sorted((c.event.id, c.attempts) for c in again) == sorted((e.id, 2) for e in events)


# -- the queue: settlements ----------------------------------------------------------------


async def test_delivered_is_final(store: Store, clock: FakeClock) -> None:
    event = make_event(at=clock.now)
    await persist_one(store, event, ("a", "b"))
    claimed = await store.claim("a", 10)
    clock.advance(3)
    [transition] = await store.settle("a", claimed, [Settlement(event.id, "delivered")])
    assert (transition.state, transition.cause) == ("delivered", None)
    record = (await deliveries(store, event.id))["a"]
    assert (record.state, record.attempts, record.updated_at) == ("delivered", 1, clock.now)
    clock.advance(10 * POLICY["lease_seconds"])
    assert await claim_ids(store, "a") == []
    assert await store.depth() == {("b", "pending"): 1}


async def test_retry_is_scheduled_with_full_jitter_backoff(store: Store, clock: FakeClock) -> None:
    expected = random.Random(SEED)  # noqa: S311 - the store's jitter, replayed
    event = make_event(at=clock.now)
    await persist_one(store, event)

    for attempt in (1, 2, 3):
        claimed = await store.claim("a", 10)
        assert [c.attempts for c in claimed] == [attempt]
        await store.settle("a", claimed, [Settlement(event.id, "retry", "timeout")])
        ceiling = POLICY["base_delay_seconds"] * 2 ** (attempt - 1)
        delay = expected.uniform(0, ceiling)
        record = (await deliveries(store, event.id))["a"]
        assert (record.state, record.last_cause, record.attempts) == ("retry", "timeout", attempt)
        assert record.due_at == clock.now + delay
        assert clock.now <= record.due_at <= clock.now + ceiling
        # Not claimable before it is due, claimable once it is.
        clock.now = record.due_at - 0.001
        assert await claim_ids(store) == []
        clock.now = record.due_at


async def test_a_retry_is_claimed_before_first_attempts_that_became_due_after_it(
    store: Store, clock: FakeClock
) -> None:
    """A backlog of new events never starves a retry: a claim takes what is due first."""
    retried = make_event(at=clock.now)
    await persist_one(store, retried)
    await settle_all(store, await store.claim("a", 10), "retry", "http_503")
    due = (await deliveries(store, retried.id))["a"].due_at
    clock.now = due + 1
    backlog = [make_event(at=clock.now + i / 1000, key=f"backlog-{i}") for i in range(300)]
    await store.persist(backlog, ["a"])
    clock.advance(60)
    assert (await claim_ids(store, limit=10))[0] == retried.id


async def test_backoff_never_exceeds_the_full_jitter_ceiling(store: Store) -> None:
    for attempts in range(1, 40):
        ceiling = min(POLICY["max_delay_seconds"], POLICY["base_delay_seconds"] * 2 ** (attempts - 1))
        for _ in range(20):
            assert 0 <= store.backoff(attempts) <= ceiling


async def test_backoff_stays_bounded_for_any_number_of_attempts(store: Store) -> None:
    # `max_attempts` has no upper bound, so neither has the attempt count.
    assert 0 <= store.backoff(5_000) <= POLICY["max_delay_seconds"]


async def test_retry_after_is_honoured_up_to_the_max_delay(store: Store, clock: FakeClock) -> None:
    soon, late = make_event(at=clock.now), make_event(at=clock.now)
    await store.persist([soon, late], ["a"])
    claimed = await store.claim("a", 10)
    await store.settle(
        "a",
        claimed,
        [
            Settlement(soon.id, "retry", "rate_limited", retry_after=300),
            Settlement(late.id, "retry", "rate_limited", retry_after=100_000),
        ],
    )
    assert (await deliveries(store, soon.id))["a"].due_at == clock.now + 300
    assert (await deliveries(store, late.id))["a"].due_at == clock.now + POLICY["max_delay_seconds"]


async def test_an_uncharged_retry_gives_its_attempt_back(stores: StoreFactory, clock: FakeClock) -> None:
    store = await stores(max_attempts=2)
    event = make_event(at=clock.now)
    await persist_one(store, event)
    for _ in range(5):  # far more failures than max_attempts, none of them the event's fault
        [claimed] = await store.claim("a", 10)
        assert claimed.attempts == 1
        [transition] = await store.settle(
            "a", [claimed], [Settlement(event.id, "retry", "AccessDenied", charge=False)]
        )
        assert transition.state == "retry"
        assert transition.due_at - clock.now <= POLICY["base_delay_seconds"] * 2**5
        clock.advance(POLICY["max_delay_seconds"] + 1)
    record = (await deliveries(store, event.id))["a"]
    assert (record.state, record.attempts, record.last_cause) == ("retry", 0, "AccessDenied")


async def test_permanent_failure_is_dead_lettered_with_its_cause(store: Store, clock: FakeClock) -> None:
    event = make_event(at=clock.now)
    await persist_one(store, event)
    claimed = await store.claim("a", 10)
    clock.advance(2)
    [transition] = await store.settle("a", claimed, [Settlement(event.id, "permanent", "rejected: 400")])
    assert (transition.state, transition.cause) == ("dead", "rejected: 400")
    assert await store.list_dead() == [
        DeadLetter(event.id, "stripe", "invoice.paid", "a", 1, "rejected: 400", event.received_at, clock.now)
    ]
    clock.advance(10 * POLICY["max_delay_seconds"])
    assert await claim_ids(store) == []
    assert await store.depth() == {("a", "dead"): 1}


async def test_out_of_attempts_is_dead_lettered(stores: StoreFactory, clock: FakeClock) -> None:
    store = await stores(max_attempts=2)
    event = make_event(at=clock.now)
    await persist_one(store, event)
    claimed = await store.claim("a", 10)
    [first] = await store.settle("a", claimed, [Settlement(event.id, "retry", "timeout")])
    assert first.state == "retry"
    clock.advance(POLICY["max_delay_seconds"])
    claimed = await store.claim("a", 10)
    assert [c.attempts for c in claimed] == [2]
    [second] = await store.settle("a", claimed, [Settlement(event.id, "retry", "timeout")])
    assert (second.state, second.cause) == ("dead", "max_attempts: timeout")
    [dead] = await store.list_dead()
    assert (dead.event_id, dead.attempts, dead.last_cause) == (event.id, 2, "max_attempts: timeout")


async def test_too_old_to_retry_is_dead_lettered(stores: StoreFactory, clock: FakeClock) -> None:
    store = await stores(max_age_seconds=100)
    young, old = make_event(at=clock.now), make_event(at=clock.now)
    await store.persist([young, old], ["a"])
    clock.advance(50)
    claimed = await store.claim("a", 10)
    transitions = await store.settle(
        "a",
        claimed,
        [
            Settlement(young.id, "retry", "timeout", retry_after=40),  # due at age 90
            Settlement(old.id, "retry", "timeout", retry_after=60),  # would be due at age 110
        ],
    )
    assert [(t.event_id, t.state, t.cause) for t in transitions] == [
        (young.id, "retry", "timeout"),
        (old.id, "dead", "max_age: timeout"),
    ]
    assert [d.event_id for d in await store.list_dead()] == [old.id]


async def test_dead_letters_are_filtered_and_paged_newest_first(store: Store, clock: FakeClock) -> None:
    stripe = [make_event(at=clock.now) for _ in range(3)]
    github = make_event(at=clock.now, source="github")
    await store.persist([*stripe, github], ["a", "b"])
    started = clock.now
    for sink in ("a", "b"):
        clock.advance(10)
        cause = "http_500: boom" if sink == "a" else "rejected: 400_bad%"
        await settle_all(store, await store.claim(sink, 10), "permanent", cause, sink=sink)
    every = await store.list_dead()
    assert len(every) == 8
    assert [d.sink for d in every] == ["b"] * 4 + ["a"] * 4  # the newest failures first
    assert {d.event_id for d in await store.list_dead(source="github")} == {github.id}
    assert {d.sink for d in await store.list_dead(cause="http_5")} == {"a"}
    assert len(await store.list_dead(cause="rejected: 400_bad%")) == 4  # LIKE's wildcards are literal
    assert await store.list_dead(cause="rejected: 400xbad") == []
    assert {d.sink for d in await store.list_dead(since=started + 15)} == {"b"}
    assert {d.sink for d in await store.list_dead(until=started + 15)} == {"a"}
    pages: list[list[tuple[str, str]]] = []
    before = None
    while True:
        page = await store.list_dead(limit=3, before=before)
        if not page:
            break
        pages.append([(d.event_id, d.sink) for d in page])
        last = page[-1]
        before = (last.updated_at, last.event_id, last.sink)
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [pair for p in pages for pair in p] == [(d.event_id, d.sink) for d in every]


# -- the admin side: operations ------------------------------------------------------------


async def test_redrive_requeues_dead_deliveries_with_a_fresh_budget(store: Store, clock: FakeClock) -> None:
    events = [make_event(at=clock.now) for _ in range(3)]
    await store.persist(events, ["a", "b"])
    for sink in ("a", "b"):
        await settle_all(store, await store.claim(sink, 10), "permanent", "rejected", sink=sink)
    assert len(await store.list_dead()) == 6
    e1, e2, e3 = events

    assert await store.redrive(["no-such-event"]) == 0
    assert await store.redrive([e1.id], sink="a") == 1
    assert await store.redrive([e1.id]) == 1  # what is left of e1: sink b
    assert [(c.event.id, c.attempts) for c in await store.claim("a", 10)] == [(e1.id, 1)]
    assert [(c.event.id, c.attempts) for c in await store.claim("b", 10)] == [(e1.id, 1)]
    assert (await deliveries(store, e1.id))["a"].state == "forwarding"

    assert await store.redrive(sink="b") == 2
    assert sorted(await claim_ids(store, "b")) == sorted([e2.id, e3.id])
    assert {(d.event_id, d.sink) for d in await store.list_dead()} == {(e2.id, "a"), (e3.id, "a")}

    assert await store.redrive() == 2
    assert await store.list_dead() == []
    assert await store.redrive() == 0  # nothing dead: nothing moves


async def test_replay_requeues_stored_events_in_a_time_range(store: Store, clock: FakeClock) -> None:
    start = clock.now
    events = []
    for _ in range(3):
        events.append(make_event(at=clock.now))
        await persist_one(store, events[-1])
        clock.advance(100)
    await settle_all(store, await store.claim("a", 10), "delivered")
    assert await store.depth() == {}

    progress: list[tuple[int, int]] = []
    count = await store.replay(
        ["a"], since=start + 100, until=start + 200, progress=lambda d, t: progress.append((d, t))
    )
    assert count == 1
    assert progress == [(1, 1)]
    assert [(c.event.id, c.attempts) for c in await store.claim("a", 10)] == [(events[1].id, 1)]

    # A sink the events never went to gets a delivery record of its own.
    assert await store.replay(["c"], since=start) == 3
    assert sorted(await claim_ids(store, "c")) == sorted(e.id for e in events)


async def test_a_late_answer_does_not_overwrite_a_replay_or_a_newer_claim(
    store: Store, clock: FakeClock
) -> None:
    event = make_event(at=clock.now)
    await persist_one(store, event)
    first = await store.claim("a", 10)
    assert await store.replay(["a"], since=clock.now - 1) == 1  # requeued while in flight
    await settle_all(store, first, "delivered")  # the answer to the old claim arrives late
    assert (await deliveries(store, event.id))["a"].state == "pending"

    second = await store.claim("a", 10)
    clock.advance(POLICY["lease_seconds"] + 1)  # the lease expires; someone claims again
    third = await store.claim("a", 10)
    await settle_all(store, second, "permanent", "too late")
    record = (await deliveries(store, event.id))["a"]
    assert (record.state, record.attempts) == ("forwarding", third[0].attempts)
    await settle_all(store, third, "delivered")
    assert (await deliveries(store, event.id))["a"].state == "delivered"


async def test_replay_filters_by_source_and_reports_progress_per_chunk(
    store: Store, clock: FakeClock
) -> None:
    stripe = [make_event(at=clock.now, source="stripe") for _ in range(501)]
    github = make_event(at=clock.now, source="github")
    await store.persist([*stripe, github], [])
    progress: list[tuple[int, int]] = []
    assert await store.replay(["a"], source="stripe", progress=lambda d, t: progress.append((d, t))) == 501
    assert progress == [(500, 501), (501, 501)]
    assert (await store.depth())[("a", "pending")] == 501
    assert await deliveries(store, github.id) == {}


async def test_purge_forgets_old_delivered_events_and_keeps_the_rest(
    stores: StoreFactory, clock: FakeClock
) -> None:
    store = await stores(retention=1000)
    delivered, dead, queued = (make_event(at=clock.now) for _ in range(3))
    await store.persist([delivered, dead, queued], ["a"])
    claimed = {c.event.id: c for c in await store.claim("a", 10)}
    await store.settle(
        "a",
        list(claimed.values()),
        [
            Settlement(delivered.id, "delivered"),
            Settlement(dead.id, "permanent", "rejected"),
            Settlement(queued.id, "retry", "timeout", retry_after=600),
        ],
    )
    clock.advance(500)
    recent = make_event(at=clock.now)
    await persist_one(store, recent)
    await settle_all(store, await store.claim("a", 10), "delivered")  # `queued` is not due yet
    clock.advance(1000)  # `recent` is exactly at the edge of the window: kept

    assert await store.purge() == 1
    assert await store.get_event(delivered.id) is None
    for kept in (dead, queued, recent):
        assert await store.get_event(kept.id) is not None
    assert [d.event_id for d in await store.list_dead()] == [dead.id]
    assert await store.purge() == 0
    # The purged event's key may be used again.
    assert (await persist_one(store, make_event(at=clock.now, key=delivered.dedup_key))).duplicate is False


async def test_sqlite_purge_deletes_the_dedup_keys_of_purged_events(
    sqlite_url: str, clock: FakeClock
) -> None:
    factory = StoreFactory({"url": sqlite_url}, clock)
    store = await factory(retention=1000)
    try:
        old, dead = make_event(at=clock.now, key="old"), make_event(at=clock.now, key="dead")
        await store.persist([old, dead], ["a"])
        claimed = await store.claim("a", 10)
        await store.settle(
            "a", claimed, [Settlement(old.id, "delivered"), Settlement(dead.id, "permanent", "x")]
        )
        clock.advance(2000)
        assert await store.purge() == 1
    finally:
        await store.close()
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        keys = conn.execute("SELECT dedup_key FROM dedup ORDER BY dedup_key").fetchall()
    conn.close()
    assert keys == [("dead",)]


async def test_routes_give_each_event_its_own_sinks(store: Store, clock: FakeClock) -> None:
    first, second, third = (make_event(at=clock.now) for _ in range(3))
    results = await store.persist([first, second, third], routes=[("a", "b"), ("b",), ()])
    assert [r.duplicate for r in results] == [False, False, False]
    assert sorted(await deliveries(store, first.id)) == ["a", "b"]
    assert sorted(await deliveries(store, second.id)) == ["b"]
    assert await deliveries(store, third.id) == {}  # stored (archived), sent nowhere
    assert sorted(await claim_ids(store, "b")) == sorted([first.id, second.id])
    with pytest.raises(ValueError, match="2 routes for 3 events"):
        await store.persist([make_event(at=clock.now) for _ in range(3)], routes=[("a",), ("a",)])


async def test_a_duplicate_in_a_routed_batch_keeps_the_first_route(store: Store, clock: FakeClock) -> None:
    first, again = make_event(at=clock.now, key="k"), make_event(at=clock.now, key="k")
    results = await store.persist([first, again], routes=[("a",), ("b",)])
    assert results == [PersistResult(first.id, duplicate=False), PersistResult(first.id, duplicate=True)]
    assert sorted(await deliveries(store, first.id)) == ["a"]


async def test_replay_routes_each_event_and_names_the_replay(store: Store, clock: FakeClock) -> None:
    events = [make_event(at=clock.now, detail_type=t) for t in ("invoice.paid", "charge.failed", "x")]
    await store.persist(events, ["a"])
    await settle_all(store, await store.claim("a", 10), "delivered")

    def route(event: Event) -> list[str]:
        return {"invoice.paid": ["t1", "t2"], "charge.failed": ["t2"]}.get(event.detail_type, [])

    assert await store.replay(route=route, name="fix-42", since=clock.now - 1) == 3
    assert await store.depth() == {("t1", "pending"): 1, ("t2", "pending"): 2}
    claimed = await store.claim("t2", 10)
    assert sorted(c.event.id for c in claimed) == sorted([events[0].id, events[1].id])
    assert {c.event.replay_name for c in claimed} == {"fix-42"}
    assert (await deliveries(store, events[0].id))["a"].state == "delivered"  # not replayed there
    # A plain replay carries no name; the record forgets the old one.
    await settle_all(store, claimed, "delivered", sink="t2")
    assert await store.replay(["t2"], since=clock.now - 1) == 3
    assert {c.event.replay_name for c in await store.claim("t2", 10)} == {None}


async def test_a_replay_of_a_purged_event_creates_nothing(stores: StoreFactory, clock: FakeClock) -> None:
    store = await stores(retention=10)
    event = make_event(at=clock.now)
    await persist_one(store, event)
    await settle_all(store, await store.claim("a", 10), "delivered")
    clock.advance(20)
    assert await store.purge() == 1
    await store._requeue([(event.id, "a")], clock.now, None)  # raced with the purge
    assert await store.depth() == {}


async def test_archived_events_outlive_the_dedup_window_until_keep_until(
    stores: StoreFactory, clock: FakeClock
) -> None:
    store = await stores(retention=100)
    kept = dataclasses.replace(make_event(at=clock.now), keep_until=clock.now + 1000)
    plain = make_event(at=clock.now)
    await store.persist([kept, plain], ["a"])
    await settle_all(store, await store.claim("a", 10), "delivered")
    clock.advance(500)
    assert await store.purge() == 1
    assert await store.get_event(plain.id) is None
    found = await store.get_event(kept.id)
    assert found is not None
    assert found[0] == kept
    assert (await persist_one(store, make_event(at=clock.now, key=kept.dedup_key))).duplicate is False
    clock.advance(501)
    assert await store.purge() == 1  # now the archived one goes too (the new one is queued)
    assert await store.get_event(kept.id) is None


async def test_a_sink_with_its_own_retry_policy(stores: StoreFactory, clock: FakeClock) -> None:
    store = await stores(max_attempts=5)
    store.policies["strict"] = RetryPolicy(max_attempts=1, max_age_seconds=86_400)
    event = make_event(at=clock.now)
    await persist_one(store, event, ("a", "strict"))
    for sink in ("a", "strict"):
        await settle_all(store, await store.claim(sink, 10), "retry", "http_503", sink=sink)
    records = await deliveries(store, event.id)
    assert (records["a"].state, records["strict"].state) == ("retry", "dead")
    assert records["strict"].last_cause == "max_attempts: http_503"
    assert store.policy("a") == RetryPolicy(5, 86_400)


# -- the admin side: queries ---------------------------------------------------------------


async def test_list_events_newest_first_with_filters(store: Store, clock: FakeClock) -> None:
    start = clock.now
    first = make_event(at=clock.now, source="stripe")
    clock.advance(1)
    second = make_event(at=clock.now, source="github", detail_type="push")
    clock.advance(1)
    third = make_event(at=clock.now, source="stripe")
    for event in (first, second, third):
        await persist_one(store, event)

    summaries = await store.list_events()
    assert [s.id for s in summaries] == [third.id, second.id, first.id]
    summary = summaries[1]
    assert (summary.source, summary.detail_type, summary.dedup_key, summary.received_at) == (
        "github",
        "push",
        second.dedup_key,
        second.received_at,
    )
    assert [(d.sink, d.state) for d in summary.deliveries] == [("a", "pending")]
    assert [s.id for s in await store.list_events(source="stripe")] == [third.id, first.id]
    assert [s.id for s in await store.list_events(since=start + 1)] == [third.id, second.id]
    assert [s.id for s in await store.list_events(limit=1)] == [third.id]


async def test_list_events_filters_by_type_provider_id_and_delivery_state(
    store: Store, clock: FakeClock
) -> None:
    paid = make_event(at=clock.now, key="evt_paid")
    clock.advance(1)
    push = make_event(at=clock.now, source="github", detail_type="push", key="evt_paid")
    clock.advance(1)
    failed = make_event(at=clock.now, detail_type="invoice.payment_failed")
    await store.persist([paid, push, failed], ["a", "b"])
    [claimed] = [c for c in await store.claim("a", 10) if c.event.id == failed.id]
    await settle_all(store, [claimed], "permanent", "rejected")

    async def ids(**filters: Any) -> list[str]:
        return [s.id for s in await store.list_events(**filters)]

    assert await ids(detail_type="push") == [push.id]
    assert await ids(dedup_key="evt_paid") == [push.id, paid.id]
    assert await ids(dedup_key="evt_paid", source="stripe") == [paid.id]
    assert await ids(state="dead") == [failed.id]
    assert await ids(state="dead", sink="a") == [failed.id]
    assert await ids(state="dead", sink="b") == []
    assert await ids(sink="b") == [failed.id, push.id, paid.id]
    assert await ids(sink="c") == []
    assert await ids(state="forwarding", sink="a") == [push.id, paid.id]
    assert await ids(id_prefix=paid.id) == [paid.id]
    assert await ids(id_prefix=paid.id[:8]) == [failed.id, push.id, paid.id]  # the same second
    assert await ids(id_prefix="f") == []
    assert await ids(detail_type="push", state="dead") == []


async def test_find_events_by_id_delivery_id_provider_id_or_id_prefix(store: Store, clock: FakeClock) -> None:
    first = make_event(at=clock.now, key="evt_A")
    second = make_event(at=clock.now, key="evt_B")
    await store.persist([first, second], ("archive", "bus/paid/hook"))
    clock.advance(RETENTION + 1)
    again = make_event(at=clock.now, key="evt_A")  # the key came back after its window
    await persist_one(store, again)

    async def ids(reference: str, **limit: int) -> list[str]:
        return [s.id for s in await store.find_events(reference, **limit)]

    assert await ids(second.id) == [second.id]
    assert await ids(second.id.upper()) == [second.id]
    assert await ids(f"{second.id}/archive") == [second.id]
    assert await ids(f"{second.id}/bus/paid/hook") == [second.id]  # a sink name with slashes
    assert await ids(f"{second.id}/elsewhere") == []
    assert await ids("evt_B") == [second.id]
    assert await ids("evt_A") == [again.id, first.id]
    assert await ids(again.id[:10]) == [again.id]  # unique: a later millisecond
    assert set(await ids(first.id[:8])) == {first.id, second.id}  # ambiguous: candidates
    assert len(await ids(first.id[:8], limit=1)) == 1
    assert await ids("0000") == []
    assert await ids("evt_C") == []
    assert await ids("  ") == []
    [found] = await store.find_events(f" {second.id} ")
    assert (found.dedup_key, [d.sink for d in found.deliveries]) == ("evt_B", ["archive", "bus/paid/hook"])


async def test_get_event_of_an_unknown_id_is_none(store: Store) -> None:
    assert await store.get_event("0190b1a2-0000-7000-8000-000000000000") is None


async def test_list_dead_filters_by_sink_newest_first(store: Store, clock: FakeClock) -> None:
    one, two = make_event(at=clock.now), make_event(at=clock.now)
    await store.persist([one, two], ["a", "b"])
    await settle_all(store, [c for c in await store.claim("a", 10) if c.event.id == one.id], "permanent", "x")
    clock.advance(1)
    await settle_all(store, await store.claim("b", 10), "permanent", "y", sink="b")
    assert [(d.event_id, d.sink) for d in await store.list_dead(sink="a")] == [(one.id, "a")]
    assert {(d.event_id, d.sink) for d in await store.list_dead(sink="b")} == {(one.id, "b"), (two.id, "b")}
    assert [d.sink for d in await store.list_dead()] == ["b", "b", "a"]
    assert len(await store.list_dead(limit=2)) == 2


async def test_depth_counts_queued_and_dead_deliveries_per_sink(store: Store, clock: FakeClock) -> None:
    events = [make_event(at=clock.now) for _ in range(5)]
    await store.persist(events, ["a", "b"])
    claimed = await store.claim("a", 4)
    await store.settle(
        "a",
        claimed[:3],
        [
            Settlement(claimed[0].event.id, "delivered"),
            Settlement(claimed[1].event.id, "retry", "timeout"),
            Settlement(claimed[2].event.id, "permanent", "rejected"),
        ],
    )
    assert await store.depth() == {
        ("a", "pending"): 1,
        ("a", "forwarding"): 1,
        ("a", "retry"): 1,
        ("a", "dead"): 1,
        ("b", "pending"): 5,
    }


async def test_oldest_pending_is_the_age_of_each_sinks_oldest_undelivered_event(
    store: Store, clock: FakeClock
) -> None:
    assert await store.oldest_pending() == {}
    first = make_event(at=clock.now)
    await store.persist([first], ["a", "b"])
    clock.advance(30)
    second = make_event(at=clock.now)
    await store.persist([second], ["a", "b", "c"])
    clock.advance(15)
    assert await store.oldest_pending() == {"a": 45.0, "b": 45.0, "c": 15.0}

    # Delivered or dead-lettered: no longer waiting. In flight or waiting for a retry: still.
    [claimed_a] = await store.claim("a", 1)
    await settle_all(store, [claimed_a], "delivered")
    [claimed_b] = await store.claim("b", 1)
    await settle_all(store, [claimed_b], "retry", "timeout", sink="b")
    [claimed_c] = await store.claim("c", 1)
    await settle_all(store, [claimed_c], "permanent", "rejected", sink="c")
    await store.claim("a", 1)
    assert (claimed_a.event.id, claimed_b.event.id) == (first.id, first.id)
    clock.advance(5)
    assert await store.oldest_pending() == {"a": 20.0, "b": 50.0}


# -- durability ---------------------------------------------------------------------------


async def test_events_and_states_survive_close_and_reopen(stores: StoreFactory, clock: FakeClock) -> None:
    store = await stores()
    delivered, dead, pending, in_flight = (make_event(at=clock.now) for _ in range(4))
    await store.persist([delivered, dead], ["a"])
    await store.settle(
        "a",
        await store.claim("a", 10),
        [Settlement(delivered.id, "delivered"), Settlement(dead.id, "permanent", "rejected")],
    )
    await store.persist([pending], ["a"])
    await store.persist([in_flight], ["b"])
    await store.claim("b", 10)
    await store.close()

    reopened = await stores()
    found = await reopened.get_event(delivered.id)
    assert found is not None
    assert found[0] == delivered
    assert (await deliveries(reopened, delivered.id))["a"].state == "delivered"
    assert (await deliveries(reopened, pending.id))["a"].state == "pending"
    assert (await deliveries(reopened, in_flight.id))["b"].state == "forwarding"
    assert [(d.event_id, d.last_cause) for d in await reopened.list_dead()] == [(dead.id, "rejected")]
    # Dedup survives too, and so do leases (released on start by a single node).
    assert await persist_one(reopened, make_event(at=clock.now, key=delivered.dedup_key)) == PersistResult(
        delivered.id, duplicate=True
    )
    assert await reopened.release_claims() == 1
    assert await claim_ids(reopened, "b") == [in_flight.id]


async def test_an_enriched_entry_is_stored_once_and_claimed_from_then_on(
    store: Store, clock: FakeClock
) -> None:
    event = make_event(at=clock.now)
    await persist_one(store, event, ("a", "b"))
    [first] = await store.claim("a", 10)
    assert (first.event.entry, first.event.enriched_at) == (event.entry, None)

    clock.advance(5)
    assert await store.save_enriched(event.id, '{"full":1}') == '{"full":1}'
    # The first enrichment stored wins: a late second one gets it back, and changes nothing.
    assert await store.save_enriched(event.id, '{"full":2}') == '{"full":1}'
    [other] = await store.claim("b", 10)
    assert (other.event.entry, other.event.enriched_at) == ('{"full":1}', clock.now)
    found = await store.get_event(event.id)
    assert found is not None
    assert found[0].entry == '{"full":1}'
    # An event that is gone (purged meanwhile) takes the entry as given, and stores nothing.
    assert await store.save_enriched("0" * 36, '{"full":3}') == '{"full":3}'


async def test_opening_without_create_refuses_a_store_never_created(
    stores: StoreFactory, tmp_path: Path, clock: FakeClock
) -> None:
    """What a command that only reads does: it never creates the database it reads."""
    settings = StoreSettings.model_validate(stores.table)
    reader = open_store(settings, DispatcherSettings.model_validate(POLICY), clock)
    with pytest.raises(StoreError, match=r"^no store (at|in) ") as refused:
        await reader.open(create=False)
    if not settings.is_postgres:
        assert str(tmp_path / "hookgate.db") in str(refused.value)  # the error names the file
        assert not any(tmp_path.glob("hookgate.db*"))  # noqa: ASYNC240 - a test's look at its directory
    event = make_event(at=clock.now)
    await persist_one(await stores(), event)  # a store that exists...
    reader = open_store(settings, DispatcherSettings.model_validate(POLICY), clock)
    await reader.open(create=False)  # ...is opened as usual
    try:
        assert [e.id for e in await reader.list_events()] == [event.id]
    finally:
        await reader.close()


async def test_a_version_1_sqlite_database_is_migrated_in_place(sqlite_url: str, clock: FakeClock) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # the schema hookgate 0.1 created
        conn.executescript(
            """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '1');
            CREATE TABLE events (id TEXT PRIMARY KEY, source TEXT NOT NULL, dedup_key TEXT NOT NULL,
                detail_type TEXT NOT NULL, received_at REAL NOT NULL, entry TEXT NOT NULL);
            CREATE TABLE dedup (source TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL,
                seen_at REAL NOT NULL, PRIMARY KEY (source, dedup_key)) WITHOUT ROWID;
            CREATE TABLE deliveries (event_id TEXT NOT NULL, sink TEXT NOT NULL, state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, due_at REAL NOT NULL, last_cause TEXT,
                updated_at REAL NOT NULL, PRIMARY KEY (event_id, sink)) WITHOUT ROWID;
            """
        )
        old = make_event(at=clock.now)
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
            (old.id, old.source, old.dedup_key, old.detail_type, old.received_at, old.entry),
        )
        conn.execute("INSERT INTO deliveries VALUES (?, 'a', 'pending', 0, ?, NULL, ?)", (old.id, 0, 0))
    conn.close()
    store = await StoreFactory({"url": sqlite_url}, clock)()
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        [claimed] = await store.claim("a", 10)
        assert claimed.event == old
        assert [s.id for s in await store.list_events(dedup_key=old.dedup_key)] == [old.id]
    finally:
        await store.close()
