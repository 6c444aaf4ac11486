"""Polar: Standard Webhooks with the secret used as it is, checked against standardwebhooks."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from connectors import VerificationError, WebhookRequest
from connectors.polar import PolarConnector
from connectors.standard_webhooks import StandardWebhooksConnector
from connectors.testing import check_connector

from ._fakes import NOW
from ._support import fixture

SECRET = "polar_whs_q8Zk2LmV9xT4bN7cR1sD5fG3hJ6"


def connector(*secrets: str) -> PolarConnector:
    return PolarConnector.from_config({"secrets": list(secrets or [SECRET])})


def oracle(secret: str = SECRET) -> Webhook:
    """What Polar's SDK (`polar_sdk.webhooks.validate_event`) builds: the secret, base64-encoded."""
    return Webhook(base64.b64encode(secret.encode()).decode())


def test_standardwebhooks_signature_verifies() -> None:
    body = fixture("polar", "order.paid.json")
    signature = oracle().sign("msg_2Lh9KRb0pzN4LePd", datetime.fromtimestamp(NOW, UTC), body.decode())
    headers = {
        "webhook-id": "msg_2Lh9KRb0pzN4LePd",
        "webhook-timestamp": str(NOW),
        "webhook-signature": signature,
    }
    req = WebhookRequest.build(body, headers)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("order.paid", "msg_2Lh9KRb0pzN4LePd")
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


def test_sign_makes_what_standardwebhooks_accepts() -> None:
    body = fixture("polar", "order.paid.json")
    headers = connector().sign(body, time.time()).headers  # the oracle reads the real clock
    assert oracle().verify(body, {k.lower(): v for k, v in headers.items()})["type"] == "order.paid"


def test_the_secret_is_not_base64_decoded() -> None:
    whsec = "whsec_" + base64.b64encode(b"another key").decode()
    standard = StandardWebhooksConnector.from_config({"secrets": [whsec]})
    req = WebhookRequest.build(b"{}", standard.sign(b"{}", NOW).headers)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(whsec).verify(req, NOW)


def test_rotation_and_tolerance() -> None:
    req = WebhookRequest.build(b"{}", connector("old").sign(b"{}", NOW).headers)
    connector("new", "old").verify(req, NOW)
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector("old").verify(req, NOW + 301)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "order.paid"
