"""Airtable: X-Airtable-Content-MAC keyed with the base64 MAC secret, pyairtable as oracle."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from pydantic import ValidationError

from connectors import VerificationError, WebhookRequest
from connectors.airtable import AirtableConnector
from connectors.testing import check_connector, check_malformed

from ._fakes import NOW
from ._support import fixture

SECRET = base64.b64encode(bytes(range(32))).decode()


def connector(*secrets: str) -> AirtableConnector:
    return AirtableConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(base64.b64decode(secret), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Airtable-Content-MAC": f"hmac-sha256={digest}"})


def test_known_answer() -> None:
    # HMAC-SHA256(bytes 0..31, "{}"), computed with the stdlib.
    expected = "hmac-sha256=" + hmac.new(bytes(range(32)), b"{}", "sha256").hexdigest()
    connector().verify(WebhookRequest.build(b"{}", {"X-Airtable-Content-MAC": expected}), NOW)
    assert connector().sign(b"{}", NOW).headers["X-Airtable-Content-MAC"] == expected


def test_pyairtable_accepts_what_sign_makes() -> None:
    webhook = pytest.importorskip("pyairtable.models.webhook")
    body = fixture("airtable", "notification.json")
    header = connector().sign(body, NOW).headers["X-Airtable-Content-MAC"]
    notification = webhook.WebhookNotification.from_request(body.decode(), header, SECRET)
    assert notification.webhook.id == "achW6pfHEC0g5OIwi"


def test_fixture() -> None:
    req = delivery(fixture("airtable", "notification.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "webhook.notification"
    assert event.dedup_key == "achW6pfHEC0g5OIwi:2023-11-14T22:13:20.663Z"
    assert event.occurred_at is not None
    assert int(event.occurred_at.timestamp()) == NOW


def test_secrets_must_be_base64() -> None:
    with pytest.raises(ValidationError, match=r"secrets\[1\]"):
        connector(SECRET, "not base64!")


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"webhook": {"id": "ach1"}}', b"nope")


def test_rotation_and_the_utf8_secret_is_not_the_key() -> None:
    other = base64.b64encode(b"old key bytes").decode()
    req = delivery(b"{}", secret=other)
    connector(SECRET, other).verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(req, NOW)
    raw = hmac.new(SECRET.encode(), b"{}", "sha256").hexdigest()
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(b"{}", {"X-Airtable-Content-MAC": f"hmac-sha256={raw}"}), NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "webhook.notification"
