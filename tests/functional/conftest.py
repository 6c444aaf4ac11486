"""Functional fixtures: the real ASGI app in-process, on a real SQLite file, with fakes
that subclass the real base classes (a fake clock, `MemorySink`, test connectors)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors import Connector, ConnectorOptions, ProviderEvent, SignedDelivery, WebhookRequest
from gateway.app import Gateway, GatewayApp, create_app
from gateway.config import Settings, SourceSpec, parse_settings
from gateway.sinks import MemorySink
from gateway.store import EventSummary, Store
from tests.unit._fakes import FakeClock

STRIPE_SECRET = "whsec_functional_Q9t2Lk7vX3mB8nR4"
#: The fake clock: 30 s after the `created` time of tests/fixtures/stripe/invoice.paid.json.
NOW = 1_724_243_571.0
MAX_BODY = 8192
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class BrokenVerifyConnector(Connector):
    """A connector bug in `verify`: an exception that is not a `VerificationError`."""

    name = "broken-verify"

    def verify(self, request: WebhookRequest, now: float) -> None:
        raise ValueError(f"cannot handle {request.body!r}")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return [ProviderEvent(type="never", payload={}, dedup_key="never")]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        return SignedDelivery(body)


class BrokenNormalizeConnector(Connector):
    """Accepts everything, then trips over the payload in `normalize`."""

    name = "broken-normalize"

    def verify(self, request: WebhookRequest, now: float) -> None:
        return None

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload: dict[str, Any] = {}
        return [ProviderEvent(type=payload["type"], payload=payload, dedup_key="k")]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        return SignedDelivery(body)


def source_for(connector: type[Connector]) -> SourceSpec:
    return SourceSpec(
        name=connector.name,
        cls=connector,
        options=ConnectorOptions(),
        event_source=f"hookgate.{connector.name}",
        detail_format="envelope",
        sinks=("mem",),
        max_body_bytes=MAX_BODY,
        public_url=None,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


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


@dataclass
class Edge:
    """The app under test and a client talking to it in-process."""

    app: GatewayApp
    client: httpx.AsyncClient
    clock: FakeClock
    sink: MemorySink

    @property
    def gateway(self) -> Gateway:
        return self.app.gateway

    @property
    def store(self) -> Store:
        """The app's store (an app built without one has a whole store of its own)."""
        store = self.gateway.store
        assert store is not None
        return store

    def sign(self, body: bytes, *, at: float | None = None, source: str = "stripe") -> dict[str, str]:
        connector = self.gateway.sources[source].connector
        return connector.sign(body, self.clock.now if at is None else at).headers

    async def post(self, source: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(f"/webhooks/{source}", content=body, headers=headers or {})

    async def stored(self) -> list[EventSummary]:
        return await self.store.list_events(limit=1000)


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
