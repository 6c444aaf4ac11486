"""PayPal: RSA-SHA256 over `transmission_id|transmission_time|webhook_id|crc32(body)`.

PayPal sends `PAYPAL-TRANSMISSION-ID`, `PAYPAL-TRANSMISSION-TIME` (RFC 3339),
`PAYPAL-TRANSMISSION-SIG` (base64), `PAYPAL-AUTH-ALGO` (`SHA256withRSA`) and
`PAYPAL-CERT-URL`. The signed string joins the transmission id, the transmission time,
*your* webhook id (from the developer dashboard) and the CRC32 of the raw body as an
unsigned decimal, with `|`. It is verified (PKCS#1 v1.5, SHA-256) with PayPal's signing
certificate.

Connectors are sans-I/O, so in this version the certificate is configured offline:
`secrets` holds PayPal's signing certificate(s) as PEM (inline or `file:`), and a
certificate outside its validity period at the time of verification is not used.
`PAYPAL-CERT-URL` must still name an HTTPS URL on one of PayPal's certificate hosts
(`certificate_url()` returns it, checked, for a future cached fetch by the gateway).
Several webhook ids (`webhook_id`) and several certificates may be listed (rotation, a
sandbox and a live webhook on one URL).

The transmission time must be within `tolerance_seconds` of now, on both sides. Dedup is
on the body's `id` (`WH-…`, kept across PayPal's retries); the event type is the body's
`event_type` (`PAYMENT.CAPTURE.COMPLETED`).

`signing_key` (an RSA private key matching a configured certificate) is for tests and
`hookgate send-test` only: PayPal holds the real private key.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors import (
    Connector,
    ConnectorOptions,
    MalformedPayloadError,
    ProviderEvent,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    check_each,
    check_event_type,
    check_tolerance,
    iso_utc,
    json_object,
    load_private_key,
    parse_iso_timestamp,
    spki,
    stable_id,
    to_bytes,
    verifies,
)

__all__ = ["CERT_HOSTS", "PayPalConnector", "PayPalOptions", "load_certificates"]

#: Hosts PayPal serves its webhook signing certificates from (HTTPS only).
CERT_HOSTS = frozenset(
    {"api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com"}
)
_ALGORITHMS = {"SHA256WITHRSA": hashes.SHA256}
_SAMPLE_CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in a PEM text; ValueError if none, or one without an RSA key."""
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValueError("not a PEM certificate") from None
    for cert in certs:
        try:
            key = cert.public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise ValueError("certificate with an unreadable public key") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("PayPal signs with RSA; the certificate's key is not RSA")  # noqa: TRY004 - pydantic reports ValueError
    return certs


def _load_signing_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = load_private_key(pem, der=False)
    except ValueError as exc:
        raise ValueError(f"signing_key is {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("signing_key is not an RSA key")  # noqa: TRY004 - pydantic reports ValueError
    return key


class PayPalOptions(ConnectorOptions):
    webhook_id: list[str] = Field(
        min_length=1, description="your webhook's id from the PayPal dashboard (a list: several)"
    )
    secrets: list[SecretStr] = Field(
        min_length=1, description="PayPal's signing certificate(s), PEM (inline or file:)"
    )
    tolerance_seconds: int = Field(600, ge=0, description="max clock skew of the transmission time")
    signing_key: SecretStr | None = Field(
        None, description="test-only: RSA private key (PEM) of a configured certificate, for sign()"
    )

    @field_validator("webhook_id", "secrets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | SecretStr) else value

    @field_validator("webhook_id")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        if any(not v.strip() or "|" in v for v in value):
            raise ValueError("a webhook id is non-empty and has no '|'")
        return [v.strip() for v in value]

    @field_validator("secrets")
    @classmethod
    def _certificates(cls, value: list[SecretStr]) -> list[SecretStr]:
        return check_each(value, load_certificates)

    @model_validator(mode="after")
    def _signing_key_matches(self) -> Self:
        if self.signing_key is not None:
            public = spki(_load_signing_key(self.signing_key.get_secret_value()).public_key())
            known = {
                spki(c.public_key()) for s in self.secrets for c in load_certificates(s.get_secret_value())
            }
            if public not in known:
                raise ValueError("signing_key does not belong to any certificate in secrets")
        return self


class PayPalConnector(Connector[PayPalOptions]):
    name = "paypal"
    summary = "PayPal webhooks (RSA-SHA256 transmission signature, offline certificates, webhook id)"

    def __init__(self, options: PayPalOptions) -> None:
        super().__init__(options)
        self.certificates = [c for s in options.secrets for c in load_certificates(s.get_secret_value())]
        self.signing_key = (
            _load_signing_key(options.signing_key.get_secret_value()) if options.signing_key else None
        )

    def certificate_url(self, request: WebhookRequest) -> str:
        """`PAYPAL-CERT-URL`, checked: HTTPS on one of PayPal's certificate hosts.

        Raises VerificationError otherwise. A gateway-side certificate cache fetches only
        URLs that pass this check.
        """
        url = request.headers.get("paypal-cert-url", "").strip()
        if not url:
            raise VerificationError("missing_cert_url")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise VerificationError("untrusted_cert_url") from None
        host = (parts.hostname or "").lower()
        if (
            parts.scheme != "https"
            or host not in CERT_HOSTS
            or port not in (None, 443)
            or parts.username is not None
            or parts.password is not None
            or not parts.path.startswith("/v1/notifications/certs/")
        ):
            raise VerificationError("untrusted_cert_url")
        return url

    def verify(self, request: WebhookRequest, now: float) -> None:
        h = request.headers
        transmission_id = h.get("paypal-transmission-id", "").strip()
        transmission_time = h.get("paypal-transmission-time", "").strip()
        signature = h.get("paypal-transmission-sig", "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        if not (transmission_id and transmission_time):
            raise VerificationError("missing_header")
        algorithm = _ALGORITHMS.get(h.get("paypal-auth-algo", "").strip().upper())
        if algorithm is None:
            raise VerificationError("unsupported_algorithm")
        self.certificate_url(request)
        sent_at = parse_iso_timestamp(transmission_time, naive_is_utc=False)
        try:
            raw = base64.b64decode(to_bytes(signature), validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError("malformed_signature") from None
        moment = datetime.fromtimestamp(now, UTC) if 0 <= now < 253402300800 else None
        current = [
            c
            for c in self.certificates
            if moment is not None and c.not_valid_before_utc <= moment <= c.not_valid_after_utc
        ]
        if not current:
            raise VerificationError("certificate_expired")
        crc = zlib.crc32(request.body) & 0xFFFFFFFF
        ok = False
        for webhook_id in self.options.webhook_id:
            signed = to_bytes(f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}")
            for cert in current:
                key: Any = cert.public_key()  # RSA, as checked when the options were validated
                ok |= verifies(key.verify, raw, signed, padding.PKCS1v15(), algorithm())
        if not ok:
            raise VerificationError("bad_signature")
        check_tolerance(int(sent_at), now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        event = json_object(request.body)
        if event.get("event_type") is None:
            raise MalformedPayloadError("missing_field", "event_type")
        event_type = check_event_type(event["event_type"], "event_type")
        event_id = event.get("id")
        if not (isinstance(event_id, str) and event_id):
            event_id = None
        transmission = request.headers.get("paypal-transmission-id", "").strip() or None
        return [
            ProviderEvent(
                type=event_type,
                payload=event,
                dedup_key=event_id or transmission or sha256_of_parts(self.name, request.body),
                provider_event_id=event_id,
                delivery_id=transmission,
                occurred_at=utc_from_timestamp(event.get("create_time")),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Sign with `signing_key` (a test-only option) for the first webhook id."""
        if self.signing_key is None:
            raise ValueError("sign() needs signing_key (PayPal holds the real private key)")
        transmission_id = stable_id("", body, now)[:8] + "-2a4f-11ee-9d5c-" + stable_id("", b"", now)[:12]
        transmission_time = iso_utc(now)
        crc = zlib.crc32(body) & 0xFFFFFFFF
        signed = f"{transmission_id}|{transmission_time}|{self.options.webhook_id[0]}|{crc}".encode()
        signature = self.signing_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        return SignedDelivery(
            body=body,
            headers={
                "PAYPAL-TRANSMISSION-ID": transmission_id,
                "PAYPAL-TRANSMISSION-TIME": transmission_time,
                "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
                "PAYPAL-AUTH-ALGO": "SHA256withRSA",
                "PAYPAL-CERT-URL": _SAMPLE_CERT_URL,
                "Content-Type": "application/json",
                "User-Agent": "PayPal/AUHD-214.0-58527030",
            },
        )

    def sample_body(self, now: float) -> bytes:
        created = iso_utc(now)
        event = {
            "id": "WH-" + stable_id("", b"paypal", now)[:17].upper(),
            "create_time": created,
            "resource_type": "capture",
            "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "summary": "Payment completed for $ 2.51 USD",
            "resource": {
                "id": "27M47624FP291604U",
                "status": "COMPLETED",
                "amount": {"currency_code": "USD", "value": "2.51"},
                "final_capture": True,
                "create_time": created,
                "update_time": created,
            },
            "event_version": "1.0",
            "resource_version": "2.0",
        }
        return json.dumps(event, indent=2).encode()
