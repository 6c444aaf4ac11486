"""Cal.com: X-Cal-Signature-256 over the body, rotation, triggerEvent, body-hash dedup."""

from __future__ import annotations

import hashlib
import hmac

from connectors import WebhookRequest, sha256_of_parts
from connectors.cal_com import CalComConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "cal-webhook-secret-7Hq2"


def connector(*secrets: str) -> CalComConnector:
    return CalComConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Cal-Signature-256": digest})


def test_known_answer() -> None:
    expected = hmac.new(b"hush", b"Hello, World!", "sha256").hexdigest()
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"X-Cal-Signature-256": expected}), NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["X-Cal-Signature-256"] == expected


def test_fixture() -> None:
    body = fixture("cal-com", "booking.created.json")
    connector().verify(delivery(body), NOW)
    [event] = connector().normalize(delivery(body))
    assert (event.type, event.dedup_key) == ("BOOKING_CREATED", sha256_of_parts("cal-com", body))
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"triggerEvent": ""}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "BOOKING_CREATED"
