"""Stripe thin events end to end: a real `hookgate serve` with `api_key` set, the `stripe`
SDK inside it pointed (`api_base`) at a local stub of the Stripe API that records what the
SDK asks. A thin event is acknowledged at once, then forwarded with its full data; the
API's outages are retried, its refusals dead-lettered; the key appears in no log line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from tests.helpers.served import STRIPE_SECRET, Served, free_port, jsonl_entries
from tests.helpers.stripe_api import StripeApi, serve_stripe_api

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk_test_51E2eThinEventsSecretKey0000000000000000000000"
THIN: dict[str, Any] = json.loads(
    (ROOT / "tests/fixtures/stripe/v1.billing.meter.error_report_triggered.thin.json").read_text()
)
FULL: dict[str, Any] = json.loads(
    (ROOT / "tests/fixtures/stripe/v1.billing.meter.error_report_triggered.full.json").read_text()
)


class Hydrating(Served):
    """`hookgate serve` with the Stripe API key in the environment its configuration names."""

    def env(self) -> dict[str, str]:
        return super().env() | {"E2E_STRIPE_API_KEY": API_KEY}

    def sink_at(self, name: str) -> list[dict[str, Any]]:
        path = self.tmp / f"{name}.jsonl"
        if not path.exists():
            return []
        return jsonl_entries(path)


def config(tmp: Path, port: int, api: StripeApi, *, sinks: tuple[str, ...]) -> str:
    tables = "".join(f'\n[sinks.{name}]\ntype = "jsonl"\npath = "{tmp / name}.jsonl"\n' for name in sinks)
    return f"""
[server]
host = "127.0.0.1"
port = {port}

[store]
url = "sqlite:///{tmp / "hookgate.db"}"

[dispatcher]
max_attempts = 6
poll_interval_seconds = 0.2
base_delay_seconds = 0.05
max_delay_seconds = 0.2

[sources.stripe]
connector = "stripe"
secrets = ["env:E2E_STRIPE_SECRET"]
api_key = "env:E2E_STRIPE_API_KEY"
api_base = "{api.url}"
{tables}"""


@pytest.fixture
def api() -> Iterator[StripeApi]:
    with serve_stripe_api() as server:
        server.events[FULL["id"]] = FULL
        yield server


def serve(tmp: Path, api: StripeApi, *sinks: str) -> Hydrating:
    port = free_port()
    path = tmp / "thin.toml"
    path.write_text(config(tmp, port, api, sinks=sinks or ("archive",)))
    served = Hydrating(tmp, path, port)
    served.start()
    return served


def deliver(served: Served, event: dict[str, Any]) -> httpx.Response:
    """Signed by the official SDK, as Stripe signs an event destination's delivery."""
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET)
    # The SDK is the oracle of the signature, for thin events too.
    stripe.StripeClient(API_KEY).parse_event_notification(body, header, STRIPE_SECRET)
    return httpx.post(
        f"{served.url}/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        timeout=10,
    )


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of `hookgate serve` (its stderr is not a terminal here)."""
    found = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            found.append(parsed)
    return found


def wait_until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.1)


def test_a_thin_event_is_acknowledged_at_once_then_forwarded_in_full_once(
    tmp_path: Path, api: StripeApi
) -> None:
    api.delay = 3.0  # a slow Stripe API never delays the acknowledgement
    served = serve(tmp_path, api, "archive", "copy")
    try:
        started = time.monotonic()
        response = deliver(served, THIN)
        acknowledged = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert acknowledged < api.delay
        assert served.stored_count() == 1

        wait_until(lambda: served.sink_at("archive") and served.sink_at("copy"))
        for name in ("archive", "copy"):
            [entry] = served.sink_at(name)
            assert entry["detail-type"] == "v1.billing.meter.error_report_triggered"
            assert entry["detail"]["payload"] == FULL
            assert entry["detail"]["metadata"]["provider_event_id"] == FULL["id"]
        [retrieve] = api.retrieves()  # one call for the event, not one per sink
        assert retrieve.path == f"/v2/core/events/{FULL['id']}"
        assert retrieve.headers["authorization"] == f"Bearer {API_KEY}"
        assert retrieve.headers["stripe-version"]
        # The stored event is the full one: what `events show` and replays see.
        shown = served.cli("events", "show", response.json()["event_ids"][0]).stdout
        assert "validation_start" in shown
    finally:
        served.stop()
    log = served.log_text()
    assert API_KEY not in log
    [enriched] = [line for line in log_lines(log) if line.get("event") == "enriched"]
    assert enriched["event_id"] == response.json()["event_ids"][0]


def test_api_outages_are_retried_until_the_event_is_fetched(tmp_path: Path, api: StripeApi) -> None:
    api.script = [500, 500, 503]
    served = serve(tmp_path, api)
    try:
        assert deliver(served, THIN).status_code == 200
        wait_until(lambda: served.sink_at("archive"))
        time.sleep(0.5)  # nothing more arrives
        [entry] = served.sink_at("archive")
        assert entry["detail"]["payload"] == FULL
        assert len(api.retrieves()) == 4
        assert served.cli("dlq", "list").stdout.strip() == f"no dead letters in sqlite:///{served.db}"
    finally:
        served.stop()
    log = served.log_text()
    assert "stripe_api_error: 500" in log
    assert API_KEY not in log


@pytest.mark.parametrize(
    ("status", "cause"), [(404, "stripe_event_not_found: 404"), (401, "stripe_unauthorized: 401")]
)
def test_a_refused_fetch_is_dead_lettered_with_its_cause(
    tmp_path: Path, api: StripeApi, status: int, cause: str
) -> None:
    api.script = [status]
    served = serve(tmp_path, api)
    try:
        assert deliver(served, THIN).status_code == 200
        wait_until(lambda: "enrichment" in served.cli("dlq", "list").stdout)
        [line] = served.cli("dlq", "list").stdout.strip().splitlines()
        assert "archive" in line
        assert f"cause=enrichment: {cause}" in line
        assert len(api.retrieves()) == 1  # refused for good: not tried again
        assert served.sink_at("archive") == []
    finally:
        served.stop()
    assert API_KEY not in served.log_text()


def test_without_an_api_key_a_thin_event_is_forwarded_as_it_arrived(served: Served) -> None:
    body = json.dumps(THIN).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET)
    response = httpx.post(f"{served.url}/webhooks/stripe", content=body, headers={"Stripe-Signature": header})
    assert response.status_code == 200
    [entry] = served.wait_for_sink(lambda entries: len(entries) == 1)
    assert entry["detail-type"] == THIN["type"]
    assert entry["detail"]["payload"] == THIN
