"""The PostgreSQL schema, created and migrated by hookgate itself.

Everything lives in one PostgreSQL schema (`[store] schema_name`, default `hookgate`).
Its table `hookgate_schema` records each applied migration (version, description, time);
`MIGRATIONS` is the ordered list of them. `upgrade` applies the pending ones in a single
transaction under an advisory lock, so replicas starting together migrate once, and a
failed migration leaves the schema as it was. A database migrated by a newer hookgate
(a version this one does not know) is refused rather than used.

A migration is only ever appended: a released one never changes. Its `optional` step,
if any, runs last in a savepoint: when the server refuses it (an extension it does not
have, or may not create), it is rolled back and the migration applies without it.

Migration 7 is such a step: a trigram index (`pg_trgm`) over the events' entries, so a
text search (`q`, an `ILIKE '%…%'`) reads only the events that hold the text instead of
every payload. It needs `CREATE EXTENSION pg_trgm` (a trusted extension: the database's
owner, or anyone with CREATE on it, may create it), or the extension already installed;
without it, `q` reads the payloads newest first as before. The build holds writes to
`events` for its duration (minutes at a million events): on a large store an operator
builds the index beforehand, concurrently, and the migration finds it (docs/console.md):

    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
    CREATE INDEX CONCURRENTLY IF NOT EXISTS events_entry_trgm ON hookgate.events
        USING gin (entry public.gin_trgm_ops);
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psycopg
import structlog
from psycopg import sql
from psycopg.rows import TupleRow

from gateway.errors import StoreError

__all__ = [
    "LATEST",
    "MIGRATIONS",
    "TRIGRAM_INDEX",
    "Migration",
    "create_trigram_index",
    "schema_exists",
    "upgrade",
]

log = structlog.get_logger()

Conn = psycopg.AsyncConnection[TupleRow]
#: The trigram index of the events' entries (migration 7, when the server allows it).
TRIGRAM_INDEX = "events_entry_trgm"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    #: Run after `statements` in a savepoint; skipped when the server refuses it.
    optional: Callable[[Conn], Awaitable[None]] | None = None


async def create_trigram_index(conn: Conn) -> None:
    """The trigram index of `events.entry`, creating `pg_trgm` (in `public`) if it is not
    installed yet; the operator class is named with the schema the extension lives in."""
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    cur = await conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    )
    row = await cur.fetchone()
    if row is None:  # pragma: no cover - created just above
        raise psycopg.errors.UndefinedObject("pg_trgm is not installed")
    await conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON events USING gin (entry {}.gin_trgm_ops)").format(
            sql.Identifier(TRIGRAM_INDEX), sql.Identifier(row[0])
        )
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events, dedup keys and deliveries",
        (
            # Event ids are UUIDv7 text: with the "C" collation they sort bytewise, so time
            # ranges are id ranges and new keys are appended at the end of the index.
            """
            CREATE TABLE events (
                id text COLLATE "C" PRIMARY KEY,
                source text NOT NULL,
                dedup_key text NOT NULL,
                detail_type text NOT NULL,
                received_at double precision NOT NULL,
                entry text NOT NULL
            )
            """,
            """
            CREATE TABLE dedup (
                source text COLLATE "C" NOT NULL,
                dedup_key text COLLATE "C" NOT NULL,
                event_id text COLLATE "C" NOT NULL,
                seen_at double precision NOT NULL,
                PRIMARY KEY (source, dedup_key)
            )
            """,
            # `claimed_by` names the replica holding a `forwarding` lease, so a replica
            # releases its own leases and never another's.
            """
            CREATE TABLE deliveries (
                event_id text COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
                sink text COLLATE "C" NOT NULL,
                state text NOT NULL
                    CHECK (state IN ('pending', 'forwarding', 'retry', 'delivered', 'dead')),
                attempts integer NOT NULL DEFAULT 0,
                due_at double precision NOT NULL,
                last_cause text,
                updated_at double precision NOT NULL,
                claimed_by text,
                PRIMARY KEY (event_id, sink)
            )
            """,
            # Only open deliveries are indexed for claiming; delivered ones leave the index.
            """
            CREATE INDEX deliveries_due ON deliveries (sink, due_at, event_id)
                WHERE state IN ('pending', 'retry', 'forwarding')
            """,
            "CREATE INDEX deliveries_dead ON deliveries (updated_at) WHERE state = 'dead'",
            "CREATE INDEX deliveries_claimed ON deliveries (claimed_by) WHERE state = 'forwarding'",
        ),
    ),
    Migration(
        2,
        "archive retention of events and replay names of deliveries",
        (
            "ALTER TABLE events ADD COLUMN keep_until double precision",
            "ALTER TABLE deliveries ADD COLUMN replay_name text",
        ),
    ),
    Migration(
        3,
        "when an event's entry was completed by its source's enricher",
        ("ALTER TABLE events ADD COLUMN enriched_at double precision",),
    ),
    Migration(
        4,
        "events found by their provider event id (dedup key)",
        ("CREATE INDEX events_dedup_key ON events (dedup_key)",),
    ),
    Migration(
        5,
        "the admin side: events by provider ids, source and detail-type; attempts and requests logs",
        (
            "ALTER TABLE events ADD COLUMN provider_event_id text",
            "ALTER TABLE events ADD COLUMN provider_delivery_id text",
            # Bytewise, like the ids: a detail-type prefix is an index range.
            'ALTER TABLE events ALTER COLUMN source TYPE text COLLATE "C"',
            'ALTER TABLE events ALTER COLUMN detail_type TYPE text COLLATE "C"',
            "CREATE INDEX events_provider_event_id ON events (provider_event_id) "
            "WHERE provider_event_id IS NOT NULL",
            "CREATE INDEX events_provider_delivery_id ON events (provider_delivery_id) "
            "WHERE provider_delivery_id IS NOT NULL",
            "CREATE INDEX events_source ON events (source, id)",
            "CREATE INDEX events_detail_type ON events (detail_type, id)",
            # Delivered is the common, final state: the others are indexed for `state=` lists.
            "CREATE INDEX deliveries_state ON deliveries (state, event_id) WHERE state <> 'delivered'",
            # No foreign key: an attempt is logged whatever became of its event meanwhile;
            # a purge deletes an event's attempts with it.
            """
            CREATE TABLE attempts (
                event_id text COLLATE "C" NOT NULL,
                sink text COLLATE "C" NOT NULL,
                attempt integer NOT NULL,
                at double precision NOT NULL,
                duration_ms double precision NOT NULL,
                outcome text NOT NULL,
                cause text
            )
            """,
            "CREATE INDEX attempts_event ON attempts (event_id, sink, at)",
            """
            CREATE TABLE requests (
                id text COLLATE "C" PRIMARY KEY,
                received_at double precision NOT NULL,
                source text COLLATE "C" NOT NULL,
                status integer NOT NULL,
                outcome text NOT NULL,
                cause text,
                size integer NOT NULL,
                client text,
                event_ids text NOT NULL,
                headers text NOT NULL,
                body bytea
            )
            """,
            # Rejected ones are what a person looks for; a source's are found by reading newest first.
            "CREATE INDEX requests_outcome ON requests (outcome, id)",
        ),
    ),
    Migration(
        6,
        "discovered schemas and their versions",
        (
            """
            CREATE TABLE schemas (
                name text COLLATE "C" PRIMARY KEY,
                source text COLLATE "C" NOT NULL,
                event_source text NOT NULL,
                detail_type text NOT NULL,
                compatibility text NOT NULL,
                created_at double precision NOT NULL,
                updated_at double precision NOT NULL,
                overflow bigint NOT NULL DEFAULT 0,
                pinned_version integer
            )
            """,
            "CREATE INDEX schemas_source ON schemas (source)",
            """
            CREATE TABLE schema_versions (
                name text COLLATE "C" NOT NULL REFERENCES schemas (name) ON DELETE CASCADE,
                version integer NOT NULL,
                content text NOT NULL,
                created_at double precision NOT NULL,
                event_count bigint NOT NULL,
                sample_event_id text NOT NULL,
                compatible boolean NOT NULL,
                verdict text NOT NULL,
                PRIMARY KEY (name, version)
            )
            """,
        ),
    ),
    Migration(
        7,
        "a trigram index of the events' entries for text search (when pg_trgm is available)",
        (),
        optional=create_trigram_index,
    ),
)
LATEST = MIGRATIONS[-1].version


async def schema_exists(conn: psycopg.AsyncConnection[TupleRow], schema: str) -> bool:
    """Whether hookgate created `schema` (it holds hookgate's migration table)."""
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.hookgate_schema"])
    row = await cur.fetchone()
    return bool(row and row[0])


async def upgrade(conn: psycopg.AsyncConnection[TupleRow], schema: str) -> tuple[int, int]:
    """Apply the pending migrations to `schema` (creating it); (version before, after)."""
    name = sql.Identifier(schema)
    async with conn.transaction():
        # One migrator per schema at a time; the lock ends with the transaction.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"hookgate:{schema}"])
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(name))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS hookgate_schema ("
            " version integer PRIMARY KEY,"
            " description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT COALESCE(max(version), 0) FROM hookgate_schema")
        row = await cur.fetchone()
        before = int(row[0]) if row is not None else 0
        if before > LATEST:
            raise StoreError(
                f"the database schema {schema!r} is at version {before}, newer than this "
                f"hookgate knows ({LATEST}): upgrade hookgate"
            )
        for migration in MIGRATIONS:
            if migration.version <= before:
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            if migration.optional is not None:
                await _optional(conn, migration)
            await conn.execute(
                "INSERT INTO hookgate_schema (version, description) VALUES (%s, %s)",
                [migration.version, migration.description],
            )
    return before, LATEST


async def _optional(conn: Conn, migration: Migration) -> None:
    """`migration.optional` in a savepoint: rolled back, and logged, when the server refuses it."""
    assert migration.optional is not None
    try:
        async with conn.transaction():
            await migration.optional(conn)
    except psycopg.Error as exc:
        log.info(
            "migration_step_skipped",
            version=migration.version,
            step=migration.description,
            reason=type(exc).__name__,
        )
