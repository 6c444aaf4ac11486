"""Signed payloads that real providers can send and that once broke the store, on SQLite and
on PostgreSQL: a NUL in the dedup key, lone surrogate escapes (an emoji cut in half), and
numbers JSON allows but a float cannot hold. Each is stored and delivered with its values
unchanged, or refused with 400 and a cause; never a 500, never a retryable 503."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.sinks import MemorySink
from gateway.store import EventQuery
from tests.helpers.edge import ARRIVAL, STRIPE_SECRET, Edge
from tests.unit._fakes import FakeClock
from tests.unit._postgres import postgres_schema

pytestmark = pytest.mark.anyio


def _store_table(backend: str, tmp_path: Path) -> Any:
    if backend == "sqlite":
        return nullcontext({"url": f"sqlite:///{tmp_path / 'hookgate.db'}"})
    return postgres_schema()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with _store_table(request.param, tmp_path) as table:
        raw = {
            "store": table,
            "sources": {
                "stripe": {"connector": "stripe", "secrets": [STRIPE_SECRET]},
                "payments": {"connector": "stripe", "secrets": [STRIPE_SECRET], "detail_format": "payload"},
            },
            "sinks": {"mem": {"type": "memory"}},
            # On: the requests log keeps every request, an unknown source's name included.
            "admin": {"tokens": [{"name": "ops", "token": "admin-token-0123456789abcdef", "role": "admin"}]},
        }
        yield parse_settings(raw, env={})


@pytest.fixture
async def edge(backend_settings: Settings) -> AsyncIterator[Edge]:
    clock = FakeClock(ARRIVAL)
    sink = MemorySink("mem")
    app = create_app(dataclasses.replace(backend_settings), sinks={"mem": sink}, clock=clock)
    await app.gateway.start(dispatch=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hooks.example.com") as client:
            yield Edge(app, client, clock, sink)
    finally:
        await app.gateway.stop()


def text(event_id: str, data: str) -> bytes:
    """A Stripe event whose `data.object` is the JSON text `data`, as a provider wrote it."""
    return (
        f'{{"id": {event_id}, "object": "event", "type": "invoice.paid", "created": 1724243541, '
        f'"data": {{"object": {data}}}}}'
    ).encode()


async def stored_payload(edge: Edge, response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    [event_id] = response.json()["event_ids"]
    found = await edge.store.get_event(event_id)
    assert found is not None
    entry = found[0].entry
    entry.encode()  # valid UTF-8 text
    return json.loads(entry)["detail"]["payload"]


async def delivered(edge: Edge) -> list[Any]:
    """The payloads the sink received once the dispatcher drained its queue."""
    dispatcher = edge.gateway.dispatcher
    assert dispatcher is not None
    await dispatcher.drain()
    return [json.loads(e.entry)["detail"]["payload"] for e in edge.sink.events]


async def test_a_nul_in_the_dedup_key_is_stored_and_still_deduplicates(edge: Edge) -> None:
    body = text('"evt_\\u0000abc"', '{"id": "in_1"}')
    first = await edge.post("stripe", body, edge.sign(body))
    payload = await stored_payload(edge, first)
    assert payload["id"] == "evt_\x00abc"  # the payload keeps it as sent
    again = await edge.post("stripe", body, edge.sign(body))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    other = text('"evt_\\u0000abd"', '{"id": "in_1"}')
    assert (await edge.post("stripe", other, edge.sign(other))).json()["status"] == "accepted"


@pytest.mark.parametrize("key", ["evt_\x00abc", "evt_\udc00"])
async def test_an_event_whose_provider_id_no_store_holds_is_found_by_that_id(edge: Edge, key: str) -> None:
    body = text(json.dumps(key), '{"id": "in_1"}')
    [event_id] = (await edge.post("stripe", body, edge.sign(body))).json()["event_ids"]
    found = await edge.store.search_events(EventQuery(provider_event_id=key))
    assert [summary.id for summary in found.items] == [event_id]
    assert [summary.id for summary in await edge.store.find_events(key)] == [event_id]
    other = await edge.store.search_events(EventQuery(provider_event_id=key[:-1]))
    assert other.items == []


async def test_an_unknown_source_named_with_a_nul_is_kept_in_the_requests_log(edge: Edge) -> None:
    response = await edge.client.post("/webhooks/%00evil", content=b"{}")
    assert response.status_code == 404
    requests = edge.gateway.requests
    assert requests is not None
    assert await requests.flush() == 1
    [record] = (await edge.store.list_requests(source="\x00evil")).items
    assert (record.status, record.cause) == (404, "unknown_source")
    assert record.source.startswith("sha256:")


@pytest.mark.parametrize(
    "data",
    [
        '{"s": "\\ud800"}',
        '{"s": "cut \\ud83d", "t": "\\udc00 tail", "emoji": "\\ud83d\\ude00", "n": 12345678901234567890123}',
        '{"\\udfff": ["\\ud800\\ud800", {"deep": "\\udbff"}]}',
    ],
)
async def test_lone_surrogates_are_stored_and_delivered_unchanged(edge: Edge, data: str) -> None:
    body = text('"evt_surrogate"', data)
    with capture_logs() as logs:
        response = await edge.post("stripe", body, edge.sign(body))
    assert not [line for line in logs if line["event"] == "internal_error"]
    payload = await stored_payload(edge, response)
    assert payload == json.loads(body)
    assert (await delivered(edge))[0] == json.loads(body)


async def test_a_lone_surrogate_in_the_dedup_key_is_stored(edge: Edge) -> None:
    body = text('"evt_\\udc00"', '{"id": "in_1"}')
    payload = await stored_payload(edge, await edge.post("stripe", body, edge.sign(body)))
    assert payload["id"] == "evt_\udc00"


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "-Infinity", "Infinity"])
@pytest.mark.parametrize("neighbour", ['"plain"', "123456789012345678901234567890"])
async def test_a_number_no_float_holds_is_refused_whatever_its_neighbours(
    edge: Edge, number: str, neighbour: str
) -> None:
    body = text('"evt_number"', f'{{"amount": {number}, "other": {neighbour}}}')
    with capture_logs() as logs:
        response = await edge.post("stripe", body, edge.sign(body))
    assert response.status_code == 400
    [line] = [line for line in logs if line["event"] == "request"]
    assert line["cause_detail"] == "non_finite_number"
    assert await edge.stored() == []


async def test_big_integers_and_extreme_floats_keep_their_values(edge: Edge) -> None:
    data = (
        '{"big": 123456789012345678901234567890, "neg": -98765432109876543210, '
        '"tiny": 5e-324, "huge": 1.7976931348623157e308, "zero": -0.0, "under": 1e-400}'
    )
    body = text('"evt_numbers"', data)
    payload = await stored_payload(edge, await edge.post("stripe", body, edge.sign(body)))
    expected = json.loads(body)
    assert payload == expected
    assert math.copysign(1, payload["data"]["object"]["zero"]) == -1
    assert (await delivered(edge))[0] == expected
