"""The admin role: what the CLI (and an admin API) asks of a store: events and their
deliveries, dead letters, redrive, replay, purge, queue depth, the schema version.

A delivery has no id of its own: it is the one (event, sink) pair, so its id is
`EVENT_ID/SINK` (`delivery_id`). A sink's name may hold `/` (a router target's is
`BUS/RULE/TARGET`); an event id never does, so the id splits at its first `/`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import StoreError
from gateway.events import Event, id_floor
from gateway.store._base import StoreBase
from gateway.store._queue import State
from gateway.store._records import (
    AttemptRecord,
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
    "QUEUE_STATES",
    "REQUEST_COLUMNS",
    "DeadLetter",
    "DeadLetterQuery",
    "DeliveryRecord",
    "EventQuery",
    "EventSummary",
    "StoreAdmin",
    "dead_letter_filters",
    "delivery_id",
    "request_record",
    "split_delivery_id",
]

#: The states `StoreAdmin.depth` counts: what is still queued, and what is dead-lettered.
QUEUE_STATES: tuple[State, ...] = ("pending", "forwarding", "retry", "dead")
#: Events a replay loads and requeues at a time.
_REPLAY_CHUNK = 500


#: The columns of the table `requests`, in the order `request_record` reads them.
REQUEST_COLUMNS = "id, received_at, source, status, outcome, cause, size, client, event_ids, headers, body"


def request_record(row: Sequence[Any]) -> RequestRecord:
    """A row of `SELECT REQUEST_COLUMNS FROM requests` (either backend) as its record: the
    headers and event ids are stored as JSON text, the body as bytes (or a buffer)."""
    id_, at, source, status, _outcome, cause, size, client, event_ids, headers, body = row
    return RequestRecord(
        id_,
        at,
        source,
        status,
        cause,
        size,
        client,
        tuple(tuple(pair) for pair in orjson.loads(headers)),
        tuple(orjson.loads(event_ids)),
        None if body is None else bytes(body),
    )


def delivery_id(event_id: str, sink: str) -> str:
    """The id of the delivery of event `event_id` to `sink`: `EVENT_ID/SINK`."""
    return f"{event_id}/{sink}"


def split_delivery_id(value: str) -> tuple[str, str] | None:
    """(event id, sink) of a delivery id; None when `value` is not one."""
    event_id, slash, sink = value.partition("/")
    return (event_id, sink) if slash and event_id and sink else None


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
    provider_event_id: str | None = None


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
class EventQuery:
    """Which stored events a query selects: each filter given narrows it (`event_filters`
    turns it into SQL for either backend).

    `sink`, `state` and `status` select the events with one delivery matching all the
    ones given (`status` is the admin API's coarser state: `DELIVERY_STATUSES`). `text`
    is a case-insensitive substring of the stored entry (a scan: the newest events are
    read first and the scan stops once a page is full). `before` keeps the events older
    than that id (the keyset of paged lists).
    """

    source: str | None = None
    since: float | None = None
    until: float | None = None
    detail_type: str | None = None
    dedup_key: str | None = None
    id_prefix: str | None = None
    sink: str | None = None
    state: State | None = None
    detail_type_prefix: str | None = None
    provider_event_id: str | None = None
    provider_delivery_id: str | None = None
    status: DeliveryStatus | None = None
    text: str | None = None
    before: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterQuery:
    """Which dead letters a query selects: each filter given narrows it. `cause` is a
    prefix of the last cause; `since`/`until` bound when the delivery was dead-lettered;
    `before` is a page's end, `(updated_at, event_id, sink)` of the last row shown."""

    source: str | None = None
    sink: str | None = None
    cause: str | None = None
    since: float | None = None
    until: float | None = None
    before: tuple[float, str, str] | None = None


def dead_letter_filters(query: DeadLetterQuery, *, mark: str) -> tuple[str, list[Any]]:
    """The SQL that lists the dead letters `query` selects (over `deliveries d` joined to
    `events e`), newest first, with its parameters; `mark` is the driver's placeholder."""
    sql = (
        "SELECT e.id, e.source, e.detail_type, d.sink, d.attempts, d.last_cause, e.received_at, "
        "d.updated_at FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.state = 'dead'"
    )
    params: list[Any] = []
    for clause, value in (
        (f"e.source = {mark}", query.source),
        (f"d.sink = {mark}", query.sink),
        (f"d.updated_at >= {mark}", query.since),
        (f"d.updated_at < {mark}", query.until),
    ):
        if value is not None:
            sql += f" AND {clause}"
            params.append(value)
    if query.cause is not None:
        sql += f" AND d.last_cause LIKE {mark} ESCAPE '!'"
        escaped = query.cause.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        params.append(escaped + "%")
    if query.before is not None:
        sql += f" AND (d.updated_at, d.event_id, d.sink) < ({mark}, {mark}, {mark})"
        params.extend(query.before)
    return sql + " ORDER BY d.updated_at DESC, d.event_id DESC, d.sink DESC", params


class StoreAdmin(StoreBase):
    """Queries over the stored events and operations on their deliveries. Each query is a
    backend primitive; the operations (redrive, replay, purge) keep their policy here."""

    #: The bounds of the requests log (`purge` and `record_requests` keep to them).
    request_log: RequestLogPolicy

    # -- operations ---------------------------------------------------------------------
    async def redrive(self, event_ids: Iterable[str] | None = None, sink: str | None = None) -> int:
        """Move dead deliveries back to the queue with a fresh attempt budget."""
        return await self._redrive(list(event_ids) if event_ids is not None else None, sink, self.clock())

    async def redeliver(self, event_id: str, sinks: Sequence[str] | None = None) -> list[str]:
        """Queue a stored event again, whatever its deliveries' states (delivered too), to
        each of its destinations, or to those of `sinks` it has, with a fresh budget; the
        destinations queued (none: no such event, or none of `sinks` is one of its)."""
        stored = await self.get_event(event_id)
        if stored is None:
            return []
        chosen = [d.sink for d in stored[1] if sinks is None or d.sink in sinks]
        if chosen:
            await self._requeue([(event_id, sink) for sink in chosen], self.clock(), None)
        return chosen

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
        for start in range(0, len(ids), _REPLAY_CHUNK):
            chunk = ids[start : start + _REPLAY_CHUNK]
            pairs = [(event_id, sink) for event_id in chunk for sink in every]
            if route is not None:
                for event in await self.load_events(chunk):
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
        purged = await self._purge(now - self.settings.dedup_retention_seconds, now)
        await self._purge_requests(
            id_floor(now - self.request_log.retention_seconds), self.request_log.max_rows
        )
        return purged

    async def reseal(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Seal every stored entry, request header list and kept body under the cipher's
        current key (rows stored in clear, or under an older key); the rows changed.

        Safe while the gateway runs: an entry changed meanwhile is left for the next run.
        `progress(done, total)` follows the events; the requests log comes after them."""
        cipher = self.cipher
        if cipher is None:
            raise StoreError("no [store] encryption_keys are configured: there is no key to seal with")
        changed = 0
        ids = await self._event_ids(None, None, None)
        for start in range(0, len(ids), _REPLAY_CHUNK):
            chunk = ids[start : start + _REPLAY_CHUNK]
            stale = [e for e in await self._load_events(chunk) if not cipher.current(e.entry)]
            if stale:
                changed += await self._replace_entries(
                    [(e.id, e.entry, cipher.seal(cipher.open(e.entry, e.id), e.id)) for e in stale]
                )
            if progress is not None:
                progress(start + len(chunk), len(ids))
        before: str | None = None
        while True:
            page = await self._list_requests(RequestQuery(before=before), _REPLAY_CHUNK)
            if not page:
                await self._resealed()
                return changed
            stale_requests = [r for r in page if not cipher.sealed_request(r)]
            if stale_requests:
                changed += await self._replace_request_payloads(
                    [cipher.seal_request(cipher.open_request(r)) for r in stale_requests]
                )
            before = page[-1].id

    async def record_requests(self, records: Sequence[RequestRecord]) -> None:
        """Store requests the edge received (the rejected ones, in batches; an accepted
        one is stored with its events by `Inbox.persist`), then drop the oldest beyond
        `request_log.max_rows`."""
        if records:
            if self.cipher is not None:
                records = [self.cipher.seal_request(record) for record in records]
            await self._record_requests(records, self.request_log.max_rows)

    # -- queries ------------------------------------------------------------------------
    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The version of the database schema (`open` creates and migrates it)."""

    async def get_event(self, event_id: str) -> tuple[Event, tuple[DeliveryRecord, ...]] | None:
        """An event (its entry opened) with each of its deliveries; None: no such event."""
        found = await self._get_event(event_id)
        if found is None or self.cipher is None:
            return found
        return self.cipher.open_event(found[0]), found[1]

    async def load_events(self, event_ids: Sequence[str]) -> list[Event]:
        """The stored events among `event_ids`, their entries opened."""
        events = await self._load_events(event_ids)
        if self.cipher is None:
            return events
        return [self.cipher.open_event(event) for event in events]

    async def list_events(
        self,
        *,
        source: str | None = None,
        since: float | None = None,
        detail_type: str | None = None,
        dedup_key: str | None = None,
        id_prefix: str | None = None,
        sink: str | None = None,
        state: State | None = None,
        limit: int = 50,
    ) -> list[EventSummary]:
        """Events newest first, each with its deliveries. Every filter given narrows the
        list: `dedup_key` is the provider's event id as deduplicated; `id_prefix` matches
        the start of the event id; `sink` and `state` keep the events with a delivery to
        that sink, in that state (both: one delivery matching both)."""
        query = EventQuery(
            source=source,
            since=since,
            detail_type=detail_type,
            dedup_key=dedup_key,
            id_prefix=id_prefix,
            sink=sink,
            state=state,
        )
        return await self._list_events(query, limit)

    @abc.abstractmethod
    async def _list_events(self, query: EventQuery, limit: int) -> list[EventSummary]:
        """The newest `limit` events `query` selects, each with its deliveries."""

    async def find_events(self, reference: str, *, limit: int = 10) -> list[EventSummary]:
        """The events `reference` names, for a person who pasted it from somewhere:

        - an event id, or a delivery id (`EVENT_ID/SINK`): that event;
        - a provider event id (the dedup key, e.g. Stripe's `evt_…`): every stored event
          with that key, newest first (one, unless a key came back after its window);
        - else an event id prefix: every event whose id starts with it.

        One result is the event; more are candidates to choose from (at most `limit`);
        none: nothing matches.
        """
        reference = reference.strip()
        if not reference:
            return []
        split = split_delivery_id(reference)
        if split is not None:
            event_id, sink = split
            found = await self.list_events(id_prefix=event_id, limit=1)
            if found and found[0].id == event_id and any(d.sink == sink for d in found[0].deliveries):
                return found
        by_id = await self.list_events(id_prefix=reference.lower(), limit=limit)
        exact = [summary for summary in by_id if summary.id == reference.lower()]
        if exact:
            return exact
        return await self.list_events(dedup_key=reference, limit=limit) or by_id

    async def search_events(
        self, query: EventQuery, *, limit: int = 50, cursor: str | None = None
    ) -> Page[EventSummary]:
        """A page of the events `query` selects, newest first, each with its deliveries;
        `cursor` (from the previous page) continues after its last event. Keyset paging
        on the event id: events stored meanwhile never shift a page, so each event is
        listed once. A bad cursor is a `CursorError`; a text search over sealed payloads
        (encryption at rest) a `TextSearchUnavailableError`."""
        if query.text and self.cipher is not None:
            raise TextSearchUnavailableError("payloads are encrypted at rest: their text cannot be searched")
        if cursor is not None:
            after = decode_cursor(cursor)
            before = after if query.before is None else min(after, query.before)
            query = dataclasses.replace(query, before=before)
        found = await self._list_events(query, limit + 1)
        more = len(found) > limit
        items = found[:limit]
        return Page(items, encode_cursor(items[-1].id) if more else None)

    async def attempts(self, event_id: str) -> tuple[AttemptRecord, ...]:
        """Every recorded delivery attempt of an event, oldest first."""
        return (await self._attempts([event_id])).get(event_id, ())

    async def list_requests(
        self,
        *,
        outcome: RequestOutcome | None = None,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[RequestRecord]:
        """A page of the requests log, newest first (keyset paging, as `search_events`)."""
        before = None if cursor is None else decode_cursor(cursor)
        found = await self._list_requests(RequestQuery(outcome, source, since, until, before), limit + 1)
        if self.cipher is not None:
            found = [self.cipher.open_request(record) for record in found]
        more = len(found) > limit
        items = found[:limit]
        return Page(items, encode_cursor(items[-1].id) if more else None)

    async def get_request(self, request_id: str) -> RequestRecord | None:
        """One request of the requests log, by its id (None: not kept, or never received)."""
        found = await self._list_requests(RequestQuery(id=request_id.strip().lower()), 1)
        if not found:
            return None
        return found[0] if self.cipher is None else self.cipher.open_request(found[0])

    async def list_dead(
        self,
        *,
        sink: str | None = None,
        limit: int = 100,
        source: str | None = None,
        cause: str | None = None,
        since: float | None = None,
        until: float | None = None,
        before: tuple[float, str, str] | None = None,
    ) -> list[DeadLetter]:
        """Dead-lettered deliveries, most recently failed first; each filter given narrows
        the list (`DeadLetterQuery`)."""
        query = DeadLetterQuery(source, sink, cause, since, until, before)
        return await self._list_dead(query, limit)

    async def count_events(
        self, *, source: str | None = None, since: float | None = None, until: float | None = None
    ) -> int:
        """How many stored events the filters select (an admin view's counters)."""
        return len(await self._event_ids(source, since, until))

    @abc.abstractmethod
    async def _list_dead(self, query: DeadLetterQuery, limit: int) -> list[DeadLetter]: ...

    @abc.abstractmethod
    async def depth(self) -> dict[tuple[str, State], int]:
        """Delivery records per (sink, state) for the `QUEUE_STATES` (metrics, readiness)."""

    async def oldest_pending(self) -> dict[str, float]:
        """Each sink's lag: per sink with deliveries still to make (pending, in flight or
        waiting for a retry), the age in seconds of the oldest one's event."""
        now = self.clock()
        return {sink: max(now - received, 0.0) for sink, received in (await self._oldest_pending()).items()}

    # -- primitives ---------------------------------------------------------------------
    @abc.abstractmethod
    async def _redrive(self, event_ids: list[str] | None, sink: str | None, now: float) -> int: ...

    @abc.abstractmethod
    async def _event_ids(self, source: str | None, since: float | None, until: float | None) -> list[str]: ...

    @abc.abstractmethod
    async def _load_events(self, event_ids: Sequence[str]) -> list[Event]: ...

    @abc.abstractmethod
    async def _get_event(self, event_id: str) -> tuple[Event, tuple[DeliveryRecord, ...]] | None: ...

    @abc.abstractmethod
    async def _replace_entries(self, changes: Sequence[tuple[str, str, str]]) -> int:
        """Set each `(event id, old entry, new entry)`'s entry, where it is still the old
        one (a concurrent enrichment wins); how many changed."""

    @abc.abstractmethod
    async def _replace_request_payloads(self, records: Sequence[RequestRecord]) -> int:
        """Set the stored headers and body of each request of `records` (by id)."""

    async def _resealed(self) -> None:
        """After a reseal: let go of what still holds the replaced values, where the
        backend can (PostgreSQL keeps old row versions until its VACUUM reclaims them)."""

    @abc.abstractmethod
    async def _requeue(self, pairs: Sequence[tuple[str, str]], now: float, replay_name: str | None) -> None:
        """Make each (event id, sink) delivery pending with a fresh budget (creating it)."""

    @abc.abstractmethod
    async def _purge(self, before: float, now: float) -> int: ...

    @abc.abstractmethod
    async def _attempts(self, event_ids: Sequence[str]) -> dict[str, tuple[AttemptRecord, ...]]:
        """Per event, its recorded attempts oldest first (sink, then time)."""

    @abc.abstractmethod
    async def _list_requests(self, query: RequestQuery, limit: int) -> list[RequestRecord]:
        """The newest `limit` requests `query` selects."""

    @abc.abstractmethod
    async def _record_requests(self, records: Sequence[RequestRecord], max_rows: int) -> None:
        """Insert `records`, then delete the oldest rows beyond `max_rows`."""

    @abc.abstractmethod
    async def _purge_requests(self, before: str, max_rows: int) -> int:
        """Delete the requests older than the id `before`, and the oldest beyond `max_rows`."""

    @abc.abstractmethod
    async def _oldest_pending(self) -> dict[str, float]:
        """Per sink, `received_at` of the oldest event with a delivery still to make."""
