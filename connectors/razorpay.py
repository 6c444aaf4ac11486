"""Razorpay: `X-Razorpay-Signature: <hex>`, HMAC-SHA256 of the raw body.

The key is the *Secret* typed in when the webhook was set up (Dashboard → Account &
Settings → Webhooks), as UTF-8 bytes; list the old and the new one while it is changed.
Razorpay signs no timestamp: replay protection is dedup on `x-razorpay-event-id` (one
per event, kept across retries), else a hash of the raw body. The event type is the
body's `event` (`payment.captured`, `order.paid`, `refund.processed`, ...) and
`occurred_at` its `created_at`.
"""

from __future__ import annotations

import json

from connectors import (
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import BodyHmacConnector, json_object, required_type, stable_id

__all__ = ["RazorpayConnector", "RazorpayOptions"]


class RazorpayOptions(SecretsOptions):
    """Only `secrets`: the webhook secret(s)."""


class RazorpayConnector(BodyHmacConnector[RazorpayOptions]):
    name = "razorpay"
    summary = "Razorpay webhooks (X-Razorpay-Signature, hex HMAC-SHA256, rotation)"
    signature_header = "X-Razorpay-Signature"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type = required_type(payload, "event")
        event_id = request.headers.get("x-razorpay-event-id", "").strip() or None
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=event_id or sha256_of_parts(self.name, request.body),
                provider_event_id=event_id,
                occurred_at=utc_from_timestamp(payload.get("created_at")),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        return {"x-razorpay-event-id": stable_id("", body, now)[:14].upper()}

    def sample_body(self, now: float) -> bytes:
        event = {
            "entity": "event",
            "account_id": "acc_BFQ7uQEaa7j2z7",
            "event": "payment.captured",
            "contains": ["payment"],
            "payload": {
                "payment": {
                    "entity": {
                        "id": "pay_DESlfW9H8K9uqM",
                        "entity": "payment",
                        "amount": 100,
                        "currency": "INR",
                        "status": "captured",
                        "order_id": "order_DESlLckIVRkHWj",
                        "method": "netbanking",
                        "captured": True,
                        "email": "gaurav.kumar@example.com",
                        "created_at": int(now) - 5,
                    }
                }
            },
            "created_at": int(now),
        }
        return json.dumps(event, indent=2).encode()
