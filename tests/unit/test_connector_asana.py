"""Asana: the X-Hook-Secret handshake, X-Hook-Signature, rotation, events, heartbeats."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.asana import AsanaConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "b537207f20cbfa02357cf448134da559"


def connector(*secrets: str) -> AsanaConnector:
    return AsanaConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Hook-Signature": digest, "Content-Type": "application/json"})


def test_known_answer() -> None:
    # HMAC-SHA256("hush", '{"events":[]}'), computed with the stdlib.
    expected = "7141e4a654979e581eac81662dea657c080d7284e8b822bfb078907acaa1ae03"
    assert hmac.new(b"hush", b'{"events":[]}', "sha256").hexdigest() == expected
    req = WebhookRequest.build(b'{"events":[]}', {"X-Hook-Signature": expected})
    connector("hush").verify(req, NOW)
    assert connector("hush").sign(b'{"events":[]}', NOW).headers["X-Hook-Signature"] == expected


def test_handshake_echoes_the_secret_header() -> None:
    answer = connector().handshake(WebhookRequest.build(b"", {"X-Hook-Secret": "abc123"}), NOW)
    assert answer is not None
    assert (answer.status, answer.body, answer.headers) == (200, b"", (("X-Hook-Secret", "abc123"),))
    assert connector().handshake(delivery(b"{}"), NOW) is None


@pytest.mark.parametrize("value", ["", "x" * 257, "caf\u00e9", "a\nb"])
def test_handshake_refuses_odd_secrets(value: str) -> None:
    with pytest.raises(VerificationError, match="malformed_header"):
        connector().handshake(WebhookRequest.build(b"", {"X-Hook-Secret": value}), NOW)


def test_fixture_gives_one_event_each() -> None:
    req = delivery(fixture("asana", "events.json"))
    connector().verify(req, NOW)
    first, second = connector().normalize(req)
    assert (first.type, second.type) == ("task.changed", "story.added")
    assert first.dedup_key != second.dedup_key
    assert first.occurred_at is not None
    assert first.occurred_at.timestamp() == NOW
    # A retry carries the same events: the same keys, whatever the key order.
    resent = json.dumps(json.loads(fixture("asana", "events.json")), sort_keys=True).encode()
    assert [e.dedup_key for e in connector().normalize(delivery(resent))] == [
        first.dedup_key,
        second.dedup_key,
    ]


def test_heartbeat_is_answered_once_verified() -> None:
    req = delivery(fixture("asana", "heartbeat.json"))
    answer = connector().handshake(req, NOW)
    assert answer is not None
    assert (answer.status, answer.body, answer.headers) == (200, b"", ())
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("other").handshake(req, NOW)
    assert connector().normalize(req) == []


def test_unusable_bodies() -> None:
    check_malformed(
        connector(), b"[]", b"{}", b'{"events": {}}', b'{"events": [1]}', b'{"events": [{}]}', b"nope"
    )


def test_rotation_and_garbled_headers() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret=secret), NOW)
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(WebhookRequest.build(b"{}"), NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "task.changed"
