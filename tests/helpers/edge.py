"""The real ASGI app in-process, and what the functional tests send it: connectors with
bugs (a fault in `verify` or in `normalize`), `Edge` (the app and a client talking to it),
Stripe bodies carrying a marker that must never reach a log line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from connectors import Connector, ConnectorOptions, ProviderEvent, SignedDelivery, WebhookRequest
from gateway.app import Gateway, GatewayApp
from gateway.config import SourceSpec
from gateway.sinks import MemorySink
from gateway.store import EventSummary, Store
from tests.unit._fakes import FakeClock

STRIPE_SECRET = "whsec_functional_Q9t2Lk7vX3mB8nR4"
#: When the functional tests' deliveries arrive (their fake clock starts here): 30 s after the
#: `created` time of tests/fixtures/stripe/invoice.paid.json; tests compare times derived from it.
ARRIVAL = 1_724_243_571.0
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


#: Put in payloads to prove they never reach a log line.
MARKER = "payload-marker-5c1f0e"


def stripe_body(event_id: str = "evt_functional_1", **extra: Any) -> bytes:
    event = {
        "id": event_id,
        "object": "event",
        "type": "invoice.paid",
        "created": 1_724_243_541,
        "data": {"object": {"id": "in_1", "customer_email": f"{MARKER}@example.com", **extra}},
    }
    return json.dumps(event).encode()
