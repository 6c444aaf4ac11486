"""Acme webhooks: `X-Acme-Signature: <hex HMAC-SHA256 of the raw body>`.

Acme signs no timestamp, so replay protection comes from dedup on `X-Acme-Delivery`.
The event type is the body's `event` field (`order.created`, ...).

Built on `connectors.toolkit`, exactly as hookgate's own connectors are:
`BodyHmacConnector` does the constant-time check against every configured secret, and
`sign()`; this module only says where the signature is and what the body means.
"""

from __future__ import annotations

import json

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    utc_from_timestamp,
)
from connectors.toolkit import BodyHmacConnector, check_event_type, delivery_uuid, json_object

__all__ = ["AcmeConnector", "AcmeOptions"]


class AcmeOptions(SecretsOptions):
    """`secrets` (inherited, a list of `SecretStr`): the webhook signing secrets."""


class AcmeConnector(BodyHmacConnector[AcmeOptions]):
    name = "acme"  # must equal the entry-point name
    api_version = 1  # the connector API this plugin is written for
    summary = "Acme webhooks (X-Acme-Signature, HMAC-SHA256 hex)"
    signature_header = "X-Acme-Signature"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        delivery = request.headers.get("x-acme-delivery", "").strip()
        if not delivery:
            raise MalformedPayloadError("missing_header", "X-Acme-Delivery")
        body = json_object(request.body)
        return [
            ProviderEvent(
                type=check_event_type(body.get("event"), "event"),
                payload=body,
                dedup_key=delivery,
                delivery_id=delivery,
                occurred_at=utc_from_timestamp(body.get("created_at")),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        return {"X-Acme-Delivery": delivery_uuid(body, now)}

    def sample_body(self, now: float) -> bytes:
        order = {"id": "ord_1001", "total": 4200, "currency": "EUR"}
        event = {"event": "order.created", "created_at": int(now), "data": order}
        return json.dumps(event).encode()
