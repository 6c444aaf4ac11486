"""Razorpay: the `razorpay` SDK as oracle, rotation, dedup on `x-razorpay-event-id`."""

from __future__ import annotations

import hashlib
import hmac

import razorpay  # type: ignore[import-untyped]
from razorpay.errors import SignatureVerificationError  # type: ignore[import-untyped]

from connectors import WebhookRequest, sha256_of_parts
from connectors.razorpay import RazorpayConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "rzp-secret"
EVENT_ID = "NtX0Xm9JkB4Yqe"


def connector(*secrets: str) -> RazorpayConnector:
    return RazorpayConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Razorpay-Signature": signature, "x-razorpay-event-id": EVENT_ID})


def sdk_accepts(body: bytes, signature: str, secret: str) -> bool:
    client = razorpay.Client(auth=("rzp_test_key", "rzp_test_secret"))
    try:
        client.utility.verify_webhook_signature(body.decode(), signature, secret)
    except SignatureVerificationError:
        return False
    return True


def test_known_answer() -> None:
    # hex HMAC-SHA256("rzp-secret", '{"id":1}'), computed with the stdlib.
    expected = "c303238caf8f2776f02ea80c47711deb2d048af60d39c8d5b8d36785d7d63dc4"
    assert delivery(b'{"id":1}').headers["x-razorpay-signature"] == expected
    assert connector().sign(b'{"id":1}', NOW).headers["X-Razorpay-Signature"] == expected


def test_sdk_oracle_agrees() -> None:
    body = fixture("razorpay", "payment.captured.json")
    signed = connector().sign(body, NOW).headers["X-Razorpay-Signature"]
    assert sdk_accepts(body, signed, SECRET)
    assert not sdk_accepts(body, signed, "other")
    assert not sdk_accepts(body + b" ", signed, SECRET)


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("razorpay", "payment.captured.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key, event.provider_event_id) == ("payment.captured", EVENT_ID, EVENT_ID)
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2019-09-05T09:10:06+00:00"


def test_dedup_without_the_event_id_header_is_a_body_hash() -> None:
    body = b'{"event": "order.paid"}'
    [event] = connector().normalize(WebhookRequest.build(body))
    assert (event.dedup_key, event.provider_event_id) == (sha256_of_parts("razorpay", body), None)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"event": 3}', b"{")


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "payment.captured"
    assert event.provider_event_id
