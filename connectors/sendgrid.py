"""SendGrid Event Webhook: ECDSA P-256 / SHA-256 over `timestamp + body`.

`X-Twilio-Email-Event-Webhook-Signature` is a base64 DER ECDSA signature and
`X-Twilio-Email-Event-Webhook-Timestamp` the unix time it covers. The signed content is
the timestamp header followed by the raw body, including SendGrid's trailing `\\r\\n`.
`secrets` holds the verification keys exactly as SendGrid shows them (base64 DER
SubjectPublicKeyInfo); several keys verify during a rotation or when several signed
webhooks share the URL. The SDK checks no timestamp window; here it must be within
`tolerance_seconds` of now, on both sides.

`signing_key` (a P-256 private key, PEM or base64 DER PKCS#8) is for tests and
`hookgate send-test` only: SendGrid holds the real private key.

The body is a JSON array of events; each becomes one event of type `event` (`delivered`,
`open`, `bounce`, …), deduplicated on its `sg_event_id` (else a hash of its JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Self

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import check_each, check_event_type, check_tolerance, parse_timestamp, to_bytes
from connectors.toolkit import keys as _keys

__all__ = ["SendGridConnector", "SendGridOptions", "load_private_key", "load_public_key"]

_SIG_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
_TS_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_ECDSA = ec.ECDSA(hashes.SHA256())


def load_public_key(value: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from SendGrid's base64 DER form (PEM armour tolerated)."""
    key = _keys.load_public_key(value)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not a P-256 (prime256v1) public key")
    return key


def load_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key, PEM or base64 DER (PKCS#8 or SEC1)."""
    key = _keys.load_private_key(value)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("not a P-256 (prime256v1) private key")
    return key


class SendGridOptions(SecretsOptions):
    secrets: list[SecretStr] = Field(
        min_length=1, description="verification keys (base64 DER), as shown by SendGrid; any may verify"
    )
    tolerance_seconds: int = Field(600, ge=0, description="max clock skew of the signed timestamp, both ways")
    signing_key: SecretStr | None = Field(
        None, description="test-only: P-256 private key (PEM or base64 DER) used by sign()"
    )

    @field_validator("secrets")
    @classmethod
    def _public_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        return check_each(value, load_public_key)

    @model_validator(mode="after")
    def _signing_key_matches(self) -> Self:
        if self.signing_key is not None:
            public = _keys.spki(load_private_key(self.signing_key.get_secret_value()).public_key())
            if public not in {_keys.spki(load_public_key(s.get_secret_value())) for s in self.secrets}:
                raise ValueError("signing_key's public key is not among secrets")
        return self


class SendGridConnector(Connector[SendGridOptions]):
    name = "sendgrid"
    summary = "SendGrid Event Webhook (ECDSA P-256 signature, timestamp, batch fan-out, rotation)"

    def __init__(self, options: SendGridOptions) -> None:
        super().__init__(options)
        self.public_keys = [load_public_key(s.get_secret_value()) for s in options.secrets]
        self.signing_key = (
            load_private_key(options.signing_key.get_secret_value()) if options.signing_key else None
        )

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get(_SIG_HEADER, "").strip()
        ts_header = request.headers.get(_TS_HEADER, "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        if not ts_header:
            raise VerificationError("missing_timestamp")
        timestamp = parse_timestamp(ts_header)
        try:
            der = base64.b64decode(to_bytes(signature), validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError("malformed_signature") from None
        signed = to_bytes(ts_header) + request.body
        ok = False
        for key in self.public_keys:
            ok |= _keys.verifies(key.verify, der, signed, _ECDSA)
        if not ok:
            raise VerificationError("bad_signature")
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        events = parse_json(request.body)
        if not isinstance(events, list):
            raise MalformedPayloadError("not_an_array")
        if not events:
            raise MalformedPayloadError("empty_batch")
        return [self._event(item) for item in events]

    def _event(self, item: Any) -> ProviderEvent:
        if not isinstance(item, dict):
            raise MalformedPayloadError("not_an_object")
        if item.get("event") is None:
            raise MalformedPayloadError("missing_field", "event")
        event_id = item.get("sg_event_id")
        if not (isinstance(event_id, str) and event_id):
            event_id = None
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"))
        return ProviderEvent(
            type=check_event_type(item["event"], "event"),
            payload=item,
            dedup_key=event_id or sha256_of_parts(self.name, canonical),
            provider_event_id=event_id,
            occurred_at=utc_from_timestamp(item.get("timestamp")),
        )

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Sign with `signing_key` (a test-only option); raises ValueError without one."""
        if self.signing_key is None:
            raise ValueError("sign() needs signing_key (SendGrid holds the real private key)")
        timestamp = str(int(now))
        signature = self.signing_key.sign(timestamp.encode() + body, _ECDSA)
        return SignedDelivery(
            body=body,
            headers={
                _SIG_HEADER: base64.b64encode(signature).decode(),
                _TS_HEADER: timestamp,
                "Content-Type": "application/json",
                "User-Agent": "SendGrid Event API",
            },
        )

    def sample_body(self, now: float) -> bytes:
        ts = int(now)
        base = {
            "email": "jane.doe@example.com",
            "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
            "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
            "category": ["welcome"],
        }
        events = [
            {**base, "event": "processed", "timestamp": ts - 2, "sg_event_id": f"cHJvY2Vzc2VkLTE{ts:x}"},
            {
                **base,
                "event": "delivered",
                "timestamp": ts - 1,
                "sg_event_id": f"ZGVsaXZlcmVkLTA{ts:x}",
                "response": "250 OK",
            },
        ]
        return json.dumps(events, separators=(",", ":")).encode() + b"\r\n"
