"""The EventBridge sink's pure parts: entry building, validation, sizing, packing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.events import Event
from gateway.sinks import Permanent
from gateway.sinks.eventbridge._entries import (
    MAX_DETAIL_DEPTH,
    MAX_ENTRIES_PER_REQUEST,
    PreparedEntry,
    TooLarge,
    claim_check_key,
    entry_size,
    pack,
    pointer,
    prepare,
)
from gateway.sinks.eventbridge._entries import _dumps_iteratively as dumps_iteratively

from ._fakes import NOW, make_event
from ._support import FUZZ

BUS = "webhooks"
LIMIT = 1_048_576


def with_envelope(event: Event, **changes: Any) -> Event:
    envelope = json.loads(event.entry)
    envelope.update(changes)
    return dataclasses.replace(event, entry=json.dumps(envelope))


def with_detail(event: Event, detail: Any) -> Event:
    return with_envelope(event, detail=detail)


def prepared(event: Event, **kwargs: Any) -> PreparedEntry:
    result = prepare(0, event, bus=BUS, limit=kwargs.pop("limit", LIMIT), **kwargs)
    assert isinstance(result, PreparedEntry), result
    return result


def rejected(event: Event) -> str:
    result = prepare(0, event, bus=BUS, limit=LIMIT)
    assert isinstance(result, Permanent), result
    return result.cause


def test_entry_size_counts_what_aws_counts() -> None:
    entry = {"Source": "hookgate.stripe", "DetailType": "invoice.paid", "Detail": '{"a":"é"}'}
    assert entry_size(entry) == 15 + 12 + 10  # "é" is two UTF-8 bytes
    timed = {**entry, "Time": datetime.now(UTC), "Resources": ["arn:aws:s3:::b"]}
    assert entry_size(timed) == 37 + 14 + 14
    ignored = {**entry, "EventBusName": "x" * 100, "TraceHeader": "Root=1-abc"}
    assert entry_size(ignored) == 37


def test_an_envelope_becomes_an_entry() -> None:
    event = make_event(at=NOW, detail_type="invoice.paid")
    entry = prepared(event)
    envelope = json.loads(event.entry)
    request = entry.request
    assert request["Source"] == "hookgate.stripe"
    assert request["DetailType"] == "invoice.paid"
    assert request["EventBusName"] == BUS
    assert json.loads(request["Detail"]) == envelope["detail"]
    assert json.loads(request["Detail"])["metadata"]["event_id"] == event.id  # the idempotency key
    assert request["Time"] == datetime.fromtimestamp(NOW, UTC)
    assert "Resources" not in request
    assert "TraceHeader" not in request
    assert entry.size == entry_size(request)


def test_payload_format_details_get_the_event_id() -> None:
    event = with_detail(make_event(at=NOW), {"id": "evt_1", "object": "event"})
    detail = json.loads(prepared(event).request["Detail"])
    assert detail == {"id": "evt_1", "object": "event", "hookgate_event_id": event.id}
    untouched = json.loads(prepared(event, payload_event_id=False).request["Detail"])
    assert untouched == {"id": "evt_1", "object": "event"}


def test_trace_header_and_resources_pass_through() -> None:
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    event = with_envelope(make_event(at=NOW), resources=["arn:aws:x:::y"], **{"trace-header": trace})
    request = prepared(event).request
    assert request["TraceHeader"] == trace
    assert request["Resources"] == ["arn:aws:x:::y"]
    too_long = with_envelope(make_event(at=NOW), **{"trace-header": "x" * 501})
    assert "TraceHeader" not in prepared(too_long).request


def test_an_unparseable_time_is_left_to_eventbridge() -> None:
    request = prepared(with_envelope(make_event(at=NOW), time="yesterday")).request
    assert "Time" not in request


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"detail-type": "x" * 129}, "invalid_detail_type: must be 1-128 characters"),
        ({"detail-type": ""}, "invalid_detail_type: must be 1-128 characters"),
        ({"source": "aws.ec2"}, "invalid_source: must not start with 'aws.' (reserved for AWS services)"),
        ({"source": ""}, "invalid_source: must be 1-256 characters"),
        ({"detail": [1, 2]}, "invalid_detail: detail must be a JSON object"),
        ({"detail": "text"}, "invalid_detail: detail must be a JSON object"),
        ({"detail": {"n": 2**63}}, "invalid_detail: an integer is outside the int64 range"),
        ({"detail": {"n": [-(2**63) - 1]}}, "invalid_detail: an integer is outside the int64 range"),
    ],
)
def test_invalid_events_are_permanent_with_a_clear_cause(changes: dict[str, Any], cause: str) -> None:
    assert rejected(with_envelope(make_event(at=NOW), **changes)) == cause


def test_a_corrupt_stored_entry_is_permanent() -> None:
    event = dataclasses.replace(make_event(at=NOW), entry="{not json")
    assert rejected(event).startswith("invalid_entry: ")
    assert rejected(dataclasses.replace(event, entry="[]")).startswith("invalid_entry: ")


def test_int64_bounds_are_kept_exactly() -> None:
    detail = {"max": 2**63 - 1, "min": -(2**63), "text": "12345678901234567890123", "f": 1.5}
    sent = json.loads(prepared(with_detail(make_event(at=NOW), detail)).request["Detail"])
    assert sent["max"] == 2**63 - 1  # not rounded through a float
    assert sent["min"] == -(2**63)
    assert sent["text"] == "12345678901234567890123"


def nested(depth: int) -> Event:
    """An event whose detail nests `depth` levels (written as text: json recurses)."""
    event = with_detail(make_event(at=NOW), {"a": "HERE"})
    inner = '{"a":' * (depth - 2) + "{}" + "}" * (depth - 2)
    return dataclasses.replace(event, entry=event.entry.replace('"HERE"', inner))


def test_nesting_depth_limit() -> None:
    detail = prepared(nested(MAX_DETAIL_DEPTH)).request["Detail"]
    assert detail.startswith('{"a":{"a":')
    assert detail.count("{") == MAX_DETAIL_DEPTH
    deep = nested(MAX_DETAIL_DEPTH + 1)
    assert rejected(deep) == "invalid_detail: nested deeper than 1000 levels"
    # Brackets inside strings are not nesting.
    braces = with_detail(make_event(at=NOW), {"s": "{[" * 2000})
    assert json.loads(prepared(braces).request["Detail"])["s"] == "{[" * 2000


def test_too_large_and_the_pointer() -> None:
    event = make_event(at=NOW)
    event = with_detail(event, {**json.loads(event.entry)["detail"], "payload": {"blob": "x" * 5000}})
    big = prepare(3, event, bus=BUS, limit=4096)
    assert isinstance(big, TooLarge)
    assert big.index == 3
    assert "Detail" not in big.request
    key = claim_check_key("claims/", event)
    assert key == f"claims/stripe/{event.id}.json"
    entry = pointer(big, bucket="bucket", key=key, limit=4096)
    assert isinstance(entry, PreparedEntry)
    detail = json.loads(entry.request["Detail"])
    assert detail["claim_check"] == {
        "bucket": "bucket",
        "key": key,
        "size": len(big.detail),
        "sha256": hashlib.sha256(big.detail).hexdigest(),
    }
    assert detail["metadata"]["event_id"] == event.id
    assert json.loads(big.detail)["payload"]["blob"] == "x" * 5000
    assert (entry.request["Source"], entry.request["DetailType"]) == ("hookgate.stripe", "invoice.paid")
    assert isinstance(pointer(big, bucket="b" * 5000, key=key, limit=4096), Permanent)


def test_the_limit_is_exclusive() -> None:
    event = make_event(at=NOW)
    size = prepared(event).size
    assert isinstance(prepare(0, event, bus=BUS, limit=size), TooLarge)
    assert isinstance(prepare(0, event, bus=BUS, limit=size + 1), PreparedEntry)


def entries(sizes: list[int]) -> list[PreparedEntry]:
    return [PreparedEntry(i, {}, size) for i, size in enumerate(sizes)]


def test_pack_fills_requests_in_order() -> None:
    chunks = list(pack(entries([100] * 25), 10_000))
    assert [len(c) for c in chunks] == [10, 10, 5]
    chunks = list(pack(entries([400, 400, 300, 100, 999]), 1000))
    assert [[e.size for e in c] for c in chunks] == [[400, 400], [300, 100], [999]]


@FUZZ
@given(st.lists(st.integers(1, 999), max_size=60))
def test_pack_respects_both_limits(sizes: list[int]) -> None:
    chunks = list(pack(entries(sizes), 1000))
    assert [e.index for c in chunks for e in c] == list(range(len(sizes)))
    for chunk in chunks:
        assert 1 <= len(chunk) <= MAX_ENTRIES_PER_REQUEST
        assert sum(e.size for e in chunk) < 1000


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30,
)


@FUZZ
@given(JSON)
def test_the_iterative_encoder_matches_json(value: Any) -> None:
    assert dumps_iteratively(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "detail",
    [
        {"s": "\ud800", "emoji": "😀"},
        {"s": "\udc00", "number": 12.5},
        {"deep": json.loads("[" * 300 + '"\\ud800"' + "]" * 300)},
    ],
)
def test_a_lone_surrogate_in_a_stored_entry_is_put_as_an_escape(detail: Any) -> None:
    """Providers cut emoji in half; the stored entry escapes the half, and so does Detail."""
    event = with_detail(make_event(at=NOW), detail)
    put = prepared(event, payload_event_id=False).request["Detail"]
    put.encode()  # valid UTF-8
    assert json.loads(put) == detail
