"""Discord: `X-Signature-Ed25519: <hex>` over `X-Signature-Timestamp` + raw body.

An Ed25519 signature checked with the application's Public Key (64 hex characters, as the
Developer Portal shows it). Several keys may be listed (several applications feeding one
source, or a move to a new application). The timestamp (unix seconds) is signed and
must be within `tolerance_seconds` of now, on both sides (Discord specifies no window).

One source serves either endpoint Discord offers:

* Interactions endpoint: PING `{"type": 1}` (no `event`) is answered `{"type": 1}`;
  other interactions become `interaction.<kind>` (`interaction.application_command`,
  `interaction.message_component`, ...) deduplicated on the interaction `id`.
* Webhook Events endpoint: PING `{"type": 0}` is answered `204`; events (`type: 1`) become
  `event.type` (`APPLICATION_AUTHORIZED`, `ENTITLEMENT_CREATE`, ...) deduplicated on a
  hash of the body (Discord sends no id), and are acknowledged `204` with no body, as
  Discord asks.

Handshakes are only answered to correctly signed requests: Discord probes the endpoint
with bad signatures and expects `401`. The connector verifies with public keys only;
`sign()` (tests, `hookgate send-test`) needs the private seed in `signing_keys`.
"""

from __future__ import annotations

import binascii
import json
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, SecretStr, field_validator

from connectors import (
    Connector,
    ConnectorOptions,
    ConnectorResponse,
    MalformedPayloadError,
    ProviderEvent,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    SecretList,
    check_event_type,
    check_tolerance,
    json_object,
    json_or_none,
    parse_timestamp,
    to_bytes,
    verifies,
)

__all__ = ["DiscordConnector", "DiscordOptions"]

_INTERACTION_KINDS = {
    2: "application_command",
    3: "message_component",
    4: "application_command_autocomplete",
    5: "modal_submit",
}


def _hex32(value: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        raise ValueError(f"{what} is not hex") from None
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes (64 hex characters), got {len(raw)}")
    return raw


class DiscordOptions(ConnectorOptions):
    secrets: SecretList = Field(
        min_length=1, description="the application Public Key(s), hex, as the Developer Portal shows them"
    )
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew of the signed timestamp")
    signing_keys: SecretList = Field(
        default_factory=list,
        description="Ed25519 private seeds (hex), only for sign(): tests and hookgate send-test",
    )

    @field_validator("secrets")
    @classmethod
    def _public_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for i, key in enumerate(value):
            _hex32(key.get_secret_value(), f"secrets[{i}]")
        return value

    @field_validator("signing_keys")
    @classmethod
    def _seeds(cls, value: list[SecretStr]) -> list[SecretStr]:
        for i, key in enumerate(value):
            _hex32(key.get_secret_value(), f"signing_keys[{i}]")
        return value


class DiscordConnector(Connector[DiscordOptions]):
    name = "discord"
    summary = "Discord interactions and Webhook Events (Ed25519, PING handshakes)"

    def __init__(self, options: DiscordOptions) -> None:
        super().__init__(options)
        self.public_keys = [
            Ed25519PublicKey.from_public_bytes(_hex32(k.get_secret_value(), "secrets"))
            for k in options.secrets
        ]
        self.signing_keys = [
            Ed25519PrivateKey.from_private_bytes(_hex32(k.get_secret_value(), "signing_keys"))
            for k in options.signing_keys
        ]

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if b'"type"' not in request.body or len(request.body) > 4096:
            return None
        self.verify(request, now)
        payload = json_or_none(request.body)
        if not isinstance(payload, dict) or "event" in payload:
            return None
        kind = payload.get("type")
        if kind == 0 and not isinstance(kind, bool):
            return ConnectorResponse(204)
        if kind == 1 and not isinstance(kind, bool):
            return ConnectorResponse.json({"type": 1})
        return None

    def acknowledge(self, request: WebhookRequest) -> ConnectorResponse | None:
        payload = json_or_none(request.body)
        if isinstance(payload, dict) and "event" in payload:  # the Webhook Events endpoint
            return ConnectorResponse(204)
        return None

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get("x-signature-ed25519", "").strip()
        ts_header = request.headers.get("x-signature-timestamp", "")
        if not signature:
            raise VerificationError("missing_signature")
        if not ts_header.strip():
            raise VerificationError("missing_timestamp")
        timestamp = parse_timestamp(ts_header)
        try:
            raw = binascii.unhexlify(to_bytes(signature))
        except (binascii.Error, ValueError):
            raise VerificationError("malformed_signature") from None
        if len(raw) != 64:
            raise VerificationError("malformed_signature")
        signed = to_bytes(ts_header) + request.body
        ok = False
        for key in self.public_keys:
            ok |= verifies(key.verify, raw, signed)
        if not ok:
            raise VerificationError("bad_signature")
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event = payload.get("event")
        if isinstance(event, dict):
            return [
                ProviderEvent(
                    type=check_event_type(event.get("type"), "event.type"),
                    payload=payload,
                    dedup_key=sha256_of_parts(self.name, request.body),
                    occurred_at=utc_from_timestamp(event.get("timestamp")),
                )
            ]
        kind = payload.get("type")
        interaction_id = payload.get("id")
        if not isinstance(kind, int) or isinstance(kind, bool) or kind not in _INTERACTION_KINDS:
            raise MalformedPayloadError("unknown_type", "type")
        if not (isinstance(interaction_id, str) and interaction_id):
            raise MalformedPayloadError("missing_field", "id")
        return [
            ProviderEvent(
                type=f"interaction.{_INTERACTION_KINDS[kind]}",
                payload=payload,
                dedup_key=interaction_id,
                provider_event_id=interaction_id,
                occurred_at=_snowflake_time(interaction_id),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Sign with every key in `signing_keys`; Discord itself sends one signature."""
        if not self.signing_keys:
            raise ValueError("sign() needs signing_keys (a private seed); secrets only verify")
        timestamp = str(int(now))
        signature = self.signing_keys[0].sign(timestamp.encode() + body).hex()
        return SignedDelivery(
            body=body,
            headers={
                "X-Signature-Ed25519": signature,
                "X-Signature-Timestamp": timestamp,
                "Content-Type": "application/json",
                "User-Agent": "Discord-Webhook/1.0 (+https://discord.com)",
            },
        )

    def sample_body(self, now: float) -> bytes:
        stamp = datetime.fromtimestamp(int(now), UTC).isoformat()
        event: dict[str, Any] = {
            "version": 1,
            "application_id": "1234560123453231555",
            "type": 1,
            "event": {
                "type": "APPLICATION_AUTHORIZED",
                "timestamp": stamp,
                "data": {
                    "integration_type": 1,
                    "scopes": ["applications.commands"],
                    "user": {
                        "id": "53908232506183680",
                        "username": "Mason",
                        "avatar": "a_d5efa99b3eeaa7dd43acca82f5692432",
                        "discriminator": "0",
                        "global_name": "Mason",
                        "public_flags": 131141,
                    },
                },
            },
        }
        return json.dumps(event, indent=2).encode()


_DISCORD_EPOCH_MS = 1_420_070_400_000


def _snowflake_time(snowflake: str) -> datetime | None:
    if not (snowflake.isascii() and snowflake.isdigit()) or len(snowflake) > 20:
        return None
    return utc_from_timestamp(((int(snowflake) >> 22) + _DISCORD_EPOCH_MS) / 1000)
