"""Stripe: known-answer vector and the official SDK as an oracle, both ways."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
import stripe

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.stripe import StripeConnector
from connectors.testing import check_connector, signed_request

from ._fakes import NOW
from ._support import fixture

SECRET = "whsec_test_3Qb7T1bq4V2nJx0c9mKzRt8LwYpE"
OLD_SECRET = "whsec_test_old_Zb2Qk8xN4rVt0LmS6aPe"


def connector(*secrets: str, tolerance: int = 300) -> StripeConnector:
    return StripeConnector.from_config({"secrets": list(secrets or [SECRET]), "tolerance_seconds": tolerance})


def request(body: bytes, header: str) -> WebhookRequest:
    return WebhookRequest.build(body, {"Stripe-Signature": header})


def test_known_answer_vector() -> None:
    body = fixture("stripe", "invoice.paid.json")
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, timestamp=NOW)
    # The same value computed by hand: HMAC-SHA256 over "t.body", key = the whole whsec_ string.
    expected = hmac.new(SECRET.encode(), b"%d." % NOW + body, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    connector().verify(request(body, header), NOW)


@pytest.mark.parametrize("name", ["invoice.paid.json", "checkout.session.completed.json"])
def test_sdk_signature_verifies_and_normalizes(name: str) -> None:
    body = fixture("stripe", name)
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, NOW)
    req = request(body, header)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == name.removesuffix(".json")
    assert event.dedup_key == event.provider_event_id
    assert event.dedup_key.startswith("evt_")
    assert event.occurred_at is not None


def test_our_signature_passes_the_sdk() -> None:
    # The SDK checks the timestamp against time.time(), past side only.
    now = time.time()
    body = fixture("stripe", "invoice.paid.json")
    req = signed_request(connector(), body, now=now)
    header = req.headers["stripe-signature"]
    assert stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, tolerance=300)
    event = stripe.Webhook.construct_event(body.decode(), header, SECRET)
    assert event.type == "invoice.paid"


def test_sdk_rejects_our_tampered_signature() -> None:
    now = time.time()
    body = fixture("stripe", "invoice.paid.json")
    header = signed_request(connector(), body, now=now).headers["stripe-signature"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body.decode() + " ", header, SECRET, tolerance=300)


def test_check_connector() -> None:
    check_connector(connector(), NOW)


def test_rotation_accepts_old_and_new_secrets() -> None:
    body = fixture("stripe", "invoice.paid.json")
    old_only = stripe.WebhookSignature.generate_signature_header(body.decode(), OLD_SECRET, NOW)
    connector(SECRET, OLD_SECRET).verify(request(body, old_only), NOW)
    with pytest.raises(VerificationError) as exc:
        connector(SECRET).verify(request(body, old_only), NOW)
    assert exc.value.cause == "bad_signature"
    # During a roll Stripe sends one v1 per active secret.
    both = connector(SECRET, OLD_SECRET).sign(body, NOW).headers["Stripe-Signature"]
    assert both.count("v1=") == 2
    connector(SECRET).verify(request(body, both), NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    body = b'{"id":"evt_1","type":"x"}'
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, NOW)
    req = request(body, header)
    if ok:
        connector().verify(req, NOW - offset)
    else:
        with pytest.raises(VerificationError) as exc:
            connector().verify(req, NOW - offset)
        assert exc.value.cause == "stale_timestamp"


@pytest.mark.parametrize(
    ("header", "cause"),
    [
        ("", "missing_signature"),
        ("t=1700000000", "missing_signature"),
        ("v1=abc", "missing_timestamp"),
        ("t=abc,v1=abc", "malformed_timestamp"),
        ("t=\u00b2,v1=abc", "malformed_timestamp"),
        ("t=1700000000,garbage", "malformed_signature"),
        ("t=1700000000,v0=abc", "missing_signature"),
        ("t=1700000000,v1=" + "0" * 64, "bad_signature"),
    ],
)
def test_garbled_headers(header: str, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(request(b"{}", header), NOW)
    assert exc.value.cause == cause


def test_missing_header() -> None:
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(WebhookRequest.build(b"{}"), NOW)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"type":"x"}', b'{"id":"evt_1"}'])
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body))
