"""The README's "Forward to my app" end to end: its configuration (one Stripe source, one
`http` sink) in a real `hookgate serve`, signed Stripe deliveries in, and a local HTTP
service that receives them as EventBridge-shaped events, signed the Standard Webhooks way
(checked with the official `standardwebhooks` library); a service that is down at first
gets the event once it is up, one that answers 400 gets it dead-lettered."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import standardwebhooks

from tests.helpers.http_server import HttpServer, Received, serve_http
from tests.helpers.served import STRIPE_SECRET, Served, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
README_URL = "http://localhost:3000/hookgate"

_T = TypeVar("_T")


def readme_config() -> str:
    """The TOML of the README's "Forward to my app" section, as a user copies it."""
    section = (ROOT / "README.md").read_text().split("## Forward to my app", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```toml\n(.*?)```", section, flags=re.DOTALL)
    [block] = blocks
    assert README_URL in block
    return block


class Forwarding(Served):
    """`hookgate serve` with the README's secrets in the environment it names."""

    def env(self) -> dict[str, str]:
        return super().env() | {
            "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
            "HOOKGATE_SIGNING_SECRET": SIGNING_SECRET,
        }


@pytest.fixture
def forwarding(tmp_path: Path) -> Iterator[tuple[Forwarding, int]]:
    """The gateway, and the port of the app it forwards to (nothing listens there yet)."""
    port, app_port = free_port(), free_port()
    config = tmp_path / "app.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}

[store]
url = "sqlite:///{tmp_path / "hookgate.db"}"

[dispatcher]
max_attempts = 1000
poll_interval_seconds = 0.2
base_delay_seconds = 0.05
max_delay_seconds = 0.2
"""
        + readme_config().replace(README_URL, f"http://127.0.0.1:{app_port}/hookgate")
    )
    served = Forwarding(tmp_path, config, port)
    served.start()
    try:
        yield served, app_port
    finally:
        served.stop()


def eventually(probe: Callable[[], _T | None], what: str, timeout: float = 20.0) -> _T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def post(served: Served, stripe: dict[str, Any]) -> str:
    body = json.dumps(stripe).encode()
    response = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200, response.text
    event_id: str = response.json()["event_ids"][0]
    return event_id


def delivery(served: Served, event_id: str) -> dict[str, Any]:
    [only] = json.loads(served.cli("events", "show", event_id).stdout)["deliveries"]
    assert only["sink"] == "app"
    return dict(only)


def received(app: HttpServer, count: int) -> list[Received]:
    return eventually(lambda: list(app.received) if len(app.received) >= count else None, f"{count} requests")


def test_stripe_events_reach_my_app_signed_retried_and_dead_lettered(
    forwarding: tuple[Forwarding, int],
) -> None:
    served, app_port = forwarding
    checked = served.cli("check-config").stdout
    assert "source stripe: connector stripe → sinks app" in checked
    assert "sink app: http" in checked

    # The app is down: the event is stored and its delivery retried.
    stripe = json.loads(stripe_event(kind="invoice.paid"))
    event_id = post(served, stripe)
    eventually(lambda: delivery(served, event_id)["attempts"] >= 2 or None, "a retry while the app is down")
    retrying = delivery(served, event_id)
    assert retrying["state"] in ("retry", "forwarding", "pending")
    assert str(retrying["last_cause"]).startswith("connection_error"), retrying

    with serve_http(app_port) as app:
        # Once it is up, the app gets the EventBridge-shaped event, signed.
        [got] = received(app, 1)
        assert (got.method, got.path) == ("POST", "/hookgate")
        assert got.headers["content-type"] == "application/json; charset=utf-8"
        assert got.headers["webhook-id"] == event_id
        entry = standardwebhooks.Webhook(SIGNING_SECRET).verify(got.body, got.headers)
        assert entry["id"] == event_id
        assert entry["source"] == "hookgate.stripe"
        assert entry["detail-type"] == "invoice.paid"
        assert entry["detail"]["payload"] == stripe
        assert entry == json.loads(served.cli("events", "show", event_id).stdout)["event"]
        eventually(lambda: delivery(served, event_id)["state"] == "delivered" or None, "delivered")

        # An event the app refuses with a 400 is dead-lettered at once, with the cause.
        refused = json.loads(stripe_event(kind="charge.failed")) | {"respond": {"status": 400}}
        refused_id = post(served, refused)
        [_, second] = received(app, 2)
        assert second.headers["webhook-id"] == refused_id

        def dead_letters() -> str | None:
            listed = served.cli("dlq", "list").stdout
            return listed if refused_id in listed else None

        dead = eventually(dead_letters, "dead-lettered")
        assert "http_400" in dead
        assert event_id not in dead
        assert delivery(served, refused_id)["attempts"] == 1
        time.sleep(0.5)
        assert len(app.received) == 2  # not retried
