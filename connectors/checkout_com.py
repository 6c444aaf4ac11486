"""Checkout.com: `Cko-Signature: <hex>`, HMAC-SHA256 of the raw body.

The key is the webhook's secret key (Dashboard > Developers > Webhooks > your endpoint >
Signature key); list the old and the new one while you change it. Checkout.com signs no
timestamp: the dedup key is the event's `id` (`evt_…`, the same on every retry), the
detail-type its `type` (`payment_approved`, `payment_captured`, ...), and `occurred_at`
its `created_on`.
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, SecretsOptions, WebhookRequest
from connectors.toolkit import BodyHmacConnector, iso_utc, json_event, stable_id

__all__ = ["CheckoutComConnector", "CheckoutComOptions"]


class CheckoutComOptions(SecretsOptions):
    """Only `secrets`: the webhook's signature key(s)."""


class CheckoutComConnector(BodyHmacConnector[CheckoutComOptions]):
    name = "checkout-com"
    summary = "Checkout.com webhooks (Cko-Signature, HMAC-SHA256 of the body, rotation)"
    signature_header = "Cko-Signature"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(self.name, request.body, type_path="type", id_path="id", time_path="created_on")

    def sample_body(self, now: float) -> bytes:
        event = {
            "id": stable_id("evt_", b"checkout-com", now),
            "type": "payment_approved",
            "version": "1.0.33",
            "created_on": iso_utc(now, "milliseconds"),
            "data": {
                "id": "pay_mbabizu24mvu3mela5njyhpit4",
                "action_id": "act_y3oqhf46pyzuxjbcn2giaqnb44",
                "amount": 6540,
                "currency": "GBP",
                "approved": True,
                "status": "Authorized",
                "auth_code": "643381",
                "reference": "ORD-5023-4E89",
                "processed_on": iso_utc(now, "milliseconds"),
            },
            "_links": {
                "self": {"href": "https://api.checkout.com/workflows/events/evt_az5sblvku4ge3dwpztvyizgcau"}
            },
        }
        return json.dumps(event, indent=2).encode()
