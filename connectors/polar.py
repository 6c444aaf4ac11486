"""Polar: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

The verification is the `standard-webhooks` connector's (v1 HMAC-SHA256 over
`f"{id}.{timestamp}.{body}"`, several signatures, two-sided timestamp tolerance, dedup on
`webhook-id`), with one difference: Polar's secret (Settings > Webhooks, `polar_whs_…`) is
the HMAC key as it is, UTF-8 bytes, not base64 to decode (Polar's SDK base64-encodes it
before handing it to the standardwebhooks library). The event type is the body's `type`
(`order.paid`, `subscription.active`, ...), occurring at its `timestamp`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr, field_validator

from connectors import secret_values
from connectors.standard_webhooks import StandardWebhooksConnector, StandardWebhooksOptions, WebhookKeys
from connectors.toolkit import iso_utc

__all__ = ["PolarConnector", "PolarOptions"]


class PolarOptions(StandardWebhooksOptions):
    """`secrets` (Polar's secrets, used as they are), `tolerance_seconds`, `default_type`."""

    @field_validator("secrets")
    @classmethod
    def _decodable(cls, value: list[SecretStr]) -> list[SecretStr]:
        return value  # any string is a key


class PolarConnector(StandardWebhooksConnector[PolarOptions]):
    name = "polar"
    summary = "Polar webhooks (Standard Webhooks, the secret used as is, rotation, tolerance)"

    def __init__(self, options: PolarOptions) -> None:
        super(StandardWebhooksConnector, self).__init__(options)  # not its base64 keys
        self.keys = WebhookKeys(hmac_keys=tuple(secret_values(options.secrets)))

    def sample_body(self, now: float) -> bytes:
        event: dict[str, Any] = {
            "type": "order.paid",
            "timestamp": iso_utc(now),
            "data": {
                "id": "b3e5f0a2-6a0e-4c1e-9d1f-1c2b3a4d5e6f",
                "status": "paid",
                "paid": True,
                "total_amount": 2900,
                "currency": "usd",
                "billing_reason": "purchase",
                "customer": {"id": "7f3c8d2e-1b4a-4c5d-8e9f-0a1b2c3d4e5f", "email": "jane@example.com"},
                "product": {"id": "4b8e6a1c-2d3f-4e5a-9b8c-7d6e5f4a3b2c", "name": "Pro plan"},
            },
        }
        return json.dumps(event, indent=2).encode()
