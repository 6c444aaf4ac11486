"""The HTTP edge, end to end in-process: ASGI app → connector → SQLite store.

Every rejection answers with a generic body and stores nothing; every request writes one
summary log line that carries neither secrets nor payloads.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import stripe
import structlog
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.edge import MARKER, MAX_BODY, STRIPE_SECRET, Edge, stripe_body

pytestmark = pytest.mark.anyio


def metric(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


async def assert_rejected(
    edge: Edge, response: httpx.Response, status: int, error: str, *, stored: int = 0
) -> None:
    assert response.status_code == status
    assert response.json() == {"error": error}
    assert response.headers["content-type"] == "application/json"
    assert len(await edge.stored()) == stored


# -- accepted -----------------------------------------------------------------------------


async def test_a_signed_event_is_accepted_and_stored_as_an_envelope(edge: Edge, invoice_paid: bytes) -> None:
    # Signed by Stripe's own SDK, not by the connector under test.
    header = stripe.WebhookSignature.generate_signature_header(
        invoice_paid.decode(), STRIPE_SECRET, timestamp=int(edge.clock.now)
    )
    response = await edge.post("stripe", invoice_paid, {"Stripe-Signature": header})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["status"] == "accepted"
    [event_id] = answer["event_ids"]
    assert response.headers["x-hookgate-event-ids"] == event_id
    found = await edge.store.get_event(event_id)
    assert found is not None
    event, deliveries = found
    assert [(d.sink, d.state) for d in deliveries] == [("mem", "pending")]

    payload = json.loads(invoice_paid)
    entry = event.as_dict()
    assert entry == {
        "version": "0",
        "id": event_id,
        "detail-type": "invoice.paid",
        "source": "hookgate.stripe",
        "time": "2024-08-21T12:32:21Z",
        "resources": [],
        "detail": {
            "metadata": {
                "event_id": event_id,
                "source": "stripe",
                "connector": "stripe",
                "provider_event_id": payload["id"],
                "delivery_id": None,
                "dedup_key": payload["id"],
                "received_at": "2024-08-21T12:32:51.000+00:00",
            },
            "payload": payload,
        },
    }
    assert (event.source, event.dedup_key, event.received_at) == ("stripe", payload["id"], edge.clock.now)


async def test_payload_format_and_a_custom_event_source(edge: Edge, invoice_paid: bytes) -> None:
    response = await edge.post("payments", invoice_paid, edge.sign(invoice_paid, source="payments"))
    assert response.status_code == 200
    [event_id] = response.json()["event_ids"]
    found = await edge.store.get_event(event_id)
    assert found is not None
    entry = found[0].as_dict()
    assert entry["source"] == "com.example.payments"
    assert entry["detail"] == json.loads(invoice_paid)
    assert (entry["id"], entry["detail-type"], entry["time"]) == (
        event_id,
        "invoice.paid",
        "2024-08-21T12:32:21Z",
    )


async def test_an_x_ray_trace_header_is_kept_for_the_bus(edge: Edge) -> None:
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    traced, plain = stripe_body("evt_traced"), stripe_body("evt_plain")
    response = await edge.post("stripe", traced, {**edge.sign(traced), "X-Amzn-Trace-Id": trace})
    [traced_id] = response.json()["event_ids"]
    [plain_id] = (await edge.post("stripe", plain, edge.sign(plain))).json()["event_ids"]
    envelopes = {}
    for event_id in (traced_id, plain_id):
        found = await edge.store.get_event(event_id)
        assert found is not None
        envelopes[event_id] = found[0].as_dict()
    assert envelopes[traced_id]["trace-header"] == trace
    assert "trace-header" not in envelopes[plain_id]


async def test_a_redelivery_is_acknowledged_as_a_duplicate(edge: Edge) -> None:
    body = stripe_body()
    first = await edge.post("stripe", body, edge.sign(body))
    edge.clock.advance(60)  # Stripe retries later, signing again
    again = await edge.post("stripe", body, edge.sign(body))

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "event_ids": first.json()["event_ids"]}
    assert [e.id for e in await edge.stored()] == first.json()["event_ids"]


# -- rejected -----------------------------------------------------------------------------


async def test_a_forged_signature_is_unauthorized_with_a_generic_body(edge: Edge) -> None:
    body = stripe_body()
    forged = edge.gateway.sources["stripe"].connector.sign(body + b" ", edge.clock.now).headers
    response = await edge.post("stripe", body, forged)
    await assert_rejected(edge, response, 401, "unauthorized")
    assert "signature" not in response.text


@pytest.mark.parametrize(
    "headers",
    [{}, {"Stripe-Signature": "garbage"}, {"Stripe-Signature": "t=abc,v1=00"}],
    ids=["missing", "malformed", "bad-timestamp"],
)
async def test_missing_or_malformed_signatures_are_unauthorized(edge: Edge, headers: dict[str, str]) -> None:
    await assert_rejected(edge, await edge.post("stripe", stripe_body(), headers), 401, "unauthorized")


@pytest.mark.parametrize("age", [301, -301], ids=["stale", "future"])
async def test_a_timestamp_out_of_tolerance_is_unauthorized(edge: Edge, age: int) -> None:
    body = stripe_body()
    response = await edge.post("stripe", body, edge.sign(body, at=edge.clock.now - age))
    await assert_rejected(edge, response, 401, "unauthorized")


async def test_a_body_over_the_limit_is_refused_by_content_length(edge: Edge) -> None:
    body = stripe_body(padding="x" * MAX_BODY)
    response = await edge.post("stripe", body, edge.sign(body))
    assert response.request.headers["content-length"] == str(len(body))
    await assert_rejected(edge, response, 413, "payload too large")


async def test_a_streamed_body_over_the_limit_is_refused_while_reading(edge: Edge) -> None:
    body = stripe_body(padding="x" * MAX_BODY)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await edge.client.post("/webhooks/stripe", content=chunks(), headers=edge.sign(body))
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    await assert_rejected(edge, response, 413, "payload too large")


async def test_a_streamed_body_within_the_limit_is_accepted(edge: Edge) -> None:
    body = stripe_body()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = await edge.client.post("/webhooks/stripe", content=chunks(), headers=edge.sign(body))
    assert response.status_code == 200
    assert len(await edge.stored()) == 1


async def test_a_signed_body_that_is_not_json_is_malformed(edge: Edge) -> None:
    body = b'{"id": "evt_1", "type": "invoice.paid", ' + MARKER.encode()
    await assert_rejected(edge, await edge.post("stripe", body, edge.sign(body)), 400, "malformed payload")


async def test_a_signed_event_without_a_type_is_malformed(edge: Edge) -> None:
    body = json.dumps({"id": "evt_1", "object": "event"}).encode()
    await assert_rejected(edge, await edge.post("stripe", body, edge.sign(body)), 400, "malformed payload")


@pytest.mark.parametrize("path", ["/webhooks/nope", "/webhooks/", "/webhooks/stripe/extra"])
async def test_an_unknown_source_is_not_found(edge: Edge, path: str) -> None:
    body = stripe_body()
    response = await edge.client.post(path, content=body, headers=edge.sign(body))
    await assert_rejected(edge, response, 404, "unknown source")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_other_methods_are_not_allowed_on_a_post_only_source(edge: Edge, method: str) -> None:
    response = await edge.client.request(method, "/webhooks/stripe")
    await assert_rejected(edge, response, 405, "method not allowed")


async def test_a_connector_failing_in_verify_is_unauthorized_not_an_error(edge: Edge) -> None:
    response = await edge.post("broken-verify", stripe_body())
    await assert_rejected(edge, response, 401, "unauthorized")


async def test_a_connector_failing_in_normalize_is_malformed_not_an_error(edge: Edge) -> None:
    response = await edge.post("broken-normalize", stripe_body())
    await assert_rejected(edge, response, 400, "malformed payload")


async def test_a_store_that_is_down_answers_503_so_the_provider_retries(edge: Edge) -> None:
    await edge.gateway.inbox.close()
    body = stripe_body()
    response = await edge.post("stripe", body, edge.sign(body))
    assert response.status_code == 503
    assert response.json() == {"error": "temporarily unavailable, retry later"}
    assert (await edge.client.get("/readyz")).status_code == 503


# -- health and metrics -------------------------------------------------------------------


async def test_health_and_readiness(edge: Edge) -> None:
    healthz = await edge.client.get("/healthz")
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    readyz = await edge.client.get("/readyz")
    assert (readyz.status_code, readyz.json()) == (200, {"status": "ready"})


async def test_metrics_count_requests_rejections_duplicates_and_the_queue(edge: Edge) -> None:
    body = stripe_body()
    await edge.post("stripe", body, edge.sign(body))
    await edge.post("stripe", body, edge.sign(body))
    await edge.post("stripe", body, {"Stripe-Signature": "t=1,v1=00"})
    big = stripe_body(padding="x" * MAX_BODY)
    await edge.post("stripe", big, edge.sign(big))

    response = await edge.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert metric(text, "hookgate_requests_received_total", source="stripe") == 4
    assert metric(text, "hookgate_requests_rejected_total", source="stripe", cause="verification_failed") == 1
    assert metric(text, "hookgate_requests_rejected_total", source="stripe", cause="too_large") == 1
    assert metric(text, "hookgate_events_duplicate_total", source="stripe") == 1
    assert metric(text, "hookgate_events_persisted_total", source="stripe") == 1
    assert metric(text, "hookgate_request_duration_seconds_count", source="stripe") == 4
    assert metric(text, "hookgate_queue_depth", sink="mem", state="pending") == 1
    assert metric(text, "hookgate_queue_depth", sink="mem", state="dead") == 0


async def test_metrics_say_how_long_the_oldest_undelivered_event_has_waited(edge: Edge) -> None:
    scrape = (await edge.client.get("/metrics")).text
    assert metric(scrape, "hookgate_oldest_pending_age_seconds", sink="mem") == 0

    first = stripe_body("evt_lag_1")
    await edge.post("stripe", first, edge.sign(first))
    edge.clock.advance(40)
    second = stripe_body("evt_lag_2")
    await edge.post("stripe", second, edge.sign(second))
    edge.clock.advance(2)

    scrape = (await edge.client.get("/metrics")).text
    assert metric(scrape, "hookgate_oldest_pending_age_seconds", sink="mem") == 42

    dispatcher = edge.gateway.dispatcher
    assert dispatcher is not None
    await dispatcher.drain()
    scrape = (await edge.client.get("/metrics")).text
    assert metric(scrape, "hookgate_oldest_pending_age_seconds", sink="mem") == 0


# -- logging ------------------------------------------------------------------------------


async def test_one_log_line_per_request_without_secrets_or_payloads(edge: Edge) -> None:
    body = stripe_body()
    not_json = b"{" + MARKER.encode()
    with structlog.testing.capture_logs() as logs:
        accepted = await edge.post("stripe", body, edge.sign(body))
        await edge.post("stripe", body, edge.sign(body))
        await edge.post("stripe", body, {"Stripe-Signature": edge.sign(body)["Stripe-Signature"][:-1] + "0"})
        await edge.post("stripe", not_json, edge.sign(not_json))
        await edge.post("nope", body)
        await edge.post("broken-verify", body)
        await edge.post("broken-normalize", body)
        await edge.client.get("/healthz")

    requests = [entry for entry in logs if entry["event"] == "request"]
    summary = [
        (e["path"], e["status"], e.get("source"), e.get("cause"), e.get("cause_detail")) for e in requests
    ]
    assert summary == [
        ("/webhooks/stripe", 200, "stripe", None, None),
        ("/webhooks/stripe", 200, "stripe", None, None),
        ("/webhooks/stripe", 401, "stripe", "verification_failed", "bad_signature"),
        ("/webhooks/stripe", 400, "stripe", "malformed", "invalid_json"),
        ("/webhooks/nope", 404, "nope", "unknown_source", None),
        ("/webhooks/broken-verify", 401, "broken-verify", "verification_failed", "connector_error"),
        ("/webhooks/broken-normalize", 400, "broken-normalize", "malformed", "connector_error"),
        ("/healthz", 200, None, None, None),
    ]
    assert requests[0]["event_ids"] == accepted.json()["event_ids"]
    assert requests[1]["event_ids"] == accepted.json()["event_ids"]
    assert (requests[0]["duplicates"], requests[1]["duplicates"]) == (0, 1)
    assert all(isinstance(e["latency_ms"], float) and e["latency_ms"] >= 0 for e in requests)
    assert all(e["method"] in ("POST", "GET") for e in requests)

    everything = repr(logs)
    assert STRIPE_SECRET not in everything
    assert MARKER not in everything
    assert "customer_email" not in everything


async def test_request_lines_are_info_401s_warning_and_probes_debug(edge: Edge) -> None:
    body = stripe_body()
    with structlog.testing.capture_logs() as logs:
        await edge.post("stripe", body, edge.sign(body))
        await edge.post("stripe", body, {"Stripe-Signature": "t=1,v1=00"})
        await edge.post("stripe", b"{", edge.sign(b"{"))
        await edge.post("nope", body)
        for path in ("/healthz", "/readyz", "/metrics"):
            await edge.client.get(path)
        await edge.client.get("/elsewhere")

    levels = [(e["path"], e["status"], e["log_level"]) for e in logs if e["event"] == "request"]
    assert levels == [
        ("/webhooks/stripe", 200, "info"),
        ("/webhooks/stripe", 401, "warning"),
        ("/webhooks/stripe", 400, "info"),
        ("/webhooks/nope", 404, "info"),
        ("/healthz", 200, "debug"),
        ("/readyz", 200, "debug"),
        ("/metrics", 200, "debug"),
        ("/elsewhere", 404, "info"),
    ]
    rejected = next(e for e in logs if e["event"] == "request" and e["status"] == 401)
    assert (rejected["cause"], rejected["cause_detail"]) == ("verification_failed", "bad_signature")
    assert STRIPE_SECRET not in repr(logs)
    assert MARKER not in repr(logs)


async def test_metrics_have_no_created_series_and_say_which_build_runs(edge: Edge) -> None:
    body = stripe_body()
    await edge.post("stripe", body, edge.sign(body))

    text = (await edge.client.get("/metrics")).text

    assert metric(text, "hookgate_requests_received_total", source="stripe") == 1
    assert "_created" not in text
    assert metric(text, "hookgate_build_info", version=importlib.metadata.version("hookgate")) == 1
    assert "process_cpu_seconds_total" in text
    assert "python_gc_collections_total" in text


async def test_a_connector_that_fails_to_acknowledge_gets_hookgates_answer(
    edge: Edge, invoice_paid: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(request: object) -> None:
        raise RuntimeError("a connector bug")

    monkeypatch.setattr(edge.gateway.sources["stripe"].connector, "acknowledge", broken)
    with structlog.testing.capture_logs() as logs:
        response = await edge.post("stripe", invoice_paid, edge.sign(invoice_paid))
    assert response.status_code == 200  # the event is stored: it is acknowledged all the same
    assert response.json()["event_ids"] == response.headers["x-hookgate-event-ids"].split(",")
    assert {"event": "connector_error", "step": "acknowledge", "error": "RuntimeError"}.items() <= logs[
        0
    ].items()


async def test_a_huge_unknown_source_name_is_logged_cut(edge: Edge) -> None:
    name = "a" * 60_000
    with structlog.testing.capture_logs() as logs:
        response = await edge.post(name, b"{}")
    assert response.status_code == 404
    [line] = [entry for entry in logs if entry["event"] == "request"]
    assert len(repr(line)) < 1000
    assert line["path"].startswith("/webhooks/aaa")
    assert line["path"].endswith("…")


async def test_a_500_is_counted(edge: Edge, monkeypatch: pytest.MonkeyPatch) -> None:
    async def bug(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(edge.gateway.inbox, "persist", bug)
    body = stripe_body()
    response = await edge.post("stripe", body, edge.sign(body))
    assert response.status_code == 500
    assert "a bug" not in response.text
    scrape = (await edge.client.get("/metrics")).text
    assert metric(scrape, "hookgate_requests_failed_total") == 1


async def test_thousands_of_signatures_are_refused_unchecked(edge: Edge) -> None:
    body = stripe_body()
    header = edge.sign(body)["Stripe-Signature"] + ",v1=" + ",v1=".join(["00" * 32] * 30_000)
    with structlog.testing.capture_logs() as logs:
        response = await edge.post("stripe", body, {"Stripe-Signature": header})
    assert response.status_code == 401
    [line] = [entry for entry in logs if entry["event"] == "request"]
    assert line["cause_detail"] == "too_many_signatures"
