"""Clerk: Svix-delivered; svix and standardwebhooks as oracles both ways (Clerk's Python
SDK has no verifier). Both libraries check against the real clock: "we sign" tests sign
at the current time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from connectors import VerificationError, WebhookRequest
from connectors.clerk import ClerkConnector
from connectors.svix import SvixConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_" + base64.b64encode(b"an older clerk secret of 32 byte").decode()
MSG_ID = "msg_2bR9BZlVUE1Rz4Zm9ZmUepqGdlI"
BODY = fixture("clerk", "user.created.json")


def connector(*secrets: str, tolerance: int = 300) -> ClerkConnector:
    return ClerkConnector.from_config({"secrets": list(secrets or [SECRET]), "tolerance_seconds": tolerance})


def svix_headers(body: bytes, ts: int = NOW, secret: str = SECRET) -> dict[str, str]:
    sig = SvixWebhook(secret).sign(MSG_ID, datetime.fromtimestamp(ts, UTC), body.decode())
    return {"svix-id": MSG_ID, "svix-timestamp": str(ts), "svix-signature": sig}


def oracles_accept(req: WebhookRequest, secret: str = SECRET) -> tuple[bool, bool]:
    svix_style = dict(req.headers)
    standard_style = {k.replace("svix-", "webhook-"): v for k, v in svix_style.items()}
    results = []
    for verify, headers in (
        (SvixWebhook(secret).verify, svix_style),
        (Webhook(secret).verify, standard_style),
    ):
        try:
            verify(req.body, headers)
        except (WebhookVerificationError, ValueError):
            results.append(False)
        else:
            results.append(True)
    return results[0], results[1]


def test_is_a_svix_connector() -> None:
    assert issubclass(ClerkConnector, SvixConnector)


def test_known_answer_vector() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{MSG_ID}.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    headers = {
        "svix-id": MSG_ID,
        "svix-timestamp": str(NOW),
        "svix-signature": "v1," + base64.b64encode(mac).decode(),
    }
    assert headers == svix_headers(BODY)
    connector().verify(WebhookRequest.build(BODY, headers), NOW)


def test_sdk_signs_we_accept_and_normalize() -> None:
    req = WebhookRequest.build(BODY, svix_headers(BODY))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "user.created"
    assert event.dedup_key == MSG_ID
    assert event.payload["data"]["id"] == "user_29w83sxmDNGwOuEthce5gg56FcC"
    assert event.occurred_at == datetime(2022, 5, 31, 15, 56, 31, 835000, tzinfo=UTC)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(req), NOW)


def test_we_sign_sdk_accepts() -> None:
    req = signed_request(connector(), BODY, now=time.time())
    assert oracles_accept(req) == (True, True)
    assert oracles_accept(tamper(req)) == (False, False)
    assert oracles_accept(req, OLD_SECRET) == (False, False)


def test_rotation() -> None:
    old = WebhookRequest.build(BODY, svix_headers(BODY, secret=OLD_SECRET))
    connector(SECRET, OLD_SECRET).verify(old, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SECRET).verify(old, NOW)
    req = signed_request(connector(OLD_SECRET, SECRET), BODY, now=time.time())
    assert oracles_accept(req) == (True, True)  # one v1 per secret; either verifies


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
    assert event.type == "user.created"
