"""The request log as `hookgate serve` writes it: one JSON line per request, through the
production pipeline (`configure_logging`), with the fields the summary line promises."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from gateway.observability import LogStream, configure_logging
from tests.helpers.edge import MARKER, STRIPE_SECRET, Edge, stripe_body

pytestmark = pytest.mark.anyio


@pytest.fixture
def log_level() -> str:
    return "debug"


@pytest.fixture
def log_output(log_level: str) -> Iterator[tuple[io.BytesIO, LogStream]]:
    out = io.BytesIO()
    stream = configure_logging(log_level, out)
    # As configured, but not cached: module loggers must not keep this pipeline once the
    # test is over (other tests capture logs with `structlog.testing.capture_logs`).
    structlog.configure(cache_logger_on_first_use=False)
    try:
        yield out, stream
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


async def test_one_json_line_per_request_with_its_fields(
    edge: Edge, log_output: tuple[io.BytesIO, LogStream]
) -> None:
    out, stream = log_output
    body = stripe_body("evt_request_log_1")
    accepted = await edge.post("stripe", body, edge.sign(body))
    duplicate = await edge.post("stripe", body, edge.sign(body))
    rejected = await edge.post("stripe", body, {"Stripe-Signature": "t=1,v1=00"})
    health = await edge.client.get("/healthz")
    stream.flush()

    lines = out.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    requests = [r for r in records if r["event"] == "request"]
    assert len(requests) == 4
    first, second, third, fourth = requests

    assert list(first) == [
        "method",
        "path",
        "status",
        "latency_ms",
        "source",
        "event_ids",
        "duplicates",
        "event",
        "request_id",
        "level",
        "timestamp",
    ]
    assert first["event_ids"] == accepted.json()["event_ids"]
    assert (first["status"], first["duplicates"], second["duplicates"]) == (200, 0, 1)
    assert [r["request_id"] for r in requests] == [
        response.headers["x-request-id"] for response in (accepted, duplicate, rejected, health)
    ]
    assert len({r["request_id"] for r in requests}) == 4
    assert (third["status"], third["cause"], third["cause_detail"]) == (
        401,
        "verification_failed",
        "bad_signature",
    )
    assert (fourth["path"], fourth["status"], fourth["method"]) == ("/healthz", 200, "GET")
    assert [r["level"] for r in requests] == ["info", "info", "warning", "debug"]
    assert all(r["timestamp"].endswith("Z") for r in requests)
    assert all(isinstance(r["latency_ms"], float) for r in requests)

    text = out.getvalue().decode()
    assert STRIPE_SECRET not in text
    assert MARKER not in text


@pytest.mark.parametrize("log_level", ["info"])
async def test_probes_and_scrapes_are_not_logged_at_info(
    edge: Edge, log_output: tuple[io.BytesIO, LogStream]
) -> None:
    out, stream = log_output
    for path in ("/healthz", "/readyz", "/metrics", "/healthz"):
        await edge.client.get(path)
    body = stripe_body("evt_request_log_2")
    await edge.post("stripe", body, edge.sign(body))
    stream.flush()

    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["event"], r["path"], r["level"]) for r in records] == [("request", "/webhooks/stripe", "info")]
