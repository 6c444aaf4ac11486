"""GoCardless: the `gocardless-pro` SDK as oracle, batch fan-out, rotation, dedup per event."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from gocardless_pro import webhooks  # type: ignore[import-untyped]
from gocardless_pro.errors import InvalidSignatureError  # type: ignore[import-untyped]

from connectors import WebhookRequest
from connectors.gocardless import GoCardlessConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "gc-secret"


def connector(*secrets: str) -> GoCardlessConnector:
    return GoCardlessConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(
        body, {"Webhook-Signature": signature, "Origin": "https://api.gocardless.com"}
    )


def test_known_answer() -> None:
    # hex HMAC-SHA256("gc-secret", '{"id":1}'), computed with the stdlib.
    expected = "2a04b32d062e7cca1ec045890565bfa5be9daf037138ad0a39b9e9d97f2699a0"
    assert delivery(b'{"id":1}').headers["webhook-signature"] == expected
    assert connector().sign(b'{"id":1}', NOW).headers["Webhook-Signature"] == expected


def test_sdk_oracle_agrees() -> None:
    body = fixture("gocardless", "payments.json")
    signed = connector().sign(body, NOW).headers["Webhook-Signature"]
    sdk_events = webhooks.parse(body, SECRET, signed)
    ours = connector().normalize(delivery(body))
    assert [e.id for e in sdk_events] == [e.dedup_key for e in ours] == ["EV123", "EV456"]
    assert [f"{e.resource_type}.{e.action}" for e in sdk_events] == [e.type for e in ours]
    with pytest.raises(InvalidSignatureError):
        webhooks.parse(body, "other", signed)


def test_fixture_fans_out() -> None:
    req = delivery(fixture("gocardless", "payments.json"))
    connector().verify(req, NOW)
    first, second = connector().normalize(req)
    assert (first.type, second.type) == ("payments.confirmed", "payments.failed")
    assert second.payload["details"]["cause"] == "mandate_cancelled"
    assert first.occurred_at is not None
    assert first.occurred_at.isoformat() == "2014-08-04T12:00:00+00:00"


def test_unusable_bodies() -> None:
    check_malformed(
        connector(),
        b"[]",
        b"{}",
        b'{"events": []}',
        b'{"events": [1]}',
        b'{"events": [{"id": "EV1", "action": "created"}]}',
        b'{"events": [{"resource_type": "payments", "action": "created"}]}',
    )


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "payments.confirmed"
