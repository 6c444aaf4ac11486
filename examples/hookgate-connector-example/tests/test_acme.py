from __future__ import annotations

import hashlib
import hmac

import connectors
import pytest
from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.testing import check_connector, check_rotation, signed_request
from hypothesis import given
from hypothesis import strategies as st

from hookgate_acme import AcmeConnector, AcmeOptions

NOW = 1_700_000_000


def test_registered() -> None:
    assert connectors.load("acme") is AcmeConnector
    assert AcmeConnector.Options is AcmeOptions


def test_roundtrip_and_tampering() -> None:
    [event] = check_connector(AcmeConnector.from_config({"secrets": ["s3cret"]}), NOW)
    assert event.type == "order.created"
    assert event.dedup_key == event.delivery_id


def test_known_answer_and_rotation() -> None:
    body = b'{"event":"order.created"}'
    sig = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    connector = AcmeConnector.from_config({"secrets": ["old", "s3cret"]})
    connector.verify(WebhookRequest.build(body, {"X-Acme-Signature": sig}), NOW)
    connector.verify(WebhookRequest.build(body, {"X-Acme-Signature": sig.upper()}), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector.verify(WebhookRequest.build(body, {"X-Acme-Signature": sig[::-1]}), NOW)
    with pytest.raises(VerificationError, match="missing_signature"):
        connector.verify(WebhookRequest.build(body, {}), NOW)


def test_rotation_with_the_test_kit() -> None:
    def acme(*secrets: str) -> AcmeConnector:
        return AcmeConnector.from_config({"secrets": list(secrets)})

    def signed_with(secret: str) -> WebhookRequest:
        body = b'{"event":"order.created"}'
        sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return WebhookRequest.build(body, {"X-Acme-Signature": sig})

    check_rotation(acme, signed_with, NOW)


def test_unusable_bodies_are_malformed() -> None:
    connector = AcmeConnector.from_config({"secrets": ["s3cret"]})
    request = signed_request(connector, b'{"event": ""}', now=NOW)
    with pytest.raises(MalformedPayloadError, match="bad_event_type"):
        connector.normalize(request)
    no_delivery = WebhookRequest.build(b'{"event": "order.created"}', {})
    with pytest.raises(MalformedPayloadError, match="missing_header"):
        connector.normalize(no_delivery)


@given(
    st.binary(max_size=200),
    st.dictionaries(st.sampled_from(["x-acme-signature", "x-other"]), st.text(max_size=80)),
)
def test_verify_fails_closed(body: bytes, headers: dict[str, str]) -> None:
    connector = AcmeConnector.from_config({"secrets": ["s3cret"]})
    try:
        connector.verify(WebhookRequest.build(body, headers), NOW)
    except VerificationError:
        pass
