"""The shared backend: any number of `hookgate serve` replicas over one PostgreSQL database.

Every write is one statement on an autocommit connection from a pool, so each is its own
transaction and a call returns only once PostgreSQL has committed it (durably, under the
server's `synchronous_commit`, `on` by default). Many concurrent requests share the
pool's connections. Group commit: the `persist` calls that arrive while a statement is
under way are stored together by the next one (at most `PERSIST_STATEMENTS` at once per
replica), so a busy replica commits many requests per round trip; a statement that fails
is run again call by call, so one call's bad input never fails the others.

- Dedup is atomic across replicas: one `INSERT … ON CONFLICT DO UPDATE … WHERE expired`
  per call. A replica inserting a key another one is inserting waits for it and then sees
  a duplicate; the stored id is read afterwards (a statement of its own, so it sees the
  other replica's commit).
- A claim locks due deliveries with `FOR UPDATE SKIP LOCKED`: concurrent dispatchers take
  disjoint sets without waiting for each other. A claim is a lease (`due_at`): a replica
  that dies mid-delivery loses its claims when the lease ends and another takes them.
- Settlements apply only to the claim they answer (`state = 'forwarding' AND attempts = …`),
  like SQLite's.
- The replica holding a lease is recorded (`claimed_by`): `release_claims` releases only
  this replica's own leases, never another's live ones.

A statement waits at most `acquire_timeout_seconds` for a pooled connection: while the
server is down or refuses connections, calls fail fast (`StoreError`, a 503 at the edge)
instead of queueing behind the outage for longer than a provider waits for its answer.

The schema is created and migrated on `open` (`_pgschema`), unless `create=False`
(a command that only reads) finds no schema: then the store is refused, not created.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import orjson
import psycopg
import structlog
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from gateway.errors import StoreError
from gateway.events import Event, id_floor
from gateway.store import (
    AttemptRecord,
    Claimed,
    DeadLetter,
    DeliveryRecord,
    EventQuery,
    EventSummary,
    PersistResult,
    RequestQuery,
    RequestRecord,
    State,
    Store,
    Transition,
    event_filters,
    request_filters,
)
from gateway.store._admin import REQUEST_COLUMNS, DeadLetterQuery, dead_letter_filters, request_record
from gateway.store._pgschema import schema_exists, upgrade

__all__ = ["PostgresStore"]

log = structlog.get_logger()

T = TypeVar("T")
Conn = psycopg.AsyncConnection[TupleRow]

#: How long `open` waits for the pool's first connections.
CONNECT_TIMEOUT_SECONDS = 10.0
#: A statement that deadlocked or hit a serialization failure rolled back whole: run again.
_ATTEMPTS = 3
_PURGE_CHUNK = 1000

#: `persist` statements in flight at once per replica (the calls arriving meanwhile wait
#: for the next statement, and share it).
PERSIST_STATEMENTS = 2

# One statement stores the events of many `persist` calls. The dedup upsert returns the ids
# it wrote (new keys, and expired keys taken over); only those events and their deliveries
# are inserted. Data-modifying CTEs all run to completion, referenced or not. The arrays go
# as binary parameters: escaping kilobytes of entry text into a text-format array literal
# cost more than the statement.
_PERSIST = """
WITH input AS (
    SELECT * FROM unnest(%(ids)b::text[], %(sources)b::text[], %(keys)b::text[],
                         %(types)b::text[], %(received)b::float8[], %(entries)b::text[],
                         %(keep)b::float8[], %(seen)b::float8[], %(provider_ids)b::text[],
                         %(provider_deliveries)b::text[])
        WITH ORDINALITY AS t (id, source, dedup_key, detail_type, received_at, entry, keep_until, seen_at,
                              provider_event_id, provider_delivery_id, n)
), logged AS (
    INSERT INTO requests (id, received_at, source, status, outcome, cause, size, client, event_ids,
                          headers, body)
    SELECT * FROM unnest(%(req_ids)s::text[], %(req_at)s::float8[], %(req_sources)s::text[],
                         %(req_status)s::int4[], %(req_outcomes)s::text[], %(req_causes)s::text[],
                         %(req_sizes)s::int4[], %(req_clients)s::text[], %(req_events)s::text[],
                         %(req_headers)s::text[], %(req_bodies)s::bytea[])
    ON CONFLICT (id) DO NOTHING
), won AS (
    INSERT INTO dedup AS d (source, dedup_key, event_id, seen_at)
    SELECT source, dedup_key, id, seen_at FROM input ORDER BY n
    ON CONFLICT (source, dedup_key) DO UPDATE
        SET event_id = excluded.event_id, seen_at = excluded.seen_at
        WHERE d.seen_at < excluded.seen_at - %(window)s::float8
    RETURNING d.event_id
), stored AS (
    INSERT INTO events (id, source, dedup_key, detail_type, received_at, entry, keep_until,
                        provider_event_id, provider_delivery_id)
    SELECT i.id, i.source, i.dedup_key, i.detail_type, i.received_at, i.entry, i.keep_until,
           i.provider_event_id, i.provider_delivery_id
    FROM input i JOIN won ON won.event_id = i.id ORDER BY i.n
    RETURNING id
), queued AS (
    INSERT INTO deliveries (event_id, sink, state, attempts, due_at, updated_at, claimed_by)
    SELECT stored.id, r.sink, r.state, r.attempts, r.due_at, r.updated_at, r.owner
    FROM stored JOIN unnest(%(route_ids)b::text[], %(route_sinks)b::text[], %(route_states)b::text[],
                            %(route_attempts)b::int4[], %(route_due)b::float8[],
                            %(route_updated)b::float8[], %(route_owners)b::text[])
        AS r (event_id, sink, state, attempts, due_at, updated_at, owner)
        ON r.event_id = stored.id
)
SELECT id FROM stored
"""

_CLAIM = """
WITH due AS (
    SELECT event_id, due_at FROM deliveries
    WHERE sink = %(sink)s AND state IN ('pending', 'retry', 'forwarding') AND due_at <= %(now)s::float8
    ORDER BY due_at, event_id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE deliveries d
    SET state = 'forwarding', attempts = d.attempts + 1, due_at = %(until)s::float8,
        updated_at = %(now)s::float8, claimed_by = %(owner)s::text
    FROM due WHERE d.event_id = due.event_id AND d.sink = %(sink)s
    RETURNING d.event_id, d.attempts, d.replay_name, due.due_at AS was_due
)
SELECT e.id, e.source, e.dedup_key, e.detail_type, e.received_at, e.entry, e.keep_until,
       c.replay_name, e.enriched_at, c.attempts
FROM claimed c JOIN events e ON e.id = c.event_id
ORDER BY c.was_due, c.event_id
"""

# Every attempt is logged, in the same statement (and commit) as its settlement.
_SETTLE = """
WITH t AS (
    SELECT * FROM unnest(%(ids)s::text[], %(attempts)s::int[], %(states)s::text[], %(due)s::float8[],
                         %(causes)s::text[], %(refunds)s::int[], %(outcomes)s::text[])
        AS t (event_id, attempts, state, due_at, cause, refund, outcome)
), logged AS (
    INSERT INTO attempts (event_id, sink, attempt, at, duration_ms, outcome, cause)
    SELECT event_id, %(sink)s, attempts, %(now)s::float8, %(duration)s::float8, outcome, cause FROM t
)
UPDATE deliveries d
SET state = t.state, due_at = t.due_at, last_cause = COALESCE(t.cause, d.last_cause),
    updated_at = %(now)s::float8, attempts = d.attempts - t.refund, claimed_by = NULL
FROM t
WHERE d.event_id = t.event_id AND d.sink = %(sink)s
  AND d.state = 'forwarding' AND d.attempts = t.attempts
"""

_REQUEUE = """
INSERT INTO deliveries (event_id, sink, state, attempts, due_at, updated_at, replay_name)
SELECT p.event_id, p.sink, 'pending', 0, %(now)s::float8, %(now)s::float8, %(replay)s::text
FROM unnest(%(ids)s::text[], %(sinks)s::text[]) AS p (event_id, sink)
WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = p.event_id)
ON CONFLICT (event_id, sink) DO UPDATE
    SET state = 'pending', attempts = 0, due_at = excluded.due_at,
        updated_at = excluded.updated_at, claimed_by = NULL, replay_name = excluded.replay_name
"""

# Deliveries go with their event (ON DELETE CASCADE); a dedup key goes only while it still
# names the purged event. SKIP LOCKED: replicas purging at once split the work.
_PURGE = """
WITH old AS (
    SELECT id, source, dedup_key FROM events e
    WHERE id < %(floor)s AND (keep_until IS NULL OR keep_until < %(now)s::float8) AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state <> 'delivered')
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), keys AS (
    DELETE FROM dedup k USING old
    WHERE k.source = old.source AND k.dedup_key = old.dedup_key AND k.event_id = old.id
), tries AS (
    DELETE FROM attempts a USING old WHERE a.event_id = old.id
)
DELETE FROM events WHERE id IN (SELECT id FROM old)
"""

_EVENT_COLUMNS = "id, source, dedup_key, detail_type, received_at, entry, keep_until"
_SUMMARY_COLUMNS = "id, source, detail_type, dedup_key, received_at, provider_event_id"


@dataclass(slots=True)
class _PersistCall:
    """One `persist` call waiting for a statement."""

    events: Sequence[Event]
    routes: Sequence[tuple[str, ...]]
    now: float
    lease: float | None
    done: asyncio.Future[list[PersistResult]]
    request: RequestRecord | None = None


def _settle_calls(calls: Sequence[_PersistCall], results: Sequence[list[PersistResult]]) -> None:
    for call, found in zip(calls, results, strict=True):
        if not call.done.done():  # a caller that gave up (its request was cancelled)
            call.done.set_result(found)


def _fail_calls(calls: Sequence[_PersistCall], exc: BaseException) -> None:
    for call in calls:
        if not call.done.done():
            call.done.set_exception(exc)


def default_owner() -> str:
    """Names this replica's leases: one process on one host."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _UnreachableError(StoreError):
    """The server cannot be reached (no connection within the acquire timeout, or the
    connection broke): every call fails alike, whatever its input."""


class PostgresStore(Store):
    """`postgresql://USER@HOST:PORT/DATABASE` (or `postgres://…`); tables in `schema_name`."""

    single_node: ClassVar[bool] = False
    _pool: AsyncConnectionPool[Conn] | None = None
    _owner: str | None = None
    _waiting: list[_PersistCall]
    _flushers: set[asyncio.Task[None]]

    def __post_init__(self) -> None:
        self._waiting = []
        self._flushers = set()

    @property
    def owner(self) -> str:
        """Recorded on this replica's leases (`release_claims` releases only these)."""
        if self._owner is None:
            self._owner = default_owner()
        return self._owner

    @owner.setter
    def owner(self, value: str) -> None:
        self._owner = value

    async def open(self, *, create: bool = True) -> None:
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self.settings.url,
            min_size=self.settings.pool_min_size,
            max_size=self.settings.pool_max_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            timeout=self.settings.acquire_timeout_seconds,
            open=False,
            name="hookgate",
        )
        try:
            # Migrate on a connection of its own first: an unreachable server or a refused
            # login fails here at once, with libpq's own words.
            async with await psycopg.AsyncConnection.connect(
                self.settings.url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)
            ) as conn:
                if not create and not await schema_exists(conn, self.settings.schema_name):
                    raise StoreError(
                        f"no store in postgresql database {self.settings.display_url}: its schema "
                        f"{self.settings.schema_name!r} does not exist (`hookgate serve` creates it)"
                    )
                before, after = await upgrade(conn, self.settings.schema_name)
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.Error as exc:
            await pool.close()
            raise StoreError(f"cannot open postgresql database {self.settings.display_url}: {exc}") from None
        except BaseException:
            await pool.close()
            raise
        if before != after:
            log.info("schema_migrated", schema=self.settings.schema_name, version=after, previous=before)
        self._pool = pool

    async def _configure(self, conn: Conn) -> None:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.settings.schema_name)))

    async def close(self) -> None:
        if self._flushers:  # calls already accepted are stored (or failed) before closing
            await asyncio.gather(*self._flushers, return_exceptions=True)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def schema_version(self) -> int:
        async def run(conn: Conn) -> int:
            cur = await conn.execute("SELECT COALESCE(max(version), 0) FROM hookgate_schema")
            row = await cur.fetchone()
            return int(row[0]) if row is not None else 0

        return await self._run(run)

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `fn` on a pooled connection; psycopg's errors become `StoreError`."""
        pool = self._pool
        if pool is None:
            raise StoreError("store is not open")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with pool.connection() as conn:
                    return await fn(conn)
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
                if attempt == _ATTEMPTS:
                    raise StoreError(f"postgresql: {exc}") from None
                log.info("store_statement_retried", cause=type(exc).__name__, attempt=attempt)
            except psycopg.OperationalError as exc:  # no connection in time, or it broke
                raise _UnreachableError(f"postgresql: {exc}") from None
            except psycopg.Error as exc:
                raise StoreError(f"postgresql: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _probe(self) -> None:
        async def run(conn: Conn) -> None:
            await conn.execute("SELECT 1")

        await self._run(run)

    # -- primitives ---------------------------------------------------------------------
    async def _persist(
        self,
        events: Sequence[Event],
        routes: Sequence[tuple[str, ...]],
        now: float,
        window: float,
        lease: float | None,
        *,
        request: RequestRecord | None = None,
    ) -> list[PersistResult]:
        call = _PersistCall(events, routes, now, lease, asyncio.get_running_loop().create_future(), request)
        self._waiting.append(call)
        if len(self._flushers) < PERSIST_STATEMENTS:
            task = asyncio.create_task(self._flush(window))
            self._flushers.add(task)
            task.add_done_callback(self._flushers.discard)
        return await call.done

    async def _flush(self, window: float) -> None:
        """Store the waiting calls, a statement at a time, until none is left."""
        while self._waiting:
            calls, self._waiting = self._waiting, []
            try:
                _settle_calls(calls, await self._persist_calls(calls, window))
            except Exception as exc:  # noqa: BLE001 - handed to the callers, never lost
                if len(calls) == 1 or isinstance(exc, _UnreachableError):  # an outage fails them all
                    _fail_calls(calls, exc)
                    continue
                for call in calls:  # one call's bad input must not fail the others
                    try:
                        _settle_calls([call], await self._persist_calls([call], window))
                    except Exception as alone:  # noqa: BLE001
                        _fail_calls([call], alone)

    async def _persist_calls(self, calls: Sequence[_PersistCall], window: float) -> list[list[PersistResult]]:
        # One row per key (an upsert may touch a row once), keys in one global order so
        # concurrent statements lock them in the same order (no deadlocks).
        firsts: dict[tuple[str, str], tuple[Event, tuple[str, ...], _PersistCall]] = {}
        for call in calls:
            for event, route in zip(call.events, call.routes, strict=True):
                firsts.setdefault((event.source, event.dedup_key), (event, route, call))
        chosen = [firsts[key] for key in sorted(firsts)]
        rows = [event for event, _, _ in chosen]
        # A delivery is pending, or already leased to the caller (first attempt under way).
        deliveries = [
            (event.id, sink, call.now, call.lease) for event, route, call in chosen for sink in route
        ]
        params: dict[str, Any] = {
            "ids": [e.id for e in rows],
            "sources": [e.source for e in rows],
            "keys": [e.dedup_key for e in rows],
            "types": [e.detail_type for e in rows],
            "received": [e.received_at for e in rows],
            "entries": [e.entry for e in rows],
            "keep": [e.keep_until for e in rows],
            "seen": [call.now for _, _, call in chosen],
            "provider_ids": [e.provider_event_id for e in rows],
            "provider_deliveries": [e.provider_delivery_id for e in rows],
            # Each request lists its own events' ids (corrected below for duplicates).
            **_request_arrays(
                [
                    dataclasses.replace(call.request, event_ids=tuple(e.id for e in call.events))
                    for call in calls
                    if call.request is not None
                ]
            ),
            "window": window,
            "route_ids": [d[0] for d in deliveries],
            "route_sinks": [d[1] for d in deliveries],
            "route_states": ["pending" if d[3] is None else "forwarding" for d in deliveries],
            "route_attempts": [0 if d[3] is None else 1 for d in deliveries],
            "route_due": [d[2] if d[3] is None else d[2] + d[3] for d in deliveries],
            "route_updated": [d[2] for d in deliveries],
            "route_owners": [None if d[3] is None else self.owner for d in deliveries],
        }

        async def run(conn: Conn) -> list[list[PersistResult]]:
            cur = await conn.execute(_PERSIST, params)
            stored = {row[0] for row in await cur.fetchall()}
            known = {(e.source, e.dedup_key): e.id for e in rows if e.id in stored}
            missing = [key for key in firsts if key not in known]
            if missing:  # committed by someone else: read it now that it is visible
                cur = await conn.execute(
                    "SELECT source, dedup_key, event_id FROM dedup WHERE (source, dedup_key) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                    [[k[0] for k in missing], [k[1] for k in missing]],
                )
                known.update({(source, key): id_ for source, key, id_ in await cur.fetchall()})
            results = []
            for call in calls:
                found = []
                for event in call.events:
                    first = known.get((event.source, event.dedup_key))
                    if first is None:
                        raise StoreError(f"dedup key of event {event.id} vanished while it was stored")
                    found.append(PersistResult(first, duplicate=first != event.id))
                results.append(found)
            # A request's record lists its events' ids; a duplicate's is the first one's.
            corrected = [
                (orjson.dumps([r.event_id for r in found]).decode(), call.request.id)
                for call, found in zip(calls, results, strict=True)
                if call.request is not None and any(r.duplicate for r in found)
            ]
            if corrected:
                async with conn.cursor() as cur:
                    await cur.executemany("UPDATE requests SET event_ids = %s WHERE id = %s", corrected)
            return results

        return await self._run(run)

    async def _claim(self, sink: str, limit: int, now: float, lease: float) -> list[Claimed]:
        params = {"sink": sink, "now": now, "limit": limit, "until": now + lease, "owner": self.owner}

        async def run(conn: Conn) -> list[Claimed]:
            cur = await conn.execute(_CLAIM, params)
            return [Claimed(Event(*row[:9]), row[9]) for row in await cur.fetchall()]

        return await self._run(run)

    async def _apply(
        self, sink: str, transitions: Sequence[Transition], now: float, duration_ms: float
    ) -> None:
        if not transitions:
            return
        params = {
            "sink": sink,
            "now": now,
            "duration": duration_ms,
            "outcomes": [t.outcome for t in transitions],
            "ids": [t.event_id for t in transitions],
            "attempts": [t.attempts for t in transitions],
            "states": [t.state for t in transitions],
            "due": [t.due_at for t in transitions],
            "causes": [t.cause for t in transitions],
            "refunds": [int(t.refund) for t in transitions],
        }

        async def run(conn: Conn) -> None:
            await conn.execute(_SETTLE, params)

        await self._run(run)

    async def _release_claims(self, now: float) -> int:
        async def run(conn: Conn) -> int:
            cur = await conn.execute(
                "UPDATE deliveries SET state = 'retry', due_at = %s, updated_at = %s, claimed_by = NULL "
                "WHERE state = 'forwarding' AND claimed_by = %s",
                [now, now, self.owner],
            )
            return cur.rowcount

        return await self._run(run)

    async def _save_enriched(self, event_id: str, entry: str, now: float) -> str | None:
        async def run(conn: Conn) -> str | None:
            cur = await conn.execute(
                "UPDATE events SET entry = %s, enriched_at = %s "
                "WHERE id = %s AND enriched_at IS NULL RETURNING entry",
                [entry, now, event_id],
            )
            row = await cur.fetchone()
            if row is None:  # enriched already (a statement of its own sees that commit), or gone
                cur = await conn.execute("SELECT entry FROM events WHERE id = %s", [event_id])
                row = await cur.fetchone()
            return None if row is None else str(row[0])

        return await self._run(run)

    async def _redrive(self, event_ids: list[str] | None, sink: str | None, now: float) -> int:
        query = (
            "UPDATE deliveries SET state = 'retry', attempts = 0, due_at = %s, updated_at = %s "
            "WHERE state = 'dead'"
        )
        params: list[Any] = [now, now]
        if sink is not None:
            query += " AND sink = %s"
            params.append(sink)
        if event_ids is not None:
            query += " AND event_id = ANY(%s::text[])"
            params.append(event_ids)

        async def run(conn: Conn) -> int:
            return (await conn.execute(query, params)).rowcount

        return await self._run(run)

    async def _event_ids(self, source: str | None, since: float | None, until: float | None) -> list[str]:
        query, params = event_filters(
            "SELECT id FROM events WHERE true", EventQuery(source, since, until), mark="%s"
        )

        async def run(conn: Conn) -> list[str]:
            cur = await conn.execute(query + " ORDER BY id", params)
            return [row[0] for row in await cur.fetchall()]

        return await self._run(run)

    async def _load_events(self, event_ids: Sequence[str]) -> list[Event]:
        async def run(conn: Conn) -> list[Event]:
            cur = await conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ANY(%s::text[]) ORDER BY id",  # noqa: S608
                [list(event_ids)],
            )
            return [Event(*row) for row in await cur.fetchall()]

        return await self._run(run)

    async def _requeue(self, pairs: Sequence[tuple[str, str]], now: float, replay_name: str | None) -> None:
        unique = list(dict.fromkeys(pairs))
        params = {
            "ids": [event_id for event_id, _ in unique],
            "sinks": [sink for _, sink in unique],
            "now": now,
            "replay": replay_name,
        }

        async def run(conn: Conn) -> None:
            await conn.execute(_REQUEUE, params)

        await self._run(run)

    async def _purge(self, before: float, now: float) -> int:
        """Delete fully delivered events older than `before` (and past their `keep_until`)
        in chunks (short transactions)."""
        params = {"floor": id_floor(before), "now": now, "limit": _PURGE_CHUNK}

        async def run(conn: Conn) -> int:
            return (await conn.execute(_PURGE, params)).rowcount

        total = 0
        while (purged := await self._run(run)) > 0:
            total += purged
            if purged < _PURGE_CHUNK:
                break
        return total

    # -- queries ------------------------------------------------------------------------
    async def _get_event(self, event_id: str) -> tuple[Event, tuple[DeliveryRecord, ...]] | None:
        async def run(conn: Conn) -> tuple[Event, tuple[DeliveryRecord, ...]] | None:
            cur = await conn.execute(
                f"SELECT {_EVENT_COLUMNS}, provider_event_id, provider_delivery_id "  # noqa: S608
                "FROM events WHERE id = %s",
                [event_id],
            )
            row = await cur.fetchone()
            if row is None:
                return None
            id_, source, key, type_, at, entry, keep, provider_id, provider_delivery = row
            event = Event(
                id_,
                source,
                key,
                type_,
                at,
                entry,
                keep,
                provider_event_id=provider_id,
                provider_delivery_id=provider_delivery,
            )
            return event, (await _deliveries(conn, [event_id])).get(event_id, ())

        return await self._run(run)

    async def _list_events(self, query: EventQuery, limit: int) -> list[EventSummary]:
        sql, params = event_filters(
            f"SELECT {_SUMMARY_COLUMNS} FROM events WHERE true",  # noqa: S608
            query,
            mark="%s",
            like="ILIKE",
        )

        async def run(conn: Conn) -> list[EventSummary]:
            cur = await conn.execute(sql + " ORDER BY id DESC LIMIT %s", [*params, limit])
            rows = await cur.fetchall()
            records = await _deliveries(conn, [row[0] for row in rows])
            return [
                EventSummary(id_, source_, type_, key, at, records.get(id_, ()), provider)
                for id_, source_, type_, key, at, provider in rows
            ]

        return await self._run(run)

    async def _attempts(self, event_ids: Sequence[str]) -> dict[str, tuple[AttemptRecord, ...]]:
        async def run(conn: Conn) -> dict[str, tuple[AttemptRecord, ...]]:
            cur = await conn.execute(
                "SELECT event_id, sink, attempt, at, duration_ms, outcome, cause FROM attempts "
                "WHERE event_id = ANY(%s::text[]) ORDER BY event_id, sink, at, attempt",
                [list(event_ids)],
            )
            found: dict[str, list[AttemptRecord]] = {event_id: [] for event_id in event_ids}
            for event_id, *record in await cur.fetchall():
                found[event_id].append(AttemptRecord(*record))
            return {event_id: tuple(records) for event_id, records in found.items()}

        return await self._run(run)

    async def _list_requests(self, query: RequestQuery, limit: int) -> list[RequestRecord]:
        statement, params = request_filters(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE true",  # noqa: S608
            query,
            mark="%s",
        )

        async def run(conn: Conn) -> list[RequestRecord]:
            cur = await conn.execute(statement + " ORDER BY id DESC LIMIT %s", [*params, limit])
            return [request_record(row) for row in await cur.fetchall()]

        return await self._run(run)

    async def _record_requests(self, records: Sequence[RequestRecord], max_rows: int) -> None:
        params = _request_arrays(records)

        async def run(conn: Conn) -> None:
            async with conn.transaction():
                await conn.execute(_INSERT_REQUESTS, params)
                await _trim_requests(conn, max_rows)

        await self._run(run)

    async def _replace_entries(self, changes: Sequence[tuple[str, str, str]]) -> int:
        async def run(conn: Conn) -> int:
            cur = await conn.execute(
                "UPDATE events AS e SET entry = c.new FROM unnest(%s::text[], %s::text[], %s::text[]) "
                "AS c (id, old, new) WHERE e.id = c.id AND e.entry = c.old",
                [[c[0] for c in changes], [c[1] for c in changes], [c[2] for c in changes]],
            )
            return cur.rowcount

        return await self._run(run)

    async def _replace_request_payloads(self, records: Sequence[RequestRecord]) -> int:
        async def run(conn: Conn) -> int:
            cur = await conn.execute(
                "UPDATE requests AS r SET headers = c.headers, body = c.body "
                "FROM unnest(%s::text[], %s::text[], %s::bytea[]) AS c (id, headers, body) WHERE r.id = c.id",
                [
                    [r.id for r in records],
                    [orjson.dumps(r.headers).decode() for r in records],
                    [r.body for r in records],
                ],
            )
            return cur.rowcount

        return await self._run(run)

    async def _purge_requests(self, before: str, max_rows: int) -> int:
        async def run(conn: Conn) -> int:
            old = (await conn.execute("DELETE FROM requests WHERE id < %s", [before])).rowcount
            return old + await _trim_requests(conn, max_rows)

        return await self._run(run)

    async def _list_dead(self, query: DeadLetterQuery, limit: int) -> list[DeadLetter]:
        sql, params = dead_letter_filters(query, mark="%s")

        async def run(conn: Conn) -> list[DeadLetter]:
            cur = await conn.execute(sql + " LIMIT %s", [*params, limit])
            return [DeadLetter(*row) for row in await cur.fetchall()]

        return await self._run(run)

    async def depth(self) -> dict[tuple[str, State], int]:
        async def run(conn: Conn) -> dict[tuple[str, State], int]:
            # Two queries, each matching a partial index: delivered rows are never read.
            cur = await conn.execute(
                "SELECT sink, state, count(*) FROM deliveries "
                "WHERE state IN ('pending', 'retry', 'forwarding') GROUP BY sink, state"
            )
            rows = await cur.fetchall()
            cur = await conn.execute(
                "SELECT sink, state, count(*) FROM deliveries WHERE state = 'dead' GROUP BY sink, state"
            )
            rows += await cur.fetchall()
            return {(sink, state): count for sink, state, count in rows}

        return await self._run(run)

    async def _oldest_pending(self) -> dict[str, float]:
        async def run(conn: Conn) -> dict[str, float]:
            # Ids order events by arrival: per sink, the smallest id of an open delivery.
            cur = await conn.execute(
                "SELECT d.sink, e.received_at FROM (SELECT sink, min(event_id) AS oldest "
                "FROM deliveries WHERE state IN ('pending', 'retry', 'forwarding') GROUP BY sink) AS d "
                "JOIN events AS e ON e.id = d.oldest"
            )
            return dict(await cur.fetchall())

        return await self._run(run)


_INSERT_REQUESTS = """
INSERT INTO requests (id, received_at, source, status, outcome, cause, size, client, event_ids, headers, body)
SELECT * FROM unnest(%(req_ids)s::text[], %(req_at)s::float8[], %(req_sources)s::text[],
                     %(req_status)s::int4[], %(req_outcomes)s::text[], %(req_causes)s::text[],
                     %(req_sizes)s::int4[], %(req_clients)s::text[], %(req_events)s::text[],
                     %(req_headers)s::text[], %(req_bodies)s::bytea[])
ON CONFLICT (id) DO NOTHING
"""


def _request_arrays(records: Sequence[RequestRecord]) -> dict[str, list[Any]]:
    """The parameters of an `unnest` insert of `records` (`_INSERT_REQUESTS`, `_PERSIST`)."""
    return {
        "req_ids": [r.id for r in records],
        "req_at": [r.received_at for r in records],
        "req_sources": [r.source for r in records],
        "req_status": [r.status for r in records],
        "req_outcomes": [r.outcome for r in records],
        "req_causes": [r.cause for r in records],
        "req_sizes": [r.size for r in records],
        "req_clients": [r.client for r in records],
        "req_events": [orjson.dumps(r.event_ids).decode() for r in records],
        "req_headers": [orjson.dumps(r.headers).decode() for r in records],
        "req_bodies": [r.body for r in records],
    }


async def _trim_requests(conn: Conn, max_rows: int) -> int:
    """Delete the oldest requests beyond `max_rows`."""
    cur = await conn.execute("SELECT id FROM requests ORDER BY id DESC LIMIT 1 OFFSET %s", [max_rows])
    row = await cur.fetchone()
    if row is None:
        return 0
    return (await conn.execute("DELETE FROM requests WHERE id <= %s", [row[0]])).rowcount


async def _deliveries(conn: Conn, event_ids: list[str]) -> dict[str, tuple[DeliveryRecord, ...]]:
    if not event_ids:
        return {}
    cur = await conn.execute(
        "SELECT event_id, sink, state, attempts, due_at, last_cause, updated_at FROM deliveries "
        "WHERE event_id = ANY(%s::text[]) ORDER BY event_id, sink",
        [event_ids],
    )
    found: dict[str, list[DeliveryRecord]] = {}
    for event_id, *record in await cur.fetchall():
        found.setdefault(event_id, []).append(DeliveryRecord(*record))
    return {event_id: tuple(records) for event_id, records in found.items()}
