"""Cal.com: `X-Cal-Signature-256: <hex>`, HMAC-SHA256 of the raw body.

The key is the webhook's secret (Settings > Developer > Webhooks > your webhook > Secret);
list the old and the new one while you change it. Cal.com signs no timestamp and gives a
delivery no id: the dedup key is a hash of the body (a retry sends the same bytes). The
detail-type is `triggerEvent` (`BOOKING_CREATED`, `BOOKING_CANCELLED`, `MEETING_ENDED`,
...), and `occurred_at` the delivery's `createdAt`.
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, SecretsOptions, WebhookRequest
from connectors.toolkit import BodyHmacConnector, iso_utc, json_event

__all__ = ["CalComConnector", "CalComOptions"]


class CalComOptions(SecretsOptions):
    """Only `secrets`: the webhook's secret(s)."""


class CalComConnector(BodyHmacConnector[CalComOptions]):
    name = "cal-com"
    summary = "Cal.com webhooks (X-Cal-Signature-256, HMAC-SHA256 of the body, rotation)"
    signature_header = "X-Cal-Signature-256"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(self.name, request.body, type_path="triggerEvent", time_path="createdAt")

    def sample_body(self, now: float) -> bytes:
        booking = {
            "triggerEvent": "BOOKING_CREATED",
            "createdAt": iso_utc(now, "milliseconds"),
            "payload": {
                "type": "30min",
                "title": "30 min meeting between Jane Doe and Alex Smith",
                "startTime": iso_utc(now + 86400),
                "endTime": iso_utc(now + 88200),
                "organizer": {"name": "Jane Doe", "email": "jane@example.com", "timeZone": "Europe/London"},
                "attendees": [
                    {"name": "Alex Smith", "email": "alex@example.com", "timeZone": "America/New_York"}
                ],
                "uid": "bFJeNb2uX8ANpT3JL5EfXw",
                "bookingId": 91,
                "status": "ACCEPTED",
            },
        }
        return json.dumps(booking, indent=2).encode()
