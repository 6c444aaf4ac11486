"""Webflow: hex HMAC-SHA256 of `<timestamp>:<body>`, milliseconds, tolerance, rotation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.testing import check_connector, check_malformed, check_rotation
from connectors.webflow import WebflowConnector

from ._fakes import NOW
from ._support import fixture

SECRET = "webflow-client-secret-8d2e"


def connector(*secrets: str) -> WebflowConnector:
    return WebflowConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, stamp: str = "1700000000000", secret: str = SECRET) -> WebhookRequest:
    mac = hmac.new(secret.encode(), f"{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"x-webflow-signature": mac, "x-webflow-timestamp": stamp})


def test_known_answer() -> None:
    # As Webflow's guide computes it: HMAC-SHA256(secret, f"{timestamp}:{body}") in hex.
    mac = hmac.new(b"hush", b"1700000000000:{}", "sha256").hexdigest()
    headers = connector("hush").sign(b"{}", NOW).headers
    assert (headers["x-webflow-timestamp"], headers["x-webflow-signature"]) == ("1700000000000", mac)


def test_fixture() -> None:
    req = delivery(fixture("webflow", "form_submission.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("form_submission", "6321a67a2a3b1d9eb4d6eb0a6d")
    assert event.occurred_at is not None
    assert int(event.occurred_at.timestamp()) == NOW


def test_tolerance_and_rotation() -> None:
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector().verify(delivery(b"{}", str((NOW + 301) * 1000)), NOW)
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"triggerType": ""}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "form_submission"
