"""Authorize.net: X-ANET-Signature, uppercase hex HMAC-SHA512 of the body, rotation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.authorize_net import AuthorizeNetConnector
from connectors.testing import check_connector, check_malformed

from ._fakes import NOW
from ._support import fixture

SECRET = "6D8E1A2F3B4C5D6E7F8091A2B3C4D5E6" * 4


def connector(*secrets: str) -> AuthorizeNetConnector:
    return AuthorizeNetConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha512).hexdigest().upper()
    return WebhookRequest.build(body, {"X-ANET-Signature": f"sha512={digest}"})


def test_known_answer() -> None:
    expected = "sha512=" + hmac.new(b"hush", b"Hello, World!", "sha512").hexdigest().upper()
    assert connector("hush").sign(b"Hello, World!", NOW).headers["X-ANET-Signature"] == expected
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"X-ANET-Signature": expected}), NOW)
    connector("hush").verify(
        WebhookRequest.build(b"Hello, World!", {"X-ANET-Signature": expected.lower()}), NOW
    )


def test_fixture() -> None:
    req = delivery(fixture("authorize-net", "authcapture.created.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "net.authorize.payment.authcapture.created"
    assert event.dedup_key == "d0e8e7fe-c3e7-4add-a480-27bc5ce28a3e"
    assert event.occurred_at is not None
    assert int(event.occurred_at.timestamp()) == NOW


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-ANET-Signature": "sha256=abcd"}, "malformed_signature"),
        ({"X-ANET-Signature": "sha512=abcd"}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"{}", headers), NOW)
    assert exc.value.cause == cause


def test_rotation() -> None:
    connector("new", "old").verify(delivery(b"{}", "old"), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"eventType": 1}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "net.authorize.payment.authcapture.created"
