"""Checkout.com: Cko-Signature over the body, rotation, event ids and types."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.checkout_com import CheckoutComConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "b3c9a2e4-5d6f-4a1b-8c7d-9e0f1a2b3c4d"


def connector(*secrets: str) -> CheckoutComConnector:
    return CheckoutComConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    return WebhookRequest.build(
        body, {"Cko-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    )


def test_known_answer() -> None:
    expected = hmac.new(b"hush", b"Hello, World!", "sha256").hexdigest()
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"Cko-Signature": expected}), NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["Cko-Signature"] == expected


def test_fixture() -> None:
    req = delivery(fixture("checkout-com", "payment_approved.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("payment_approved", "evt_az5sblvku4ge3dwpztvyizgcau")
    assert event.occurred_at is not None
    assert int(event.occurred_at.timestamp()) == NOW


def test_rotation_and_missing_header() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret), NOW)
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(WebhookRequest.build(b"{}"), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"type": 1}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "payment_approved"
