"""Chargebee: HTTP Basic credentials, no signature, no timestamp.

Chargebee signs nothing. A webhook (Settings → Configure Chargebee → Webhooks) can be
protected with a username and password, which Chargebee sends as HTTP Basic; both are
compared in constant time, and each may be a list while it is rotated. Nothing protects
the body's integrity: serve it over HTTPS only.

The dedup key is the body's `id` (`ev_…`, kept across retries): Chargebee documents that
an event may be delivered more than once. The event type is its `event_type`
(`subscription_created`, `payment_succeeded`, ...) and `occurred_at` its `occurred_at`.
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, WebhookRequest, utc_from_timestamp
from connectors.toolkit import (
    BasicAuthConnector,
    BasicAuthOptions,
    json_object,
    keyed_event,
    stable_id,
    typed_id,
)

__all__ = ["ChargebeeConnector", "ChargebeeOptions"]


class ChargebeeOptions(BasicAuthOptions):
    """`username` and `password`: the webhook's Basic authentication."""


class ChargebeeConnector(BasicAuthConnector[ChargebeeOptions]):
    name = "chargebee"
    summary = "Chargebee webhooks (HTTP Basic, rotation; no signature)"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type, event_id = typed_id(payload, "event_type", "id")
        return [
            keyed_event(
                event_type, payload, event_id, occurred_at=utc_from_timestamp(payload.get("occurred_at"))
            )
        ]

    def sample_body(self, now: float) -> bytes:
        event = {
            "id": stable_id("ev_", b"chargebee", now)[:19],
            "occurred_at": int(now),
            "source": "admin_console",
            "user": "full_access_user@acme.com",
            "object": "event",
            "api_version": "v2",
            "event_type": "subscription_created",
            "webhook_status": "scheduled",
            "content": {
                "subscription": {
                    "id": "169lvkSw2KyX21Kw",
                    "customer_id": "169lvkSw2KyWx1Kv",
                    "status": "active",
                    "currency_code": "USD",
                    "created_at": int(now),
                    "subscription_items": [
                        {
                            "item_price_id": "basic-USD-monthly",
                            "item_type": "plan",
                            "quantity": 1,
                            "unit_price": 1000,
                        }
                    ],
                }
            },
        }
        return json.dumps(event, indent=2).encode()
