"""Nylas (API v3): `X-Nylas-Signature: <hex>`, HMAC-SHA256 of the raw body; a GET challenge.

When a webhook is created or reactivated, Nylas calls the URL with
`GET ?challenge=<value>` and expects the exact value back as the body, within 10 seconds;
the challenge carries no credential and proves only that the URL answers, so hookgate
echoes a bounded value and stores nothing.

The key is the `webhook_secret` Nylas returns when the webhook is created (or when you
rotate it, `POST /v3/webhooks/rotate-secret/{id}`): list the old and the new one while
you rotate. Nylas signs no timestamp; the dedup key is the notification's `id`, the
detail-type its `type` (`message.created`, `event.updated`, ...), and `occurred_at` its
`time`.
"""

from __future__ import annotations

import json

from connectors import ConnectorResponse, ProviderEvent, SecretsOptions, WebhookRequest
from connectors.toolkit import BodyHmacConnector, delivery_uuid, echo_value, json_event

__all__ = ["NylasConnector", "NylasOptions"]


class NylasOptions(SecretsOptions):
    """Only `secrets`: the webhook's `webhook_secret`(s)."""


class NylasConnector(BodyHmacConnector[NylasOptions]):
    name = "nylas"
    summary = "Nylas v3 webhooks (GET challenge, X-Nylas-Signature HMAC-SHA256, rotation)"
    methods = frozenset({"GET", "POST"})
    signature_header = "X-Nylas-Signature"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        challenge = echo_value(request.query_value("challenge")) if request.method == "GET" else None
        return None if challenge is None else ConnectorResponse(200, challenge.encode())

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(self.name, request.body, type_path="type", id_path="id", time_path="time")

    def sample_body(self, now: float) -> bytes:
        notification = {
            "specversion": "1.0",
            "type": "message.created",
            "source": "/google/emails/realtime",
            "id": delivery_uuid(b"nylas", now),
            "time": int(now),
            "webhook_delivery_attempt": 1,
            "data": {
                "application_id": "ad410018-d306-43f9-8361-fa5d7b2172e0",
                "object": {
                    "id": "18f33b6d6b4e2a0c",
                    "grant_id": "1c3e5f2a-0b9d-4c6e-8f7a-2d4b6c8e0f1a",
                    "object": "message",
                    "subject": "Quarterly planning",
                    "from": [{"email": "jane@example.com", "name": "Jane Doe"}],
                    "to": [{"email": "ops@example.com"}],
                    "date": int(now),
                    "unread": True,
                },
            },
        }
        return json.dumps(notification, indent=2).encode()
