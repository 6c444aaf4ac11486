"""Xero: no Python SDK helper (xero-python has none), so signatures are computed
independently with the stdlib; Intent to Receive (200/401, empty bodies) and fan-out."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.testing import check_connector, tamper
from connectors.xero import XeroConnector

from ._fakes import NOW
from ._support import fixture

KEY = "Cn0rkxHCCHGkWoNBd1KxCXyz3jvQHWnHCDtpAu9Ln7VjHUZ0bZm0tUGC0PjpeRixvBYcb8ML7dGLTN4Rvk2Pkw=="
OLD_KEY = "olderWebhooksKeyOlderWebhooksKeyOlderWebhooksKey0123456789abcdefgh"
BODY = fixture("xero", "invoice.update.json")
ITR = fixture("xero", "intent_to_receive.json")


def connector(*keys: str) -> XeroConnector:
    return XeroConnector.from_config({"secrets": list(keys or [KEY])})


def by_hand(body: bytes, key: str = KEY) -> WebhookRequest:
    signature = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return WebhookRequest.build(body, {"x-xero-signature": signature})


def test_known_answer_vector() -> None:
    expected = base64.b64encode(hmac.new(KEY.encode(), BODY, hashlib.sha256).digest()).decode()
    assert connector().sign(BODY, NOW).headers["x-xero-signature"] == expected
    connector().verify(by_hand(BODY), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(by_hand(BODY)), NOW)


def test_rotation_and_no_timestamp() -> None:
    old = by_hand(BODY, OLD_KEY)
    connector(KEY, OLD_KEY).verify(old, 0)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(KEY).verify(old, NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"x-xero-signature": "not base64!"}, "malformed_signature"),
        ({"x-xero-signature": "\udcff"}, "malformed_signature"),
        ({"x-xero-signature": "AAAA"}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(BODY, headers), NOW)
    assert exc.value.cause == cause


def test_intent_to_receive_good_signature() -> None:
    answer = connector().handshake(by_hand(ITR), NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (200, b"")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-xero-signature": "AAAA"},
        {"x-xero-signature": "%%%"},
        {"x-xero-signature": by_hand(ITR, "wrong").headers["x-xero-signature"]},
    ],
)
def test_intent_to_receive_bad_signature_gets_401(headers: dict[str, str]) -> None:
    answer = connector().handshake(WebhookRequest.build(ITR, headers), NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (401, b"")


def test_events_are_not_handshakes() -> None:
    assert connector().handshake(by_hand(BODY), NOW) is None
    assert connector().handshake(WebhookRequest.build(BODY), NOW) is None  # verify() answers it


def test_fan_out() -> None:
    events = connector().normalize(by_hand(BODY))
    assert [e.type for e in events] == ["INVOICE.UPDATE", "CONTACT.CREATE"]
    assert len({e.dedup_key for e in events}) == 2
    assert events[0].occurred_at is not None
    assert events[0].occurred_at.isoformat() == "2017-06-21T01:15:39.902000+00:00"
    assert [e.dedup_key for e in connector().normalize(by_hand(BODY))] == [e.dedup_key for e in events]


@pytest.mark.parametrize(
    "body",
    [b"x", b"[]", b"{}", b'{"events": []}', b'{"events": [1]}', b'{"events": [{"eventType": "UPDATE"}]}'],
)
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(by_hand(body))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "INVOICE.UPDATE"
