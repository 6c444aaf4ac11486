"""Mailgun: a hand-computed vector, SecurityGuard both ways, tolerance, legacy form, Basic auth."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from mailgun.security import SecurityGuard
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.mailgun import MailgunConnector
from connectors.testing import check_connector, signed_request

from ._fakes import NOW
from ._support import fixture

KEY = "key-7e55d003b4ef1e0cbc8e9d2c23a0d5b9"
TOKEN = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
# hex HMAC-SHA256(KEY, "1700000000" + TOKEN), computed independently with hashlib.
EXPECTED = hmac.new(KEY.encode(), f"{NOW}{TOKEN}".encode(), hashlib.sha256).hexdigest()


def connector(*keys: str, **options: Any) -> MailgunConnector:
    return MailgunConnector.from_config({"secrets": list(keys or [KEY]), **options})


def fixture_request(signature: str = EXPECTED, **changes: Any) -> WebhookRequest:
    payload = json.loads(fixture("mailgun", "delivered.json"))
    payload["signature"] = {**payload["signature"], "signature": signature, **changes}
    return WebhookRequest.build(json.dumps(payload).encode(), {"Content-Type": "application/json"})


def oracle(req: WebhookRequest, key: str = KEY, max_age: int = 0) -> bool:
    try:
        sig = json.loads(req.body)["signature"]
        return bool(
            SecurityGuard.verify_webhook(key, sig["token"], sig["timestamp"], sig["signature"], max_age)
        )
    except Exception:  # noqa: BLE001 - TypeError/ValueError on garbage is a "no"
        return False


def test_known_answer() -> None:
    req = fixture_request()
    connector().verify(req, NOW)
    assert oracle(req)
    [event] = connector().normalize(req)
    assert event.type == "delivered"
    assert event.dedup_key == event.provider_event_id == "CPgfbmQMTCKtHW6uIWtuVe"
    assert event.delivery_id == TOKEN
    assert event.occurred_at is not None
    assert int(event.occurred_at.timestamp()) == 1521472262


def test_our_signature_passes_the_sdk() -> None:
    now = time.time()  # SecurityGuard checks the age against the real clock
    req = signed_request(connector(), fixture("mailgun", "delivered.json"), now=now)
    connector().verify(req, now)
    assert oracle(req, max_age=900)
    assert not oracle(req, key="other")


def test_sdk_computation_passes_ours() -> None:
    token = "f" * 50
    sig = hmac.new(KEY.encode(), f"{NOW}{token}".encode(), hashlib.sha256).hexdigest()
    assert SecurityGuard.verify_webhook(KEY, token, str(NOW), sig, max_age_seconds=0)
    connector().verify(fixture_request(sig, token=token), NOW)
    connector().verify(fixture_request(sig.upper(), token=token, timestamp=NOW), NOW)


def test_body_outside_the_signature_is_not_protected() -> None:
    req = fixture_request()
    payload = json.loads(req.body)
    payload["event-data"]["event"] = "failed"
    connector().verify(WebhookRequest.build(json.dumps(payload).encode()), NOW)  # Mailgun's design


@pytest.mark.parametrize(("offset", "ok"), [(-900, True), (900, True), (-901, False), (901, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = fixture_request()
    if ok:
        connector().verify(req, NOW + offset)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW + offset)
        connector(tolerance_seconds=0).verify(req, NOW + offset)


def test_rotation() -> None:
    connector("new-key", KEY).verify(fixture_request(), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("new-key").verify(fixture_request(), NOW)


def test_legacy_form() -> None:
    d = connector().sign_legacy_form({"event": "delivered", "recipient": "alice@example.com"}, NOW)
    req = WebhookRequest.build(d.body, d.headers)
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "delivered"
    assert event.dedup_key.startswith("token:")


def test_basic_auth_in_addition() -> None:
    c = connector(username="mg", password="pw")
    [event] = check_connector(c, NOW, signs_body=False)
    assert event.type == "delivered"
    req = signed_request(c, now=NOW)
    bare = WebhookRequest.build(req.body, {"Content-Type": "application/json"})
    with pytest.raises(VerificationError, match="missing_credentials"):
        c.verify(bare, NOW)
    wrong = WebhookRequest.build(req.body, {"Authorization": "Basic " + base64.b64encode(b"mg:no").decode()})
    with pytest.raises(VerificationError, match="bad_credentials"):
        c.verify(wrong, NOW)
    with pytest.raises(ValidationError, match="both"):
        connector(password="pw")


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"nope", "malformed_body"),
        (b"[]", "malformed_body"),
        (b"[" * 100_000, "malformed_body"),
        (b"{}", "missing_signature"),
        (b'{"signature": {"timestamp": "1", "token": "t"}}', "missing_signature"),
        (b'{"signature": {"timestamp": 1.5, "token": "t", "signature": "s"}}', "missing_signature"),
        (b'{"signature": {"timestamp": true, "token": "t", "signature": "s"}}', "missing_signature"),
        (b'{"signature": {"timestamp": "", "token": "t", "signature": "s"}}', "missing_signature"),
        (b'{"signature": {"timestamp": "17e8", "token": "t", "signature": "s"}}', "malformed_timestamp"),
        (
            b'{"signature": {"timestamp": "1700000000", "token": "t", "signature": "\\udcff"}}',
            "bad_signature",
        ),
    ],
)
def test_garbled(body: bytes, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(body), NOW)
    assert exc.value.cause == cause
    form = WebhookRequest.build(b"\xff", {"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(VerificationError, match="malformed_body"):
        connector().verify(form, NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b"[]",
        b"{}",
        b'{"event-data": {}}',
        b'{"event-data": {"event": "x"}}',
        b'{"event-data": {"event": 1, "id": "i"}}',
    ],
)
def test_normalize_rejects_unusable(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body))
