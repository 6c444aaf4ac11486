from __future__ import annotations

import hashlib
import hmac

import connectors
import pytest
from connectors import VerificationError, WebhookRequest
from connectors.testing import check_connector

from hookgate_acme import AcmeConnector

NOW = 1_700_000_000


def test_registered() -> None:
    assert connectors.load("acme") is AcmeConnector


def test_roundtrip_and_tampering() -> None:
    [event] = check_connector(AcmeConnector.from_config({"secrets": ["s3cret"]}), NOW)
    assert event.type == "order.created"


def test_known_answer() -> None:
    body = b'{"event":"order.created"}'
    sig = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    connector = AcmeConnector.from_config({"secrets": ["old", "s3cret"]})
    connector.verify(WebhookRequest.build(body, {"X-Acme-Signature": sig}), NOW)
    with pytest.raises(VerificationError):
        connector.verify(WebhookRequest.build(body, {"X-Acme-Signature": sig[::-1]}), NOW)
