"""The durable inbox/outbox, in three roles over one database.

Each user of the store sees only the role it needs:

    Inbox          persist with dedup                            the HTTP edge
    DeliveryQueue  claim, settle, release leases, retry policy   the dispatcher
    StoreAdmin     events, dead letters, redrive, replay, purge  the CLI (and an admin API)

Each role keeps its policy (dedup rules, the delivery state machine, the retry schedule)
in its base class, over a few primitives a backend implements. `Store` is all three over
one database: `SQLiteStore` (one process, one file) or `PostgresStore` (any number of
replicas sharing one database). Lambda mode's `DirectStore` (`gateway.aws_lambda`) is an
inbox only: it puts events on their sinks itself, and keeps nothing to claim or query.

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
store's `delivery_policy` (the `[dispatcher]` settings).

A single-node store (`single_node`) owns every lease in its database, so it releases them
all when it starts: nobody else can be holding them. A shared store must not: the leases
of other replicas are live, and only expire.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway._extras import require
from gateway.config import DispatcherSettings, StoreSettings
from gateway.events import id_floor, storable_key
from gateway.store._admin import (
    QUEUE_STATES,
    DeadLetter,
    DeliveryRecord,
    EventQuery,
    EventSummary,
    StoreAdmin,
    delivery_id,
    split_delivery_id,
)
from gateway.store._base import StoreBase
from gateway.store._cipher import PayloadCipher, decode_key
from gateway.store._inbox import Inbox, PersistResult
from gateway.store._queue import (
    STATES,
    UNCHARGED_BACKOFF_LEVEL,
    Claimed,
    DeliveryQueue,
    RetryPolicy,
    Settlement,
    State,
    Transition,
)
from gateway.store._records import (
    ATTEMPT_OUTCOMES,
    DELIVERY_STATUSES,
    AttemptRecord,
    CursorError,
    DeliveryStatus,
    Page,
    RequestLogPolicy,
    RequestOutcome,
    RequestQuery,
    RequestRecord,
    TextSearchUnavailableError,
    decode_cursor,
    encode_cursor,
)

__all__ = [
    "ATTEMPT_OUTCOMES",
    "DELIVERY_STATUSES",
    "QUEUE_STATES",
    "STATES",
    "UNCHARGED_BACKOFF_LEVEL",
    "AttemptRecord",
    "Claimed",
    "CursorError",
    "DeadLetter",
    "DeliveryQueue",
    "DeliveryRecord",
    "DeliveryStatus",
    "EventQuery",
    "EventSummary",
    "Inbox",
    "Page",
    "PayloadCipher",
    "PersistResult",
    "RequestLogPolicy",
    "RequestOutcome",
    "RequestQuery",
    "RequestRecord",
    "RetryPolicy",
    "Settlement",
    "State",
    "Store",
    "StoreAdmin",
    "StoreBase",
    "TextSearchUnavailableError",
    "Transition",
    "decode_cursor",
    "delivery_id",
    "encode_cursor",
    "event_filters",
    "open_store",
    "request_filters",
    "split_delivery_id",
]


@dataclass
class Store(Inbox, DeliveryQueue, StoreAdmin):
    """A hookgate store: inbox, delivery queue and admin side over one database."""

    settings: StoreSettings
    delivery_policy: DispatcherSettings
    clock: Callable[[], float]
    rng: random.Random = field(default_factory=random.Random)
    policies: dict[str, RetryPolicy] = field(default_factory=dict)
    request_log: RequestLogPolicy = field(default_factory=RequestLogPolicy)

    def __post_init__(self) -> None:
        """A backend's own state, set up once the settings are in place."""

    @abc.abstractmethod
    async def open(self, *, create: bool = True) -> None:
        """Acquire the database, creating or migrating its schema. With `create=False` (a
        command that only reads), a database hookgate never created is a `StoreError`
        naming it, and is not created."""

    async def probe_commit(self) -> None:
        """Commit something cheap (`StoreError` when the store cannot), noted like any
        write: how `/readyz` learns that a store whose last write failed commits again."""
        await self._committing(self._probe())

    async def _probe(self) -> None:
        """The cheap commit of `probe_commit` (a backend without one: a read)."""
        await self.depth()

    def volume(self) -> str | None:
        """The folder holding the database on this machine, whose free space is a metric
        (`hookgate_store_free_bytes`); None for a database elsewhere."""
        return None

    def _lease(self) -> float | None:
        """A leased persist is a claim like any other: it holds for the queue's lease."""
        return self.delivery_policy.lease_seconds


def event_filters(
    query: str, filters: EventQuery, *, mark: str, like: str = "LIKE", scan_prefix: bool = False
) -> tuple[str, list[Any]]:
    """`query` (over the table `events`) narrowed by each filter `filters` gives, with its
    parameters.

    Event ids are UUIDv7, so a time range is an id range (`id_floor`), and so is an id
    prefix (ids are ASCII: every id starting with the prefix sorts below the prefix
    followed by DEL). A detail-type prefix is a range too (the column compares bytewise on
    both backends). `mark` is the driver's parameter placeholder (`?` for sqlite3, `%s`
    for psycopg); `like` its case-insensitive LIKE (SQLite's LIKE is, PostgreSQL's ILIKE).
    `scan_prefix` (SQLite): match the detail-type prefix while reading newest first, not
    through its index (SQLite's `+column`), for a prefix that many events have.
    """
    source, since, until = filters.source, filters.since, filters.until
    id_prefix, sink, state = filters.id_prefix, filters.sink, filters.state
    params: list[Any] = []
    for column, value in (
        ("source", source),
        ("detail_type", filters.detail_type),
        ("dedup_key", filters.dedup_key),
        ("provider_event_id", filters.provider_event_id),
        ("provider_delivery_id", filters.provider_delivery_id),
    ):
        if value is not None:
            query += f" AND {column} = {mark}"
            params.append(value)
    if filters.detail_type_prefix:
        column = "+detail_type" if scan_prefix else "detail_type"
        query += f" AND {column} >= {mark} AND {column} < {mark}"
        params.extend((filters.detail_type_prefix, filters.detail_type_prefix + _TOP))
    if since is not None:
        query += f" AND id >= {mark}"
        params.append(id_floor(since))
    if until is not None:
        query += f" AND id < {mark}"
        params.append(id_floor(until))
    if filters.before is not None:
        query += f" AND id < {mark}"
        params.append(filters.before)
    if id_prefix is not None:
        query += f" AND id >= {mark} AND id < {mark}"
        params.extend((id_prefix, id_prefix + "\x7f"))
    if sink is not None or state is not None or filters.status is not None:
        query += " AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id"
        for column, value in (("sink", sink), ("state", state)):
            if value is not None:
                query += f" AND d.{column} = {mark}"
                params.append(value)
        if filters.status is not None:
            states = DELIVERY_STATUSES[filters.status]
            query += f" AND d.state IN ({', '.join([mark] * len(states))})"
            params.extend(states)
        query += ")"
    if filters.text:
        query += f" AND entry {like} {mark} ESCAPE '\\'"
        params.append("%" + _escape_like(filters.text) + "%")
    # As stored: a key with a NUL or a lone surrogate is its digest (`storable_key`); any
    # other text holding one matches nothing, and no store is handed what it cannot hold.
    return query, [storable_key(p) if isinstance(p, str) else p for p in params]


def request_filters(query: str, filters: RequestQuery, *, mark: str) -> tuple[str, list[Any]]:
    """`query` (over the table `requests`) narrowed like `event_filters` (request ids are
    UUIDv7 of their arrival too)."""
    params: list[Any] = []
    for column, value in (("outcome", filters.outcome), ("source", filters.source), ("id", filters.id)):
        if value is not None:  # as stored: a key with a NUL or lone surrogate is its digest
            query += f" AND {column} = {mark}"
            params.append(storable_key(value))
    since = None if filters.since is None else id_floor(filters.since)
    until = None if filters.until is None else id_floor(filters.until)
    for op, bound in ((">=", since), ("<", until), ("<", filters.before)):
        if bound is not None:
            query += f" AND id {op} {mark}"
            params.append(bound)
    return query, params


#: Sorts after any text that starts with a given prefix (the last code point, UTF-8 F4 8F BF BF).
_TOP = "\U0010ffff"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def open_store(
    settings: StoreSettings,
    delivery_policy: DispatcherSettings,
    clock: Callable[[], float],
) -> Store:
    """Pick the backend from `settings.url`; with `encryption_keys`, it seals what it stores."""
    store: Store
    if settings.is_postgres:
        require("postgres", "a postgresql:// store")
        from gateway.store.postgres import PostgresStore  # noqa: PLC0415 - backends load on demand

        store = PostgresStore(settings, delivery_policy, clock)
    else:
        from gateway.store.sqlite import SQLiteStore  # noqa: PLC0415

        store = SQLiteStore(settings, delivery_policy, clock)
    if settings.encryption_keys:
        store.cipher = PayloadCipher([decode_key(k.get_secret_value()) for k in settings.encryption_keys])
    return store
