"""Svix: the svix library as an oracle both ways (it checks against the real clock, and its
`verify` returns None in svix 2.x, so success means "did not raise"); the verification
itself is the standard-webhooks connector's and is tested in depth there."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from connectors import VerificationError, WebhookRequest
from connectors.standard_webhooks import StandardWebhooksConnector
from connectors.svix import SvixConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
OLD_SECRET = "whsec_" + base64.b64encode(b"the previous svix secret, 32 b!!").decode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
BODY = fixture("svix", "invoice.paid.json")


def connector(*secrets: str, tolerance: int = 300) -> SvixConnector:
    return SvixConnector.from_config({"secrets": list(secrets or [SECRET]), "tolerance_seconds": tolerance})


def svix_headers(body: bytes, ts: int = NOW, secret: str = SECRET) -> dict[str, str]:
    sig = SvixWebhook(secret).sign(MSG_ID, datetime.fromtimestamp(ts, UTC), body.decode())
    return {"svix-id": MSG_ID, "svix-timestamp": str(ts), "svix-signature": sig}


def oracle_accepts(req: WebhookRequest, secret: str = SECRET) -> bool:
    try:
        SvixWebhook(secret).verify(req.body, dict(req.headers))
    except (WebhookVerificationError, ValueError):
        return False
    return True


def test_is_the_standard_webhooks_connector() -> None:
    assert issubclass(SvixConnector, StandardWebhooksConnector)


def test_known_answer_vector() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{MSG_ID}.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    assert svix_headers(BODY)["svix-signature"] == expected
    connector().verify(WebhookRequest.build(BODY, svix_headers(BODY)), NOW)


def test_sdk_signs_we_accept() -> None:
    req = WebhookRequest.build(BODY, svix_headers(BODY))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "invoice.paid"
    assert event.dedup_key == MSG_ID
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(req), NOW)


def test_we_sign_sdk_accepts() -> None:
    req = signed_request(connector(), BODY, now=time.time())
    assert set(req.headers) >= {"svix-id", "svix-timestamp", "svix-signature"}
    assert "webhook-id" not in req.headers
    assert oracle_accepts(req)
    assert not oracle_accepts(tamper(req))
    assert not oracle_accepts(req, OLD_SECRET)


def test_rotation() -> None:
    old = WebhookRequest.build(BODY, svix_headers(BODY, secret=OLD_SECRET))
    connector(SECRET, OLD_SECRET).verify(old, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SECRET).verify(old, NOW)
    both = connector(SECRET, OLD_SECRET).sign(BODY, NOW).headers["svix-signature"]
    assert len(both.split()) == 2


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = WebhookRequest.build(BODY, svix_headers(BODY, NOW + offset))
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "invoice.paid"
