"""Admin list benchmark: the admin API's list queries over a large store, SQLite and
PostgreSQL, against a bare newest-first query on the same data in the same run.

Fills a fresh SQLite file and a fresh PostgreSQL schema (created and migrated by hookgate
itself, then filled in bulk) with N events (default 1,000,000) spread over 30 days: five
sources, forty detail-types, one delivery each (about 97% delivered, 1% dead, 1% retrying,
1% pending), a provider event id each, and a 10% sample of requests in the requests log.
Then times each main list query through the store's own code (`StoreAdmin.search_events`,
`list_requests`: the SQL the admin API runs), a page of 50, over varied filter values,
and prints p50 and p95 per query and backend; the baseline is the bare
`SELECT … FROM events ORDER BY id DESC LIMIT 50`. The last line is one JSON object.

    .venv/bin/python bench/admin.py                    # 1,000,000 events, both backends
    .venv/bin/python bench/admin.py --events 200000 --store sqlite

`q` is a substring search of the stored payloads: `q` finds a word in about 1% of events,
`q_common` one in about 70%, `q_absent` one in none. On SQLite it is a scan, newest first,
until a page is full (`q_absent`, its worst case, reads every payload). On PostgreSQL the
store's trigram index (`pg_trgm`, when the server lets hookgate create it) answers it: the
index is built after the bulk fill (its build time is printed), and once every query is
timed the index is dropped and the three `q` queries are timed again in the same run
(`q_no_trigram`, `q_common_no_trigram`, `q_absent_no_trigram`: the plan without it).
`by_detail_type_prefix_absent` is a prefix no detail-type has: on SQLite, whose planner
reads newest first for a range it cannot size, that is a scan too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from gateway.config import DispatcherSettings, StoreSettings
from gateway.events import new_event_id
from gateway.store import EventQuery, Store, open_store
from gateway.store._pgschema import TRIGRAM_INDEX, create_trigram_index

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SOURCES = ("stripe", "github", "shopify", "slack", "linear")
#: Forty detail-types: eight per source (16 kinds, each source its own eight of them).
KINDS = [
    f"{noun}.{verb}"
    for noun in ("invoice", "customer", "order", "charge")
    for verb in ("created", "paid", "updated", "failed")
]
TYPES = {source: [KINDS[(n * 3 + k) % len(KINDS)] for k in range(8)] for n, source in enumerate(SOURCES)}
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")
#: A word in about 1% of the payloads, one in none, and one in about 70% (12 of 10 words).
RARE, ABSENT, COMMON = "zanzibar", "nowhere-to-be-found", WORDS[0]
DAYS = 30
SAMPLES = 40
PAGE = 50


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def rows(n: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """(event row, delivery row) for n events in arrival order."""
    rng = random.Random(seed)
    start = time.time() - DAYS * 86400
    step = DAYS * 86400 / n
    for i in range(n):
        at = start + i * step
        event_id = new_event_id(at)
        source = SOURCES[i % len(SOURCES)]
        detail_type = rng.choice(TYPES[source])
        provider_id = f"evt_{i:012d}"
        words = " ".join(rng.choice(WORDS) for _ in range(12))
        if rng.random() < 0.01:
            words += " " + RARE.capitalize()
        entry = json.dumps(
            {
                "version": "0",
                "id": event_id,
                "detail-type": detail_type,
                "source": f"hookgate.{source}",
                "detail": {
                    "metadata": {"provider_event_id": provider_id, "source": source},
                    "payload": {
                        "id": provider_id,
                        "object": "event",
                        "description": words,
                        "amount": i % 9999,
                    },
                },
            }
        )
        roll = rng.random()
        state = (
            "delivered" if roll < 0.97 else "dead" if roll < 0.98 else "retry" if roll < 0.99 else "pending"
        )
        event = (event_id, source, provider_id, detail_type, at, entry, provider_id, None)
        delivery = (event_id, "archive", state, 1, at, "http_500" if state != "delivered" else None, at)
        yield event, delivery


def requests(n: int) -> Iterator[tuple[Any, ...]]:
    start = time.time() - 3 * 86400
    for i in range(n):
        at = start + i * (3 * 86400 / n)
        status = 200 if i % 10 < 7 else 401
        yield (
            new_event_id(at),
            at,
            SOURCES[i % len(SOURCES)],
            status,
            "accepted" if status == 200 else "rejected",
            None if status == 200 else "bad_signature",
            900,
            "127.0.0.1",
            "[]",
            json.dumps([["content-type", "application/json"], ["stripe-signature", "[redacted]"]]),
            None,
        )


_EVENT_INSERT = (
    "INSERT INTO events (id, source, dedup_key, detail_type, received_at, entry, provider_event_id, "
    "provider_delivery_id) VALUES "
)
_DELIVERY_INSERT = (
    "INSERT INTO deliveries (event_id, sink, state, attempts, due_at, last_cause, updated_at) VALUES "
)
_REQUEST_COLUMNS = "id, received_at, source, status, outcome, cause, size, client, event_ids, headers, body"


async def create(url: str, schema: str | None = None) -> None:
    """An empty store at the latest schema, created by hookgate."""
    table: dict[str, Any] = {"url": url}
    if schema:
        table["schema_name"] = schema
    store = open_store(StoreSettings.model_validate(table), DispatcherSettings(), time.time)
    await store.open()
    await store.close()


def fill_sqlite(path: Path, n: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # the fill only; the store runs with FULL
    conn.execute("BEGIN")
    batch_e: list[tuple[Any, ...]] = []
    batch_d: list[tuple[Any, ...]] = []
    for event, delivery in rows(n):
        batch_e.append(event)
        batch_d.append(delivery)
        if len(batch_e) == 10_000:
            conn.executemany(_EVENT_INSERT + "(?, ?, ?, ?, ?, ?, ?, ?)", batch_e)
            conn.executemany(_DELIVERY_INSERT + "(?, ?, ?, ?, ?, ?, ?)", batch_d)
            batch_e.clear()
            batch_d.clear()
    if batch_e:
        conn.executemany(_EVENT_INSERT + "(?, ?, ?, ?, ?, ?, ?, ?)", batch_e)
        conn.executemany(_DELIVERY_INSERT + "(?, ?, ?, ?, ?, ?, ?)", batch_d)
    conn.executemany(
        f"INSERT INTO requests ({_REQUEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        requests(min(n // 10, 100_000)),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def fill_postgres(url: str, schema: str, n: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("SET synchronous_commit = off")
        # Built after the fill (`trigram_index`), as a bulk load would.
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(TRIGRAM_INDEX)))
        with conn.transaction(), conn.cursor() as cur:
            deliveries = []
            with cur.copy(
                "COPY events (id, source, dedup_key, detail_type, received_at, entry, provider_event_id, "
                "provider_delivery_id) FROM STDIN"
            ) as copy:
                for event, delivery in rows(n):
                    copy.write_row(event)
                    deliveries.append(delivery)
            with cur.copy(
                "COPY deliveries (event_id, sink, state, attempts, due_at, last_cause, updated_at) FROM STDIN"
            ) as copy:
                for delivery in deliveries:
                    copy.write_row(delivery)
            with cur.copy(f"COPY requests ({_REQUEST_COLUMNS}) FROM STDIN") as copy:
                for request in requests(min(n // 10, 100_000)):
                    copy.write_row(request)
        conn.execute("VACUUM ANALYZE events")
        conn.execute("VACUUM ANALYZE deliveries")
        conn.execute("VACUUM ANALYZE requests")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(run: Callable[[int], Awaitable[Any]], samples: int) -> dict[str, float]:
    await run(0)  # warm
    times = []
    for i in range(samples):
        started = time.perf_counter()
        await run(i)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 0.95), 2)}


def queries(store: Store, n: int) -> dict[str, Callable[[int], Awaitable[Any]]]:
    rng = random.Random(11)

    def events(make: Callable[[int], EventQuery]) -> Callable[[int], Awaitable[Any]]:
        async def run(i: int) -> Any:
            return await store.search_events(make(i), limit=PAGE)

        return run

    async def second_page(i: int) -> Any:
        first = await store.search_events(EventQuery(source=SOURCES[i % 5]), limit=PAGE)
        return await store.search_events(
            EventQuery(source=SOURCES[i % 5]), limit=PAGE, cursor=first.next_cursor
        )

    async def requests_list(i: int) -> Any:
        return await store.list_requests(outcome="rejected" if i % 2 else None, limit=PAGE)

    return {
        "no_filter": events(lambda _: EventQuery()),
        "by_source": events(lambda i: EventQuery(source=SOURCES[i % 5])),
        "by_source_page_2": second_page,
        "by_detail_type": events(lambda i: EventQuery(detail_type=TYPES[SOURCES[i % 5]][i % 8])),
        "by_detail_type_prefix": events(
            lambda i: EventQuery(detail_type_prefix=("invoice.", "order.pa", "charge.")[i % 3])
        ),
        "by_state_dead": events(lambda _: EventQuery(status="dead")),
        "by_state_pending": events(lambda _: EventQuery(status="pending")),
        "by_provider_id": events(lambda _: EventQuery(provider_event_id=f"evt_{rng.randrange(n):012d}")),
        "by_dedup_key": events(lambda _: EventQuery(dedup_key=f"evt_{rng.randrange(n):012d}")),
        "by_source_and_last_day": events(
            lambda i: EventQuery(source=SOURCES[i % 5], since=time.time() - 86400)
        ),
        "by_detail_type_prefix_absent": events(lambda _: EventQuery(detail_type_prefix="zzz.")),
        **text_queries(store),
        "requests": requests_list,
    }


def text_queries(store: Store, suffix: str = "") -> dict[str, Callable[[int], Awaitable[Any]]]:
    """The `q` searches: a rare word, a common one, and one no payload holds."""

    def search(text: str) -> Callable[[int], Awaitable[Any]]:
        async def run(_: int) -> Any:
            return await store.search_events(EventQuery(text=text), limit=PAGE)

        return run

    return {
        f"q{suffix}": search(RARE),
        f"q_common{suffix}": search(COMMON),
        f"q_absent{suffix}": search(ABSENT),
    }


async def measure_each(
    runs: dict[str, Callable[[int], Awaitable[Any]]], samples: int, out: dict[str, Any]
) -> dict[str, Any]:
    for name, run in runs.items():
        # The worst case reads every payload: a few samples say enough.
        out[name] = await timed(run, max(3, samples // 8) if "_absent" in name else samples)
        say(f"  {name:28} p50 {out[name]['p50_ms']:8.2f} ms   p95 {out[name]['p95_ms']:8.2f} ms")
    return out


async def measure(store: Store, baseline: Callable[[], Any], n: int, samples: int) -> dict[str, Any]:
    async def bare(_: int) -> Any:
        return await asyncio.to_thread(baseline)

    return await measure_each(queries(store, n), samples, {"baseline": await timed(bare, samples)})


async def trigram_index(url: str, schema: str, *, drop: bool = False) -> float | None:
    """Build the store's trigram index as its migration does (seconds it took; None: the
    server refused it), or drop it."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        if drop:
            await conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(TRIGRAM_INDEX)))
            return None
        started = time.perf_counter()
        try:
            await create_trigram_index(conn)
        except psycopg.Error as exc:
            say(f"postgres: no trigram index ({type(exc).__name__}: {exc})")
            return None
        await conn.execute("ANALYZE events")
        return time.perf_counter() - started


async def run_sqlite(tmp: Path, n: int, samples: int) -> dict[str, Any]:
    path = tmp / "admin.db"
    url = f"sqlite:///{path}"
    await create(url)
    started = time.perf_counter()
    fill_sqlite(path, n)
    say(f"sqlite: {n:,} events in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 1e6:,.0f} MB")
    store = open_store(StoreSettings(url=url), DispatcherSettings(), time.time)
    await store.open(create=False)
    bare_conn = sqlite3.connect(path, check_same_thread=False)

    def baseline() -> Any:
        return bare_conn.execute(
            "SELECT id, source, detail_type, dedup_key, received_at FROM events ORDER BY id DESC LIMIT 50"
        ).fetchall()

    try:
        return await measure(store, baseline, n, samples)
    finally:
        await store.close()
        bare_conn.close()


async def run_postgres(url: str, n: int, samples: int) -> dict[str, Any]:
    schema = f"hookgate_bench_admin_{uuid.uuid4().hex[:8]}"
    try:
        await create(url, schema)
        started = time.perf_counter()
        fill_postgres(url, schema, n)
        say(f"postgres: {n:,} events in {time.perf_counter() - started:.0f} s (schema {schema})")
        built = await trigram_index(url, schema)
        if built is not None:
            say(f"postgres: trigram index built in {built:.0f} s")
        store = open_store(StoreSettings(url=url, schema_name=schema), DispatcherSettings(), time.time)
        await store.open(create=False)
        bare_conn = psycopg.connect(url, autocommit=True)
        bare_conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

        def baseline() -> Any:
            return bare_conn.execute(
                "SELECT id, source, detail_type, dedup_key, received_at FROM events ORDER BY id DESC LIMIT 50"
            ).fetchall()

        try:
            out = await measure(store, baseline, n, samples)
            out["trigram_index_build_s"] = None if built is None else round(built, 1)
            if built is not None:  # the same searches without it: the plan it replaces
                await trigram_index(url, schema, drop=True)
                await measure_each(text_queries(store, "_no_trigram"), samples, out)
            return out
        finally:
            await store.close()
            bare_conn.close()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to store (default 1,000,000)")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--samples", type=int, default=SAMPLES, help=f"timed runs per query (default {SAMPLES})"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    summary: dict[str, Any] = {"bench": "admin", "events": args.events, "page": PAGE, "samples": args.samples}
    with tempfile.TemporaryDirectory(prefix="hookgate-admin-bench-") as tmp:
        if args.store in ("sqlite", "both"):
            summary["sqlite"] = asyncio.run(run_sqlite(Path(tmp), args.events, args.samples))
    if args.store in ("postgres", "both"):
        with contextlib.suppress(KeyboardInterrupt):
            summary["postgres"] = asyncio.run(run_postgres(args.postgres_url, args.events, args.samples))
    for backend in ("sqlite", "postgres"):
        found = summary.get(backend)
        if found:
            worst = max(
                (v["p95_ms"], k)
                for k, v in found.items()
                if isinstance(v, dict) and k != "baseline" and "_absent" not in k and "_no_trigram" not in k
            )
            summary[f"{backend}_worst_p95_ms"] = {"query": worst[1], "p95_ms": worst[0]}
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
