"""The admin side's contract on every whole store (SQLite, PostgreSQL): the attempts log,
the event search (every filter, keyset pages under concurrent inserts), the requests log
and its bounds, and the upgrade of a version 4 database. Fixtures are the store
contract's; time moves only through the fake clock."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from typing import Any

import psycopg
import pytest
from psycopg import sql

from gateway.events import Event, new_event_id
from gateway.store import (
    CursorError,
    EventQuery,
    RequestLogPolicy,
    RequestRecord,
    Settlement,
    Store,
    decode_cursor,
    encode_cursor,
)
from gateway.store import sqlite as sqlite_backend
from gateway.store._pgschema import LATEST, MIGRATIONS

from . import test_store_contract as contract
from ._fakes import FakeClock, make_event
from ._postgres import postgres_schema
from .test_store_contract import StoreFactory, settle_all

# The store contract's fixtures: a fresh store of each backend.
stores = contract.stores
store = contract.store

pytestmark = pytest.mark.anyio


def provided(event: Event, provider_id: str | None = None, delivery: str | None = None) -> Event:
    return dataclasses.replace(event, provider_event_id=provider_id, provider_delivery_id=delivery)


async def search(store: Store, **filters: Any) -> list[str]:
    page = await store.search_events(EventQuery(**filters), limit=1000)
    assert page.next_cursor is None
    return [summary.id for summary in page.items]


# -- the attempts log ---------------------------------------------------------------------


async def test_every_attempt_is_logged_through_retries_to_the_dead_letter(
    stores: StoreFactory, clock: FakeClock
) -> None:
    store = await stores(max_attempts=3)
    event = make_event(at=clock.now)
    await store.persist([event], ["a", "bus/paid/hook"])
    started = clock.now
    for _ in range(3):
        claimed = await store.claim("a", 10)
        await store.settle("a", claimed, [Settlement(event.id, "retry", "http_503")], duration=0.25)
        clock.advance(700)
    claimed = await store.claim("bus/paid/hook", 10)
    await store.settle("bus/paid/hook", claimed, [Settlement(event.id, "delivered")], duration=0.01)

    attempts = await store.attempts(event.id)
    assert [(a.sink, a.attempt, a.outcome, a.cause) for a in attempts] == [
        ("a", 1, "retry", "http_503"),
        ("a", 2, "retry", "http_503"),
        ("a", 3, "dead", "max_attempts: http_503"),
        ("bus/paid/hook", 1, "delivered", None),
    ]
    assert [a.at for a in attempts[:3]] == [started, started + 700, started + 1400]
    assert {a.duration_ms for a in attempts} == {250.0, 10.0}


async def test_a_permanent_failure_and_a_redriven_delivery_are_logged(store: Store, clock: FakeClock) -> None:
    event = make_event(at=clock.now)
    await store.persist([event], ["a"])
    await settle_all(store, await store.claim("a", 10), "permanent", "http_410")
    await store.redrive([event.id])
    await settle_all(store, await store.claim("a", 10), "delivered")
    assert [(a.attempt, a.outcome, a.cause) for a in await store.attempts(event.id)] == [
        (1, "permanent", "http_410"),
        (1, "delivered", None),
    ]


async def test_attempts_go_with_their_purged_event(store: Store, clock: FakeClock) -> None:
    event = make_event(at=clock.now)
    await store.persist([event], ["a"])
    await settle_all(store, await store.claim("a", 10), "delivered")
    assert len(await store.attempts(event.id)) == 1
    clock.advance(3600 + 1)
    assert await store.purge() == 1
    assert await store.attempts(event.id) == ()


# -- the event search -----------------------------------------------------------------------


async def test_search_filters_by_each_field(store: Store, clock: FakeClock) -> None:
    paid = provided(make_event(at=clock.now, key="evt_1"), "evt_1")
    clock.advance(10)
    failed = provided(
        make_event(at=clock.now, detail_type="invoice.payment_failed", key="evt_2"), "evt_2", "dlv-2"
    )
    clock.advance(10)
    push = provided(make_event(at=clock.now, source="github", detail_type="push", key="d-3"), None, "d-3")
    await store.persist([paid, failed, push], ["a"])

    assert await search(store) == [push.id, failed.id, paid.id]
    assert await search(store, source="stripe") == [failed.id, paid.id]
    assert await search(store, detail_type="push") == [push.id]
    assert await search(store, detail_type_prefix="invoice.") == [failed.id, paid.id]
    assert await search(store, detail_type_prefix="invoice.pa") == [failed.id, paid.id]
    assert await search(store, detail_type_prefix="invoice.payment") == [failed.id]
    assert await search(store, provider_event_id="evt_2") == [failed.id]
    assert await search(store, provider_delivery_id="d-3") == [push.id]
    assert await search(store, dedup_key="evt_1") == [paid.id]
    assert await search(store, since=paid.received_at + 5) == [push.id, failed.id]
    assert await search(store, until=paid.received_at + 15) == [failed.id, paid.id]
    assert await search(store, since=paid.received_at + 5, until=paid.received_at + 15) == [failed.id]
    assert await search(store, id_prefix=failed.id, sink="a") == [failed.id]
    assert await search(store, id_prefix=failed.id, sink="b") == []
    assert await search(store, source="github", detail_type_prefix="invoice") == []
    assert await search(store, detail_type_prefix="zzz") == []


async def test_search_by_delivery_status(store: Store, clock: FakeClock) -> None:
    flying, retrying, delivered, dead = [make_event(at=clock.now + i) for i in range(4)]
    await store.persist([flying, retrying, delivered, dead], ["a"])
    claimed = {c.event.id: c for c in await store.claim("a", 10)}
    await store.settle(
        "a",
        [claimed[e.id] for e in (retrying, delivered, dead)],
        [
            Settlement(retrying.id, "retry", "timeout"),
            Settlement(delivered.id, "delivered"),
            Settlement(dead.id, "permanent", "http_400"),
        ],
    )
    pending = make_event(at=clock.now + 5)
    await store.persist([pending], ["a"])
    # pending: queued, or in flight (`flying` is still claimed).
    assert set(await search(store, status="pending")) == {pending.id, flying.id}
    assert await search(store, status="retrying") == [retrying.id]
    assert await search(store, status="delivered") == [delivered.id]
    assert await search(store, status="dead") == [dead.id]
    assert await search(store, status="dead", sink="b") == []


async def test_search_text_is_a_case_insensitive_substring_of_the_payload(
    store: Store, clock: FakeClock
) -> None:
    plain = make_event(at=clock.now)
    marked = dataclasses.replace(make_event(at=clock.now + 1), entry='{"detail":{"note":"Hello 100%_Done"}}')
    await store.persist([plain, marked], ["a"])
    assert await search(store, text="hello") == [marked.id]
    assert await search(store, text="100%_d") == [marked.id]
    assert await search(store, text="100%") == [marked.id]
    assert await search(store, text="1_0") == []  # `_` is a character, not a wildcard
    assert await search(store, text="%") == [marked.id]
    assert await search(store, text="no such text") == []


async def test_search_summaries_carry_the_provider_id_and_every_delivery(
    store: Store, clock: FakeClock
) -> None:
    event = provided(make_event(at=clock.now, key="evt_x"), "evt_x", "dlv_x")
    await store.persist([event], ["a", "bus/r/t"])
    page = await store.search_events(EventQuery(), limit=10)
    [summary] = page.items
    assert summary.provider_event_id == "evt_x"
    assert [(d.sink, d.state) for d in summary.deliveries] == [("a", "pending"), ("bus/r/t", "pending")]
    found = await store.get_event(event.id)
    assert found is not None
    assert (found[0].provider_event_id, found[0].provider_delivery_id) == ("evt_x", "dlv_x")


async def test_pages_under_concurrent_inserts_list_each_event_exactly_once(
    store: Store, clock: FakeClock
) -> None:
    first = [make_event(at=clock.now + i * 0.001) for i in range(120)]
    await store.persist(first, ["a"])
    seen: list[str] = []
    cursor = None
    pages = 0

    async def insert_more() -> None:
        for _ in range(5):
            clock.advance(1)
            await store.persist([make_event(at=clock.now) for _ in range(7)], ["a"])

    while True:
        # A page read while other events are committed: newer ones, and late ones
        # with ids among those already listed.
        page, _ = await asyncio.gather(
            store.search_events(EventQuery(), limit=25, cursor=cursor), insert_more()
        )
        seen.extend(summary.id for summary in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "an event was listed twice"
    assert {e.id for e in first} <= set(seen), "an event stored before the first page was missed"
    assert seen == sorted(seen, reverse=True)
    assert pages >= 5


async def test_a_cursor_is_opaque_and_checked(store: Store, clock: FakeClock) -> None:
    events = [make_event(at=clock.now + i) for i in range(3)]
    await store.persist(events, ["a"])
    page = await store.search_events(EventQuery(), limit=2)
    assert [s.id for s in page.items] == [events[2].id, events[1].id]
    assert page.next_cursor is not None
    assert events[1].id not in page.next_cursor
    assert decode_cursor(page.next_cursor) == events[1].id
    last = await store.search_events(EventQuery(), limit=2, cursor=page.next_cursor)
    assert ([s.id for s in last.items], last.next_cursor) == ([events[0].id], None)
    for bad in ("", "nope", encode_cursor("'; DROP TABLE events; --"), "%%%"):
        with pytest.raises(CursorError):
            await store.search_events(EventQuery(), cursor=bad)


# -- the requests log -----------------------------------------------------------------------


def request_record(at: float, status: int = 401, source: str = "stripe", **extra: Any) -> RequestRecord:
    fields: dict[str, Any] = {
        "cause": None if status < 400 else "bad_signature",
        "size": 12,
        "client": "127.0.0.1",
        "headers": (("content-type", "application/json"), ("stripe-signature", "[redacted]")),
        **extra,
    }
    return RequestRecord(new_event_id(at), at, source, status, **fields)


async def test_an_accepted_request_is_stored_with_its_events(store: Store, clock: FakeClock) -> None:
    event = make_event(at=clock.now, key="evt_req")
    await store.persist([event], ["a"], request=request_record(clock.now, 200))
    again = make_event(at=clock.now + 1, key="evt_req")  # a retry of the same delivery
    await store.persist([again], ["a"], request=request_record(clock.now + 1, 200))
    page = await store.list_requests()
    assert [(r.status, r.outcome, r.event_ids) for r in page.items] == [
        (200, "accepted", (event.id,)),  # the duplicate names the event stored first
        (200, "accepted", (event.id,)),
    ]
    assert page.items[0].headers == (("content-type", "application/json"), ("stripe-signature", "[redacted]"))


async def test_requests_are_listed_newest_first_filtered_and_paged(store: Store, clock: FakeClock) -> None:
    records = [
        request_record(clock.now + i, 200 if i % 3 == 0 else 401, "stripe" if i % 2 else "github")
        for i in range(12)
    ]
    await store.record_requests(records)
    newest = [r.id for r in reversed(records)]
    assert [r.id for r in (await store.list_requests(limit=100)).items] == newest
    rejected = await store.list_requests(outcome="rejected", limit=100)
    assert [r.id for r in rejected.items] == [r.id for r in reversed(records) if r.status == 401]
    assert {r.cause for r in rejected.items} == {"bad_signature"}
    accepted = await store.list_requests(outcome="accepted", source="github", limit=100)
    assert [r.id for r in accepted.items] == [records[6].id, records[0].id]
    window = await store.list_requests(since=clock.now + 3, until=clock.now + 5, limit=100)
    assert [r.id for r in window.items] == [records[4].id, records[3].id]
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list_requests(limit=5, cursor=cursor)
        seen.extend(r.id for r in page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert seen == newest


async def test_a_kept_body_round_trips(store: Store, clock: FakeClock) -> None:
    await store.record_requests([request_record(clock.now, body=b"\x00\xff{}")])
    [kept] = (await store.list_requests()).items
    assert kept.body == b"\x00\xff{}"


async def test_the_requests_log_keeps_at_most_max_rows_oldest_dropped_first(
    store: Store, clock: FakeClock
) -> None:
    store.request_log = RequestLogPolicy(retention_seconds=3600, max_rows=50)
    records = [request_record(clock.now + i * 0.01) for i in range(130)]
    for start in range(0, 130, 40):
        await store.record_requests(records[start : start + 40])
    kept = (await store.list_requests(limit=500)).items
    assert [r.id for r in kept] == [r.id for r in reversed(records[-50:])]


async def test_purge_drops_requests_past_their_retention(store: Store, clock: FakeClock) -> None:
    store.request_log = RequestLogPolicy(retention_seconds=600, max_rows=1000)
    old = request_record(clock.now)
    clock.advance(300)
    recent = request_record(clock.now)
    await store.record_requests([old, recent])
    clock.advance(400)
    await store.purge()
    assert [r.id for r in (await store.list_requests()).items] == [recent.id]


# -- the upgrade from version 4 -------------------------------------------------------------


async def test_a_version_4_sqlite_database_is_upgraded_in_place(sqlite_url: str, clock: FakeClock) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    old = make_event(at=clock.now, key="evt_old")
    with sqlite3.connect(path) as conn:  # what hookgate created at version 4
        conn.executescript(sqlite_backend.SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '4')")
        conn.execute(
            "INSERT INTO events (id, source, dedup_key, detail_type, received_at, entry) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (old.id, old.source, old.dedup_key, old.detail_type, old.received_at, old.entry),
        )
        conn.execute("INSERT INTO deliveries VALUES (?, 'a', 'pending', 0, ?, NULL, ?, NULL)", (old.id, 0, 0))
    conn.close()
    await _check_upgraded(StoreFactory({"url": sqlite_url}, clock), old, sqlite_backend.SCHEMA_VERSION)


async def test_a_version_4_postgres_schema_is_upgraded_in_place(clock: FakeClock) -> None:
    old = make_event(at=clock.now, key="evt_old")
    with postgres_schema() as table:
        name = sql.Identifier(table["schema_name"])
        with psycopg.connect(table["url"], autocommit=True) as conn:  # what hookgate created at version 4
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
            conn.execute(sql.SQL("SET search_path TO {}").format(name))
            conn.execute(
                "CREATE TABLE hookgate_schema (version integer PRIMARY KEY, description text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration in MIGRATIONS[:4]:
                for statement in migration.statements:
                    conn.execute(statement.encode())
                conn.execute(
                    "INSERT INTO hookgate_schema (version, description) VALUES (%s, %s)",
                    [migration.version, migration.description],
                )
            conn.execute(
                "INSERT INTO events (id, source, dedup_key, detail_type, received_at, entry) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (old.id, old.source, old.dedup_key, old.detail_type, old.received_at, old.entry),
            )
            conn.execute("INSERT INTO deliveries VALUES (%s, 'a', 'pending', 0, 0, NULL, 0)", (old.id,))
        await _check_upgraded(StoreFactory(table, clock), old, LATEST)


async def _check_upgraded(factory: StoreFactory, old: Event, version: int) -> None:
    store = await factory()
    try:
        assert await store.schema_version() == version
        page = await store.search_events(EventQuery(dedup_key="evt_old"))
        assert [(s.id, s.provider_event_id) for s in page.items] == [(old.id, None)]
        await settle_all(store, await store.claim("a", 10), "retry", "timeout")
        assert [a.outcome for a in await store.attempts(old.id)] == ["retry"]
        await store.record_requests([request_record(factory.clock.now)])
        assert len((await store.list_requests()).items) == 1
        assert await search(store, detail_type_prefix=old.detail_type[:3]) == [old.id]
    finally:
        await store.close()
