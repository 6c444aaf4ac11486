"""Intercom: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the raw body.

The key is the app's client secret (Developer Hub > your app > Basic information), as
UTF-8 bytes. Intercom sends one signature; list the old and the new secret while you
rotate it. Intercom signs no timestamp, so replay protection is dedup on the
notification's `id` (`notif_…`, kept across retries; a hash of the body when it is null,
as in `ping`). The event type is the notification's `topic`
(`conversation.user.created`, `ping`, ...), and `occurred_at` its `created_at`.
"""

from __future__ import annotations

import json

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import BodyHmacConnector, json_object, optional_id, optional_type

__all__ = ["IntercomConnector", "IntercomOptions"]


class IntercomOptions(SecretsOptions):
    """Only `secrets`: the app's client secret(s)."""


class IntercomConnector(BodyHmacConnector[IntercomOptions]):
    name = "intercom"
    summary = "Intercom webhooks (X-Hub-Signature, HMAC-SHA1 of the body, rotation)"
    signature_header = "X-Hub-Signature"
    signature_prefix = "sha1="
    algorithm = "sha1"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        topic = optional_type(payload, "topic")
        if topic is None:
            raise MalformedPayloadError("missing_field", "topic")
        event_id = optional_id(payload.get("id"))
        return [
            ProviderEvent(
                type=topic,
                payload=payload,
                dedup_key=event_id or sha256_of_parts(self.name, request.body),
                provider_event_id=event_id,
                occurred_at=utc_from_timestamp(payload.get("created_at")),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        return {"User-Agent": "Intercom-Webhooks/1.0", "Accept": "application/json"}

    def sample_body(self, now: float) -> bytes:
        created = int(now)
        event = {
            "type": "notification_event",
            "app_id": "ekhh0g5s",
            "data": {
                "type": "notification_event_data",
                "item": {
                    "type": "conversation",
                    "id": "147",
                    "created_at": created,
                    "updated_at": created,
                    "source": {
                        "type": "conversation",
                        "delivered_as": "customer_initiated",
                        "body": "<p>Hi, my printer is on fire.</p>",
                        "author": {"type": "user", "id": "6570f2d87f1b7e8c54c1a0c2", "name": "Jane Doe"},
                    },
                    "state": "open",
                },
            },
            "links": {},
            "id": f"notif_{created:x}-{created % 9973:04x}",
            "topic": "conversation.user.created",
            "delivery_status": "pending",
            "delivery_attempts": 1,
            "delivered_at": 0,
            "first_sent_at": created,
            "created_at": created,
            "self": None,
        }
        return json.dumps(event, indent=2).encode()
