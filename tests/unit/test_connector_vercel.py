"""Vercel: a known-answer vector (hex HMAC-SHA1), rotation, dedup on the event id."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.testing import check_connector, check_rotation
from connectors.vercel import VercelConnector

from ._fakes import NOW
from ._support import fixture

SECRET = "vercel-secret"


def connector(*secrets: str) -> VercelConnector:
    return VercelConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    signature = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return WebhookRequest.build(body, {"x-vercel-signature": signature, "Content-Type": "application/json"})


def test_known_answer() -> None:
    # hex HMAC-SHA1("vercel-secret", '{"id":1}'), computed with the stdlib.
    expected = "4b1a86ed5fb5b97e1a722b1829ceb6ff0f335d34"
    assert delivery(b'{"id":1}').headers["x-vercel-signature"] == expected
    connector().verify(WebhookRequest.build(b'{"id":1}', {"X-Vercel-Signature": expected.upper()}), NOW)
    assert connector().sign(b'{"id":1}', NOW).headers["x-vercel-signature"] == expected


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("vercel", "deployment.succeeded.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("deployment.succeeded", "Kp3Tm9Qx2LrW8vYc5NdBh7Fz")
    assert event.provider_event_id == event.dedup_key
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-03-22T19:28:02+00:00"


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"[]", "not_an_object"),
        (b'{"id": "x"}', "missing_field"),
        (b'{"type": "deployment.created"}', "missing_field"),
        (b'{"type": "", "id": "x"}', "bad_event_type"),
    ],
)
def test_unusable_bodies(body: bytes, cause: str) -> None:
    with pytest.raises(MalformedPayloadError) as exc:
        connector().normalize(WebhookRequest.build(body))
    assert exc.value.cause == cause


def test_rotation_and_forgery() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(WebhookRequest.build(b"{}"), NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "deployment.succeeded"
