"""WooCommerce: `X-WC-Webhook-Signature: <base64>`, HMAC-SHA256 of the raw body.

The key is the webhook's *Secret* (WooCommerce → Settings → Advanced → Webhooks), as
UTF-8 bytes; list the old and the new one while it is changed. WooCommerce signs no
timestamp, so replay protection is dedup: on `X-WC-Webhook-Delivery-ID` (one per
delivery), else a hash of the raw body.

When a webhook is saved as active, WooCommerce first posts an unsigned ping, the form
body `webhook_id=<id>`: it is answered `200` and ingests nothing. The event type is
`X-WC-Webhook-Topic` (`order.created`, `product.updated`, `action.woocommerce_…`).
"""

from __future__ import annotations

import json
import re

from connectors import (
    ConnectorResponse,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BodyHmacConnector,
    check_event_type,
    guess_kind,
    iso_utc,
    json_object,
    stable_id,
)

__all__ = ["WooCommerceConnector", "WooCommerceOptions"]

_PING = re.compile(rb"webhook_id=\d{1,20}")
_TOPIC_BY_KEY = (
    ("line_items", "order.created"),
    ("sku", "product.created"),
    ("username", "customer.created"),
)


class WooCommerceOptions(SecretsOptions):
    """Only `secrets`: the webhook's Secret (a list while it is changed)."""


class WooCommerceConnector(BodyHmacConnector[WooCommerceOptions]):
    name = "woocommerce"
    summary = "WooCommerce webhooks (X-WC-Webhook-Signature, base64 HMAC-SHA256, ping, rotation)"
    signature_header = "X-WC-Webhook-Signature"
    encoding = "base64"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        """The unsigned ping WooCommerce sends when a webhook is saved: `webhook_id=<id>`."""
        if self.signature_header.lower() in request.headers or not _PING.fullmatch(request.body):
            return None
        return ConnectorResponse(200)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        topic = request.headers.get("x-wc-webhook-topic")
        if topic is None:
            raise MalformedPayloadError("missing_header", "X-WC-Webhook-Topic")
        payload = json_object(request.body)
        delivery = request.headers.get("x-wc-webhook-delivery-id", "").strip() or None
        return [
            ProviderEvent(
                type=check_event_type(topic, "X-WC-Webhook-Topic"),
                payload=payload,
                dedup_key=delivery or sha256_of_parts(self.name, request.body),
                delivery_id=delivery,
                occurred_at=utc_from_timestamp(payload.get("date_modified_gmt")),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        topic = guess_kind(body, _TOPIC_BY_KEY, "order.created")
        resource, _, event = topic.partition(".")
        return {
            "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
            "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Delivery-ID": stable_id("", body, now)[:32],
        }

    def sample_body(self, now: float) -> bytes:
        when = iso_utc(now).removesuffix("Z")
        order = {
            "id": 727,
            "status": "processing",
            "currency": "USD",
            "date_created_gmt": when,
            "date_modified_gmt": when,
            "total": "29.35",
            "billing": {"first_name": "John", "last_name": "Doe", "email": "john.doe@example.com"},
            "line_items": [
                {"id": 315, "name": "Woo Single #1", "product_id": 93, "quantity": 2, "total": "6.00"}
            ],
        }
        return json.dumps(order, indent=2).encode()
