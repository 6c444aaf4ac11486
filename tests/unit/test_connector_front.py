"""Front: base64 HMAC-SHA256 of `<timestamp>:<body>`, tolerance, the signed challenge."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.front import FrontConnector
from connectors.testing import check_connector, check_malformed

from ._fakes import NOW
from ._support import fixture

SECRET = "front-app-secret-4c1e9d"


def connector(*secrets: str, tolerance: int = 300) -> FrontConnector:
    return FrontConnector.from_config({"secrets": list(secrets or [SECRET]), "tolerance_seconds": tolerance})


def delivery(body: bytes, stamp: str, secret: str = SECRET, **extra: str) -> WebhookRequest:
    mac = hmac.new(secret.encode(), stamp.encode() + b":" + body, hashlib.sha256).digest()
    headers = {"X-Front-Signature": base64.b64encode(mac).decode(), "X-Front-Request-Timestamp": stamp}
    return WebhookRequest.build(body, {**headers, **extra})


def test_known_answer() -> None:
    # base64(HMAC-SHA256("hush", "1700000000000:{}")), computed with the stdlib.
    mac = base64.b64encode(hmac.new(b"hush", b"1700000000000:{}", "sha256").digest()).decode()
    signed = connector("hush").sign(b"{}", NOW).headers
    assert (signed["X-Front-Request-Timestamp"], signed["X-Front-Signature"]) == ("1700000000000", mac)
    connector("hush").verify(delivery(b"{}", "1700000000000", "hush"), NOW)
    connector("hush").verify(delivery(b"{}", "1700000000", "hush"), NOW)  # seconds too


def test_fixture() -> None:
    req = delivery(fixture("front", "inbound_received.json"), "1700000000000")
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("inbound_received", "evt_55c8c149")
    assert event.occurred_at is not None
    assert int(event.occurred_at.timestamp()) == NOW


def test_tolerance() -> None:
    req = delivery(b"{}", str((NOW - 301) * 1000))
    with pytest.raises(VerificationError, match="stale_timestamp"):
        connector().verify(req, NOW)
    connector(tolerance=0).verify(req, NOW)


def test_challenge_is_answered_once_verified() -> None:
    req = delivery(b"{}", "1700000000000", **{"X-Front-Challenge": "kZ3rP0vQ8sYw"})
    answer = connector().handshake(req, NOW)
    assert answer is not None
    assert answer.body == b"kZ3rP0vQ8sYw"
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("other").handshake(req, NOW)
    assert connector().handshake(delivery(b"{}", "1700000000000"), NOW) is None


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-Front-Signature": "abc"}, "missing_timestamp"),
        ({"X-Front-Signature": "abc", "X-Front-Request-Timestamp": "soon"}, "malformed_timestamp"),
        ({"X-Front-Signature": "abc", "X-Front-Request-Timestamp": "1700000000000"}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"{}", headers), NOW)
    assert exc.value.cause == cause


def test_rotation() -> None:
    connector("new", "old").verify(delivery(b"{}", "1700000000000", "old"), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"type": 1}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "inbound_received"
