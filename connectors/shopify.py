"""Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 of the raw body.

The key is the app's client secret (or, for webhooks created in the store admin under
Settings > Notifications, the signing key shown there), as UTF-8 bytes. Shopify sends one
signature; after a client-secret rotation it can take up to an hour before deliveries use
the new one, so list both secrets for that time.

Shopify signs no timestamp. Replay protection is dedup: the key is the topic and
`X-Shopify-Event-Id` (Shopify's documented way to spot duplicates: several subscriptions
to one topic deliver the same event), else `X-Shopify-Webhook-Id` (one per delivery,
kept across retries), else a hash of the raw body. None of these headers is signed.

The event type is `X-Shopify-Topic` (`orders/create`, `app/uninstalled`, ...), and
`occurred_at` is `X-Shopify-Triggered-At`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import BodyHmacConnector, check_event_type, guess_kind, iso_utc, json_object

__all__ = ["ShopifyConnector", "ShopifyOptions"]

# Top-level keys that identify a payload's topic, for `sign()` (send-test and the test kit).
_TOPIC_BY_KEY = (
    ("line_items", "orders/create"),
    ("shop_owner", "app/uninstalled"),
    ("variants", "products/create"),
)


class ShopifyOptions(SecretsOptions):
    """Only `secrets`: the app client secret(s) or the store's webhook signing key(s)."""


class ShopifyConnector(BodyHmacConnector[ShopifyOptions]):
    name = "shopify"
    summary = "Shopify webhooks (X-Shopify-Hmac-Sha256, base64 HMAC-SHA256, rotation)"
    signature_header = "X-Shopify-Hmac-Sha256"
    encoding = "base64"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        topic = request.headers.get("x-shopify-topic")
        if topic is None:
            raise MalformedPayloadError("missing_header", "X-Shopify-Topic")
        event_type = check_event_type(topic, "X-Shopify-Topic")
        payload = json_object(request.body)
        event_id = request.headers.get("x-shopify-event-id", "").strip() or None
        delivery = request.headers.get("x-shopify-webhook-id", "").strip() or None
        if event_id is not None:
            dedup = f"{event_type}:{event_id}"
        else:
            dedup = delivery or sha256_of_parts(self.name, request.body)
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=dedup,
                provider_event_id=event_id,
                delivery_id=delivery,
                occurred_at=utc_from_timestamp(request.headers.get("x-shopify-triggered-at")),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        seed = hashlib.sha256(b"%r:" % now + body).digest()
        triggered = iso_utc(now, "milliseconds")
        return {
            "X-Shopify-Topic": guess_kind(body, _TOPIC_BY_KEY, "orders/create"),
            "X-Shopify-Shop-Domain": "hookgate-test.myshopify.com",
            "X-Shopify-API-Version": "2025-07",
            "X-Shopify-Webhook-Id": str(uuid.UUID(bytes=seed[:16], version=4)),
            "X-Shopify-Event-Id": str(uuid.UUID(bytes=seed[16:], version=4)),
            "X-Shopify-Triggered-At": triggered,
        }

    def sample_body(self, now: float) -> bytes:
        order = {
            "id": 820982911946154508,
            "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
            "name": "#9999",
            "order_number": 1234,
            "email": "jon@example.com",
            "created_at": datetime.fromtimestamp(int(now), UTC).isoformat(),
            "currency": "USD",
            "financial_status": "paid",
            "total_price": "398.00",
            "test": True,
            "line_items": [
                {
                    "id": 866550311766439020,
                    "name": "IPod Nano - 8GB",
                    "price": "199.00",
                    "quantity": 2,
                    "sku": "IPOD2008PINK",
                }
            ],
        }
        return json.dumps(order, indent=2).encode()
