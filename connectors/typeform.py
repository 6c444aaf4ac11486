"""Typeform: `Typeform-Signature: sha256=<base64>`, HMAC-SHA256 of the raw body.

Base64, not hex. The key is the secret you set on the webhook (Connect > Webhooks > Edit
> Secret, or the `secret` field of the Webhooks API), as UTF-8 bytes. Typeform sends one
signature; list the old and the new secret while you change it.

Typeform signs no timestamp, so replay protection is dedup on the body's `event_id`
(falling back to `form_response.token`, then to a hash of the body). The event type is
`event_type` (`form_response`, `form_response_partial`), and `occurred_at` the response's
`submitted_at`.
"""

from __future__ import annotations

import json

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BodyHmacConnector,
    iso_utc,
    json_object,
    lookup,
    optional_id,
    optional_type,
    stable_id,
)

__all__ = ["TypeformConnector", "TypeformOptions"]


class TypeformOptions(SecretsOptions):
    """Only `secrets`: the webhook secret(s)."""


class TypeformConnector(BodyHmacConnector[TypeformOptions]):
    name = "typeform"
    summary = "Typeform webhooks (Typeform-Signature, base64 HMAC-SHA256, rotation)"
    signature_header = "Typeform-Signature"
    signature_prefix = "sha256="
    encoding = "base64"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type = optional_type(payload, "event_type")
        if event_type is None:
            raise MalformedPayloadError("missing_field", "event_type")
        event_id = optional_id(payload.get("event_id"))
        token = optional_id(lookup(payload, "form_response.token"))
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=event_id or token or sha256_of_parts(self.name, request.body),
                provider_event_id=event_id,
                occurred_at=utc_from_timestamp(lookup(payload, "form_response.submitted_at")),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        return {"User-Agent": "Typeform Webhooks"}

    def sample_body(self, now: float) -> bytes:
        submitted = iso_utc(now)
        event = {
            "event_id": stable_id("01", b"typeform", now).upper()[:26],
            "event_type": "form_response",
            "form_response": {
                "form_id": "lT4Z3j",
                "token": stable_id("", b"token", now)[:32],
                "submitted_at": submitted,
                "landed_at": submitted,
                "definition": {
                    "id": "lT4Z3j",
                    "title": "Webhooks example",
                    "fields": [
                        {"id": "JwWggjAKtOkA", "title": "What is your first name?", "type": "short_text"},
                        {"id": "SMEUb7VJz92Q", "title": "Your email?", "type": "email"},
                    ],
                },
                "answers": [
                    {"type": "text", "text": "Laura", "field": {"id": "JwWggjAKtOkA", "type": "short_text"}},
                    {
                        "type": "email",
                        "email": "laura@example.com",
                        "field": {"id": "SMEUb7VJz92Q", "type": "email"},
                    },
                ],
            },
        }
        return json.dumps(event, indent=2).encode()
