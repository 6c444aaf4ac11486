"""Notion: the verification POST, X-Notion-Signature over the body, rotation, events."""

from __future__ import annotations

import hashlib
import hmac

from connectors import WebhookRequest
from connectors.notion import NotionConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"


def connector(*secrets: str) -> NotionConnector:
    return NotionConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Notion-Signature": f"sha256={digest}"})


def test_known_answer() -> None:
    expected = "sha256=" + hmac.new(b"hush", b"Hello, World!", "sha256").hexdigest()
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"X-Notion-Signature": expected}), NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["X-Notion-Signature"] == expected


def test_verification_request_is_acknowledged_and_nothing_else() -> None:
    answer = connector().handshake(WebhookRequest.build(fixture("notion", "verification.json")), NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (200, b"")
    assert connector().handshake(delivery(fixture("notion", "verification.json")), NOW) is None
    assert (
        connector().handshake(WebhookRequest.build(b'{"verification_token": "x", "type": "a"}'), NOW) is None
    )
    assert connector().handshake(WebhookRequest.build(fixture("notion", "page.created.json")), NOW) is None


def test_fixture() -> None:
    req = delivery(fixture("notion", "page.created.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("page.created", "367cba44-b6f3-4c92-81e7-6a2e9659efd4")
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"type": ""}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "page.created"
