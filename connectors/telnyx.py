"""Telnyx: `telnyx-signature-ed25519: <base64>` over `f"{telnyx-timestamp}|{body}"`.

An Ed25519 signature checked with the account's public key (Mission Control → Keys &
Credentials → Public Key: 32 bytes, base64). Several keys may be listed (accounts
feeding one source, or a move to another account). The timestamp (unix seconds) is
signed and must be within `tolerance_seconds` of now on both sides (300 s, as in the
Telnyx SDKs).

The dedup key is `data.id` (one per event, kept across retries); the event type is
`data.event_type` (`message.received`, `call.initiated`, `call.hangup`, ...) and
`occurred_at` `data.occurred_at`. Verification needs only public keys; `sign()` (tests,
`hookgate send-test`) needs a private seed in `signing_keys`.
"""

from __future__ import annotations

import base64
import binascii
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, SecretStr, field_validator

from connectors import (
    Connector,
    ConnectorOptions,
    ProviderEvent,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    utc_from_timestamp,
)
from connectors.toolkit import (
    SecretList,
    check_each,
    check_tolerance,
    delivery_uuid,
    iso_utc,
    json_object,
    keyed_event,
    lookup,
    parse_timestamp,
    to_bytes,
    typed_id,
    verifies,
)

__all__ = ["TelnyxConnector", "TelnyxOptions"]


def _raw32(value: str) -> bytes:
    """32 raw key bytes from base64 (as Telnyx shows a public key)."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 key is 32 bytes, got {len(raw)}")
    return raw


class TelnyxOptions(ConnectorOptions):
    secrets: SecretList = Field(min_length=1, description="Telnyx public key(s), base64")
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions")
    signing_keys: SecretList = Field(
        default_factory=list,
        description="Ed25519 private seeds (base64), only for sign(): tests and hookgate send-test",
    )

    @field_validator("secrets")
    @classmethod
    def _public_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        return check_each(value, _raw32)

    @field_validator("signing_keys")
    @classmethod
    def _seeds(cls, value: list[SecretStr]) -> list[SecretStr]:
        return check_each(value, _raw32, name="signing_keys")


class TelnyxConnector(Connector[TelnyxOptions]):
    name = "telnyx"
    summary = "Telnyx webhooks (Ed25519 over the timestamp and body, tolerance, several keys)"

    def __init__(self, options: TelnyxOptions) -> None:
        super().__init__(options)
        self.public_keys = [
            Ed25519PublicKey.from_public_bytes(_raw32(k.get_secret_value())) for k in options.secrets
        ]
        self.signing_keys = [
            Ed25519PrivateKey.from_private_bytes(_raw32(k.get_secret_value())) for k in options.signing_keys
        ]

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get("telnyx-signature-ed25519", "").strip()
        stamp = request.headers.get("telnyx-timestamp", "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        if not stamp:
            raise VerificationError("missing_timestamp")
        timestamp = parse_timestamp(stamp)
        try:
            raw = base64.b64decode(to_bytes(signature), validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError("malformed_signature") from None
        signed = to_bytes(stamp) + b"|" + request.body
        if len(raw) != 64 or not any(verifies(key.verify, raw, signed) for key in self.public_keys):
            raise VerificationError("bad_signature")
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type, event_id = typed_id(payload, "data.event_type", "data.id")
        occurred = utc_from_timestamp(lookup(payload, "data.occurred_at"))
        return [keyed_event(event_type, payload, event_id, occurred_at=occurred)]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Sign with the first `signing_keys` seed; ValueError when there is none."""
        if not self.signing_keys:
            raise ValueError("telnyx needs signing_keys (an Ed25519 seed) to sign")
        stamp = str(int(now))
        signature = self.signing_keys[0].sign(stamp.encode() + b"|" + body)
        headers = {
            "Content-Type": "application/json",
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
            "telnyx-timestamp": stamp,
        }
        return SignedDelivery(body=body, headers=headers)

    def sample_body(self, now: float) -> bytes:
        event = {
            "data": {
                "event_type": "message.received",
                "id": delivery_uuid(b"telnyx", now),
                "occurred_at": iso_utc(now, "milliseconds").replace("Z", "+00:00"),
                "payload": {
                    "direction": "inbound",
                    "from": {
                        "carrier": "T-Mobile USA",
                        "line_type": "long_code",
                        "phone_number": "+13125550001",
                    },
                    "id": "b0c7e8cb-6227-4c74-9f32-c7f80c30934b",
                    "messaging_profile_id": "740572b6-099c-44a1-89b9-6c92163bc68d",
                    "record_type": "message",
                    "text": "Hello from Telnyx!",
                    "to": [{"phone_number": "+17735550002", "status": "webhook_delivered"}],
                    "type": "SMS",
                },
                "record_type": "event",
            },
            "meta": {"attempt": 1, "delivered_to": "https://hooks.example.com/webhooks/telnyx"},
        }
        return json.dumps(event, indent=2).encode()
