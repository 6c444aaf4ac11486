"""Standard Webhooks and Svix: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

The signed content is `f"{id}.{timestamp}.{body}"`. `webhook-signature` is a
space-separated list of `<version>,<base64>`:

* `v1`: HMAC-SHA256 keyed with the secret `whsec_<base64>`, base64-decoded (a bare base64
  secret is accepted too);
* `v1a`: Ed25519, verified with a public key `whpk_<base64>`, or with the public half of
  a secret key `whsk_<base64>`.

`secrets` may mix all three forms (rotation, or a move from v1 to v1a); any match
verifies. Unknown versions are skipped. A `whsk_` key is only needed by `sign()` (tests,
`hookgate send-test`): production should list the `whpk_` public key instead.

Svix sends `svix-id`, `svix-timestamp`, `svix-signature`; each `svix-*` header wins over
its `webhook-*` twin, as in the svix library. The timestamp must be within
`tolerance_seconds` of now on both sides. Dedup is on the message id, stable across
retries; the event type is the body's `type`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import Field, SecretStr, field_validator
from typing_extensions import TypeVar

from connectors import (
    Connector,
    ConnectorOptions,
    MalformedPayloadError,
    ProviderEvent,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    utc_from_timestamp,
)
from connectors.toolkit import (
    MAX_TYPE_LENGTH,
    any_match,
    check_event_type,
    check_tolerance,
    hmac_digest,
    iso_utc,
    keyed_event,
    parse_timestamp,
    stable_id,
    to_bytes,
    verifies,
)

__all__ = [
    "StandardWebhooksConnector",
    "StandardWebhooksOptions",
    "WebhookKeys",
    "parse_keys",
    "sign_headers",
]


@dataclass(frozen=True, slots=True)
class WebhookKeys:
    """Decoded `secrets`: HMAC keys (v1), Ed25519 public keys and signing keys (v1a)."""

    hmac_keys: tuple[bytes, ...] = ()
    public_keys: tuple[Ed25519PublicKey, ...] = ()
    signing_keys: tuple[Ed25519PrivateKey, ...] = ()


def _b64(text: str, what: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None
    if not raw:
        raise ValueError(f"{what} is empty")
    return raw


def sign_headers(keys: WebhookKeys, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers of `body`, signed
    with every HMAC key (`v1`) and every `whsk_` key (`v1a`)."""
    signed = b".".join((msg_id.encode(), str(timestamp).encode(), body))
    tokens = ["v1," + base64.b64encode(hmac_digest(key, signed)).decode() for key in keys.hmac_keys]
    tokens += ["v1a," + base64.b64encode(k.sign(signed)).decode() for k in keys.signing_keys]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(tokens)}


def parse_keys(secrets: list[SecretStr]) -> WebhookKeys:
    """Decode `whsec_`/bare base64 (HMAC), `whpk_` and `whsk_` (Ed25519) keys.

    Raises ValueError naming the position of a key that cannot be decoded.
    """
    hmac_keys: list[bytes] = []
    public: list[Ed25519PublicKey] = []
    signing: list[Ed25519PrivateKey] = []
    for i, secret in enumerate(secrets):
        value = secret.get_secret_value().strip()
        what = f"secrets[{i}]"
        if value.startswith("whpk_"):
            raw = _b64(value[5:], what)
            if len(raw) != 32:
                raise ValueError(f"{what}: a whpk_ key is 32 bytes, got {len(raw)}")
            public.append(Ed25519PublicKey.from_public_bytes(raw))
        elif value.startswith("whsk_"):
            raw = _b64(value[5:], what)
            if len(raw) not in (32, 64):
                raise ValueError(f"{what}: a whsk_ key is 32 (seed) or 64 bytes, got {len(raw)}")
            key = Ed25519PrivateKey.from_private_bytes(raw[:32])
            pub = key.public_key()
            if len(raw) == 64 and pub.public_bytes(Encoding.Raw, PublicFormat.Raw) != raw[32:]:
                raise ValueError(f"{what}: the whsk_ key's public half does not match its seed")
            signing.append(key)
            public.append(pub)
        else:
            hmac_keys.append(_b64(value.removeprefix("whsec_"), what))
    return WebhookKeys(tuple(hmac_keys), tuple(public), tuple(signing))


class StandardWebhooksOptions(ConnectorOptions):
    secrets: list[SecretStr] = Field(
        min_length=1, description="whsec_/base64 (v1), whpk_ or whsk_ (v1a) keys; any may verify"
    )
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions")
    default_type: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_TYPE_LENGTH,
        description="event type when the body has no `type` (else such bodies are rejected)",
    )

    @field_validator("secrets")
    @classmethod
    def _decodable(cls, value: list[SecretStr]) -> list[SecretStr]:
        parse_keys(value)
        return value


_StandardWebhooksOptionsT_co = TypeVar(
    "_StandardWebhooksOptionsT_co",
    bound=StandardWebhooksOptions,
    default=StandardWebhooksOptions,
    covariant=True,
)


class StandardWebhooksConnector(Connector[_StandardWebhooksOptionsT_co]):
    name = "standard-webhooks"
    summary = "Standard Webhooks / Svix (v1 HMAC-SHA256, v1a Ed25519, rotation, tolerance)"

    def __init__(self, options: _StandardWebhooksOptionsT_co) -> None:
        super().__init__(options)
        self.keys = parse_keys(options.secrets)

    def verify(self, request: WebhookRequest, now: float) -> None:
        msg_id, ts_header, sig_header = _headers(request)
        if not (msg_id and ts_header and sig_header):
            raise VerificationError("missing_header")
        timestamp = parse_timestamp(ts_header)
        signed = b".".join((to_bytes(msg_id), to_bytes(ts_header), request.body))
        v1: list[bytes] = []
        v1a: list[bytes] = []
        for token in sig_header.split():
            version, sep, encoded = token.partition(",")
            if not sep:
                raise VerificationError("malformed_signature")
            if version not in ("v1", "v1a"):
                continue
            try:
                raw = base64.b64decode(to_bytes(encoded), validate=True)
            except (binascii.Error, ValueError):
                raise VerificationError("malformed_signature") from None
            (v1 if version == "v1" else v1a).append(raw)
        if not (v1 or v1a):
            raise VerificationError("missing_signature")
        expected = [hmac_digest(key, signed) for key in self.keys.hmac_keys]
        ok = any_match(expected, v1)
        for sig in v1a:
            ok |= len(sig) == 64 and any(verifies(k.verify, sig, signed) for k in self.keys.public_keys)
        if not ok:
            raise VerificationError("bad_signature")
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        msg_id = _headers(request)[0].strip()
        if not msg_id:
            raise MalformedPayloadError("missing_header", "webhook-id")
        payload = parse_json(request.body)
        raw_type = payload.get("type") if isinstance(payload, dict) else None
        if raw_type is not None:
            event_type = check_event_type(raw_type, "type")
        elif self.options.default_type is not None:
            event_type = self.options.default_type
        else:
            raise MalformedPayloadError("missing_field", "type")
        occurred = utc_from_timestamp(payload.get("timestamp")) if isinstance(payload, dict) else None
        return [keyed_event(event_type, payload, msg_id, delivery_id=msg_id, occurred_at=occurred)]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Sign with every HMAC key (`v1`) and every `whsk_` key (`v1a`).

        Raises ValueError when `secrets` holds only public keys, which cannot sign.
        """
        if not (self.keys.hmac_keys or self.keys.signing_keys):
            raise ValueError("no whsec_ or whsk_ key to sign with (whpk_ keys only verify)")
        msg_id = stable_id("msg_", body, now)
        headers = sign_headers(self.keys, msg_id, int(now), body)
        return SignedDelivery(body=body, headers={**headers, "Content-Type": "application/json"})

    def sample_body(self, now: float) -> bytes:
        event: dict[str, Any] = {
            "type": "invoice.paid",
            "timestamp": iso_utc(now),
            "data": {
                "id": "inv_2Q5NBdnJrVFsbLmT",
                "customer_id": "cus_8aGPJxYwM4Tb",
                "amount": 4200,
                "currency": "EUR",
            },
        }
        return json.dumps(event, indent=2).encode()


def _headers(request: WebhookRequest) -> tuple[str, str, str]:
    """(id, timestamp, signature); each `svix-*` header wins over its `webhook-*` twin."""
    h = request.headers
    msg_id = h.get("svix-id", h.get("webhook-id", ""))
    timestamp = h.get("svix-timestamp", h.get("webhook-timestamp", ""))
    signature = h.get("svix-signature", h.get("webhook-signature", ""))
    return msg_id, timestamp, signature
