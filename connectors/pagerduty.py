"""PagerDuty (v3 webhooks): `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]` over the raw body.

Each `v1` is the hex HMAC-SHA256 of the raw body keyed with a subscription secret (as
UTF-8 bytes). While a secret is rotated PagerDuty sends one `v1` per active secret, so any
match verifies; entries of other versions are ignored. `secrets` may list several too.

PagerDuty signs no timestamp: replay protection is dedup on `event.id`, kept across
retries. The event type is `event.event_type` (`incident.triggered`, `pagey.ping`, ...),
and `occurred_at` is `event.occurred_at`. `X-Webhook-Id` is kept as the delivery id.
"""

from __future__ import annotations

import json

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BodyHmacConnector,
    iso_utc,
    json_object,
    lookup,
    optional_id,
    optional_type,
    stable_id,
)

__all__ = ["PagerDutyConnector", "PagerDutyOptions"]


class PagerDutyOptions(SecretsOptions):
    """Only `secrets`: the webhook subscription secret(s)."""


class PagerDutyConnector(BodyHmacConnector[PagerDutyOptions]):
    name = "pagerduty"
    summary = "PagerDuty v3 webhooks (X-PagerDuty-Signature, several v1 HMAC-SHA256, rotation)"
    signature_header = "X-PagerDuty-Signature"
    signature_prefix = "v1="
    signature_separator = ","

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type = optional_type(payload, "event.event_type")
        if event_type is None:
            raise MalformedPayloadError("missing_field", "event.event_type")
        event_id = optional_id(lookup(payload, "event.id"))
        if event_id is None:
            raise MalformedPayloadError("missing_field", "event.id")
        delivery = request.headers.get("x-webhook-id", "").strip() or None
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=event_id,
                provider_event_id=event_id,
                delivery_id=delivery,
                occurred_at=utc_from_timestamp(lookup(payload, "event.occurred_at")),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        return {
            "User-Agent": "PagerDuty-Webhook/V3.0",
            "X-Webhook-Id": stable_id("", body, now)[:26],
            "X-Webhook-Subscription": "PY1OUU8",
        }

    def sample_body(self, now: float) -> bytes:
        occurred = iso_utc(now, "milliseconds")
        event = {
            "event": {
                "id": stable_id("01", b"pagerduty", now).upper()[:26],
                "event_type": "incident.triggered",
                "resource_type": "incident",
                "occurred_at": occurred,
                "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
                "client": {"name": "PagerDuty"},
                "data": {
                    "id": "PGR0VU2",
                    "type": "incident",
                    "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                    "number": 2,
                    "status": "triggered",
                    "title": "A little bump in the road",
                    "service": {"id": "PF9KMXH", "summary": "API Service", "type": "service_reference"},
                    "urgency": "high",
                },
            }
        }
        return json.dumps(event, indent=2).encode()
