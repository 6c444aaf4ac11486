"""DocuSign Connect: `X-DocuSign-Signature-<n>: <base64>`, HMAC-SHA256 of the raw body.

A Connect configuration with *Include HMAC Signature* on signs every message with each
of the account's active Connect keys (up to 100), in `X-DocuSign-Signature-1`,
`X-DocuSign-Signature-2`, ...; a delivery verifies when any of those matches any
configured key (UTF-8 bytes), which is how a key is rotated: add the new key in DocuSign
and here, then remove the old one.

DocuSign signs no timestamp. The dedup key is a hash of the event, the envelope id and
`generatedDateTime` (kept when a message is retried: `retryCount` changes), else a hash
of the raw body. The event type is the body's `event` (`envelope-sent`,
`envelope-completed`, `recipient-completed`, ...), from the JSON (SIM) format.
"""

from __future__ import annotations

import json
import re

from connectors import (
    ProviderEvent,
    SecretsOptions,
    VerificationError,
    WebhookRequest,
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BodyHmacConnector,
    check_hmac,
    delivery_uuid,
    iso_utc,
    json_object,
    lookup,
    optional_id,
    required_type,
    to_bytes,
)

__all__ = ["DocuSignConnector", "DocuSignOptions"]

_SIGNATURE = re.compile(r"x-docusign-signature-\d{1,3}")


class DocuSignOptions(SecretsOptions):
    """Only `secrets`: the account's Connect HMAC key(s)."""


class DocuSignConnector(BodyHmacConnector[DocuSignOptions]):
    name = "docusign"
    summary = "DocuSign Connect (X-DocuSign-Signature-N, base64 HMAC-SHA256, up to 100 keys)"
    signature_header = "X-DocuSign-Signature-1"
    encoding = "base64"

    def verify(self, request: WebhookRequest, now: float) -> None:
        candidates = [
            to_bytes(value.strip())
            for name, value in request.headers.raw()
            if _SIGNATURE.fullmatch(name) and value.strip()
        ]
        if not candidates:
            raise VerificationError("missing_signature")
        check_hmac(secret_values(self.options.secrets), request.body, candidates, encoding="base64")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type = required_type(payload, "event")
        envelope = optional_id(lookup(payload, "data.envelopeId"))
        generated = optional_id(payload.get("generatedDateTime"))
        parts = (event_type, envelope, generated) if envelope and generated else (request.body,)
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=sha256_of_parts(self.name, *parts),
                occurred_at=utc_from_timestamp(generated),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        """A signature per key after the first (`X-DocuSign-Signature-2`, ...)."""
        keys = secret_values(self.options.secrets)[1:]
        return {f"X-DocuSign-Signature-{i}": self.digest(key, body).decode() for i, key in enumerate(keys, 2)}

    def sample_body(self, now: float) -> bytes:
        account = "8f8e04b5-5c26-4a6b-8bd1-6bd0a1c0a9e1"
        envelope = delivery_uuid(b"envelope", now)
        message = {
            "event": "envelope-completed",
            "apiVersion": "v2.1",
            "uri": f"/restapi/v2.1/accounts/{account}/envelopes/{envelope}",
            "retryCount": 0,
            "configurationId": 10418,
            "generatedDateTime": iso_utc(now, "milliseconds"),
            "data": {
                "accountId": account,
                "userId": "2c9d4b30-7a7a-4c6e-9d6e-0f3e0b1f7c55",
                "envelopeId": envelope,
                "envelopeSummary": {"status": "completed", "emailSubject": "Please sign: NDA"},
            },
        }
        return json.dumps(message, indent=2).encode()
