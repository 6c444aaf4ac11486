"""A handshake answer's headers reach the provider (Asana's `X-Hook-Secret` echo), and Asana's
signed heartbeat is answered 200 without storing anything."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import parse_settings
from gateway.sinks import MemorySink
from tests.helpers.edge import ARRIVAL
from tests.unit._fakes import FakeClock

pytestmark = pytest.mark.anyio


async def test_asana_handshake_echoes_the_secret_header_and_stores_nothing(tmp_path: Path) -> None:
    raw = {
        "store": {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"},
        "sources": {"asana": {"connector": "asana", "secrets": ["b537207f20cbfa02357cf448134da559"]}},
        "sinks": {"mem": {"type": "memory"}},
    }
    app = create_app(parse_settings(raw, env={}), sinks={"mem": MemorySink("mem")}, clock=FakeClock(ARRIVAL))
    await app.gateway.start(dispatch=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hooks.example.com") as client:
            secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
            response = await client.post("/webhooks/asana", content=b"", headers={"X-Hook-Secret": secret})
            heartbeat = b'{"events":[]}'
            signed = app.gateway.sources["asana"].connector.sign(heartbeat, ARRIVAL).headers
            beat = await client.post("/webhooks/asana", content=heartbeat, headers=signed)
            refused = await client.post(
                "/webhooks/asana", content=b"", headers={b"X-Hook-Secret": b"\xe9" * 3}
            )
        assert (response.status_code, response.content) == (200, b"")
        assert response.headers["x-hook-secret"] == secret
        assert (beat.status_code, beat.content) == (200, b"")
        assert refused.status_code == 401
        assert "x-hook-secret" not in refused.headers
        store = app.gateway.store
        assert store is not None
        assert await store.list_events(limit=10) == []
    finally:
        await app.gateway.stop()
