"""GoCardless: `Webhook-Signature: <hex>`, HMAC-SHA256 of the raw body; a batch of events.

The key is the endpoint's *Secret* (Developers → Webhook endpoints), as UTF-8 bytes; list
the old and the new one while it is rotated. GoCardless signs no timestamp: replay
protection is dedup on each event's `id` (`EV…`, kept across retries).

One delivery holds up to 250 `events`; each becomes one event whose type is
`<resource_type>.<action>` (`payments.confirmed`, `mandates.created`, ...) and whose
`occurred_at` is its `created_at`. GoCardless treats any answer but 2xx as a failure and
retries; it documents `498` for a bad signature, hookgate answers `401`.
"""

from __future__ import annotations

import json
from typing import Any

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BodyHmacConnector,
    check_event_type,
    iso_utc,
    json_object,
    keyed_event,
    optional_id,
    stable_id,
)

__all__ = ["GoCardlessConnector", "GoCardlessOptions"]


class GoCardlessOptions(SecretsOptions):
    """Only `secrets`: the webhook endpoint secret(s)."""


class GoCardlessConnector(BodyHmacConnector[GoCardlessOptions]):
    name = "gocardless"
    summary = "GoCardless webhooks (Webhook-Signature, hex HMAC-SHA256, batch fan-out, rotation)"
    signature_header = "Webhook-Signature"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        events = json_object(request.body).get("events")
        if not isinstance(events, list) or not events:
            raise MalformedPayloadError("missing_field", "events")
        return [self._event(item) for item in events]

    @staticmethod
    def _event(item: Any) -> ProviderEvent:
        if not isinstance(item, dict):
            raise MalformedPayloadError("not_an_object", "events[]")
        event_id = optional_id(item.get("id"))
        resource, action = item.get("resource_type"), item.get("action")
        if event_id is None or not isinstance(resource, str) or not isinstance(action, str):
            raise MalformedPayloadError("missing_field", "events[].id, resource_type, action")
        event_type = check_event_type(f"{resource}.{action}", "events[].resource_type.action")
        return keyed_event(event_type, item, event_id, occurred_at=utc_from_timestamp(item.get("created_at")))

    def sample_body(self, now: float) -> bytes:
        when = iso_utc(now, "milliseconds")
        event = {
            "id": stable_id("EV", b"gocardless", now)[:16].upper(),
            "created_at": when,
            "resource_type": "payments",
            "action": "confirmed",
            "links": {"payment": "PM0016JDAYZ4JR"},
            "details": {
                "origin": "gocardless",
                "cause": "payment_confirmed",
                "description": "Enough time has passed since the payment was submitted for the banks "
                "to return an error, so this payment is now confirmed.",
            },
            "metadata": {},
            "resource_metadata": {"order_dispatch_date": "2025-11-22"},
        }
        return json.dumps({"events": [event], "meta": {"webhook_id": "WB00041PB6DGN6"}}, indent=2).encode()
