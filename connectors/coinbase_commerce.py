"""Coinbase Commerce: `X-CC-Webhook-Signature: <hex>`, HMAC-SHA256 of the raw body.

The key is the *Shared Secret* of Settings → Notifications, as UTF-8 bytes; list the old
and the new one while it is regenerated. Coinbase Commerce signs no timestamp: replay
protection is dedup on the event's id (`event.id`, kept across delivery attempts; the
delivery's own `id` changes). The event type is `event.type` (`charge:created`,
`charge:confirmed`, `charge:failed`, ...) and `occurred_at` its `created_at`.
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, SecretsOptions, WebhookRequest, utc_from_timestamp
from connectors.toolkit import (
    BodyHmacConnector,
    delivery_uuid,
    iso_utc,
    json_object,
    keyed_event,
    lookup,
    optional_id,
    typed_id,
)

__all__ = ["CoinbaseCommerceConnector", "CoinbaseCommerceOptions"]


class CoinbaseCommerceOptions(SecretsOptions):
    """Only `secrets`: the webhook Shared Secret(s)."""


class CoinbaseCommerceConnector(BodyHmacConnector[CoinbaseCommerceOptions]):
    name = "coinbase-commerce"
    summary = "Coinbase Commerce webhooks (X-CC-Webhook-Signature, hex HMAC-SHA256, rotation)"
    signature_header = "X-CC-Webhook-Signature"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type, event_id = typed_id(payload, "event.type", "event.id")
        created = utc_from_timestamp(lookup(payload, "event.created_at"))
        delivery = optional_id(payload.get("id"))
        return [keyed_event(event_type, payload, event_id, delivery_id=delivery, occurred_at=created)]

    def sample_body(self, now: float) -> bytes:
        when = iso_utc(now)
        delivery = {
            "id": delivery_uuid(b"delivery", now),
            "scheduled_for": when,
            "attempt_number": 1,
            "event": {
                "id": delivery_uuid(b"event", now),
                "resource": "event",
                "type": "charge:confirmed",
                "api_version": "2018-03-22",
                "created_at": when,
                "data": {
                    "code": "66BEOV2A",
                    "name": "The Sovereign Individual",
                    "pricing_type": "fixed_price",
                    "pricing": {"local": {"amount": "100.00", "currency": "USD"}},
                    "timeline": [{"time": when, "status": "COMPLETED"}],
                },
            },
        }
        return json.dumps(delivery, indent=2).encode()
