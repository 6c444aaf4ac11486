"""Lemon Squeezy: `X-Signature: <hex>`, HMAC-SHA256 of the raw body.

The key is the signing secret typed in when the webhook is created (Settings > Webhooks);
list the old and the new one while you change it. Lemon Squeezy signs no timestamp and
gives a delivery no id: the dedup key is a hash of the body (a retry sends the same
bytes). The detail-type is `meta.event_name` (`order_created`,
`subscription_updated`, ...; also sent as `X-Event-Name`), and `occurred_at` the
object's `data.attributes.updated_at`.
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, SecretsOptions, WebhookRequest
from connectors.toolkit import BodyHmacConnector, iso_utc, json_event, json_or_none, lookup

__all__ = ["LemonSqueezyConnector", "LemonSqueezyOptions"]


class LemonSqueezyOptions(SecretsOptions):
    """Only `secrets`: the webhook's signing secret(s)."""


class LemonSqueezyConnector(BodyHmacConnector[LemonSqueezyOptions]):
    name = "lemon-squeezy"
    summary = "Lemon Squeezy webhooks (X-Signature, HMAC-SHA256 of the body, rotation)"
    signature_header = "X-Signature"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(
            self.name, request.body, type_path="meta.event_name", time_path="data.attributes.updated_at"
        )

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        name = lookup(json_or_none(body), "meta.event_name")
        return {"X-Event-Name": name} if isinstance(name, str) else {}

    def sample_body(self, now: float) -> bytes:
        stamp = iso_utc(now, "microseconds")
        order = {
            "meta": {"event_name": "order_created", "custom_data": {"customer_id": 25}},
            "data": {
                "type": "orders",
                "id": "1",
                "attributes": {
                    "store_id": 1,
                    "customer_id": 1,
                    "identifier": "104e18a2-d755-4d4b-80c4-a6c1dcbe1c10",
                    "order_number": 1,
                    "user_name": "Darlene Daugherty",
                    "user_email": "gernser@yahoo.com",
                    "currency": "USD",
                    "total": 999,
                    "status": "paid",
                    "test_mode": True,
                    "created_at": stamp,
                    "updated_at": stamp,
                },
            },
        }
        return json.dumps(order, indent=2).encode()
