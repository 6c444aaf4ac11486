"""What only a shared database shows: several replicas (stores with pools of their own) on
one PostgreSQL schema, leases held by replicas, and the versioned migrations.

The behaviour common to every backend is in `test_store_contract.py`. Time moves only
through the fake clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.cli import main
from gateway.config import DispatcherSettings, Settings, StoreSettings
from gateway.errors import StoreError
from gateway.store import EventQuery, PersistResult, Settlement, Store, event_filters, open_store
from gateway.store._pgschema import LATEST, MIGRATIONS, TRIGRAM_INDEX, Migration, _optional
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION
from gateway.store.sqlite import SQLiteStore

from ._fakes import FakeClock, make_event
from ._postgres import postgres_schema

pytestmark = pytest.mark.anyio

LEASE = 60.0


@pytest.fixture
def table() -> Iterator[dict[str, Any]]:
    with postgres_schema() as settings:
        yield settings


class Replicas:
    """Stores on one schema, each with its own pool and lease owner, like replicas."""

    def __init__(self, table: dict[str, Any], clock: FakeClock) -> None:
        self.table, self.clock = table, clock
        self.opened: list[Store] = []

    async def __call__(self, owner: str) -> PostgresStore:
        store = open_store(
            StoreSettings.model_validate({**self.table, "dedup_retention_seconds": 3600}),
            DispatcherSettings(lease_seconds=LEASE, max_attempts=5),
            self.clock,
        )
        assert isinstance(store, PostgresStore)
        store.owner = owner
        store.rng = random.Random(0)  # noqa: S311 - retry jitter, not cryptography
        await store.open()
        self.opened.append(store)
        return store


@pytest.fixture
async def replicas(table: dict[str, Any], clock: FakeClock) -> AsyncIterator[Replicas]:
    group = Replicas(table, clock)
    yield group
    for store in group.opened:
        await store.close()


def _query(table: dict[str, Any], query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(table["url"], autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(table["schema_name"])))
        return conn.execute(query, params).fetchall()


def test_only_a_single_node_store_releases_every_lease_on_start() -> None:
    assert SQLiteStore.single_node is True
    assert PostgresStore.single_node is False


# -- replicas -----------------------------------------------------------------------------


async def test_replicas_persisting_one_key_at_once_store_it_exactly_once(
    replicas: Replicas, clock: FakeClock
) -> None:
    a, b = await replicas("a"), await replicas("b")
    keys = [f"evt_{i}" for i in range(20)]
    calls = []
    for key in keys:  # each key from both replicas, in batches that overlap in any order
        calls.append(a.persist([make_event(at=clock.now, key=key)], ["s"]))
        calls.append(b.persist([make_event(at=clock.now, key=key)], ["s"]))
    calls.append(a.persist([make_event(at=clock.now, key=k) for k in reversed(keys)], ["s"]))
    calls.append(b.persist([make_event(at=clock.now, key=k) for k in keys], ["s"]))
    results = [r for batch in await asyncio.gather(*calls) for r in batch]

    winners = {r.event_id for r in results if not r.duplicate}
    assert len(winners) == len(keys)
    assert {r.event_id for r in results} == winners  # every duplicate names a stored event
    stored = _query(replicas.table, "SELECT dedup_key, count(*) FROM events GROUP BY dedup_key")
    assert sorted(stored) == sorted((key, 1) for key in keys)
    assert await a.depth() == {("s", "pending"): len(keys)}


async def test_concurrent_persists_share_statements_and_a_bad_one_fails_alone(
    replicas: Replicas, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await replicas("a")
    statements = 0
    persist_calls = store._persist_calls

    async def counted(*args: Any) -> Any:
        nonlocal statements
        statements += 1
        return await persist_calls(*args)

    monkeypatch.setattr(store, "_persist_calls", counted)
    together = [make_event(at=clock.now) for _ in range(30)]
    await asyncio.gather(*(store.persist([e], ["s"]) for e in together))
    assert statements <= 2  # group commit: 30 concurrent calls shared one or two statements

    statements = 0
    good = [make_event(at=clock.now) for _ in range(30)]
    bad = dataclasses.replace(
        make_event(at=clock.now), entry='{"nul": "\x00"}'
    )  # PostgreSQL text refuses NUL
    outcomes = await asyncio.gather(
        *(store.persist([e], ["s"]) for e in good[:15]),
        store.persist([bad], ["s"]),
        *(store.persist([e], ["s"]) for e in good[15:]),
        return_exceptions=True,
    )
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1
    assert isinstance(failed[0], StoreError)
    assert sorted(r.event_id for o in outcomes if isinstance(o, list) for r in o) == sorted(
        e.id for e in good
    )
    stored = {row[0] for row in _query(replicas.table, "SELECT id FROM events")}
    assert stored == {e.id for e in together + good}
    assert statements == 1 + 31  # the shared statement failed; then each call alone


async def test_replicas_claiming_at_once_take_disjoint_deliveries(
    replicas: Replicas, clock: FakeClock
) -> None:
    a, b, c = await replicas("a"), await replicas("b"), await replicas("c")
    events = [make_event(at=clock.now) for _ in range(300)]
    await a.persist(events, ["s"])

    async def drain(store: Store) -> list[str]:
        taken: list[str] = []
        while claimed := await store.claim("s", 7):
            taken.extend(item.event.id for item in claimed)
            await asyncio.sleep(0)
        return taken

    taken = await asyncio.gather(drain(a), drain(b), drain(c))
    every = [event_id for part in taken for event_id in part]
    assert len(every) == len(set(every)) == len(events)
    assert set(every) == {e.id for e in events}
    owners = _query(replicas.table, "SELECT claimed_by, count(*) FROM deliveries GROUP BY claimed_by")
    assert dict(owners) == {name: len(part) for name, part in zip("abc", taken, strict=True) if part}


async def test_the_claims_of_a_vanished_replica_are_taken_over_after_the_lease(
    replicas: Replicas, clock: FakeClock
) -> None:
    a, b = await replicas("a"), await replicas("b")
    event = make_event(at=clock.now)
    await a.persist([event], ["s"])
    [claimed] = await a.claim("s", 10)
    await a.close()  # gone without a word: its lease stays

    assert await b.claim("s", 10) == []
    clock.advance(LEASE - 1)
    assert await b.claim("s", 10) == []
    clock.advance(2)
    [again] = await b.claim("s", 10)
    assert (again.event, again.attempts) == (event, 2)
    # The vanished replica's late answer changes nothing; the new claim's answer counts.
    late = await replicas("a")
    await late.settle("s", [claimed], [Settlement(event.id, "delivered")])
    found = await b.get_event(event.id)
    assert found is not None
    assert (found[1][0].state, found[1][0].attempts) == ("forwarding", 2)
    await b.settle("s", [again], [Settlement(event.id, "delivered")])
    found = await b.get_event(event.id)
    assert found is not None
    assert found[1][0].state == "delivered"


async def test_release_claims_releases_only_the_replicas_own_leases(
    replicas: Replicas, clock: FakeClock
) -> None:
    a, b = await replicas("a"), await replicas("b")
    events = [make_event(at=clock.now) for _ in range(6)]
    await a.persist(events, ["s"])
    mine = {c.event.id for c in await a.claim("s", 2)}
    leased = make_event(at=clock.now)
    await a.persist([leased], ["s"], leased=True)  # handed to a's sinks from memory
    theirs = {c.event.id for c in await b.claim("s", 3)}

    [untouched] = {e.id for e in events} - mine - theirs
    assert await b.release_claims() == 3
    assert {c.event.id for c in await a.claim("s", 10)} == {untouched, *theirs}  # not `mine`: live
    assert await b.release_claims() == 0  # a holds everything now
    assert await a.release_claims() == 2 + 1 + 4


async def test_a_starting_replica_leaves_the_others_leases_alone(
    replicas: Replicas, clock: FakeClock
) -> None:
    a = await replicas("a")
    event = make_event(at=clock.now)
    await a.persist([event], ["s"], leased=True)
    store = await replicas("starting")
    settings = Settings(store=store.settings, dispatcher=store.delivery_policy)
    app = create_app(settings, store=store, sinks={}, clock=clock)
    await app.gateway.start(dispatch=False)
    try:
        assert await store.claim("s", 10) == []  # a's lease is live: not released, not taken
    finally:
        await app.gateway.stop()
    found = await a.get_event(event.id)
    assert found is not None
    assert found[1][0].state == "forwarding"


async def test_a_stopping_replica_hands_its_leases_over_at_once(replicas: Replicas, clock: FakeClock) -> None:
    store = await replicas("stopping")
    app = create_app(
        Settings(store=store.settings, dispatcher=store.delivery_policy), store=store, sinks={}, clock=clock
    )
    await app.gateway.start(dispatch=False)
    event = make_event(at=clock.now)
    await store.persist([event], ["s"], leased=True)
    await app.gateway.stop()
    other = await replicas("other")
    assert [(c.event.id, c.attempts) for c in await other.claim("s", 10)] == [(event.id, 2)]


async def test_a_duplicate_of_a_key_another_replica_stored_names_its_event(
    replicas: Replicas, clock: FakeClock
) -> None:
    a, b = await replicas("a"), await replicas("b")
    first = make_event(at=clock.now, key="k")
    await a.persist([first], ["s"])
    again, fresh = make_event(at=clock.now, key="k"), make_event(at=clock.now, key="new")
    assert await b.persist([again, fresh, make_event(at=clock.now, key="new")], ["s"]) == [
        PersistResult(first.id, duplicate=True),
        PersistResult(fresh.id, duplicate=False),
        PersistResult(fresh.id, duplicate=True),
    ]


# -- schema and migrations ------------------------------------------------------------------


async def test_migrations_are_versioned_and_applied_once(replicas: Replicas, table: dict[str, Any]) -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    stores = await asyncio.gather(*(replicas(f"r{i}") for i in range(4)))  # starting together
    assert [await s.schema_version() for s in stores] == [LATEST] * 4
    await stores[0].close()
    await stores[0].open()  # again, on an up-to-date schema: nothing to do
    rows = _query(table, "SELECT version, description FROM hookgate_schema ORDER BY version")
    assert rows == [(m.version, m.description) for m in MIGRATIONS]


async def test_a_text_search_can_read_the_trigram_index(replicas: Replicas, table: dict[str, Any]) -> None:
    store = await replicas("a")
    indexes = _query(table, "SELECT indexdef FROM pg_indexes WHERE indexname = %s", [TRIGRAM_INDEX])
    assert len(indexes) == 1
    assert "USING gin (entry public.gin_trgm_ops)" in indexes[0][0]
    now = store.clock()
    events = [make_event(at=now - 10 + i) for i in range(5)]
    await store.persist(events, ["s"])
    found = await store.search_events(EventQuery(text=events[2].dedup_key.upper()), limit=10)
    assert [e.id for e in found.items] == [events[2].id]  # case-insensitive, through the index or not
    # The admin API's statement, as the store builds it, can be answered from the index
    # (a tiny table is read whole otherwise: both other plans are switched off to see it).
    statement, params = event_filters(
        "SELECT id FROM events WHERE true", EventQuery(text="evt_"), mark="%s", like="ILIKE"
    )
    with psycopg.connect(table["url"], autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(table["schema_name"])))
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_indexscan = off")
        plan = conn.execute("EXPLAIN " + statement + " ORDER BY id DESC LIMIT 51", params).fetchall()
    assert any(TRIGRAM_INDEX in line for (line,) in plan), plan


async def test_an_optional_step_the_server_refuses_is_rolled_back_and_skipped(table: dict[str, Any]) -> None:
    async def refused(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute("CREATE TABLE kept_by_nobody (n integer)")
        await conn.execute("CREATE EXTENSION no_such_extension_for_hookgate")

    migration = Migration(99, "an extension this server does not have", (), optional=refused)
    async with await psycopg.AsyncConnection.connect(table["url"]) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(table["schema_name"])))
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(table["schema_name"])))
        with capture_logs() as logs:
            async with conn.transaction():
                await conn.execute("CREATE TABLE kept (n integer)")
                await _optional(conn, migration)
                await conn.execute("INSERT INTO kept VALUES (1)")  # the transaction goes on
    assert _query(table, "SELECT n FROM kept") == [(1,)]
    assert _query(table, "SELECT to_regclass('kept_by_nobody') IS NULL") == [(True,)]
    assert [(e["event"], e["version"], e["reason"]) for e in logs] == [
        ("migration_step_skipped", 99, "FeatureNotSupported")
    ]


async def test_a_schema_newer_than_this_hookgate_is_refused(
    replicas: Replicas, table: dict[str, Any]
) -> None:
    await replicas("a")
    _query(
        table,
        "INSERT INTO hookgate_schema (version, description) VALUES (%s, 'future') RETURNING 1",
        [LATEST + 1],
    )
    with pytest.raises(StoreError, match=rf"version {LATEST + 1}, newer than this hookgate knows"):
        await replicas("b")


async def test_an_unreachable_server_is_a_store_error(clock: FakeClock) -> None:
    store = open_store(
        StoreSettings(url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", pool_min_size=1),
        DispatcherSettings(),
        clock,
    )
    with pytest.raises(StoreError, match="cannot open postgresql database"):
        await store.open()
    with pytest.raises(StoreError, match="not open"):
        await store.claim("s", 1)


def test_db_upgrade_creates_the_schema_and_prints_its_version(table: dict[str, Any], tmp_path: Path) -> None:
    config = tmp_path / "hookgate.toml"
    config.write_text(f'[store]\nurl = "{table["url"]}"\nschema_name = "{table["schema_name"]}"\n')
    for _ in range(2):  # idempotent
        result = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)])
        assert result.exit_code == 0, result.output
        assert result.output.strip().endswith(f"schema version {LATEST}")
    assert _query(table, "SELECT max(version) FROM hookgate_schema") == [(LATEST,)]


def test_db_upgrade_on_sqlite_prints_its_version(tmp_path: Path) -> None:
    config = tmp_path / "hookgate.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "hookgate.db"}"\n')
    result = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"schema version {SQLITE_SCHEMA_VERSION}")
