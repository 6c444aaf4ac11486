"""PayPal: the signed string pinned by hand, RSA verification with `cryptography`, offline
certificates and their validity, the certificate URL allowlist, tolerance and rotation.

No working official oracle exists (paypalrestsdk's verify is deprecated and broken), so
the signature is produced and checked independently with `cryptography` here.
"""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.paypal import PayPalConnector
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import fixture

WEBHOOK_ID = "1JE4291016473214C"
BODY = fixture("paypal", "payment.capture.completed.json")
TRANSMISSION_ID = "69cd13f0-d67a-11e5-baa3-778b53f4ae55"
TRANSMISSION_TIME = "2023-11-14T22:13:20Z"  # NOW
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"


def make_cert(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, start: float = NOW - 86400, days: int = 365
) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.com")])
    not_before = datetime.fromtimestamp(start, UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode()


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CERT = make_cert(KEY)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def connector(*certs: str, **options: Any) -> PayPalConnector:
    return PayPalConnector.from_config(
        {"webhook_id": WEBHOOK_ID, "secrets": list(certs or [CERT]), **options}
    )


def signer(**options: Any) -> PayPalConnector:
    return connector(CERT, signing_key=pem(KEY), **options)


def headers(signature: bytes, **extra: str) -> dict[str, str]:
    return {
        "PAYPAL-TRANSMISSION-ID": TRANSMISSION_ID,
        "PAYPAL-TRANSMISSION-TIME": TRANSMISSION_TIME,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-CERT-URL": CERT_URL,
        **extra,
    }


def sign_by_hand(key: rsa.RSAPrivateKey, body: bytes, webhook_id: str = WEBHOOK_ID) -> bytes:
    crc = zlib.crc32(body) & 0xFFFFFFFF
    message = f"{TRANSMISSION_ID}|{TRANSMISSION_TIME}|{webhook_id}|{crc}".encode()
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def test_crc32_is_unsigned_decimal() -> None:
    assert zlib.crc32(b"The quick brown fox jumps over the lazy dog") & 0xFFFFFFFF == 1095738169
    assert zlib.crc32(b"\xff" * 4) & 0xFFFFFFFF == 4294967295 - 0  # high bit set: no sign


def test_known_signed_string_verifies() -> None:
    req = WebhookRequest.build(BODY, headers(sign_by_hand(KEY, BODY)))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "PAYMENT.CAPTURE.COMPLETED"
    assert event.dedup_key == event.provider_event_id == "WH-58D329510W468432D-8HN650336L201105X"
    assert event.delivery_id == TRANSMISSION_ID
    assert event.occurred_at == datetime(2019, 2, 14, 21, 50, 7, 940000, tzinfo=UTC)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(req), NOW)
    other_id = PayPalConnector.from_config({"webhook_id": "OTHER", "secrets": [CERT]})
    with pytest.raises(VerificationError, match="bad_signature"):
        other_id.verify(req, NOW)


def test_our_signature_verifies_with_the_certificate() -> None:
    req = signed_request(signer(), BODY, now=NOW)
    h = req.headers
    crc = zlib.crc32(BODY) & 0xFFFFFFFF
    message = f"{h['paypal-transmission-id']}|{h['paypal-transmission-time']}|{WEBHOOK_ID}|{crc}".encode()
    cert = x509.load_pem_x509_certificate(CERT.encode())
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        base64.b64decode(h["paypal-transmission-sig"]), message, padding.PKCS1v15(), hashes.SHA256()
    )
    connector().verify(req, NOW)


def test_rotation_of_certificates_and_webhook_ids() -> None:
    new_key = OTHER_KEY
    new_cert = make_cert(new_key)
    req = WebhookRequest.build(BODY, headers(sign_by_hand(new_key, BODY, "SANDBOXID")))
    c = PayPalConnector.from_config({"webhook_id": [WEBHOOK_ID, "SANDBOXID"], "secrets": [CERT, new_cert]})
    c.verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(CERT, new_cert).verify(req, NOW)
    # A chain in one PEM: every certificate in it is a candidate.
    connector(CERT + new_cert).verify(WebhookRequest.build(BODY, headers(sign_by_hand(new_key, BODY))), NOW)


def test_expired_or_future_certificates_are_not_used() -> None:
    expired = make_cert(KEY, start=NOW - 10 * 86400, days=5)
    future = make_cert(KEY, start=NOW + 86400)
    req = WebhookRequest.build(BODY, headers(sign_by_hand(KEY, BODY)))
    for cert in (expired, future):
        with pytest.raises(VerificationError, match="certificate_expired"):
            connector(cert).verify(req, NOW)
    connector(expired, CERT).verify(req, NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-600, True), (600, True), (-601, False), (601, False)])
def test_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = signed_request(signer(), BODY, now=NOW + offset)
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)
        connector(tolerance_seconds=0).verify(req, NOW)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        "https://evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
        "https://user@api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/other",
        "https://api.paypal.com:x/",
        "https://[::1/",
    ],
)
def test_untrusted_certificate_urls(url: str) -> None:
    req = WebhookRequest.build(BODY, headers(sign_by_hand(KEY, BODY), **{"PAYPAL-CERT-URL": url}))
    with pytest.raises(VerificationError, match="untrusted_cert_url"):
        connector().verify(req, NOW)


def test_certificate_url_for_a_future_fetcher() -> None:
    sandbox = "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1"
    req = WebhookRequest.build(BODY, {"PAYPAL-CERT-URL": sandbox})
    assert connector().certificate_url(req) == sandbox


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"PAYPAL-TRANSMISSION-SIG": ""}, "missing_signature"),
        ({"PAYPAL-TRANSMISSION-ID": ""}, "missing_header"),
        ({"PAYPAL-TRANSMISSION-TIME": " "}, "missing_header"),
        ({"PAYPAL-AUTH-ALGO": "SHA1withRSA"}, "unsupported_algorithm"),
        ({"PAYPAL-AUTH-ALGO": ""}, "unsupported_algorithm"),
        ({"PAYPAL-CERT-URL": ""}, "missing_cert_url"),
        ({"PAYPAL-TRANSMISSION-TIME": "yesterday"}, "malformed_timestamp"),
        ({"PAYPAL-TRANSMISSION-TIME": "2023-11-14T22:13:20"}, "malformed_timestamp"),
        ({"PAYPAL-TRANSMISSION-TIME": "\u0662023-11-14T22:13:20Z"}, "malformed_timestamp"),
        ({"PAYPAL-TRANSMISSION-SIG": "not base64!"}, "malformed_signature"),
        ({"PAYPAL-TRANSMISSION-SIG": "\udcff"}, "malformed_signature"),
        ({"PAYPAL-TRANSMISSION-SIG": "AAAA"}, "bad_signature"),
    ],
)
def test_garbled_headers(changes: dict[str, str], cause: str) -> None:
    req = WebhookRequest.build(BODY, {**headers(sign_by_hand(KEY, BODY)), **changes})
    with pytest.raises(VerificationError) as exc:
        connector().verify(req, NOW)
    assert exc.value.cause == cause


def test_auth_algo_is_case_insensitive() -> None:
    req = WebhookRequest.build(
        BODY, headers(sign_by_hand(KEY, BODY), **{"PAYPAL-AUTH-ALGO": "sha256withrsa"})
    )
    connector().verify(req, NOW)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"webhook_id": WEBHOOK_ID, "secrets": ["not a cert"]}, r"secrets\[0\]"),
        ({"webhook_id": WEBHOOK_ID, "secrets": [make_cert(ec.generate_private_key(ec.SECP256R1()))]}, "RSA"),
        ({"webhook_id": "", "secrets": [CERT]}, "webhook id"),
        ({"webhook_id": "a|b", "secrets": [CERT]}, "webhook id"),
        ({"webhook_id": WEBHOOK_ID, "secrets": [CERT], "signing_key": "nope"}, "PEM private key"),
        (
            {
                "webhook_id": WEBHOOK_ID,
                "secrets": [CERT],
                "signing_key": pem(OTHER_KEY),
            },
            "does not belong",
        ),
    ],
)
def test_bad_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        PayPalConnector.from_config(options)


def test_sign_needs_the_test_only_key() -> None:
    with pytest.raises(ValueError, match="signing_key"):
        connector().sign(BODY, NOW)


def test_dedup_fallbacks() -> None:
    body = b'{"event_type": "CHECKOUT.ORDER.APPROVED"}'
    [event] = connector().normalize(WebhookRequest.build(body, {"PAYPAL-TRANSMISSION-ID": "t-1"}))
    assert event.dedup_key == "t-1"
    [event] = connector().normalize(WebhookRequest.build(body))
    assert event.dedup_key == sha256_of_parts("paypal", body)


@pytest.mark.parametrize("body", [b"nope", b"[]", b'{"id": "WH-1"}', b'{"event_type": 1}'])
def test_normalize_rejects_unusable(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body))


def test_check_connector() -> None:
    [event] = check_connector(signer(), NOW)
    assert event.type == "PAYMENT.CAPTURE.COMPLETED"
