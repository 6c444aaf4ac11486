"""Schema enforcement at the edge: events checked against a pinned version, rejected (400
with the path, nothing stored) or flagged (stored, marked), on the real app and store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from gateway.app import create_app
from gateway.config import parse_settings
from gateway.schemas import first_mismatch, open_registry
from gateway.sinks import MemorySink
from tests.helpers.edge import ARRIVAL, STRIPE_SECRET, Edge, stripe_body
from tests.unit._fakes import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    raw = {
        "server": {"public_url": "https://hooks.example.com"},
        "store": {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"},
        "sources": {
            "stripe": {"connector": "stripe", "secrets": [STRIPE_SECRET], "schema_enforcement": "reject"},
            "flagged": {"connector": "stripe", "secrets": [STRIPE_SECRET], "schema_enforcement": "flag"},
        },
        "sinks": {"mem": {"type": "memory"}},
    }
    clock = FakeClock(ARRIVAL)
    sink = MemorySink("mem")
    app = create_app(parse_settings(raw, env={}), sinks={"mem": sink}, clock=clock)
    await app.gateway.start(dispatch=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hooks.example.com") as client:
            yield Edge(app, client, clock, sink)
    finally:
        await app.gateway.stop()


async def pin_first_version(edge: Edge, source: str) -> str:
    for i in range(2):
        body = stripe_body(f"evt_{source}_{i}", amount=100 + i)
        assert (await edge.post(source, body, edge.sign(body, source=source))).status_code == 200
    discovery, enforcer = edge.gateway.discovery, edge.gateway.schema_enforcer
    assert discovery is not None
    assert enforcer is not None
    await discovery.drain()
    name = f"hookgate.{source}@InvoicePaid"
    assert await open_registry(edge.store).pin(name, 1)
    await enforcer.refresh()
    return name


async def test_reject_answers_400_with_the_path_and_stores_nothing(edge: Edge) -> None:
    name = await pin_first_version(edge, "stripe")
    body = stripe_body("evt_bad", amount="a lot")
    response = await edge.post("stripe", body, edge.sign(body))
    assert response.status_code == 400
    assert response.json() == {
        "error": "schema mismatch",
        "schema": name,
        "version": "1",
        "path": "/payload/data/object/amount",
    }
    assert [e.dedup_key for e in await edge.stored()].count("evt_bad") == 0
    fits = stripe_body("evt_good", amount=7)
    assert (await edge.post("stripe", fits, edge.sign(fits))).status_code == 200
    scrape = generate_latest(edge.gateway.metrics.registry).decode()
    assert 'hookgate_requests_rejected_total{cause="schema_mismatch",source="stripe"} 1.0' in scrape
    assert (
        'hookgate_schema_mismatches_total{action="reject",detail_type="invoice.paid",source="stripe"} 1.0'
        in scrape
    )


async def test_flag_stores_the_event_marked(edge: Edge) -> None:
    name = await pin_first_version(edge, "flagged")
    body = stripe_body("evt_odd", amount=None)
    response = await edge.post("flagged", body, edge.sign(body, source="flagged"))
    assert response.status_code == 200
    [event_id] = response.json()["event_ids"]
    stored = await edge.store.get_event(event_id)
    assert stored is not None
    metadata = json.loads(stored[0].entry)["detail"]["metadata"]
    assert metadata["schema_mismatch"] == {
        "schema": name,
        "version": "1",
        "path": "/payload/data/object/amount",
    }


def test_the_check_follows_the_schema_keywords() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": ["null", "integer"]},
            "l": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["a"],
    }
    assert first_mismatch(schema, {"a": None, "l": ["x"], "extra": 1}) is None
    assert first_mismatch(schema, {"l": []}) == "/a"
    assert first_mismatch(schema, {"a": True}) == "/a"  # a boolean is not an integer
    assert first_mismatch(schema, {"a": 1, "l": ["x", 2]}) == "/l/1"
    assert first_mismatch({**schema, "additionalProperties": False}, {"a": 1, "a/b": 2}) == "/a~1b"
    assert first_mismatch(schema, []) == "/"
    assert first_mismatch({"type": "number"}, 3) is None
