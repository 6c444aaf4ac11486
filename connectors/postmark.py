"""Postmark: HTTP Basic credentials, no signature, no timestamp.

Postmark signs nothing. Its documented protection is HTTP Basic credentials in the
webhook URL (`https://user:password@hooks.example.com/…`, Servers → a server → a
message stream → Webhooks), which Postmark sends as `Authorization: Basic`; both are
compared in constant time, and each may be a list while it is rotated. Nothing protects
the body's integrity: serve it over HTTPS only (Postmark also publishes the IP ranges it
sends from).

The event type is the body's `RecordType` (`Delivery`, `Bounce`, `SpamComplaint`,
`Open`, `Click`, `SubscriptionChange`), or `Inbound` for inbound-message webhooks, which
have none. Postmark sends no delivery id: the dedup key is a hash of the record type,
`MessageID` and the record's own id or time, else of the raw body.
"""

from __future__ import annotations

import json

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BasicAuthConnector,
    BasicAuthOptions,
    delivery_uuid,
    iso_utc,
    json_object,
    optional_id,
    optional_type,
)

__all__ = ["PostmarkConnector", "PostmarkOptions"]

#: Where each record type says when it happened (also what tells two records apart).
_TIME_FIELD = {
    "Delivery": "DeliveredAt",
    "Bounce": "BouncedAt",
    "SpamComplaint": "BouncedAt",
    "Open": "ReceivedAt",
    "Click": "ReceivedAt",
    "SubscriptionChange": "ChangedAt",
    "Inbound": "Date",
}


class PostmarkOptions(BasicAuthOptions):
    """`username` and `password`: the Basic credentials in the webhook URL."""


class PostmarkConnector(BasicAuthConnector[PostmarkOptions]):
    name = "postmark"
    summary = "Postmark webhooks (HTTP Basic in the URL, rotation; no signature)"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type = optional_type(payload, "RecordType")
        if event_type is None:
            if "MessageID" not in payload:
                raise MalformedPayloadError("missing_field", "RecordType")
            event_type = "Inbound"
        message = optional_id(payload.get("MessageID"))
        when = payload.get(_TIME_FIELD.get(event_type, ""))
        record = optional_id(payload.get("ID")) or optional_id(when)
        parts = (event_type, message, record) if message and record else (request.body,)
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=sha256_of_parts(self.name, *parts),
                occurred_at=utc_from_timestamp(when),
            )
        ]

    def sample_body(self, now: float) -> bytes:
        record = {
            "RecordType": "Delivery",
            "ServerID": 23,
            "MessageStream": "outbound",
            "MessageID": delivery_uuid(b"postmark", now),
            "Recipient": "john@example.com",
            "Tag": "welcome-email",
            "DeliveredAt": iso_utc(now),
            "Details": "Test delivery webhook details",
            "Metadata": {"a_key": "a_value", "b_key": "b_value"},
        }
        return json.dumps(record, indent=2).encode()
