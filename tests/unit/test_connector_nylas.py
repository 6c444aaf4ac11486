"""Nylas: the GET challenge, X-Nylas-Signature, rotation, notifications."""

from __future__ import annotations

import hashlib
import hmac

from connectors import WebhookRequest
from connectors.nylas import NylasConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "nylas-webhook-secret-3f9d"


def connector(*secrets: str) -> NylasConnector:
    return NylasConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Nylas-Signature": digest})


def test_known_answer() -> None:
    expected = hmac.new(b"hush", b"Hello, World!", "sha256").hexdigest()
    connector("hush").verify(
        WebhookRequest.build(b"Hello, World!", {"X-Nylas-Signature": expected.upper()}), NOW
    )
    assert connector("hush").sign(b"Hello, World!", NOW).headers["X-Nylas-Signature"] == expected


def test_challenge() -> None:
    answer = connector().handshake(WebhookRequest.build(b"", method="GET", query="challenge=abc-123"), NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (200, b"abc-123")
    assert connector().handshake(WebhookRequest.build(b"", method="GET"), NOW) is None
    long = "challenge=" + "a" * 257
    assert connector().handshake(WebhookRequest.build(b"", method="GET", query=long), NOW) is None
    assert connector().handshake(WebhookRequest.build(b"", query="challenge=abc"), NOW) is None


def test_fixture() -> None:
    req = delivery(fixture("nylas", "message.created.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "message.created"
    assert event.dedup_key == "mock-id-2f3c5d7e-9a1b-4c3d-8e5f-6a7b8c9d0e1f"
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"type": ""}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "message.created"
