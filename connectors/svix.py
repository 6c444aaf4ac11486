"""Svix: Standard Webhooks delivered with `svix-id`, `svix-timestamp`, `svix-signature`.

Verification is the `standard-webhooks` connector's (v1 HMAC-SHA256 over
`f"{id}.{timestamp}.{body}"` keyed with the base64-decoded `whsec_` secret, several
space-separated signatures, two-sided timestamp tolerance, dedup on the message id);
`svix-*` headers win over `webhook-*` ones, as in the svix library. This connector only
signs with the `svix-*` names, as Svix-powered providers send them, and gives the
provider-specific subclasses (`clerk`, `resend`) a home.
"""

from __future__ import annotations

import json
from typing import Any

from typing_extensions import TypeVar

from connectors import SignedDelivery
from connectors.standard_webhooks import StandardWebhooksConnector, StandardWebhooksOptions

__all__ = ["SvixConnector", "SvixOptions"]


class SvixOptions(StandardWebhooksOptions):
    """The `standard-webhooks` options: `secrets`, `tolerance_seconds`, `default_type`."""


_SvixOptionsT_co = TypeVar("_SvixOptionsT_co", bound=SvixOptions, default=SvixOptions, covariant=True)


class SvixConnector(StandardWebhooksConnector[_SvixOptionsT_co]):
    name = "svix"
    summary = "Svix-powered webhooks (svix-id/-timestamp/-signature, whsec_ secrets, rotation)"

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Sign as Svix does: the standard signature under the `svix-*` header names."""
        delivery = super().sign(body, now)
        headers = {_svix_name(k): v for k, v in delivery.headers.items()}
        headers["User-Agent"] = "Svix-Webhooks/1.0 (sender-hookgate; +https://www.svix.com/)"
        return SignedDelivery(body=delivery.body, headers=headers)

    def sample_body(self, now: float) -> bytes:
        return _sample(now)


def _svix_name(header: str) -> str:
    return "svix-" + header.removeprefix("webhook-") if header.startswith("webhook-") else header


def _sample(now: float) -> bytes:
    event: dict[str, Any] = {
        "type": "invoice.paid",
        "timestamp": int(now * 1000),
        "data": {"id": "inv_2Q5NBdnJrVFsbLmT", "customer_id": "cus_8aGPJxYwM4Tb", "amount": 4200},
    }
    return json.dumps(event, indent=2).encode()
