"""Standard Webhooks / Svix: the official libraries as oracles both ways, and v1a Ed25519.

Oracle quirks: `standardwebhooks` checks the timestamp against the real clock (±5 min) and
raises a plain ValueError on a signature token without a comma; `svix.verify` returns
None; neither knows v1a, for which keys are generated here with `cryptography`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from svix.webhooks import Webhook as SvixWebhook

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.standard_webhooks import StandardWebhooksConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

# Secrets in the documented `whsec_<base64>` form (24 and 32 random-looking bytes).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_" + base64.b64encode(b"an older secret of 32 bytes!!!!!").decode()
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"


def connector(*secrets: str, **options: Any) -> StandardWebhooksConnector:
    return StandardWebhooksConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def headers(sig: str, ts: int | str = NOW, msg_id: str = MSG_ID, prefix: str = "webhook") -> dict[str, str]:
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(ts), f"{prefix}-signature": sig}


def ed25519_keys() -> tuple[Ed25519PrivateKey, str, str]:
    """A fresh key pair as (key, "whsk_…" seed, "whpk_…" public key)."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key, "whsk_" + base64.b64encode(seed).decode(), "whpk_" + base64.b64encode(pub).decode()


def v1a(key: Ed25519PrivateKey, body: bytes, ts: int = NOW, msg_id: str = MSG_ID) -> str:
    return "v1a," + base64.b64encode(key.sign(f"{msg_id}.{ts}.".encode() + body)).decode()


BODY = fixture("standard-webhooks", "contact.created.json")


def test_library_signature_verifies() -> None:
    sig = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(NOW, UTC), BODY.decode())
    req = WebhookRequest.build(BODY, headers(sig))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "contact.created"
    assert event.dedup_key == event.provider_event_id == MSG_ID
    assert event.occurred_at == datetime(2024, 8, 21, 12, 56, 31, tzinfo=UTC)


def test_known_answer_by_hand() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{MSG_ID}.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    sig = "v1," + base64.b64encode(mac).decode()
    assert sig == Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(NOW, UTC), BODY.decode())
    assert connector().sign(BODY, NOW).headers["webhook-signature"] != sig  # another msg id
    connector().verify(WebhookRequest.build(BODY, headers(sig)), NOW)


def test_our_signature_passes_both_libraries() -> None:
    now = time.time()  # the libraries check against the real clock
    req = signed_request(connector(), BODY, now=now)
    sent = {k: req.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert Webhook(SECRET).verify(BODY, sent) == json.loads(BODY)
    svix_headers = {k.replace("webhook-", "svix-"): v for k, v in sent.items()}
    SvixWebhook(SECRET).verify(BODY, svix_headers)  # svix 2.x returns None; raising = failure
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD_SECRET).verify(BODY, sent)


def test_svix_headers_and_precedence() -> None:
    good = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(NOW, UTC), BODY.decode())
    bad = "v1," + base64.b64encode(b"x" * 32).decode()
    connector().verify(WebhookRequest.build(BODY, headers(good, prefix="svix")), NOW)
    both = {**headers(bad), **headers(good, prefix="svix")}
    connector().verify(WebhookRequest.build(BODY, both), NOW)
    reverse = {**headers(good), **headers(bad, prefix="svix")}
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(BODY, reverse), NOW)
    # svix agrees on precedence (checked at the real clock).
    now = int(time.time())
    good_now = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(now, UTC), BODY.decode())
    svix_reverse = {**headers(good_now, now), **headers(bad, now, prefix="svix")}
    with pytest.raises(WebhookVerificationError):
        SvixWebhook(SECRET).verify(BODY, svix_reverse)
    [event] = connector().normalize(WebhookRequest.build(BODY, {"svix-id": "msg_svix", **headers(good)}))
    assert event.dedup_key == "msg_svix"


def test_bare_base64_secret() -> None:
    bare = SECRET.removeprefix("whsec_")
    sig = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(NOW, UTC), BODY.decode())
    connector(bare).verify(WebhookRequest.build(BODY, headers(sig)), NOW)


def test_rotation_with_several_signatures_and_secrets() -> None:
    dt = datetime.fromtimestamp(NOW, UTC)
    old_sig = Webhook(OLD_SECRET).sign(MSG_ID, dt, BODY.decode())
    new_sig = Webhook(SECRET).sign(MSG_ID, dt, BODY.decode())
    # The sender lists both signatures while rotating; we know only the new secret.
    connector(SECRET).verify(WebhookRequest.build(BODY, headers(f"{old_sig} {new_sig}")), NOW)
    # We know both secrets; the sender signs with the old one only.
    connector(SECRET, OLD_SECRET).verify(WebhookRequest.build(BODY, headers(old_sig)), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SECRET).verify(WebhookRequest.build(BODY, headers(old_sig)), NOW)
    # sign() lists one v1 per secret, which the library accepts with either secret.
    sig = connector(SECRET, OLD_SECRET).sign(BODY, NOW).headers["webhook-signature"]
    assert len(sig.split()) == 2


def test_v1a_ed25519_with_public_key() -> None:
    key, _, whpk = ed25519_keys()
    c = connector(whpk)
    req = WebhookRequest.build(BODY, headers(v1a(key, BODY)))
    c.verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        c.verify(tamper(req), NOW)
    other, _, _ = ed25519_keys()
    with pytest.raises(VerificationError, match="bad_signature"):
        c.verify(WebhookRequest.build(BODY, headers(v1a(other, BODY))), NOW)


def test_v1a_signing_key_signs_for_its_public_key() -> None:
    key, whsk, whpk = ed25519_keys()
    delivery = connector(whsk).sign(BODY, NOW)
    [token] = delivery.headers["webhook-signature"].split()
    assert token.startswith("v1a,")
    # Only the public key on the verifying side, and an independent verification by hand.
    req = WebhookRequest.build(delivery.body, delivery.headers)
    connector(whpk).verify(req, NOW)
    signed = f"{req.headers['webhook-id']}.{req.headers['webhook-timestamp']}.".encode() + BODY
    key.public_key().verify(base64.b64decode(token.removeprefix("v1a,")), signed)
    check_connector(connector(whsk), NOW)


def test_v1a_64_byte_secret_key() -> None:
    key, whsk, whpk = ed25519_keys()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    full = "whsk_" + base64.b64encode(base64.b64decode(whsk[5:]) + pub).decode()
    req = signed_request(connector(full), BODY, now=NOW)
    connector(whpk).verify(req, NOW)
    wrong = "whsk_" + base64.b64encode(base64.b64decode(whsk[5:]) + b"\x00" * 32).decode()
    with pytest.raises(ValidationError, match="public half"):
        connector(wrong)


def test_mixed_v1_and_v1a_rotation() -> None:
    key, whsk, whpk = ed25519_keys()
    c = connector(SECRET, whpk)
    dt = datetime.fromtimestamp(NOW, UTC)
    c.verify(WebhookRequest.build(BODY, headers(Webhook(SECRET).sign(MSG_ID, dt, BODY.decode()))), NOW)
    c.verify(WebhookRequest.build(BODY, headers(v1a(key, BODY))), NOW)
    both = connector(SECRET, whsk).sign(BODY, NOW).headers["webhook-signature"]
    assert [t.split(",")[0] for t in both.split()] == ["v1", "v1a"]
    # The v1 library ignores v1a and still verifies the v1 token.
    now = int(time.time())
    fresh = signed_request(connector(SECRET, whsk), BODY, now=now)
    Webhook(SECRET).verify(BODY, dict(fresh.headers))


def test_public_keys_cannot_sign() -> None:
    _, _, whpk = ed25519_keys()
    with pytest.raises(ValueError, match="whpk_ keys only verify"):
        connector(whpk).sign(BODY, NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = signed_request(connector(), BODY, now=NOW + offset)
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)


def test_custom_tolerance() -> None:
    req = signed_request(connector(), BODY, now=NOW - 3600)
    connector(tolerance_seconds=3600).verify(req, NOW)
    with pytest.raises(VerificationError):
        connector(tolerance_seconds=3599).verify(req, NOW)


def test_comma_less_token() -> None:
    sig = "v1" + base64.b64encode(b"x" * 32).decode()
    now = int(time.time())
    # The oracle rejects it too: with its own error since 1.3, with a bare
    # ValueError from tuple unpacking before.
    with pytest.raises((WebhookVerificationError, ValueError)):
        Webhook(SECRET).verify(BODY, headers(sig, now))
    with pytest.raises(VerificationError, match="malformed_signature"):
        connector().verify(WebhookRequest.build(BODY, headers(sig)), NOW)


@pytest.mark.parametrize(
    ("hdrs", "cause"),
    [
        ({}, "missing_header"),
        ({"webhook-id": MSG_ID, "webhook-timestamp": str(NOW)}, "missing_header"),
        (headers("v1,AAAA", ts=""), "missing_header"),
        (headers("v1,AAAA", msg_id=""), "missing_header"),
        (headers("v1,AAAA", ts="17e8"), "malformed_timestamp"),
        (headers("v1,AAAA", ts="-1700000000"), "malformed_timestamp"),
        (headers("v1,AAAA", ts="1700000000.5"), "malformed_timestamp"),
        (headers("v1,AAAA", ts="\u0661\u0667"), "malformed_timestamp"),
        (headers("v1,not base64!"), "malformed_signature"),
        (headers("v1a,@@@@"), "malformed_signature"),
        (headers("v1,"), "bad_signature"),
        (headers("v1a,AAAA"), "bad_signature"),
        (headers("v2,AAAA v0,BBBB"), "missing_signature"),
        (headers("   "), "missing_signature"),
    ],
)
def test_garbled_headers(hdrs: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(BODY, hdrs), NOW)
    assert exc.value.cause == cause


@pytest.mark.parametrize(
    "secret",
    ["whsec_", "whsec_!!!", "whpk_" + base64.b64encode(b"short").decode(), "whsk_" + "A" * 8, ""],
)
def test_undecodable_secrets_are_config_errors(secret: str) -> None:
    with pytest.raises(ValidationError, match=r"secrets\[0\]"):
        connector(secret)


def test_normalize_type_and_default() -> None:
    req = WebhookRequest.build(b'{"data": {}}', headers("v1,AAAA"))
    with pytest.raises(MalformedPayloadError, match="missing_field"):
        connector().normalize(req)
    assert connector(default_type="acme.event").normalize(req)[0].type == "acme.event"
    assert (
        connector(default_type="x").normalize(WebhookRequest.build(b"[1, 2]", headers("v1,AAAA")))[0].type
        == "x"
    )
    for body in [b'{"type": ""}', b'{"type": 7}', b"not json"]:
        with pytest.raises(MalformedPayloadError):
            connector(default_type="x").normalize(WebhookRequest.build(body, headers("v1,AAAA")))


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "invoice.paid"
