"""Trello: base64 HMAC-SHA1 over body + callback URL, the HEAD check, rotation, dedup."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.testing import check_connector, check_malformed, check_rotation, signed_request
from connectors.trello import TrelloConnector

from ._fakes import NOW
from ._support import fixture

SECRET = "trello-oauth-secret"
URL = "https://hooks.example.com/webhooks/trello"


def connector(*secrets: str, **options: object) -> TrelloConnector:
    return TrelloConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def digest(body: bytes, url: str = URL, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body + url.encode(), hashlib.sha1).digest()).decode()


def delivery(body: bytes, url: str = URL, secret: str = SECRET) -> WebhookRequest:
    return WebhookRequest.build(body, {"X-Trello-Webhook": digest(body, url, secret)}, url=url)


def test_known_answer() -> None:
    # base64(HMAC-SHA1("trello-oauth-secret", '{"id":1}' + URL)), computed with the stdlib.
    expected = "jL9HithDc3Tor/4wpj3PW4lVuRQ="
    assert digest(b'{"id":1}') == expected
    connector().verify(delivery(b'{"id":1}'), NOW)
    assert connector().sign(b'{"id":1}', NOW, url=URL).headers["X-Trello-Webhook"] == expected


def test_the_url_is_signed() -> None:
    req = delivery(b"{}", url=URL + "?x=1")
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(b"{}", dict(req.headers), url=URL), NOW)
    # With callback_url set, the URL called does not matter.
    pinned = connector(callback_url=URL)
    pinned.verify(WebhookRequest.build(b"{}", dict(delivery(b"{}").headers), url="http://internal/x"), NOW)
    with pytest.raises(VerificationError, match="missing_url"):
        connector().verify(WebhookRequest.build(b"{}", dict(req.headers)), NOW)


def test_head_check_is_answered() -> None:
    answer = connector().handshake(WebhookRequest.build(b"", method="HEAD", url=URL), NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (200, b"")
    assert connector().handshake(delivery(b"{}"), NOW) is None
    assert "HEAD" in TrelloConnector.methods


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("trello", "updateCard.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("updateCard", "67def8d0f1c2a6b3e4d5c6b7")
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-03-22T19:30:24.319000+00:00"


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(WebhookRequest.build(b"{}", url=URL), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b'{"action": {"id": "a"}}', b'{"action": {"type": "createCard"}}')


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "updateCard"
    connector().verify(signed_request(connector(), now=NOW), NOW)
