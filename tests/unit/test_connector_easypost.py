"""EasyPost: X-Hmac-Signature with the NFKD-normalized secret, the easypost SDK as oracle."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

import pytest

from connectors import WebhookRequest
from connectors.easypost import EasyPostConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

SECRET = "sécret-easypost-webhook"


def connector(*secrets: str) -> EasyPostConnector:
    return EasyPostConnector.from_config({"secrets": list(secrets or [SECRET])})


def delivery(body: bytes, secret: str = SECRET) -> WebhookRequest:
    key = unicodedata.normalize("NFKD", secret).encode()
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    return WebhookRequest.build(body, {"X-Hmac-Signature": f"hmac-sha256-hex={digest}"})


def test_known_answer() -> None:
    expected = "hmac-sha256-hex=" + hmac.new(b"hush", b"Hello, World!", "sha256").hexdigest()
    connector("hush").verify(WebhookRequest.build(b"Hello, World!", {"X-Hmac-Signature": expected}), NOW)
    assert connector("hush").sign(b"Hello, World!", NOW).headers["X-Hmac-Signature"] == expected


def test_easypost_sdk_accepts_what_sign_makes() -> None:
    util = pytest.importorskip("easypost.util")
    body = fixture("easypost", "tracker.updated.json")
    headers = connector().sign(body, NOW).headers
    assert util.validate_webhook(body, headers, SECRET)["description"] == "tracker.updated"


def test_the_secret_is_normalized() -> None:
    composed = unicodedata.normalize("NFC", SECRET)
    assert composed != unicodedata.normalize("NFKD", SECRET)
    connector(composed).verify(delivery(b"{}"), NOW)


def test_fixture() -> None:
    req = delivery(fixture("easypost", "tracker.updated.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("tracker.updated", "evt_9c4d1ee0a6e611ee8a5b8f0a7f4c1234")
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(b"{}", secret), NOW)


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b"{}", b'{"description": 1}', b"nope")


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "tracker.updated"
