"""Zendesk: signature over timestamp + body, tolerance both ways, event vs trigger bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from connectors import VerificationError, WebhookRequest, sha256_of_parts
from connectors.testing import check_connector, check_malformed, check_rotation, check_tolerance
from connectors.toolkit import iso_utc
from connectors.zendesk import TEST_SIGNING_SECRET, ZendeskConnector

from ._fakes import NOW
from ._support import fixture

SECRET = "dTKvB9cuTfY8mzrFnpKjQfK8v0GvJrL6sXWzE2YhN3c"
TS = "2023-11-14T22:13:20Z"  # == NOW
INVOCATION = "8350205582"


def connector(*secrets: str, **options: object) -> ZendeskConnector:
    return ZendeskConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def delivery(body: bytes, secret: str = SECRET, timestamp: str = TS, **extra: str) -> WebhookRequest:
    headers = {
        "X-Zendesk-Webhook-Signature": zendesk_signature(secret, timestamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Id": "01GDMN6S5E4WD8C5Q5P9S8Z4SZ",
        "X-Zendesk-Webhook-Invocation-Id": INVOCATION,
        "Content-Type": "application/json",
        **extra,
    }
    return WebhookRequest.build(body, headers)


def test_known_answer_with_the_public_test_secret() -> None:
    # Computed with the stdlib: base64(HMAC-SHA256(test secret, TS + body)).
    body = b'{"ticket_id": "5158"}'
    expected = "0n8V0pAFREgad5WN/3eAFk4Kc7y1+RlIbU6eUAjB6lQ="
    assert zendesk_signature(TEST_SIGNING_SECRET, TS, body) == expected
    headers = {"X-Zendesk-Webhook-Signature": expected, "X-Zendesk-Webhook-Signature-Timestamp": TS}
    connector(TEST_SIGNING_SECRET).verify(WebhookRequest.build(body, headers), NOW)
    signed = connector(TEST_SIGNING_SECRET).sign(body, NOW).headers
    assert signed["X-Zendesk-Webhook-Signature-Timestamp"] == TS
    assert signed["X-Zendesk-Webhook-Signature"] == expected


def test_empty_body_is_signed_too() -> None:
    connector().verify(delivery(b""), NOW)
    [event] = connector().normalize(delivery(b""))
    assert (event.type, event.payload, event.dedup_key) == ("zendesk.webhook", None, INVOCATION)


def test_event_webhook_fixture() -> None:
    req = delivery(fixture("zendesk", "ticket_created.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "zen:event-type:ticket.created"
    assert event.dedup_key == event.provider_event_id == "cbe4028c-7239-495d-b020-f22348516046"
    assert event.delivery_id == INVOCATION
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-01-08T10:12:07.672717+00:00"


def test_trigger_webhook_fixture() -> None:
    body = fixture("zendesk", "trigger_notification.json")
    [event] = connector(default_type="ticket.notify").normalize(delivery(body))
    assert (event.type, event.dedup_key, event.provider_event_id) == ("ticket.notify", INVOCATION, None)
    [event] = connector().normalize(WebhookRequest.build(body))
    assert event.dedup_key == sha256_of_parts("zendesk", body)


def test_template_type_field_is_not_an_event_type() -> None:
    [event] = connector().normalize(WebhookRequest.build(b'{"type": "Incident", "id": "7"}'))
    assert (event.type, event.provider_event_id) == ("zendesk.webhook", None)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"{", b"\xff", b'{"type": "zen:' + b"x" * 130 + b'"}')


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


def test_tolerance_both_sides() -> None:
    check_tolerance(connector(), lambda at: delivery(b"{}", timestamp=iso_utc(at)), NOW, 300)


def test_tolerance_is_configurable() -> None:
    connector(tolerance_seconds=0).verify(delivery(b"{}"), NOW + 10**6)
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector(tolerance_seconds=5).verify(delivery(b"{}"), NOW + 6)


@pytest.mark.parametrize(
    "timestamp",
    [
        "2023-11-14T22:13:20+00:00",
        "2023-11-14T22:13:20.000Z",
        "2023-11-14T23:13:20+01:00",
        "2023-11-14 22:13:20",
    ],
)
def test_timestamp_forms(timestamp: str) -> None:
    connector().verify(delivery(b"{}", timestamp=timestamp), NOW)


@pytest.mark.parametrize(
    ("signature", "timestamp", "cause"),
    [
        (None, None, "missing_signature"),
        ("", TS, "missing_signature"),
        ("abc", None, "missing_timestamp"),
        ("abc", "1700000000", "malformed_timestamp"),
        ("abc", "yesterday", "malformed_timestamp"),
        ("abc", "2023-13-01T00:00:00Z", "malformed_timestamp"),
        ("abc", "2023-11-14T22:13:20+25:00", "malformed_timestamp"),
        ("abc", "\u0662023-11-14T22:13:20Z", "malformed_timestamp"),
        ("abc", "2023-11-14T22:13:20Z\udcff", "malformed_timestamp"),
        ("\udcff", TS, "bad_signature"),
        ("abc", "0001-01-01T00:00:00+14:00", "bad_signature"),
    ],
)
def test_garbled_headers(signature: str | None, timestamp: str | None, cause: str) -> None:
    headers = {}
    if signature is not None:
        headers["X-Zendesk-Webhook-Signature"] = signature
    if timestamp is not None:
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = timestamp
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"{}", headers), NOW)
    assert exc.value.cause == cause


def test_signature_checked_before_the_clock() -> None:
    stale = delivery(b"{}", secret="wrong", timestamp="2001-01-01T00:00:00Z")
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(stale, NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "zen:event-type:ticket.created"
    assert event.occurred_at == datetime.fromtimestamp(NOW, UTC)
