"""Recurly: `<ms>,<hex>[,<hex>]` over `ms.body`, tolerance, rotation, object.event types."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.recurly import RecurlyConnector
from connectors.testing import check_connector, check_malformed, check_tolerance

from ._fakes import NOW
from ._support import fixture

SECRET = "rc-secret"
KAT = "6cf6d03c409bd3029740c9d04684fd054e2a7f349be56bc9fed3d4f0385dac5f"
MILLIS = NOW * 1000


def connector(*secrets: str, **options: object) -> RecurlyConnector:
    return RecurlyConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def sig(body: bytes, secret: str = SECRET, millis: int = MILLIS) -> str:
    return hmac.new(secret.encode(), f"{millis}.".encode() + body, hashlib.sha256).hexdigest()


def delivery(body: bytes, *secrets: str, millis: int = MILLIS) -> WebhookRequest:
    value = ",".join([str(millis), *(sig(body, s, millis) for s in secrets or (SECRET,))])
    return WebhookRequest.build(body, {"recurly-signature": value})


def test_known_answer() -> None:
    # hex HMAC-SHA256("rc-secret", '1700000000000.{"id":1}'), computed with the stdlib.
    assert sig(b'{"id":1}') == KAT
    connector().verify(delivery(b'{"id":1}'), NOW)
    assert connector().sign(b'{"id":1}', NOW).headers["recurly-signature"] == f"{MILLIS},{KAT}"


def test_rotation_lists_a_signature_per_key() -> None:
    req = delivery(b"{}", "new", "old")
    connector("old").verify(req, NOW)
    connector("new").verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("other").verify(req, NOW)


def test_tolerance_both_ways() -> None:
    check_tolerance(connector(), lambda at: delivery(b"{}", millis=int(at * 1000)), NOW, 300)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("1700000000000", "malformed_signature"),
        ("soon,abc", "malformed_timestamp"),
        (f"{MILLIS},00", "bad_signature"),
    ],
)
def test_garbled_headers(value: str | None, cause: str) -> None:
    headers = {} if value is None else {"recurly-signature": value}
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(b"{}", headers), NOW)
    assert exc.value.cause == cause


def test_fixture_verifies_and_normalizes() -> None:
    req = delivery(fixture("recurly", "subscription.renewed.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("subscription.renewed", "rxvlfjajadg7")
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2025-03-22T19:27:44+00:00"


def test_unusable_bodies() -> None:
    check_malformed(
        connector(),
        b"[]",
        b'{"id": "x", "event_type": "created"}',
        b'{"object_type": "account", "event_type": "created"}',
    )


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "account.created"
