"""Lemon Squeezy: X-Signature over the body, rotation, meta.event_name, body-hash dedup."""

from __future__ import annotations

import hashlib
import hmac

from connectors import WebhookRequest, sha256_of_parts
from connectors.lemon_squeezy import LemonSqueezyConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "lemon-signing-secret-91"


def connector(*secrets: str) -> LemonSqueezyConnector:
    return LemonSqueezyConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    return WebhookRequest.build(
        body, {"X-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    )


def test_known_answer() -> None:
    expected = hmac.new(b"hush", b"Hello, World!", "sha256").hexdigest()
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"X-Signature": expected}), NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["X-Signature"] == expected


def test_fixture() -> None:
    body = fixture("lemon-squeezy", "order_created.json")
    req = delivery(body)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "order_created"
    assert event.dedup_key == sha256_of_parts("lemon-squeezy", body)
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW
    assert connector().sign(body, NOW).headers["X-Event-Name"] == "order_created"


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"meta": {}}', b'{"meta": {"event_name": 3}}')


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "order_created"
