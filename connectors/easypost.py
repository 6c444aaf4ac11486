"""EasyPost: `X-Hmac-Signature: hmac-sha256-hex=<hex>`, HMAC-SHA256 of the raw body.

The key is the webhook secret given when the webhook is created (Account settings >
Webhooks, or `webhook_secret` through the API), NFKD-normalized as EasyPost's client
libraries do; list the old and the new one while you rotate it. EasyPost signs no
timestamp: the dedup key is the event's `id` (`evt_…`), the detail-type its
`description` (`tracker.updated`, `batch.created`, ...), and `occurred_at` its
`created_at`.
"""

from __future__ import annotations

import json
import unicodedata

from connectors import ProviderEvent, SecretsOptions, WebhookRequest
from connectors.toolkit import BodyHmacConnector, iso_utc, json_event, stable_id

__all__ = ["EasyPostConnector", "EasyPostOptions"]


class EasyPostOptions(SecretsOptions):
    """Only `secrets`: the webhook secret(s)."""


class EasyPostConnector(BodyHmacConnector[EasyPostOptions]):
    name = "easypost"
    summary = "EasyPost webhooks (X-Hmac-Signature, HMAC-SHA256 of the body, rotation)"
    signature_header = "X-Hmac-Signature"
    signature_prefix = "hmac-sha256-hex="

    def key_of(self, secret: str) -> bytes:
        return unicodedata.normalize("NFKD", secret).encode()

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(
            self.name, request.body, type_path="description", id_path="id", time_path="created_at"
        )

    def sample_body(self, now: float) -> bytes:
        stamp = iso_utc(now)
        event = {
            "id": stable_id("evt_", b"easypost", now),
            "object": "Event",
            "mode": "test",
            "description": "tracker.updated",
            "previous_attributes": {"status": "pre_transit"},
            "created_at": stamp,
            "updated_at": stamp,
            "pending_urls": [],
            "completed_urls": [],
            "result": {
                "id": "trk_c8e0edb5bb284caa934a0d3db23a148z",
                "object": "Tracker",
                "mode": "test",
                "tracking_code": "9400110898825022579493",
                "status": "in_transit",
                "carrier": "USPS",
                "est_delivery_date": iso_utc(now + 3 * 86400),
            },
        }
        return json.dumps(event, indent=2).encode()
