"""The schema registry on both backends: versions and counts, limits, compatibility modes,
race-free versions across PostgreSQL replicas, the store migration to version 5, and
discovery over every connector's recorded fixtures and over hostile payloads."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import orjson
import psycopg
import pytest
from prometheus_client import CollectorRegistry
from psycopg import sql

from connectors import Connector
from gateway.config import DispatcherSettings, StoreSettings
from gateway.events import Event, build_event
from gateway.schemas import (
    EVENT_SOURCE,
    VERSION_CREATED,
    Discovery,
    Limits,
    Observation,
    SchemaEnforcer,
    SchemaRegistry,
    SchemaSettings,
    SourcePolicy,
    infer,
    open_registry,
    schema_name,
    to_draft4,
)
from gateway.store import Store, open_store
from gateway.store._pgschema import MIGRATIONS
from gateway.store.sqlite import SCHEMA, SCHEMA_VERSION
from tests.catalogue import CATALOGUE

from ._fakes import NOW, FakeClock, make_event
from ._postgres import postgres_schema

pytestmark = pytest.mark.anyio

BACKENDS: dict[str, Callable[[Path], AbstractContextManager[dict[str, Any]]]] = {
    "sqlite": lambda tmp: nullcontext({"url": f"sqlite:///{tmp / 'hookgate.db'}"}),
    "postgres": lambda _tmp: postgres_schema(),
}
LIMITS = Limits()


@pytest.fixture(params=sorted(BACKENDS))
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with BACKENDS[request.param](tmp_path) as settings:
        yield settings


async def _open(table: dict[str, Any], clock: FakeClock) -> Store:
    store = open_store(StoreSettings.model_validate(table), DispatcherSettings(), clock)
    await store.open()
    return store


@pytest.fixture
async def store(table: dict[str, Any], clock: FakeClock) -> AsyncIterator[Store]:
    opened = await _open(table, clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def observation(
    payload: Any, *, sample: str = "e1", count: int = 1, detail_type: str = "invoice.paid"
) -> Observation:
    return Observation("stripe", "hookgate.stripe", detail_type, infer(payload), count, sample)


async def record(registry: SchemaRegistry, obs: Observation, now: float, **limits: int) -> Any:
    return await registry.record(
        obs,
        now,
        max_versions=limits.get("max_versions", 100),
        max_schemas=limits.get("max_schemas", 100),
        limits=LIMITS,
    )


async def test_versions_are_made_only_when_the_schema_changes(store: Store, clock: FakeClock) -> None:
    registry = open_registry(store)
    first = await record(registry, observation({"id": "a", "n": 1}, sample="e1", count=2), clock.now)
    assert (first.name, first.version, first.created) == ("hookgate.stripe@InvoicePaid", 1, True)
    fits = await record(registry, observation({"id": "b", "n": 2}, sample="e2", count=3), clock.advance(1))
    assert (fits.version, fits.created) == (1, False)
    grows = await record(
        registry, observation({"id": "c", "n": 3, "new": True}, sample="e3"), clock.advance(1)
    )
    assert (grows.version, grows.created) == (2, True)
    assert grows.verdict is not None
    assert not grows.verdict.compatible  # BACKWARD: a property added to an open model
    versions = await registry.versions(first.name)
    assert [(v.version, v.event_count, v.sample_event_id, v.created_at, v.compatible) for v in versions] == [
        (1, 5, "e1", NOW, True),
        (2, 1, "e3", NOW + 2, False),
    ]
    assert versions[1].content["properties"]["new"] == {"type": "boolean"}
    [info] = await registry.schemas()
    assert (info.latest_version, info.compatibility, info.drifted_versions) == (2, "BACKWARD", (2,))
    assert await registry.schemas("other") == []
    assert await registry.set_compatibility(first.name, "FORWARD")
    assert not await registry.set_compatibility("nope@Nope", "FULL")
    same = await record(registry, observation({"id": "d", "n": 4, "new": True, "more": 1}), clock.advance(1))
    assert same.verdict is not None
    assert same.verdict.compatible  # FORWARD: adding to an open model is fine
    assert (await registry.version(first.name)).version == 3  # type: ignore[union-attr]
    assert await registry.version(first.name, 9) is None


async def test_limits_on_versions_and_schemas(store: Store, clock: FakeClock) -> None:
    registry = open_registry(store)
    await record(registry, observation({"a": 1}), clock.now, max_versions=2, max_schemas=1)
    await record(registry, observation({"b": 1}), clock.now, max_versions=2, max_schemas=1)
    over = await record(registry, observation({"c": 1}, count=4), clock.now, max_versions=2, max_schemas=1)
    assert (over.version, over.overflow) == (None, "versions")
    fits = await record(registry, observation({"a": 2}), clock.now, max_versions=2, max_schemas=1)
    assert fits.version == 2  # what the last version describes is still counted
    other = observation({"x": 1}, detail_type="invoice.created")
    assert (await record(registry, other, clock.now, max_schemas=1)).overflow == "schemas"
    [info] = await registry.schemas()
    assert (info.latest_version, info.overflow) == (2, 4)


async def test_replicas_never_number_two_versions_alike(clock: FakeClock) -> None:
    with postgres_schema() as table:
        stores = [await _open(table, clock) for _ in range(4)]
        try:
            registries = [open_registry(s) for s in stores]
            payloads = [{f"field{i}": i} for i in range(12)]
            await asyncio.gather(
                *(
                    record(registries[i % 4], observation(p, sample=f"e{i}"), clock.now)
                    for i, p in enumerate(payloads)
                )
            )
            versions = await registries[0].versions("hookgate.stripe@InvoicePaid")
            assert [v.version for v in versions] == list(range(1, len(versions) + 1))
            assert sum(v.event_count for v in versions) == len(payloads)
            for payload in payloads:  # the latest version describes every observation
                jsonschema.Draft4Validator(versions[-1].content).validate(payload)
        finally:
            for s in stores:
                await s.close()


async def test_a_version_4_sqlite_store_is_migrated(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "v4.db"
    with sqlite3.connect(path) as conn:
        base = SCHEMA.split("CREATE TABLE IF NOT EXISTS schemas")[0]
        conn.executescript(base)  # the schema of version 4: everything but the registry's tables
        conn.execute("INSERT INTO meta VALUES ('schema_version', '4')")
    conn.close()
    store = await _open({"url": f"sqlite:///{path}"}, clock)
    try:
        assert await store.schema_version() == SCHEMA_VERSION == 6
        recorded = await record(open_registry(store), observation({"a": 1}), clock.now)
        assert recorded.version == 1
    finally:
        await store.close()


async def test_a_version_4_postgres_schema_is_migrated(clock: FakeClock) -> None:
    with postgres_schema() as table:
        with psycopg.connect(table["url"], autocommit=True) as conn:
            name = sql.Identifier(table["schema_name"])
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
            conn.execute(sql.SQL("SET search_path TO {}").format(name))
            conn.execute(
                "CREATE TABLE hookgate_schema (version integer PRIMARY KEY, description text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration in MIGRATIONS[:4]:
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO hookgate_schema (version, description) VALUES (%s, %s)",
                    [migration.version, migration.description],
                )
        store = await _open(table, clock)
        try:
            assert await store.schema_version() == len(MIGRATIONS)
            assert (await record(open_registry(store), observation({"a": 1}), clock.now)).version == 1
        finally:
            await store.close()


# -- discovery ----------------------------------------------------------------------------


def _catalogue_events() -> list[tuple[str, Event]]:
    """Every connector's recorded fixture, signed, verified and normalized like the edge does."""
    found = []
    for case in CATALOGUE.values():
        url = f"https://hooks.example.com/webhooks/{case.key}"
        request = case.deliver(NOW, url).request(url)
        connector: Connector = case.server()
        connector.verify(request, NOW)
        for provider_event in connector.normalize(request):
            event = build_event(
                provider_event,
                NOW,
                source=case.key,
                connector=case.connector,
                event_source=f"hookgate.{case.key}",
            )
            found.append((case.key, event))
    return found


async def test_discovery_over_every_connectors_fixtures(store: Store, clock: FakeClock) -> None:
    events = _catalogue_events()
    sources = {key for key, _ in events}
    assert len(sources) >= len({c.connector for c in CATALOGUE.values()})
    await store.persist([e for _, e in events], ["s"])
    registry = open_registry(store)
    policies = {key: SourcePolicy(f"hookgate.{key}") for key in sources}
    discovery = Discovery(registry, SchemaSettings(batch_size=7), policies, clock)
    for key, event in events:
        discovery.observe(key, [event])
    await discovery.drain()
    schemas = {s.name: s for s in await registry.schemas()}
    counted = 0
    for key, event in events:
        name = schema_name(f"hookgate.{key}", event.detail_type)
        info = schemas[name]
        version = await registry.version(name)
        assert version is not None
        document = to_draft4(info.event_source, info.detail_type, version.content)
        jsonschema.Draft4Validator(document).validate(orjson.loads(event.entry))
    for name in schemas:
        counted += sum(v.event_count for v in await registry.versions(name))
    assert counted == len(events)


async def test_discovery_reports_drift_and_puts_a_version_event(store: Store, clock: FakeClock) -> None:
    registry = open_registry(store)
    emitted: list[Event] = []

    async def emit(event: Event) -> None:
        emitted.append(event)

    metrics = CollectorRegistry()
    discovery = Discovery(
        registry,
        SchemaSettings(),
        {"stripe": SourcePolicy("hookgate.stripe", "FULL")},
        clock,
        emit=emit,
        metrics=metrics,
    )

    def event(payload: dict[str, Any]) -> Event:
        made = make_event(at=clock.now)
        entry = orjson.loads(made.entry)
        entry["detail"]["payload"] = payload
        return Event(
            made.id,
            made.source,
            made.dedup_key,
            made.detail_type,
            made.received_at,
            orjson.dumps(entry).decode(),
        )

    discovery.observe("stripe", [event({"amount": 1}), event({"amount": 2})])
    discovery.observe("unknown", [event({"amount": 1})])  # not a discovering source: ignored
    [first] = await discovery.drain()
    assert (first.version, first.created) == (1, True)
    discovery.observe("stripe", [event({"amount": 3, "coupon": "X"})])
    [second] = await discovery.drain()
    assert second.verdict is not None
    assert not second.verdict.compatible
    drift = metrics.get_sample_value(
        "hookgate_schema_drift_total", {"source": "stripe", "detail_type": "invoice.paid"}
    )
    assert drift == 1
    assert [e.detail_type for e in emitted] == [VERSION_CREATED, VERSION_CREATED]
    detail = orjson.loads(emitted[1].entry)["detail"]
    assert orjson.loads(emitted[1].entry)["source"] == EVENT_SOURCE
    assert detail["SchemaName"] == "hookgate.stripe@InvoicePaid"
    assert (detail["Version"], detail["SchemaType"], detail["RegistryName"]) == (
        "2",
        "OpenApi3",
        "discovered-schemas",
    )
    assert (detail["Compatibility"], detail["Compatible"]) == ("FULL", False)
    assert "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at /payload/coupon" in detail["Verdict"]


async def test_events_the_known_version_describes_are_counted_without_inference(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.schemas._discovery as discovery_module  # noqa: PLC0415 - the seam measured here

    inferred: list[Any] = []

    def counting_infer(value: Any, limits: Limits = LIMITS) -> dict[str, Any]:
        inferred.append(value)
        return infer(value, limits)

    monkeypatch.setattr(discovery_module, "infer", counting_infer)
    registry = open_registry(store)
    discovery = Discovery(registry, SchemaSettings(), {"stripe": SourcePolicy("hookgate.stripe")}, clock)

    def event(payload: dict[str, Any]) -> Event:
        made = make_event(at=clock.now)
        entry = orjson.loads(made.entry)
        entry["detail"]["payload"] = payload
        return Event(
            made.id,
            made.source,
            made.dedup_key,
            made.detail_type,
            made.received_at,
            orjson.dumps(entry).decode(),
        )

    discovery.observe("stripe", [event({"amount": 1, "at": "2026-11-28T10:00:00Z"})])
    [first] = await discovery.drain()
    assert (first.version, len(inferred)) == (1, 1)
    discovery.observe("stripe", [event({"amount": n, "at": "2026-11-29T10:00:00Z"}) for n in range(5)])
    [fitted] = await discovery.drain()
    assert (fitted.version, fitted.created, len(inferred)) == (1, False, 1)  # none inferred
    changed = [
        event({"amount": 7, "at": "2026-11-29T10:00:00Z", "coupon": "X"}),
        event({"amount": 8.5, "at": "x"}),
    ]
    discovery.observe("stripe", [event({"amount": 6, "at": "2026-11-30T10:00:00Z"}), *changed])
    [second] = await discovery.drain()
    assert (second.version, second.created, len(inferred)) == (2, True, 3)  # only those two
    versions = await registry.versions(first.name)
    assert [v.event_count for v in versions] == [6, 3]
    payload = versions[1].content["properties"]["payload"]
    assert payload["properties"]["amount"] == {"type": "number"}
    assert payload["properties"]["at"] == {"type": "string"}  # the format is no longer shared
    assert "coupon" in payload["properties"]
    for value in (json.loads(e.entry)["detail"] for e in changed):
        jsonschema.Draft4Validator(versions[1].content).validate(value)


async def test_a_full_queue_skips_events_and_counts_them(store: Store, clock: FakeClock) -> None:
    metrics = CollectorRegistry()
    discovery = Discovery(
        open_registry(store),
        SchemaSettings(queue_size=2),
        {"stripe": SourcePolicy("hookgate.stripe")},
        clock,
        metrics=metrics,
    )
    discovery.observe("stripe", [make_event(at=clock.now) for _ in range(5)])
    [recorded] = await discovery.drain()
    assert (await open_registry(store).versions(recorded.name))[0].event_count == 2
    assert (
        metrics.get_sample_value(
            "hookgate_schema_events_skipped_total", {"source": "stripe", "reason": "queue_full"}
        )
        == 3
    )


async def test_hostile_payloads_are_discovered_within_bounds(store: Store, clock: FakeClock) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(900):  # as deep as a JSON parser lets a stored entry be
        node["a"] = {}
        node = node["a"]
    hostile = [{f"k{i}": i for i in range(100_000)}, deep, {"s": "x" * 5_000_000}]
    events = []
    for payload in hostile:
        made = make_event(at=clock.now)
        entry = orjson.loads(made.entry)
        entry["detail"]["payload"] = payload
        text = json.dumps(entry)  # as the edge stores what orjson cannot nest so deep (`gateway.events`)
        events.append(Event(made.id, made.source, made.dedup_key, made.detail_type, made.received_at, text))
    await store.persist(events, ["s"])
    registry = open_registry(store)
    discovery = Discovery(registry, SchemaSettings(), {"stripe": SourcePolicy("hookgate.stripe")}, clock)
    discovery.observe("stripe", events)
    started = asyncio.get_running_loop().time()
    [recorded] = await discovery.drain()
    assert asyncio.get_running_loop().time() - started < 20.0  # generous on a shared machine
    version = await registry.version(recorded.name)
    assert version is not None
    assert version.event_count == 3
    assert len(orjson.dumps(version.content)) < 200_000  # the stored schema is bounded too
    document = to_draft4("hookgate.stripe", "invoice.paid", version.content)
    for event in events:
        jsonschema.Draft4Validator(document).validate(json.loads(event.entry))


# -- the commands -------------------------------------------------------------------------


def test_the_schemas_commands_over_a_store(tmp_path: Path) -> None:
    from click.testing import CliRunner  # noqa: PLC0415 - only the commands' test needs it

    from gateway.cli import main  # noqa: PLC0415

    config = tmp_path / "hookgate.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "hookgate.db"}"\n')
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["schemas", *args, "--config", str(config)])

    missing = run("list")
    assert missing.exit_code == 1  # no store: a command that reads never creates one
    assert "no store" in missing.output

    async def seed() -> None:
        clock = FakeClock()
        store = await _open({"url": f"sqlite:///{tmp_path / 'hookgate.db'}"}, clock)
        try:
            registry = open_registry(store)
            await record(registry, observation({"id": "a", "n": 1}), clock.now)
            await record(registry, observation({"id": "b", "n": 2.5, "extra": None}), clock.advance(60))
        finally:
            await store.close()

    asyncio.run(seed())
    listed = run("list", "--json")
    assert listed.exit_code == 0, listed.output
    [shown] = orjson.loads(listed.output)["schemas"]
    assert (shown["name"], shown["latest_version"], shown["drifted_versions"]) == (
        "hookgate.stripe@InvoicePaid",
        "2",
        ["2"],
    )
    assert "DRIFT v2" in run("list").output
    diff = run("diff", "hookgate.stripe@InvoicePaid", "1", "2")
    assert diff.exit_code == 0
    assert "TYPE_EXTENDED" in diff.output
    assert "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" in diff.output
    assert "verdict: incompatible (BACKWARD)" in diff.output
    assert run("diff", "hookgate.stripe@InvoicePaid", "1", "7").exit_code == 1
    assert run("show", "nope@Nope").exit_code == 1
    assert run("show", "hookgate.stripe@InvoicePaid", "--version", "0").exit_code == 2
    assert run("export", "hookgate.stripe@InvoicePaid", "--format", "yaml").exit_code == 2
    draft4 = orjson.loads(
        run("export", "hookgate.stripe@InvoicePaid", "--format", "jsonschema-draft4").output
    )
    jsonschema.Draft4Validator.check_schema(draft4)
    assert run("set-compatibility", "hookgate.stripe@InvoicePaid", "SIDEWAYS").exit_code == 2
    changed = run("set-compatibility", "hookgate.stripe@InvoicePaid", "full_transitive")
    assert changed.exit_code == 0
    assert orjson.loads(run("list", "--json").output)["schemas"][0]["compatibility"] == "FULL_TRANSITIVE"
    assert run("set-compatibility", "nope@Nope", "FULL").exit_code == 1


async def test_a_version_is_pinned_and_unpinned(store: Store, clock: FakeClock) -> None:
    registry = open_registry(store)
    recorded = await record(registry, observation({"a": 1}), clock.now)
    await record(registry, observation({"a": 1, "b": 2}), clock.now)
    assert not await registry.pin(recorded.name, 3)  # no such version
    assert not await registry.pin("nope@Nope", 1)
    assert await registry.pin(recorded.name, 1)
    assert (await registry.schemas())[0].pinned_version == 1
    enforcer = SchemaEnforcer(registry, {"stripe": "reject", "other": "off"})
    await enforcer.refresh()
    assert enforcer.pinned == {("stripe", "invoice.paid"): (recorded.name, 1, infer({"a": 1}))}
    assert enforcer.mode("other") == "off"
    assert await registry.pin(recorded.name, None)
    assert (await registry.schemas())[0].pinned_version is None
