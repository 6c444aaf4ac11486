"""Functional fixtures: the real ASGI app in-process, on a real SQLite file, with fakes
that subclass the real base classes (a fake clock, `MemorySink`, test connectors)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.sinks import MemorySink
from tests.helpers.edge import (
    ARRIVAL,
    FIXTURES,
    MAX_BODY,
    STRIPE_SECRET,
    BrokenNormalizeConnector,
    BrokenVerifyConnector,
    Edge,
    source_for,
)
from tests.unit._fakes import FakeClock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(ARRIVAL)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    raw = {
        "server": {"max_body_bytes": MAX_BODY, "public_url": "https://hooks.example.com"},
        "store": {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"},
        "sources": {
            "stripe": {"connector": "stripe", "secrets": [STRIPE_SECRET]},
            "payments": {
                "connector": "stripe",
                "secrets": [STRIPE_SECRET],
                "event_source": "com.example.payments",
                "detail_format": "payload",
            },
        },
        "sinks": {"mem": {"type": "memory"}},
    }
    settings = parse_settings(raw, env={})
    broken = (BrokenVerifyConnector, BrokenNormalizeConnector)
    extra = {c.name: source_for(c) for c in broken}
    return dataclasses.replace(settings, sources={**settings.sources, **extra})


@pytest.fixture
async def edge(settings: Settings, clock: FakeClock) -> AsyncIterator[Edge]:
    sink = MemorySink("mem")
    app = create_app(settings, sinks={"mem": sink}, clock=clock)
    await app.gateway.start(dispatch=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hooks.example.com") as client:
            yield Edge(app, client, clock, sink)
    finally:
        await app.gateway.stop()


@pytest.fixture
def invoice_paid() -> bytes:
    return (FIXTURES / "stripe" / "invoice.paid.json").read_bytes()
