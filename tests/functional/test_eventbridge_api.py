"""The EventBridge API in process, on a real SQLite file: a `PutEvents` entry is committed
with its routed deliveries before the answer names it; a store that fails answers
`InternalFailure` per entry; a bug is a 500 in EventBridge's shape; the request line names
the key, never the secret or the body. Requests are signed by botocore at the fake clock's
time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from structlog.testing import capture_logs

from gateway.app import GatewayApp, create_app
from gateway.config import parse_settings
from gateway.errors import StoreError
from gateway.events import Event
from gateway.store import Store
from tests.helpers.edge import ARRIVAL, MARKER
from tests.unit._fakes import FakeClock

pytestmark = pytest.mark.anyio

KEY, SECRET = "AKIAHOOKGATEFUNC01", "functional-bus-secret"
BASE = "http://127.0.0.1:8080"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[GatewayApp, httpx.AsyncClient, FakeClock]]:
    raw = {
        "store": {"url": f"sqlite:///{tmp_path / 'hookgate.db'}"},
        "sinks": {
            "shop": {
                "type": "router",
                "api": {
                    "default": True,
                    "region": "eu-west-1",
                    "account": "210987654321",
                    "credentials": [{"access_key_id": KEY, "secret_access_key": SECRET}],
                },
                "rules": {
                    "orders": {
                        "event_pattern": {"source": ["com.example.orders"]},
                        "targets": [{"id": "file", "type": "jsonl", "path": str(tmp_path / "orders.jsonl")}],
                    }
                },
            }
        },
    }
    clock = FakeClock(ARRIVAL)
    app = create_app(parse_settings(raw, env={}), clock=clock)
    await app.gateway.start(dispatch=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            yield app, client, clock
    finally:
        await app.gateway.stop()


def signed(body: bytes, at: float, operation: str = "PutEvents") -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=BASE + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AWSEvents.{operation}"},
    )
    auth = SigV4Auth(Credentials(KEY, SECRET), "events", "eu-west-1")
    request.context["timestamp"] = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%SZ")
    auth._modify_request_before_signing(request)
    signature = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    auth._inject_signature_to_request(request, signature)
    return dict(request.headers.items())


async def put(client: httpx.AsyncClient, clock: FakeClock, entries: list[dict[str, Any]]) -> httpx.Response:
    body = json.dumps({"Entries": entries}).encode()
    return await client.post("/", content=body, headers=signed(body, clock.now))


ORDER = {"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": json.dumps({"m": MARKER})}


def store(app: GatewayApp) -> Store:
    found = app.gateway.store
    assert found is not None
    return found


async def test_an_entry_is_committed_with_its_routed_deliveries_before_the_answer(
    api: tuple[GatewayApp, httpx.AsyncClient, FakeClock],
) -> None:
    app, client, clock = api
    other = {**ORDER, "Source": "com.example.other"}
    with capture_logs() as logs:
        response = await put(client, clock, [ORDER, other])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    first, second = (e["EventId"] for e in response.json()["Entries"])
    found = await store(app).get_event(first)
    assert found is not None
    event, deliveries = found
    assert [(d.sink, d.state) for d in deliveries] == [("shop/orders/file", "pending")]
    envelope = json.loads(event.entry)
    assert (envelope["account"], envelope["region"]) == ("210987654321", "eu-west-1")
    assert envelope["time"] == datetime.fromtimestamp(ARRIVAL, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    unrouted = await store(app).get_event(second)
    assert unrouted is not None
    assert unrouted[1] == ()  # stored, matched by no rule: sent nowhere, as on EventBridge
    [line] = [entry for entry in logs if entry["event"] == "request"]
    assert (line["operation"], line["access_key_id"], line["entries"], line["failed"]) == (
        "PutEvents",
        KEY,
        2,
        0,
    )
    assert SECRET not in repr(logs)
    assert MARKER not in repr(logs)


async def test_a_store_that_fails_answers_internal_failure_per_entry(
    api: tuple[GatewayApp, httpx.AsyncClient, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, clock = api

    async def down(*args: Any, **kwargs: Any) -> list[Event]:
        raise StoreError("database is locked")

    monkeypatch.setattr(app.gateway.inbox, "persist", down)
    response = await put(client, clock, [ORDER, {**ORDER, "Source": "aws.nope"}])
    assert response.status_code == 200
    assert response.json() == {
        "FailedEntryCount": 2,
        "Entries": [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal failure; retry the entry."},
            {
                "ErrorCode": "NotAuthorizedForSourceException",
                "ErrorMessage": "Not authorized for the source.",
            },
        ],
    }


async def test_the_region_is_enforced_and_the_clock_is_the_gateways(
    api: tuple[GatewayApp, httpx.AsyncClient, FakeClock],
) -> None:
    _, client, clock = api
    body = b"{}"
    response = await client.post("/", content=body, headers=signed(body, clock.now - 301, "ListRules"))
    assert (response.status_code, response.json()["__type"]) == (403, "InvalidSignatureException")
    assert response.headers["x-amzn-errortype"] == "InvalidSignatureException"
    clock.advance(3600)
    response = await client.post("/", content=body, headers=signed(body, clock.now, "ListRules"))
    assert response.status_code == 200
    assert [r["Arn"] for r in response.json()["Rules"]] == [
        "arn:aws:events:eu-west-1:210987654321:rule/shop/orders"
    ]
    response = await client.post("/", content=body, headers=signed(body, clock.now, "PutRule"))
    assert (response.status_code, response.json()["__type"]) == (400, "UnknownOperationException")
    headers = {**signed(body, clock.now, "ListRules"), "Content-Type": "application/json"}
    response = await client.post("/", content=body, headers=headers)
    assert response.status_code == 403  # the content type is signed


async def test_a_bug_is_a_500_in_eventbridges_shape(
    api: tuple[GatewayApp, httpx.AsyncClient, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client, clock = api

    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("bug")

    monkeypatch.setattr("gateway.router.eventbridge_api._endpoint.plan_put_events", broken)
    response = await put(client, clock, [ORDER])
    assert response.status_code == 500
    assert response.json() == {"__type": "InternalException", "message": "An internal error occurred."}
    assert "Traceback" not in response.text


async def test_a_body_beyond_the_edges_limits_is_refused_in_eventbridges_shape_and_closed(
    api: tuple[GatewayApp, httpx.AsyncClient, FakeClock],
) -> None:
    app, client, clock = api
    endpoint_limit = 4 * 1_048_576 + 65_536  # four times the bus API's default max_request_bytes
    huge = json.dumps({"Entries": [{**ORDER, "Detail": "x" * endpoint_limit}]}).encode()
    response = await client.post("/", content=huge, headers=signed(huge, clock.now))
    assert response.status_code == 413
    assert response.json()["__type"] == "RequestEntityTooLargeException"
    assert response.headers["connection"] == "close"
    app.gateway.bodies.max_buffered_bytes = 1_000  # the bodies being read at once hold more
    body = json.dumps({"Entries": [{**ORDER, "Detail": json.dumps({"m": "y" * 2_000})}]}).encode()
    busy = await client.post("/", content=body, headers=signed(body, clock.now))
    assert busy.status_code == 503
    assert busy.json()["__type"] == "ServiceUnavailableException"
    assert busy.headers["connection"] == "close"
    assert app.gateway.bodies.buffered == 0


def samples(app: GatewayApp, name: str) -> dict[tuple[str, ...], float]:
    """The samples of the counter `name` in the gateway's registry, by their label values."""
    found: dict[tuple[str, ...], float] = {}
    for metric in app.gateway.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == name:
                found[tuple(sample.labels.values())] = sample.value
    return found


async def test_requests_are_counted_by_operation_and_outcome_and_entries_by_outcome(
    api: tuple[GatewayApp, httpx.AsyncClient, FakeClock],
) -> None:
    app, client, clock = api
    assert (await put(client, clock, [ORDER, ORDER, {**ORDER, "Source": "aws.nope"}])).status_code == 200
    assert (await put(client, clock, [{**ORDER, "Detail": "[1]"}])).status_code == 200
    assert (await put(client, clock, [])).status_code == 400  # ValidationException: no entry counted
    body = b"{}"
    assert (await client.post("/", content=body, headers=signed(body, clock.now, "ListRules"))).is_success
    stale = signed(body, clock.now - 301, "ListRules")
    assert (await client.post("/", content=body, headers=stale)).status_code == 403
    unknown = signed(body, clock.now, "Made.Up" + "x" * 300)
    assert (await client.post("/", content=body, headers=unknown)).status_code == 400
    unsigned = {"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"}
    assert (await client.post("/", content=body, headers=unsigned)).status_code == 403

    assert samples(app, "hookgate_eventbridge_api_requests_total") == {
        ("PutEvents", "success"): 2,
        ("PutEvents", "ValidationException"): 1,
        ("PutEvents", "MissingAuthenticationTokenException"): 1,
        ("ListRules", "success"): 1,
        ("ListRules", "InvalidSignatureException"): 1,
        ("unknown", "UnknownOperationException"): 1,
    }
    assert samples(app, "hookgate_eventbridge_api_entries_total") == {
        ("accepted",): 2,
        ("NotAuthorizedForSourceException",): 1,
        ("MalformedDetail",): 1,
    }
    exposed = (await client.get("/metrics")).text
    assert 'hookgate_eventbridge_api_requests_total{operation="PutEvents",outcome="success"} 2.0' in exposed
    assert 'hookgate_eventbridge_api_entries_total{outcome="accepted"} 2.0' in exposed
