"""The EventBridge sink against a fake AWS answering through botocore's `before-send` hook:
real request serialization, real response and error parsing, no network, no sleeps."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError, NoCredentialsError
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from gateway.events import Event
from gateway.sinks import Delivered, Outcome, Permanent, Retry, sink_types
from gateway.sinks.eventbridge import EventBridgeSink
from tests.helpers.eventbridge import Harness, Reply, accept, event_id_of, harness, options

from ._fakes import NOW, make_event

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("aws_env")]


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    found = await harness()
    yield found
    await found.sink.close()


def batch(count: int) -> list[Event]:
    return [make_event(at=NOW) for _ in range(count)]


def big(event: Event, size: int) -> Event:
    envelope = json.loads(event.entry)
    envelope["detail"]["payload"] = {"blob": "x" * size}
    return dataclasses.replace(event, entry=json.dumps(envelope))


async def test_registered_and_configured_from_the_config_shape() -> None:
    assert sink_types()["eventbridge"] is EventBridgeSink
    sink = EventBridgeSink.from_config(
        "bus",
        {
            "event_bus_name": "arn:aws:events:us-east-1:123456789012:event-bus/webhooks",
            "region": "us-east-1",
            "endpoint_url": "http://127.0.0.1:9",
            "max_request_bytes": 262144,
            "claim_check_bucket": "claims",
        },
    )
    assert sink.max_batch == 500
    await sink.open()
    try:
        config = sink.events_client.meta.config
        assert config.retries == {"mode": "adaptive", "total_max_attempts": 3}
        assert config.max_pool_connections == 8
        assert sink.s3_client is not None
    finally:
        await sink.close()
    with pytest.raises(ValueError, match="event_bus_name"):
        EventBridgeSink.from_config("bus", {"event_bus_name": "bad name!"})


async def test_batches_of_ten_all_delivered(h: Harness) -> None:
    events = batch(25)
    assert await h.sink.deliver(events) == [Delivered()] * 25
    sent = h.aws.entries_sent()
    assert sorted(len(c) for c in sent) == [5, 10, 10]
    assert set(h.aws.accepted) == {e.id for e in events}
    entry = h.aws.accepted[events[0].id]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "hookgate.stripe",
        "invoice.paid",
        "webhooks",
    )
    assert entry["Time"] == int(NOW)
    assert h.sample("hookgate_eventbridge_entries_sent_total") == 25
    assert h.sample("hookgate_eventbridge_request_entries_count") == 3
    assert h.sample("hookgate_eventbridge_request_entries_sum") == 25
    assert h.sample("hookgate_eventbridge_request_duration_seconds_count") == 3


async def test_requests_stay_under_the_byte_limit(h: Harness) -> None:
    await h.sink.close()
    small = await harness(max_request_bytes=4096)
    try:
        events = [big(e, 1000) for e in batch(12)]
        assert await small.sink.deliver(events) == [Delivered()] * 12
        for entries in small.aws.entries_sent():
            total = sum(
                len(e["Source"]) + len(e["DetailType"]) + len(e["Detail"].encode()) + 14 for e in entries
            )
            assert total < 4096
        assert len(small.aws.entries_sent()) == 4
    finally:
        await small.sink.close()


async def test_calls_are_in_flight_concurrently(h: Harness) -> None:
    barrier = threading.Barrier(4, timeout=10)

    def together(entries: list[dict[str, Any]]) -> Reply:
        barrier.wait()  # returns only once 4 calls are in flight at the same time
        return accept(entries)

    h.aws.put_events = together
    assert await h.sink.deliver(batch(40)) == [Delivered()] * 40


async def test_partial_failures(h: Harness) -> None:
    codes = {
        1: ("InternalFailure", "Internal failure"),
        3: ("ThrottlingException", "Rate exceeded"),
        5: ("MalformedDetail", "Detail is malformed."),
        7: ("AccessDeniedException", "Not authorized"),
        8: ("NotAuthorizedForSourceException", "Not authorized for the source."),
    }

    def partial(entries: list[dict[str, Any]]) -> Reply:
        return [
            {"ErrorCode": codes[i][0], "ErrorMessage": codes[i][1]} if i in codes else {"EventId": f"e{i}"}
            for i in range(len(entries))
        ]

    h.aws.put_events = partial
    outcomes = await h.sink.deliver(batch(10))
    assert outcomes[0] == Delivered()
    assert outcomes[1] == Retry("InternalFailure: Internal failure")
    assert outcomes[3] == Retry("ThrottlingException: Rate exceeded")
    assert outcomes[5] == Permanent("MalformedDetail: Detail is malformed.")
    assert outcomes[7] == Permanent("AccessDeniedException: Not authorized")
    assert outcomes[8] == Permanent("NotAuthorizedForSourceException: Not authorized for the source.")
    assert h.sample("hookgate_eventbridge_entries_sent_total") == 5
    assert h.sample("hookgate_eventbridge_entries_failed_total", code="MalformedDetail") == 1
    assert h.sample("hookgate_eventbridge_entries_retried_total", code="InternalFailure") == 1
    assert h.sample("hookgate_eventbridge_entries_retried_total", code="ThrottlingException") == 1
    assert h.sample("hookgate_eventbridge_entries_dead_lettered_total", code="MalformedDetail") == 1


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        ((400, "ThrottlingException", "Rate exceeded"), "ThrottlingException: Rate exceeded"),
        ((500, "InternalException", "Internal error"), "InternalException: Internal error"),
        ((503, "ServiceUnavailable", "Try later"), "ServiceUnavailable: Try later"),
        (
            ConnectionClosedError(endpoint_url="http://127.0.0.1:9"),
            "connection_error: ConnectionClosedError: Connection was closed before we received a valid "
            'response from endpoint URL: "http://127.0.0.1:9".',
        ),
    ],
)
async def test_whole_call_failures_are_retried(h: Harness, reply: Reply, cause: str) -> None:
    h.aws.put_events = lambda _entries: reply
    assert await h.sink.deliver(batch(3)) == [Retry(cause)] * 3
    assert h.sample("hookgate_eventbridge_entries_retried_total", code=cause.split(":", 1)[0]) == 3


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        ((400, "AccessDeniedException", "not allowed"), "AccessDeniedException: not allowed"),
        ((400, "UnrecognizedClientException", "bad token"), "UnrecognizedClientException: bad token"),
        ((400, "ResourceNotFoundException", "no bus"), "ResourceNotFoundException: no bus"),
        (NoCredentialsError(), "credentials: Unable to locate credentials"),
    ],
)
async def test_access_failures_are_loud_and_free(h: Harness, reply: Reply, cause: str) -> None:
    h.aws.put_events = lambda _entries: reply
    with capture_logs() as logs:
        outcomes = await h.sink.deliver(batch(2))
    assert outcomes == [Retry(cause, charge=False)] * 2
    [line] = [entry for entry in logs if entry["event"] == "eventbridge_access_failed"]
    assert line["log_level"] == "error"
    assert line["cause"] == cause


async def test_a_request_the_service_finds_too_big_is_split(h: Harness) -> None:
    def strict(entries: list[dict[str, Any]]) -> Reply:
        if sum(len(e["Detail"]) for e in entries) > 3000:
            return (400, "ValidationException", "Total size of the entries in the request is over the limit")
        return accept(entries)

    h.aws.put_events = strict
    events = batch(4)
    events[2] = big(events[2], 5000)
    outcomes = await h.sink.deliver(events)
    assert outcomes[2] == Permanent(
        "ValidationException: Total size of the entries in the request is over the limit"
    )
    assert outcomes[:2] + outcomes[3:] == [Delivered()] * 3


async def test_invalid_events_do_not_stop_the_batch(h: Harness) -> None:
    events = batch(3)
    envelope = json.loads(events[1].entry)
    envelope["source"] = "aws.s3"
    events[1] = dataclasses.replace(events[1], entry=json.dumps(envelope))
    with capture_logs() as logs:
        outcomes = await h.sink.deliver(events)
    assert outcomes[1] == Permanent("invalid_source: must not start with 'aws.' (reserved for AWS services)")
    assert outcomes[0] == outcomes[2] == Delivered()
    assert any(entry["event"] == "eventbridge_invalid_event" for entry in logs)
    assert h.sample("hookgate_eventbridge_entries_dead_lettered_total", code="invalid_source") == 1


async def test_too_large_without_a_bucket_is_dead_lettered(h: Harness) -> None:
    await h.sink.close()
    small = await harness(max_request_bytes=2048)
    try:
        events = batch(2)
        events[0] = big(events[0], 3000)
        [too_large, fine] = await small.sink.deliver(events)
        assert isinstance(too_large, Permanent)
        assert too_large.cause.startswith("too_large: entry is ")
        assert fine == Delivered()
    finally:
        await small.sink.close()


@pytest.fixture
async def claims() -> AsyncIterator[Harness]:
    found = await harness(max_request_bytes=2048, claim_check_bucket="claims", claim_check_prefix="c/")
    yield found
    await found.sink.close()


async def test_claim_check_puts_the_object_then_the_pointer(claims: Harness) -> None:
    events = batch(3)
    events[1] = big(events[1], 3000)
    assert await claims.sink.deliver(events) == [Delivered()] * 3
    key = f"c/stripe/{events[1].id}.json"
    operations = [op for op, _ in claims.aws.calls]
    assert operations.index("PutObject") < operations.index("PutEvents")
    stored = claims.aws.objects[key]
    assert json.loads(stored) == json.loads(events[1].entry)["detail"]
    pointer = json.loads(claims.aws.accepted[events[1].id]["Detail"])
    assert pointer["claim_check"] == {
        "bucket": "claims",
        "key": key,
        "size": len(stored),
        "sha256": hashlib.sha256(stored).hexdigest(),
    }
    assert claims.sample("hookgate_eventbridge_entries_offloaded_total") == 1


async def test_claim_check_failures_send_no_pointer(claims: Harness) -> None:
    replies = iter([(500, "InternalError", "boom"), (403, "AccessDenied", "Access Denied")])
    claims.aws.put_object = lambda _key, _body: next(replies)
    events = [big(e, 3000) for e in batch(2)]
    outcomes = await claims.sink.deliver(events[:1])
    assert outcomes == [Retry("InternalError: boom")]
    outcomes = await claims.sink.deliver(events[1:])
    assert outcomes == [Retry("AccessDenied: Access Denied", charge=False)]
    assert claims.aws.entries_sent() == []
    assert claims.aws.accepted == {}


async def test_two_sinks_share_a_registry() -> None:
    registry = CollectorRegistry()
    sinks = [EventBridgeSink(name, options()) for name in ("a", "b")]
    for sink in sinks:
        sink.instrument(registry)
    assert sinks[0].metrics is sinks[1].metrics


async def test_outcomes_keep_their_positions(h: Harness) -> None:
    events = batch(30)
    throttled = {e.id for e in events[::3]}

    def some_throttled(entries: list[dict[str, Any]]) -> Reply:
        return [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
            if event_id_of(entry) in throttled
            else {"EventId": "x"}
            for entry in entries
        ]

    h.aws.put_events = some_throttled
    outcomes: list[Outcome] = await h.sink.deliver(events)
    for event, outcome in zip(events, outcomes, strict=True):
        assert outcome == (Retry("ThrottlingException: slow down") if event.id in throttled else Delivered())


async def test_a_sink_that_cannot_open_retries_without_charge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    sink = EventBridgeSink("bus", options(region=None))
    with capture_logs() as logs:
        [outcome] = await sink.deliver(batch(1))
    assert isinstance(outcome, Retry)
    assert not outcome.charge
    assert outcome.cause.startswith("sink_open_failed: NoRegionError")
    assert [e["log_level"] for e in logs if e["event"] == "eventbridge_open_failed"] == ["error"]
    await sink.close()
