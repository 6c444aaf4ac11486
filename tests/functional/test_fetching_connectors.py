"""A connector that fetches keys or certificates (Plaid, AWS SNS) is verified in a worker
thread: a slow fetch holds its own request, never the event loop, so another source's
delivery is answered meanwhile."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import httpx
import pytest

from connectors.plaid import PlaidConnector
from gateway.app import create_app
from gateway.config import parse_settings
from gateway.sinks import MemorySink
from tests.catalogue import PLAID_JWK, PLAID_KEY
from tests.helpers.edge import ARRIVAL
from tests.unit._fakes import FakeClock

pytestmark = pytest.mark.anyio

GITHUB_SECRET = "It's a Secret to Everybody"


class SlowPlaid:
    """Plaid's key endpoint, answering only once released."""

    def __init__(self) -> None:
        self.entered, self.released = threading.Event(), threading.Event()
        self.threads: list[threading.Thread] = []

    def __call__(self, url: str, body: bytes | None = None) -> bytes:
        self.threads.append(threading.current_thread())
        self.entered.set()
        self.released.wait(10)
        return json.dumps({"key": json.loads(PLAID_JWK)}).encode()


async def test_a_slow_key_fetch_delays_no_other_source(tmp_path: Path) -> None:
    raw = {
        "store": {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"},
        "sources": {
            "plaid": {"connector": "plaid", "client_id": "5f1a2b3c4d5e6f7a8b9c0d1e", "api_secret": "s3cret"},
            "github": {"connector": "github", "secrets": [GITHUB_SECRET]},
        },
        "sinks": {"mem": {"type": "memory"}},
    }
    app = create_app(parse_settings(raw, env={}), sinks={"mem": MemorySink("mem")}, clock=FakeClock(ARRIVAL))
    plaid = app.gateway.sources["plaid"].connector
    assert isinstance(plaid, PlaidConnector)
    assert plaid.fetches
    assert not app.gateway.sources["github"].connector.fetches
    slow = SlowPlaid()
    plaid.fetcher = slow
    signer = PlaidConnector.from_config({"verification_keys": [PLAID_JWK], "signing_key": PLAID_KEY})
    webhook = signer.sign(signer.sample_body(ARRIVAL), ARRIVAL)
    push = b'{"ref": "refs/heads/main", "after": "9fceb02"}'
    github = app.gateway.sources["github"].connector.sign(push, ARRIVAL)
    await app.gateway.start(dispatch=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hooks.example.com") as client:
            waiting = asyncio.create_task(
                client.post("/webhooks/plaid", content=webhook.body, headers=webhook.headers)
            )
            assert await asyncio.to_thread(slow.entered.wait, 10)
            other = await asyncio.wait_for(
                client.post("/webhooks/github", content=github.body, headers=github.headers), 10
            )
            assert other.status_code == 200
            assert not waiting.done()  # still waiting on the key
            slow.released.set()
            answer = await asyncio.wait_for(waiting, 10)
        assert answer.status_code == 200, answer.text
        assert slow.threads != [threading.main_thread()]
        assert len(slow.threads) == 1
    finally:
        slow.released.set()
        await app.gateway.stop()
