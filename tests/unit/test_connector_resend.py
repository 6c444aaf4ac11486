"""Resend: Svix-delivered; the resend SDK's `Webhooks.verify` and svix as oracles both ways.

Oracle quirks: `resend.Webhooks.verify` takes the headers as `id`/`timestamp`/`signature`
(not `svix-*`), checks ±300 s against the real clock, raises ValueError on any failure and
does not check the `v1` version prefix; `svix.verify` returns None.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
import resend
from svix.webhooks import Webhook as SvixWebhook

from connectors import VerificationError, WebhookRequest
from connectors.resend import ResendConnector
from connectors.svix import SvixConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

SECRET = "whsec_" + base64.b64encode(b"resend-signing-secret-32-bytes!!").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"an older resend secret, 32 bytes").decode()
MSG_ID = "msg_2d0d7ba3kZxYjJhZmIxNTRkNDA"
BODY = fixture("resend", "email.delivered.json")


def connector(*secrets: str, tolerance: int = 300) -> ResendConnector:
    return ResendConnector.from_config({"secrets": list(secrets or [SECRET]), "tolerance_seconds": tolerance})


def svix_headers(body: bytes, ts: int = NOW, secret: str = SECRET) -> dict[str, str]:
    sig = SvixWebhook(secret).sign(MSG_ID, datetime.fromtimestamp(ts, UTC), body.decode())
    return {"svix-id": MSG_ID, "svix-timestamp": str(ts), "svix-signature": sig}


def resend_accepts(req: WebhookRequest, secret: str = SECRET) -> bool:
    h = req.headers
    try:
        resend.Webhooks.verify(
            {
                "payload": req.body.decode(),
                "headers": {
                    "id": h["svix-id"],
                    "timestamp": h["svix-timestamp"],
                    "signature": h["svix-signature"],
                },
                "webhook_secret": secret,
            }
        )
    except (ValueError, KeyError):
        return False
    return True


def test_is_a_svix_connector() -> None:
    assert issubclass(ResendConnector, SvixConnector)


def test_known_answer_vector() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{MSG_ID}.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    assert svix_headers(BODY)["svix-signature"] == "v1," + base64.b64encode(mac).decode()
    connector().verify(WebhookRequest.build(BODY, svix_headers(BODY)), NOW)


def test_sdk_signs_we_accept_and_normalize() -> None:
    # The resend SDK cannot sign; svix signs, and resend's verifier confirms it at the real clock.
    now = int(time.time())
    fresh = WebhookRequest.build(BODY, svix_headers(BODY, now))
    assert resend_accepts(fresh)
    connector().verify(fresh, now)
    req = WebhookRequest.build(BODY, svix_headers(BODY))
    [event] = connector().normalize(req)
    assert event.type == "email.delivered"
    assert event.dedup_key == MSG_ID
    assert event.occurred_at == datetime(2024, 2, 22, 23, 41, 12, 126000, tzinfo=UTC)
    assert event.payload["data"]["email_id"] == "56761188-7520-42d8-8898-ff6fc54ce618"
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(req), NOW)


def test_we_sign_sdk_accepts() -> None:
    req = signed_request(connector(), BODY, now=time.time())
    assert resend_accepts(req)
    assert json.loads(req.body)["type"] == "email.delivered"
    assert not resend_accepts(tamper(req))
    assert not resend_accepts(req, OLD_SECRET)
    SvixWebhook(SECRET).verify(req.body, dict(req.headers))  # raising = failure


def test_rotation() -> None:
    old = WebhookRequest.build(BODY, svix_headers(BODY, secret=OLD_SECRET))
    connector(SECRET, OLD_SECRET).verify(old, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SECRET).verify(old, NOW)
    assert resend_accepts(signed_request(connector(OLD_SECRET, SECRET), BODY, now=time.time()))


def test_version_prefix_is_checked_unlike_the_sdk() -> None:
    now = int(time.time())
    headers = svix_headers(BODY, now)
    headers["svix-signature"] = headers["svix-signature"].replace("v1,", "v9,")
    req = WebhookRequest.build(BODY, headers)
    assert resend_accepts(req)  # the SDK's quirk: any "x,<sig>" token is compared
    with pytest.raises(VerificationError, match="missing_signature"):
        connector().verify(req, now)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = WebhookRequest.build(BODY, svix_headers(BODY, NOW + offset))
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)


def test_created_at_fallback() -> None:
    body = b'{"type": "contact.created", "data": {}}'
    [event] = connector().normalize(WebhookRequest.build(body, svix_headers(body)))
    assert event.occurred_at is None


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "email.delivered"
