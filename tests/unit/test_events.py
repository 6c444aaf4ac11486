"""The stored event: UUIDv7 ids and the EventBridge-shaped envelope."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import pytest

from connectors import MAX_TYPE_LENGTH, MalformedPayloadError, ProviderEvent
from gateway.config import parse_settings
from gateway.events import Event, build_event, id_floor, isoformat, new_event_id

from ._fakes import NOW

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "gateway" / "schema" / "event.schema.json"

PAYLOAD = {"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {"amount": 1999}}}
PROVIDER_EVENT = ProviderEvent(
    type="invoice.paid",
    payload=PAYLOAD,
    dedup_key="evt_1",
    provider_event_id="evt_1",
    delivery_id="dlv_9",
    occurred_at=datetime(2024, 8, 21, 12, 32, 21, tzinfo=UTC),
)
RECEIVED = 1_724_243_545.25  # 2024-08-21T12:32:25.250Z


def source(**keys: Any) -> dict[str, Any]:
    """`build_event`'s keywords for a source configured with `keys`."""
    raw = {"sources": {"stripe": {"connector": "stripe", "secrets": ["whsec_x"], **keys}}}
    found = parse_settings(raw, env={}).sources["stripe"]
    return {
        "source": found.name,
        "connector": found.connector_name,
        "event_source": found.event_source,
        "detail_format": found.detail_format,
    }


def envelope(event: Event) -> dict[str, Any]:
    entry = event.as_dict()
    assert json.loads(event.entry) == entry
    return entry


# -- ids ----------------------------------------------------------------------------------


def test_new_event_id_is_a_uuid7_carrying_its_millisecond() -> None:
    value = uuid.UUID(new_event_id(NOW + 0.123))
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == int(NOW * 1000) + 123
    text = new_event_id(NOW)
    assert text == str(uuid.UUID(text))


def test_new_event_ids_are_unique_within_a_millisecond() -> None:
    ids = {new_event_id(NOW) for _ in range(10_000)}
    assert len(ids) == 10_000


def test_new_event_ids_are_ordered_across_milliseconds() -> None:
    moments = [NOW + i / 1000 for i in range(0, 5000, 7)]
    ids = [new_event_id(at) for at in moments]
    assert sorted(ids) == ids
    assert [uuid.UUID(i).int for i in ids] == sorted(uuid.UUID(i).int for i in ids)


def test_new_event_id_defaults_to_the_current_time() -> None:
    assert uuid.UUID(new_event_id()).version == 7


def test_id_floor_bounds_the_ids_of_its_millisecond() -> None:
    for at in (NOW, NOW + 0.001, NOW + 59.999, RECEIVED):
        for _ in range(100):
            assert id_floor(at) <= new_event_id(at) < id_floor(at + 0.0015)


def test_isoformat_is_utc_whole_seconds_with_z() -> None:
    assert isoformat(RECEIVED) == "2024-08-21T12:32:25Z"
    assert isoformat(datetime(2024, 8, 21, 14, 32, 25, 999_999, tzinfo=UTC)) == "2024-08-21T14:32:25Z"


# -- the envelope -------------------------------------------------------------------------


def test_envelope_format() -> None:
    event = build_event(PROVIDER_EVENT, RECEIVED, **source())
    entry = envelope(event)
    assert entry == {
        "version": "0",
        "id": event.id,
        "detail-type": "invoice.paid",
        "source": "hookgate.stripe",
        "time": "2024-08-21T12:32:21Z",
        "resources": [],
        "detail": {
            "metadata": {
                "event_id": event.id,
                "source": "stripe",
                "connector": "stripe",
                "provider_event_id": "evt_1",
                "delivery_id": "dlv_9",
                "dedup_key": "evt_1",
                "received_at": "2024-08-21T12:32:25.250+00:00",
            },
            "payload": PAYLOAD,
        },
    }
    assert (event.source, event.dedup_key, event.detail_type, event.received_at) == (
        "stripe",
        "evt_1",
        "invoice.paid",
        RECEIVED,
    )
    assert uuid.UUID(event.id).int >> 80 == int(RECEIVED * 1000)


def test_payload_format_puts_the_provider_payload_in_detail() -> None:
    event = build_event(
        PROVIDER_EVENT, RECEIVED, **source(detail_format="payload", event_source="com.example.payments")
    )
    entry = envelope(event)
    assert entry["detail"] == PAYLOAD
    assert entry["source"] == "com.example.payments"
    assert (entry["id"], entry["detail-type"], entry["time"]) == (
        event.id,
        "invoice.paid",
        "2024-08-21T12:32:21Z",
    )


def test_payload_format_keeps_the_envelope_when_the_payload_is_not_an_object() -> None:
    listed = replace(PROVIDER_EVENT, payload=[1, 2, 3])
    entry = envelope(build_event(listed, RECEIVED, **source(detail_format="payload")))
    assert entry["detail"]["payload"] == [1, 2, 3]
    assert entry["detail"]["metadata"]["event_id"] == entry["id"]


def test_time_falls_back_to_the_receipt_time() -> None:
    undated = replace(PROVIDER_EVENT, occurred_at=None, provider_event_id=None, delivery_id=None)
    entry = envelope(build_event(undated, RECEIVED, **source()))
    assert entry["time"] == "2024-08-21T12:32:25Z"
    assert entry["detail"]["metadata"]["provider_event_id"] is None


def test_payloads_beyond_64_bit_integers_survive() -> None:
    big = replace(PROVIDER_EVENT, payload={"n": 2**80, "text": "h\u00e9llo \u2603"})
    entry = envelope(build_event(big, RECEIVED, **source()))
    assert entry["detail"]["payload"] == {"n": 2**80, "text": "h\u00e9llo \u2603"}


def test_a_detail_type_of_128_characters_is_accepted() -> None:
    longest = replace(PROVIDER_EVENT, type="x" * MAX_TYPE_LENGTH)
    assert build_event(longest, RECEIVED, **source()).detail_type == "x" * 128


@pytest.mark.parametrize("detail_type", ["x" * (MAX_TYPE_LENGTH + 1), ""])
def test_a_detail_type_out_of_bounds_is_malformed(detail_type: str) -> None:
    with pytest.raises(MalformedPayloadError) as exc:
        build_event(replace(PROVIDER_EVENT, type=detail_type), RECEIVED, **source())
    assert exc.value.cause == "bad_event_type"


# -- the published schema -----------------------------------------------------------------


def schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def test_the_schema_bounds_the_detail_type_as_the_gateway_does() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["properties"]["detail-type"]["maxLength"] == MAX_TYPE_LENGTH


@pytest.mark.parametrize(
    "keys",
    [{}, {"detail_format": "payload"}, {"event_source": "com.example.payments"}],
    ids=["envelope", "payload", "event_source"],
)
def test_envelopes_validate_against_the_published_schema(keys: dict[str, Any]) -> None:
    validator = schema_validator()
    for provider_event in (PROVIDER_EVENT, replace(PROVIDER_EVENT, occurred_at=None, delivery_id=None)):
        validator.validate(envelope(build_event(provider_event, RECEIVED, **source(**keys))))
    traced = build_event(PROVIDER_EVENT, RECEIVED, **source(**keys), trace_header="Root=1-5759e988-bd862e3f")
    validator.validate(envelope(traced))


def test_only_a_printable_trace_header_within_the_limit_is_kept() -> None:
    for header in ("", "x" * 501, "Root=1\n-2"):
        assert "trace-header" not in envelope(
            build_event(PROVIDER_EVENT, RECEIVED, **source(), trace_header=header)
        )
    kept = envelope(build_event(PROVIDER_EVENT, RECEIVED, **source(), trace_header="x" * 500))
    assert kept["trace-header"] == "x" * 500


def test_the_schema_rejects_what_the_gateway_never_emits() -> None:
    validator = schema_validator()
    good = envelope(build_event(PROVIDER_EVENT, RECEIVED, **source()))
    for bad in (
        {**good, "source": "aws.partner"},
        {**good, "id": "not-a-uuid"},
        {**good, "detail-type": "x" * 129},
        {**good, "time": "2024-08-21 12:32:21"},
        {k: v for k, v in good.items() if k != "resources"},
    ):
        assert not validator.is_valid(bad)
