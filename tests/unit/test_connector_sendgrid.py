"""SendGrid: the official vector, EventWebhook both ways, key forms, tolerance, fan-out."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from pydantic import ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook  # type: ignore[import-untyped]

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.sendgrid import SendGridConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

# sendgrid-python test/unit/test_eventwebhook.py
SDK_KEY = "".join(
    [
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw",
        "+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
    ]
)
SDK_SIGNATURE = (
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
)
SDK_TIMESTAMP = 1600112502
VECTOR = fixture("sendgrid", "vector.json")
EVENTS = fixture("sendgrid", "events.json")
SIG = "X-Twilio-Email-Event-Webhook-Signature"
TS = "X-Twilio-Email-Event-Webhook-Timestamp"


def keypair() -> tuple[ec.EllipticCurvePrivateKey, str, str]:
    """(key, PEM private key, base64 DER public key as SendGrid shows it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return key, pem, base64.b64encode(der).decode()


KEY, PEM, PUBLIC = keypair()


def connector(*secrets: str, **options: Any) -> SendGridConnector:
    return SendGridConnector.from_config({"secrets": list(secrets or [PUBLIC]), **options})


def signer(**options: Any) -> SendGridConnector:
    return connector(PUBLIC, signing_key=PEM, **options)


def oracle(public_key: str, req: WebhookRequest) -> bool:
    try:
        return bool(
            EventWebhook(public_key).verify_signature(
                req.body.decode(), req.headers.get(SIG, ""), req.headers.get(TS, "")
            )
        )
    except Exception:  # noqa: BLE001 - bad base64 or DER is a "no"
        return False


def test_official_vector() -> None:
    req = WebhookRequest.build(VECTOR, {SIG: SDK_SIGNATURE, TS: str(SDK_TIMESTAMP)})
    connector(SDK_KEY).verify(req, SDK_TIMESTAMP)
    assert oracle(SDK_KEY, req)
    stripped = WebhookRequest.build(VECTOR.rstrip(b"\r\n"), dict(req.headers))
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(SDK_KEY).verify(stripped, SDK_TIMESTAMP)  # the trailing CRLF is signed
    [event] = connector(SDK_KEY).normalize(req)
    assert (event.type, event.dedup_key) == ("dropped", "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA")


def test_our_signature_passes_the_sdk() -> None:
    req = signed_request(signer(), EVENTS, now=NOW)
    signer().verify(req, NOW)
    assert oracle(PUBLIC, req)
    assert not oracle(keypair()[2], req)
    assert not oracle(PUBLIC, tamper(req))


def test_signature_by_hand_passes_ours() -> None:
    sig = KEY.sign(str(NOW).encode() + EVENTS, ec.ECDSA(hashes.SHA256()))
    req = WebhookRequest.build(EVENTS, {SIG: base64.b64encode(sig).decode(), TS: str(NOW)})
    assert oracle(PUBLIC, req)
    connector().verify(req, NOW)


def test_fan_out_with_own_dedup_keys() -> None:
    events = connector().normalize(signed_request(signer(), EVENTS, now=NOW))
    assert [e.type for e in events] == ["processed", "deferred", "delivered", "open", "click", "bounce"]
    assert len({e.dedup_key for e in events}) == 6
    assert events[0].dedup_key == events[0].provider_event_id == "rbtnWrG1DVDGGGFHFyun0A=="
    assert events[0].occurred_at is not None
    assert events[0].occurred_at.timestamp() == 1513299569


def test_event_without_id_is_keyed_by_its_json() -> None:
    body = b'[{"event": "open", "email": "a@example.com", "timestamp": 1}]\r\n'
    [event] = connector().normalize(WebhookRequest.build(body))
    assert event.dedup_key == sha256_of_parts(
        "sendgrid", '{"email":"a@example.com","event":"open","timestamp":1}'
    )
    assert event.provider_event_id is None


@pytest.mark.parametrize(("offset", "ok"), [(-600, True), (600, True), (-601, False), (601, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = signed_request(signer(), EVENTS, now=NOW + offset)
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)
        connector(tolerance_seconds=0).verify(req, NOW)


def test_rotation() -> None:
    _, other_pem, other_public = keypair()
    req = signed_request(connector(other_public, signing_key=other_pem), EVENTS, now=NOW)
    connector(PUBLIC, other_public).verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(PUBLIC).verify(req, NOW)


def test_key_forms() -> None:
    pem_public = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    req = signed_request(signer(), EVENTS, now=NOW)
    connector(pem_public).verify(req, NOW)
    der_private = base64.b64encode(
        KEY.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    ).decode()
    connector(PUBLIC, signing_key=der_private).verify(
        signed_request(connector(PUBLIC, signing_key=der_private), EVENTS, now=NOW), NOW
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"secrets": ["not base64!"]}, r"secrets\[0\]"),
        ({"secrets": [base64.b64encode(b"garbage").decode()]}, r"secrets\[0\]"),
        ({"secrets": [PUBLIC, "MFkw"]}, r"secrets\[1\]"),
        ({"secrets": [PUBLIC], "signing_key": "nope"}, "private key"),
        ({"secrets": [SDK_KEY], "signing_key": PEM}, "not among secrets"),
    ],
)
def test_bad_keys_are_config_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        SendGridConnector.from_config(options)


def test_p384_keys_are_refused() -> None:
    der = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValidationError, match="P-256"):
        connector(base64.b64encode(der).decode())


def test_sign_needs_the_test_only_key() -> None:
    with pytest.raises(ValueError, match="signing_key"):
        connector().sign(EVENTS, NOW)


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({SIG: SDK_SIGNATURE}, "missing_timestamp"),
        ({SIG: SDK_SIGNATURE, TS: "16e8"}, "malformed_timestamp"),
        ({SIG: SDK_SIGNATURE, TS: "\u0661"}, "malformed_timestamp"),
        ({SIG: "not base64!", TS: "1600112502"}, "malformed_signature"),
        ({SIG: "\udcff", TS: "1600112502"}, "malformed_signature"),
        ({SIG: "AAAA", TS: "1600112502"}, "bad_signature"),
        ({SIG: SDK_SIGNATURE, TS: "1600112503"}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector(SDK_KEY).verify(WebhookRequest.build(VECTOR, headers), SDK_TIMESTAMP)
    assert exc.value.cause == cause


@pytest.mark.parametrize(
    "body", [b"nope", b"{}", b"[]", b"[1]", b'[{"sg_event_id": "x"}]', b'[{"event": ""}]']
)
def test_normalize_rejects_unusable(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body))


def test_check_connector() -> None:
    events = check_connector(signer(), NOW)
    assert [e.type for e in events] == ["processed", "delivered"]
