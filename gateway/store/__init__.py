"""The durable inbox/outbox.

`Store` owns the policy: dedup, the delivery state machine and the retry schedule. A
backend implements a few primitives under it: `SQLiteStore` (one process, one file) or
`PostgresStore` (any number of replicas sharing one database).

Each (event, sink) pair has one delivery record moving through:

    pending ──claim──▶ forwarding ──▶ delivered
                          │  ▲   └──▶ dead            (permanent failure, or out of budget)
                          ▼  │claim
                        retry (due_at = now + backoff)

A claim is a lease: a `forwarding` record whose lease has expired is claimed again, so a
worker that died mid-delivery loses nothing. Dedup is one conditional write per event
whose conflict path returns the id already stored.

Events are kept after delivery until the dedup window ends, or until their own
`keep_until` (an archive's retention), whichever is later. A replay queues stored events
again, optionally with a `replay_name` that the claimed events carry.

Each sink may have its own `RetryPolicy` (a router's targets do); the others follow the
dispatcher's.

A single-node store (`single_node`) owns every lease in its database, so it releases them
all when it starts: nobody else can be holding them. A shared store must not: the leases
of other replicas are live, and only expire.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from gateway._extras import require
from gateway.config import DispatcherSettings, StoreSettings
from gateway.events import Event, id_floor

__all__ = [
    "DeadLetter",
    "DeliveryRecord",
    "EventSummary",
    "PersistResult",
    "RetryPolicy",
    "Settlement",
    "Store",
    "event_filters",
    "open_store",
]

State = Literal["pending", "forwarding", "retry", "delivered", "dead"]
STATES: tuple[State, ...] = ("pending", "forwarding", "retry", "delivered", "dead")
#: The backoff level (as if this many attempts had failed) of retries that are not charged.
UNCHARGED_BACKOFF_LEVEL = 6
#: The states `Store.depth` counts: what is still queued, and what is dead-lettered.
QUEUE_STATES: tuple[State, ...] = ("pending", "forwarding", "retry", "dead")


@dataclass(frozen=True, slots=True)
class PersistResult:
    event_id: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long a sink's deliveries are retried before they are dead-lettered."""

    max_attempts: int
    max_age_seconds: float


@dataclass(frozen=True, slots=True)
class Claimed:
    event: Event
    attempts: int  # including the attempt being made now


@dataclass(frozen=True, slots=True)
class Settlement:
    """What the dispatcher learned about one claimed delivery."""

    event_id: str
    outcome: Literal["delivered", "retry", "permanent"]
    cause: str | None = None
    retry_after: float | None = None
    #: False: a retry that does not count against `max_attempts` (`max_age` still applies).
    charge: bool = True


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    sink: str
    state: State
    attempts: int
    due_at: float
    last_cause: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class EventSummary:
    id: str
    source: str
    detail_type: str
    dedup_key: str
    received_at: float
    deliveries: tuple[DeliveryRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_id: str
    source: str
    detail_type: str
    sink: str
    attempts: int
    last_cause: str | None
    received_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class _Transition:
    """A settled claim. It applies only while the claim is still the one recorded (same
    state and attempt count): a claim that expired and was taken again, or an event that
    was requeued meanwhile, is not overwritten by a late answer."""

    event_id: str
    attempts: int
    state: State
    due_at: float
    cause: str | None
    #: An uncharged retry gives its attempt back, so it never counts against max_attempts.
    refund: bool = False


@dataclass
class Store(abc.ABC):
    """Inbox/outbox policy over a backend's primitives. All times are clock seconds."""

    settings: StoreSettings
    dispatch: DispatcherSettings
    clock: Callable[[], float]
    rng: random.Random = field(default_factory=random.Random)
    #: Per-sink retry policies; a sink without one follows `dispatch`.
    policies: dict[str, RetryPolicy] = field(default_factory=dict)
    #: True: this process is the only user of the database, so every lease found on start
    #: is left over from its own previous run. False: replicas share it.
    single_node: ClassVar[bool] = True

    # -- ingest -------------------------------------------------------------------------
    async def persist(
        self,
        events: Sequence[Event],
        sinks: Sequence[str] = (),
        *,
        routes: Sequence[Sequence[str]] | None = None,
        leased: bool = False,
    ) -> list[PersistResult]:
        """Dedup and durably commit `events`, each with a delivery record per sink: the
        same `sinks` for every event, or per event its own `routes[i]`.

        Returns only after the commit is durable. A (source, dedup key) seen within the
        retention window yields `duplicate=True` and the id stored the first time.
        With `leased`, the new deliveries are stored as already claimed by the caller
        (`forwarding`, first attempt, usual lease): the caller hands them to its sinks
        straight from memory, and if it dies they are claimed again when the lease ends.
        """
        if not events:
            return []
        if routes is None:
            every = tuple(dict.fromkeys(sinks))
            per_event = [every] * len(events)
        else:
            if len(routes) != len(events):
                raise ValueError(f"{len(routes)} routes for {len(events)} events")
            per_event = [tuple(dict.fromkeys(route)) for route in routes]
        lease = self.dispatch.lease_seconds if leased else None
        return await self._persist(
            events, per_event, self.clock(), self.settings.dedup_retention_seconds, lease
        )

    # -- dispatch -----------------------------------------------------------------------
    async def claim(self, sink: str, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries of `sink` (oldest due first)."""
        return await self._claim(sink, limit, self.clock(), self.dispatch.lease_seconds)

    async def settle(
        self, sink: str, claimed: Sequence[Claimed], results: Sequence[Settlement]
    ) -> list[_Transition]:
        """Apply the state machine to what a delivery attempt reported."""
        now = self.clock()
        by_id = {c.event.id: c for c in claimed}
        transitions = []
        for result in results:
            item = by_id[result.event_id]
            transitions.append(self._transition(sink, item, result, now))
        await self._apply(sink, transitions, now)
        return transitions

    def __post_init__(self) -> None:
        """A backend's own state, set up once the settings are in place."""

    def policy(self, sink: str) -> RetryPolicy:
        """The retry policy of `sink`'s deliveries."""
        found = self.policies.get(sink)
        if found is not None:
            return found
        return RetryPolicy(self.dispatch.max_attempts, self.dispatch.max_age_seconds)

    def _transition(self, sink: str, item: Claimed, result: Settlement, now: float) -> _Transition:
        if result.outcome == "delivered":
            return _Transition(item.event.id, item.attempts, "delivered", now, None)
        if result.outcome == "permanent":
            return _Transition(item.event.id, item.attempts, "dead", now, result.cause)
        policy = self.policy(sink)
        if result.charge and item.attempts >= policy.max_attempts:
            return _Transition(item.event.id, item.attempts, "dead", now, f"max_attempts: {result.cause}")
        # An uncharged retry keeps its attempt count, so it backs off from a floor instead of
        # hammering a sink whose credentials or permissions are broken.
        backoff_level = item.attempts if result.charge else max(item.attempts, UNCHARGED_BACKOFF_LEVEL)
        delay = self.backoff(backoff_level, result.retry_after)
        if now + delay - item.event.received_at > policy.max_age_seconds:
            return _Transition(item.event.id, item.attempts, "dead", now, f"max_age: {result.cause}")
        return _Transition(
            item.event.id, item.attempts, "retry", now + delay, result.cause, refund=not result.charge
        )

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter, never sooner than a Retry-After hint."""
        policy = self.dispatch
        exponent = min(max(attempts - 1, 0), 64)  # max_delay caps it long before 2**64
        ceiling = min(policy.max_delay_seconds, policy.base_delay_seconds * 2**exponent)
        delay = self.rng.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, policy.max_delay_seconds))
        return delay

    async def release_claims(self) -> int:
        """Make this node's leases due now: on start for a single-node store (every lease is
        its own), on stop for a shared one (hands them to the other replicas at once)."""
        return await self._release_claims(self.clock())

    # -- operations ---------------------------------------------------------------------
    async def redrive(self, event_ids: Iterable[str] | None = None, sink: str | None = None) -> int:
        """Move dead deliveries back to the queue with a fresh attempt budget."""
        return await self._redrive(list(event_ids) if event_ids is not None else None, sink, self.clock())

    async def replay(
        self,
        sinks: Sequence[str] = (),
        *,
        route: Callable[[Event], Sequence[str]] | None = None,
        name: str | None = None,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Queue stored events again (whatever their state) for `sinks`, and for the sinks
        `route(event)` picks; the claimed events carry `name` as their `replay_name`."""
        ids = await self._event_ids(source, since, until)
        every = tuple(dict.fromkeys(sinks))
        done = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            pairs = [(event_id, sink) for event_id in chunk for sink in every]
            if route is not None:
                for event in await self._load_events(chunk):
                    pairs.extend((event.id, sink) for sink in route(event) if sink not in every)
            await self._requeue(pairs, self.clock(), name)
            done += len(chunk)
            if progress is not None:
                progress(done, len(ids))
        return done

    async def purge(self) -> int:
        """Forget expired dedup keys and fully delivered events older than the window
        (archived events: once their `keep_until` has passed too)."""
        now = self.clock()
        return await self._purge(now - self.settings.dedup_retention_seconds, now)

    # -- primitives ---------------------------------------------------------------------
    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The version of the database schema (`open` creates and migrates it)."""

    @abc.abstractmethod
    async def _persist(
        self,
        events: Sequence[Event],
        routes: Sequence[tuple[str, ...]],
        now: float,
        window: float,
        lease: float | None,
    ) -> list[PersistResult]: ...

    @abc.abstractmethod
    async def _claim(self, sink: str, limit: int, now: float, lease: float) -> list[Claimed]: ...

    @abc.abstractmethod
    async def _apply(self, sink: str, transitions: Sequence[_Transition], now: float) -> None: ...

    @abc.abstractmethod
    async def _release_claims(self, now: float) -> int: ...

    @abc.abstractmethod
    async def _redrive(self, event_ids: list[str] | None, sink: str | None, now: float) -> int: ...

    @abc.abstractmethod
    async def _event_ids(self, source: str | None, since: float | None, until: float | None) -> list[str]: ...

    @abc.abstractmethod
    async def _load_events(self, event_ids: Sequence[str]) -> list[Event]: ...

    @abc.abstractmethod
    async def _requeue(self, pairs: Sequence[tuple[str, str]], now: float, replay_name: str | None) -> None:
        """Make each (event id, sink) delivery pending with a fresh budget (creating it)."""

    @abc.abstractmethod
    async def _purge(self, before: float, now: float) -> int: ...

    @abc.abstractmethod
    async def get_event(self, event_id: str) -> tuple[Event, tuple[DeliveryRecord, ...]] | None: ...

    @abc.abstractmethod
    async def list_events(
        self, *, source: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[EventSummary]: ...

    @abc.abstractmethod
    async def list_dead(self, *, sink: str | None = None, limit: int = 100) -> list[DeadLetter]: ...

    @abc.abstractmethod
    async def depth(self) -> dict[tuple[str, State], int]:
        """Delivery records per (sink, state) for the `QUEUE_STATES` (metrics, readiness)."""


def event_filters(
    query: str, source: str | None, since: float | None, until: float | None, *, mark: str
) -> tuple[str, list[Any]]:
    """`query` narrowed to a source and a time range, with its parameters.

    Event ids are UUIDv7, so a time range is an id range (`id_floor`). `mark` is the
    driver's parameter placeholder (`?` for sqlite3, `%s` for psycopg).
    """
    params: list[Any] = []
    if source is not None:
        query += f" AND source = {mark}"
        params.append(source)
    if since is not None:
        query += f" AND id >= {mark}"
        params.append(id_floor(since))
    if until is not None:
        query += f" AND id < {mark}"
        params.append(id_floor(until))
    return query, params


def open_store(
    settings: StoreSettings,
    dispatch: DispatcherSettings,
    clock: Callable[[], float],
) -> Store:
    """Pick the backend from `settings.url`."""
    if settings.is_postgres:
        require("postgres", "a postgresql:// store")
        from gateway.store.postgres import PostgresStore  # noqa: PLC0415 - backends load on demand

        return PostgresStore(settings, dispatch, clock)
    from gateway.store.sqlite import SQLiteStore  # noqa: PLC0415

    return SQLiteStore(settings, dispatch, clock)
