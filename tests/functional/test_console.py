"""The web console in-process, over the real app and a real SQLite store: it reaches the
data only through the admin API, so the API's failed-login limit and audit lines apply to
it, and it is off with the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from gateway.app import GatewayApp, create_app
from gateway.config import Settings, parse_settings
from gateway.sinks import MemorySink
from gateway.store import Settlement
from tests.unit._fakes import make_event

pytestmark = pytest.mark.anyio

ADMIN = "admin-token-0123456789abcdef"


def settings(tmp_path: Path, *, tokens: bool = True) -> Settings:
    return parse_settings(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"},
            "sources": {"github": {"connector": "github", "secrets": ["github-secret"], "sinks": ["mem"]}},
            "sinks": {"mem": {"type": "memory"}},
            "admin": {"tokens": [{"name": "ops", "token": ADMIN, "role": "admin"}] if tokens else []},
        },
        env={},
    )


async def client_of(app: GatewayApp, address: str = "192.0.2.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway.test")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[GatewayApp]:
    built = create_app(settings(tmp_path), sinks={"mem": MemorySink("mem")})
    await built.gateway.start(dispatch=False)
    try:
        yield built
    finally:
        await built.gateway.stop()


async def test_failed_console_logins_count_against_the_apis_limit_for_that_browsers_address(
    app: GatewayApp,
) -> None:
    async with await client_of(app) as browser, await client_of(app, "192.0.2.8") as other:
        for _ in range(10):
            refused = await browser.post("/console/login", data={"token": "wrong-token-0123456789"})
            assert refused.status_code == 401
            assert "That token is not valid." in refused.text
        limited = await browser.post("/console/login", data={"token": ADMIN})  # even the right one
        assert limited.status_code == 429
        assert "Too many failed logins; retry in " in limited.text
        # the API itself now refuses that address too: one limit, whichever way it is reached
        api = await browser.get("/api/v1/whoami", headers={"Authorization": f"Bearer {ADMIN}"})
        assert api.status_code == 429
        # another address is not affected
        assert (await other.post("/console/login", data={"token": ADMIN})).status_code == 303


async def test_a_redrive_from_the_console_is_the_apis_audit_line_with_the_tokens_name(
    app: GatewayApp,
) -> None:
    store = app.gateway.store
    assert store is not None
    event = make_event(at=app.gateway.clock())
    await store.persist([event], ["mem"])
    claimed = await store.claim("mem", 10)
    await store.settle("mem", claimed, [Settlement(event.id, "permanent", "http_400: refused")])
    async with await client_of(app) as browser:
        assert (await browser.post("/console/login", data={"token": ADMIN})).status_code == 303
        page = await browser.get("/console/dead-letters")
        assert f'value="{event.id}/mem"' in page.text
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        with capture_logs() as logs:
            done = await browser.post(
                "/console/dead-letters",
                data={"csrf": csrf, "scope": "selected", "delivery": f"{event.id}/mem", "action": "redrive"},
            )
        assert done.status_code == 303
        assert "Redriven%3A+1+of+1" in done.headers["location"]
    [audit] = [line for line in logs if line["event"] == "audit"]
    assert (audit["who"], audit["action"], audit["count"]) == ("ops", "dead_letters.redrive", 1)
    assert ADMIN not in repr(logs)
    [delivery] = (await store.list_events())[0].deliveries
    assert delivery.state in ("pending", "retry")  # queued again, no longer dead


async def test_the_console_is_off_with_the_api(tmp_path: Path) -> None:
    off = create_app(settings(tmp_path, tokens=False), sinks={"mem": MemorySink("mem")})
    async with await client_of(off) as browser:
        for path in ("/console/", "/console/login", "/console/static/console.css"):
            assert (await browser.get(path)).status_code == 404, path
        assert (await browser.post("/console/login", data={"token": ADMIN})).status_code == 404
