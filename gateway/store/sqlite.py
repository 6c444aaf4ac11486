"""The embedded default backend: one SQLite file in WAL mode, `synchronous=FULL`.

Durability is never weakened for speed. Throughput comes from group commit: every
write (ingest, claims, settlements) is a job for one writer thread (`_groupcommit`),
so many concurrent requests share one fsync. Queries run on a separate reader
connection, which WAL lets proceed while the writer works.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

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
from gateway.store._groupcommit import Writer

__all__ = ["SQLiteStore"]

T = TypeVar("T")

SCHEMA_VERSION = 6
#: The version `SCHEMA` creates; a new database then takes the later `MIGRATIONS` too.
BASE_VERSION = 4
#: The discovered schemas (`gateway.schemas`): one per (source, detail-type), and its versions.
_SCHEMA_REGISTRY = """
CREATE TABLE IF NOT EXISTS schemas (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    event_source TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    compatibility TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    overflow INTEGER NOT NULL DEFAULT 0,
    pinned_version INTEGER
);
CREATE INDEX IF NOT EXISTS schemas_source ON schemas (source);
CREATE TABLE IF NOT EXISTS schema_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    created_at REAL NOT NULL,
    event_count INTEGER NOT NULL,
    sample_event_id TEXT NOT NULL,
    compatible INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
"""
# Statements are separated by ";" (and no comment holds one).
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Event ids are UUIDv7, so the primary key orders events by arrival: time ranges are id
-- ranges, and new keys are appended at the end of the index. (A rowid table: entries are
-- large, which WITHOUT ROWID tables store poorly.)
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    received_at REAL NOT NULL,
    entry TEXT NOT NULL,
    keep_until REAL,
    enriched_at REAL
);
-- Found by the provider's event id (`hookgate events show evt_…`, `events list --provider-id`).
CREATE INDEX IF NOT EXISTS events_dedup_key ON events (dedup_key);
CREATE TABLE IF NOT EXISTS dedup (
    source TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (source, dedup_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT NOT NULL,
    sink TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at REAL NOT NULL,
    last_cause TEXT,
    updated_at REAL NOT NULL,
    replay_name TEXT,
    PRIMARY KEY (event_id, sink)
) WITHOUT ROWID;
-- Only open deliveries are indexed for claiming: delivered ones leave the index.
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (sink, due_at)
    WHERE state IN ('pending', 'retry', 'forwarding');
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (updated_at) WHERE state = 'dead';
"""
#: What takes a database of version N-1 to version N (a new database gets `SCHEMA`).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "ALTER TABLE events ADD COLUMN keep_until REAL",
        "ALTER TABLE deliveries ADD COLUMN replay_name TEXT",
    ),
    3: ("ALTER TABLE events ADD COLUMN enriched_at REAL",),
    4: ("CREATE INDEX IF NOT EXISTS events_dedup_key ON events (dedup_key)",),
    # The admin side: events found by the provider's ids and listed by source or
    # detail-type newest first; the attempts log; the requests log.
    5: (
        "ALTER TABLE events ADD COLUMN provider_event_id TEXT",
        "ALTER TABLE events ADD COLUMN provider_delivery_id TEXT",
        "CREATE INDEX events_provider_event_id ON events (provider_event_id) "
        "WHERE provider_event_id IS NOT NULL",
        "CREATE INDEX events_provider_delivery_id ON events (provider_delivery_id) "
        "WHERE provider_delivery_id IS NOT NULL",
        "CREATE INDEX events_source ON events (source, id)",
        "CREATE INDEX events_detail_type ON events (detail_type, id)",
        # Delivered is the common, final state: the others are indexed for `state=` lists.
        "CREATE INDEX deliveries_state ON deliveries (state, event_id) WHERE state != 'delivered'",
        """CREATE TABLE attempts (
            event_id TEXT NOT NULL,
            sink TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            at REAL NOT NULL,
            duration_ms REAL NOT NULL,
            outcome TEXT NOT NULL,
            cause TEXT
        )""",
        "CREATE INDEX attempts_event ON attempts (event_id, sink, at)",
        """CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            received_at REAL NOT NULL,
            source TEXT NOT NULL,
            status INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            cause TEXT,
            size INTEGER NOT NULL,
            client TEXT,
            event_ids TEXT NOT NULL,
            headers TEXT NOT NULL,
            body BLOB
        )""",
        # Rejected ones are what a person looks for; a source's are found by reading newest first.
        "CREATE INDEX requests_outcome ON requests (outcome, id)",
    ),
    # The discovered schemas (`gateway.schemas`).
    6: tuple(s for s in _SCHEMA_REGISTRY.split(";") if s.strip()),
}


def _create_private(path: Path) -> None:
    """Create the database file (0600, its folder 0700) unless it exists: it holds customer
    data. SQLite gives its WAL and shared-memory files the database's mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))


def _connect(path: str, *, create: bool = True, secure_delete: bool = False) -> sqlite3.Connection:
    """A connection to the database at `path`, its schema created or migrated; with
    `create=False`, a missing file is a `StoreError` naming it, and stays missing. With
    `secure_delete` (encryption at rest), what a write frees is overwritten with zeros,
    so a value resealed in place leaves no copy in clear in the file."""
    memory = path == ":memory:"
    if not create and not memory and not Path(path).is_file():
        raise StoreError(
            f"no store at {Path(path).absolute()}: the file does not exist (`hookgate serve` creates it)"
        )
    try:
        if memory:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        elif create:
            _create_private(Path(path))
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        else:  # read-write, never create: the file may have gone since it was seen
            uri = f"{Path(path).absolute().as_uri()}?mode=rw"
            conn = sqlite3.connect(uri, isolation_level=None, check_same_thread=False, uri=True)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        if secure_delete:
            conn.execute("PRAGMA secure_delete = ON")
        _migrate(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open sqlite database {path!r}: {exc}") from None
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    """Create the schema, or bring an older one up to `SCHEMA_VERSION`, in one transaction
    (the writer and the reader connection may open the file at the same moment)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row is not None else None
        if version is None:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            version = BASE_VERSION
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database is at schema version {version}, newer than this hookgate "
                f"knows ({SCHEMA_VERSION}): upgrade hookgate"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_PURGE_CHUNK = 1000
#: A detail-type prefix with at least this many events is matched reading newest first.
_DENSE_PREFIX = 2000
_EVENT_COLUMNS = "id, source, dedup_key, detail_type, received_at, entry, keep_until"
_SUMMARY_COLUMNS = "id, source, detail_type, dedup_key, received_at, provider_event_id"
_INSERTED_COLUMNS = f"{_EVENT_COLUMNS}, provider_event_id, provider_delivery_id"
_ROWS_PER_STATEMENT = 400  # keeps every statement far below SQLite's bound-parameter limit
# The multi-row statements below are built from placeholders only; values are always bound.


@dataclass(frozen=True, slots=True)
class _Persist:
    events: Sequence[Event]
    routes: Sequence[tuple[str, ...]]
    now: float
    window: float
    lease: float | None
    request: RequestRecord | None = None


def _persist_many(conn: sqlite3.Connection, calls: list[_Persist]) -> list[list[PersistResult]]:
    """Dedup and insert the events of many `persist` calls with a few multi-row statements.

    The dedup write is one conditional upsert per chunk: a key seen within the window is
    left alone (a duplicate), an unseen or expired key takes the new event id. The ids it
    returns are the events to store.
    """
    rows = [(ev, call) for call in calls for ev in call.events]
    routes = {ev.id: route for call in calls for ev, route in zip(call.events, call.routes, strict=True)}
    stored: set[str] = set()
    for chunk in _chunks(rows, _ROWS_PER_STATEMENT):
        sql = (
            "INSERT INTO dedup (source, dedup_key, event_id, seen_at) VALUES "  # noqa: S608
            + ",".join(["(?, ?, ?, ?)"] * len(chunk))
            + " ON CONFLICT (source, dedup_key) DO UPDATE "
            "SET event_id = excluded.event_id, seen_at = excluded.seen_at "
            "WHERE dedup.seen_at < excluded.seen_at - ? RETURNING event_id"
        )
        params: list[Any] = [v for ev, c in chunk for v in (ev.source, ev.dedup_key, ev.id, c.now)]
        params.append(chunk[0][1].window)
        stored.update(row[0] for row in conn.execute(sql, params))
    fresh = [r for r in rows if r[0].id in stored]
    for chunk in _chunks(fresh, _ROWS_PER_STATEMENT):
        conn.execute(
            f"INSERT INTO events ({_INSERTED_COLUMNS}) VALUES "  # noqa: S608
            + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
            [v for ev, _ in chunk for v in _event_row(ev)],
        )
    # A delivery is pending, or already leased to the caller (first attempt under way).
    deliveries = [
        (ev.id, sink, "pending", 0, c.now, c.now)
        if c.lease is None
        else (ev.id, sink, "forwarding", 1, c.now + c.lease, c.now)
        for ev, c in fresh
        for sink in routes[ev.id]
    ]
    for part in _chunks(deliveries, _ROWS_PER_STATEMENT):
        conn.execute(
            "INSERT INTO deliveries (event_id, sink, state, attempts, due_at, updated_at) VALUES "  # noqa: S608
            + ",".join(["(?, ?, ?, ?, ?, ?)"] * len(part)),
            [v for row in part for v in row],
        )
    results = []
    for call in calls:
        call_results = []
        for ev in call.events:
            if ev.id in stored:
                call_results.append(PersistResult(ev.id, duplicate=False))
                continue
            (first,) = conn.execute(
                "SELECT event_id FROM dedup WHERE source = ? AND dedup_key = ?", (ev.source, ev.dedup_key)
            ).fetchone()
            call_results.append(PersistResult(first, duplicate=True))
        results.append(call_results)
    recorded = [
        dataclasses.replace(call.request, event_ids=tuple(r.event_id for r in found))
        for call, found in zip(calls, results, strict=True)
        if call.request is not None
    ]
    if recorded:
        _insert_requests(conn, recorded)
    return results


def _event_row(ev: Event) -> tuple[Any, ...]:
    return (
        ev.id,
        ev.source,
        ev.dedup_key,
        ev.detail_type,
        ev.received_at,
        ev.entry,
        ev.keep_until,
        ev.provider_event_id,
        ev.provider_delivery_id,
    )


def _insert_requests(conn: sqlite3.Connection, records: Sequence[RequestRecord]) -> None:
    conn.executemany(
        f"INSERT OR IGNORE INTO requests ({REQUEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        [
            (
                r.id,
                r.received_at,
                r.source,
                r.status,
                r.outcome,
                r.cause,
                r.size,
                r.client,
                orjson.dumps(r.event_ids).decode(),
                orjson.dumps(r.headers).decode(),
                r.body,
            )
            for r in records
        ],
    )


def _trim_requests(conn: sqlite3.Connection, max_rows: int) -> int:
    """Delete the oldest requests beyond `max_rows`."""
    row = conn.execute("SELECT id FROM requests ORDER BY id DESC LIMIT 1 OFFSET ?", (max_rows,)).fetchone()
    if row is None:
        return 0
    return conn.execute("DELETE FROM requests WHERE id <= ?", (row[0],)).rowcount


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class SQLiteStore(Store):
    """`sqlite:///relative/path.db` or `sqlite:////absolute/path.db`."""

    _writer: Writer | None = None
    _reader: sqlite3.Connection | None = None
    _reader_lock: threading.Lock | None = None

    @property
    def path(self) -> str:
        return self.settings.url.removeprefix("sqlite:///")

    def volume(self) -> str | None:
        return None if self.path == ":memory:" else str(Path(self.path).absolute().parent)

    async def open(self, *, create: bool = True) -> None:
        if self._writer is None:
            secure = self.cipher is not None
            connect = functools.partial(_connect, self.path, create=create, secure_delete=secure)
            writer = Writer(connect, volume=self.volume())
            writer.start()
            self._writer = writer
            self._reader = _connect(self.path, create=create, secure_delete=secure)
            self._reader_lock = threading.Lock()

    async def schema_version(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            (value,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            return int(value)

        return await self._read(run)

    async def _probe(self) -> None:
        def run(conn: sqlite3.Connection) -> None:  # one row rewritten: a commit, and a WAL frame
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('ready_probe', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (repr(self.clock()),),
            )

        await self._run(run)

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await asyncio.to_thread(writer.stop)
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a query on the reader connection (WAL: it does not wait for the writer)."""
        reader, lock = self._reader, self._reader_lock
        if reader is None or lock is None:
            raise StoreError("store is not open")

        def locked() -> T:
            with lock:
                try:
                    return fn(reader)
                except sqlite3.Error as exc:
                    raise StoreError(f"sqlite: {exc}") from None

        return await asyncio.to_thread(locked)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            raise StoreError("store is not open")
        return await self._writer.submit(fn)

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
        if self._writer is None:
            raise StoreError("store is not open")
        return await self._writer.submit_batched(
            _persist_many, _Persist(events, routes, now, window, lease, request)
        )

    async def _claim(self, sink: str, limit: int, now: float, lease: float) -> list[Claimed]:
        def run(conn: sqlite3.Connection) -> list[Claimed]:
            rows = conn.execute(
                "SELECT e.id, e.source, e.dedup_key, e.detail_type, e.received_at, e.entry, e.keep_until, "
                "d.replay_name, e.enriched_at, d.attempts "
                "FROM deliveries d JOIN events e ON e.id = d.event_id "
                "WHERE d.sink = ? AND d.state IN ('pending', 'retry', 'forwarding') AND d.due_at <= ? "
                "ORDER BY d.due_at LIMIT ?",
                (sink, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE deliveries SET state = 'forwarding', attempts = attempts + 1, due_at = ?, "
                "updated_at = ? WHERE event_id = ? AND sink = ?",
                [(now + lease, now, row[0], sink) for row in rows],
            )
            return [Claimed(Event(*row[:9]), row[9] + 1) for row in rows]

        return await self._run(run)

    async def _apply(
        self, sink: str, transitions: Sequence[Transition], now: float, duration_ms: float
    ) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO attempts (event_id, sink, attempt, at, duration_ms, outcome, cause) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(t.event_id, sink, t.attempts, now, duration_ms, t.outcome, t.cause) for t in transitions],
            )
            conn.executemany(
                "UPDATE deliveries SET state = ?, due_at = ?, last_cause = COALESCE(?, last_cause), "
                "updated_at = ?, attempts = attempts - ? "
                "WHERE event_id = ? AND sink = ? AND state = 'forwarding' AND attempts = ?",
                [
                    (t.state, t.due_at, t.cause, now, int(t.refund), t.event_id, sink, t.attempts)
                    for t in transitions
                ],
            )

        await self._run(run)

    async def _release_claims(self, now: float) -> int:
        def run(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "UPDATE deliveries SET state = 'retry', due_at = ?, updated_at = ? "
                "WHERE state = 'forwarding'",
                (now, now),
            )
            return cur.rowcount

        return await self._run(run)

    async def _save_enriched(self, event_id: str, entry: str, now: float) -> str | None:
        def run(conn: sqlite3.Connection) -> str | None:
            conn.execute(
                "UPDATE events SET entry = ?, enriched_at = ? WHERE id = ? AND enriched_at IS NULL",
                (entry, now, event_id),
            )
            row = conn.execute("SELECT entry FROM events WHERE id = ?", (event_id,)).fetchone()
            return None if row is None else str(row[0])

        return await self._run(run)

    async def _redrive(self, event_ids: list[str] | None, sink: str | None, now: float) -> int:
        def run(conn: sqlite3.Connection) -> int:
            sql = (
                "UPDATE deliveries SET state = 'retry', attempts = 0, due_at = ?, updated_at = ? "
                "WHERE state = 'dead'"
            )
            params: list[Any] = [now, now]
            if sink is not None:
                sql += " AND sink = ?"
                params.append(sink)
            if event_ids is None:
                return conn.execute(sql, params).rowcount
            total = 0
            for event_id in event_ids:
                total += conn.execute(sql + " AND event_id = ?", [*params, event_id]).rowcount
            return total

        return await self._run(run)

    async def _event_ids(self, source: str | None, since: float | None, until: float | None) -> list[str]:
        def run(conn: sqlite3.Connection) -> list[str]:
            sql, params = event_filters(
                "SELECT id FROM events WHERE 1 = 1", EventQuery(source, since, until), mark="?"
            )
            return [row[0] for row in conn.execute(sql + " ORDER BY id", params)]

        return await self._read(run)

    async def _load_events(self, event_ids: Sequence[str]) -> list[Event]:
        def run(conn: sqlite3.Connection) -> list[Event]:
            found: list[Event] = []
            for chunk in _chunks(list(event_ids), _ROWS_PER_STATEMENT):
                rows = conn.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM events WHERE id IN ({','.join('?' * len(chunk))}) "  # noqa: S608
                    "ORDER BY id",
                    chunk,
                )
                found.extend(Event(*row) for row in rows)
            return found

        return await self._read(run)

    async def _requeue(self, pairs: Sequence[tuple[str, str]], now: float, replay_name: str | None) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO deliveries (event_id, sink, state, attempts, due_at, updated_at, replay_name) "
                "SELECT ?, ?, 'pending', 0, ?, ?, ? WHERE EXISTS (SELECT 1 FROM events WHERE id = ?) "
                "ON CONFLICT (event_id, sink) DO UPDATE "
                "SET state = 'pending', attempts = 0, due_at = excluded.due_at, "
                "updated_at = excluded.updated_at, replay_name = excluded.replay_name",
                [(event_id, sink, now, now, replay_name, event_id) for event_id, sink in pairs],
            )

        await self._run(run)

    async def _purge(self, before: float, now: float) -> int:
        """Delete fully delivered events older than `before`, with their dedup keys, in chunks
        so the writer is never held for long."""

        def run(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT id, source, dedup_key FROM events WHERE id < ? "
                "AND (keep_until IS NULL OR keep_until < ?) AND NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state != 'delivered') "
                "LIMIT ?",
                (id_floor(before), now, _PURGE_CHUNK),
            ).fetchall()
            conn.executemany("DELETE FROM deliveries WHERE event_id = ?", [(r[0],) for r in rows])
            conn.executemany("DELETE FROM attempts WHERE event_id = ?", [(r[0],) for r in rows])
            conn.executemany("DELETE FROM events WHERE id = ?", [(r[0],) for r in rows])
            conn.executemany(
                "DELETE FROM dedup WHERE source = ? AND dedup_key = ? AND event_id = ?",
                [(r[1], r[2], r[0]) for r in rows],
            )
            return len(rows)

        total = 0
        while (purged := await self._run(run)) > 0:
            total += purged
            if purged < _PURGE_CHUNK:
                break
        return total

    # -- queries --------------------------------------------------------------------------
    async def _get_event(self, event_id: str) -> tuple[Event, tuple[DeliveryRecord, ...]] | None:
        def run(conn: sqlite3.Connection) -> tuple[Event, tuple[DeliveryRecord, ...]] | None:
            row = conn.execute(
                f"SELECT {_INSERTED_COLUMNS} FROM events WHERE id = ?",  # noqa: S608
                (event_id,),
            ).fetchone()
            if row is None:
                return None
            return _stored_event(row), _deliveries(conn, event_id)

        return await self._read(run)

    async def _list_events(self, query: EventQuery, limit: int) -> list[EventSummary]:
        def run(conn: sqlite3.Connection) -> list[EventSummary]:
            prefix = query.detail_type_prefix
            many = False
            if prefix:
                # SQLite cannot size a prefix's range: the index counts it first. None: the
                # answer is known. Few: through the index, sorted. Many: newest first,
                # filtered, which finds a page soon.
                (found,) = conn.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM events WHERE detail_type >= ? AND detail_type < ? "
                    "LIMIT ?)",
                    (prefix, prefix + "\U0010ffff", _DENSE_PREFIX),
                ).fetchone()
                if not found:
                    return []
                many = found >= _DENSE_PREFIX
            sql, params = event_filters(
                f"SELECT {_SUMMARY_COLUMNS} FROM events WHERE 1 = 1",  # noqa: S608
                query,
                mark="?",
                scan_prefix=many,
            )
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
            return [
                EventSummary(id_, source_, type_, key, at, _deliveries(conn, id_), provider)
                for id_, source_, type_, key, at, provider in rows.fetchall()
            ]

        return await self._read(run)

    async def _attempts(self, event_ids: Sequence[str]) -> dict[str, tuple[AttemptRecord, ...]]:
        def run(conn: sqlite3.Connection) -> dict[str, tuple[AttemptRecord, ...]]:
            found: dict[str, list[AttemptRecord]] = {}
            for event_id in event_ids:
                rows = conn.execute(
                    "SELECT sink, attempt, at, duration_ms, outcome, cause FROM attempts "
                    "WHERE event_id = ? ORDER BY sink, at, rowid",
                    (event_id,),
                )
                found[event_id] = [AttemptRecord(*row) for row in rows.fetchall()]
            return {event_id: tuple(records) for event_id, records in found.items()}

        return await self._read(run)

    async def _list_requests(self, query: RequestQuery, limit: int) -> list[RequestRecord]:
        sql, params = request_filters(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE 1 = 1",  # noqa: S608
            query,
            mark="?",
        )

        def run(conn: sqlite3.Connection) -> list[RequestRecord]:
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
            return [request_record(row) for row in rows]

        return await self._read(run)

    async def _record_requests(self, records: Sequence[RequestRecord], max_rows: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            _insert_requests(conn, records)
            _trim_requests(conn, max_rows)

        await self._run(run)

    async def _replace_entries(self, changes: Sequence[tuple[str, str, str]]) -> int:
        def run(conn: sqlite3.Connection) -> int:
            cur = conn.executemany(
                "UPDATE events SET entry = ? WHERE id = ? AND entry = ?",
                [(new, event_id, old) for event_id, old, new in changes],
            )
            return cur.rowcount

        return await self._run(run)

    async def _replace_request_payloads(self, records: Sequence[RequestRecord]) -> int:
        def run(conn: sqlite3.Connection) -> int:
            cur = conn.executemany(
                "UPDATE requests SET headers = ?, body = ? WHERE id = ?",
                [(orjson.dumps(r.headers).decode(), r.body, r.id) for r in records],
            )
            return cur.rowcount

        return await self._run(run)

    async def _resealed(self) -> None:
        """The old page images go with the write-ahead log (best effort: a reader still
        holding one keeps it until the next checkpoint)."""

        def checkpoint() -> None:  # outside the writer's transactions, which a checkpoint cannot join
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.execute("PRAGMA busy_timeout = 10000")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.close()

        await asyncio.to_thread(checkpoint)

    async def _purge_requests(self, before: str, max_rows: int) -> int:
        def run(conn: sqlite3.Connection) -> int:
            old = conn.execute("DELETE FROM requests WHERE id < ?", (before,)).rowcount
            return old + _trim_requests(conn, max_rows)

        return await self._run(run)

    async def _list_dead(self, query: DeadLetterQuery, limit: int) -> list[DeadLetter]:
        sql, params = dead_letter_filters(query, mark="?")

        def run(conn: sqlite3.Connection) -> list[DeadLetter]:
            rows = conn.execute(sql + " LIMIT ?", [*params, limit])
            return [DeadLetter(*row) for row in rows.fetchall()]

        return await self._read(run)

    async def depth(self) -> dict[tuple[str, State], int]:
        def run(conn: sqlite3.Connection) -> dict[tuple[str, State], int]:
            rows = conn.execute(
                "SELECT sink, state, COUNT(*) FROM deliveries "
                "WHERE state IN ('pending', 'retry', 'forwarding') GROUP BY sink, state"
            ).fetchall()
            rows += conn.execute(
                "SELECT sink, state, COUNT(*) FROM deliveries WHERE state = 'dead' GROUP BY sink, state"
            ).fetchall()
            return {(sink, state): count for sink, state, count in rows}

        return await self._read(run)

    async def _oldest_pending(self) -> dict[str, float]:
        def run(conn: sqlite3.Connection) -> dict[str, float]:
            # Ids order events by arrival: per sink, the smallest id of an open delivery.
            rows = conn.execute(
                "SELECT d.sink, e.received_at FROM (SELECT sink, MIN(event_id) AS oldest "
                "FROM deliveries WHERE state IN ('pending', 'retry', 'forwarding') GROUP BY sink) AS d "
                "JOIN events AS e ON e.id = d.oldest"
            )
            return dict(rows.fetchall())

        return await self._read(run)


def _stored_event(row: Sequence[Any]) -> Event:
    """An event read with `_INSERTED_COLUMNS`."""
    id_, source, key, type_, at, entry, keep, provider_id, provider_delivery = row
    return Event(
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


def _deliveries(conn: sqlite3.Connection, event_id: str) -> tuple[DeliveryRecord, ...]:
    rows = conn.execute(
        "SELECT sink, state, attempts, due_at, last_cause, updated_at FROM deliveries "
        "WHERE event_id = ? ORDER BY sink",
        (event_id,),
    )
    return tuple(DeliveryRecord(*row) for row in rows.fetchall())
