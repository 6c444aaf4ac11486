"""Coinbase Commerce: the `coinbase-commerce` SDK as oracle, rotation, dedup on `event.id`."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from coinbase_commerce.error import SignatureVerificationError  # type: ignore[import-untyped]
from coinbase_commerce.webhook import Webhook  # type: ignore[import-untyped]

from connectors import VerificationError, WebhookRequest
from connectors.coinbase_commerce import CoinbaseCommerceConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "cc-secret"


def connector(*secrets: str) -> CoinbaseCommerceConnector:
    return CoinbaseCommerceConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-CC-Webhook-Signature": signature})


def sdk_accepts(body: bytes, signature: str, secret: str) -> bool:
    try:
        event = Webhook.construct_event(body.decode(), signature, secret)
    except SignatureVerificationError:
        return False
    assert (
        event["id"]
        == CoinbaseCommerceConnector.from_config({"secrets": [secret]})
        .normalize(WebhookRequest.build(body))[0]
        .dedup_key
    )
    return True


def test_known_answer() -> None:
    # hex HMAC-SHA256("cc-secret", '{"id":1}'), computed with the stdlib.
    expected = "c3887dbe83a388b33f9ce667816b22700c4a61694b284d3ed1b56d8414ed28b1"
    assert delivery(b'{"id":1}').headers["x-cc-webhook-signature"] == expected
    assert connector().sign(b'{"id":1}', NOW).headers["X-CC-Webhook-Signature"] == expected


def test_sdk_oracle_agrees() -> None:
    body = fixture("coinbase-commerce", "charge.confirmed.json")
    signed = connector().sign(body, NOW).headers["X-CC-Webhook-Signature"]
    assert sdk_accepts(body, signed, SECRET)
    assert not sdk_accepts(body, signed, "other-secret")
    forged = CoinbaseCommerceConnector.from_config({"secrets": ["other-secret"]}).sign(body, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(body, forged.headers), NOW)


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("coinbase-commerce", "charge.confirmed.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "charge:confirmed"
    assert event.dedup_key == event.provider_event_id == "24934862-d980-46cb-9402-43c81b0cdba6"
    assert event.delivery_id == "f6a6d3e1-1a4e-4b5e-8f3a-1c2b3d4e5f60"
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-03-22T19:30:11+00:00"


def test_unusable_bodies() -> None:
    check_malformed(
        connector(),
        b"[]",
        b'{"event": null}',
        b'{"event": {"type": "charge:created"}}',
        b'{"event": {"id": "e"}}',
    )


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "charge:confirmed"
