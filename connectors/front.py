"""Front (application webhooks): `X-Front-Signature`, base64 HMAC-SHA256 of `<timestamp>:<body>`.

The key is the app's signing secret (Developers > your app > Basic information > App
secret); list the old and the new one while you rotate it. The timestamp is
`X-Front-Request-Timestamp` (milliseconds) and must be within `tolerance_seconds` of now
on both sides.

When a webhook URL is saved, Front sends a signed request with `X-Front-Challenge` and
expects the challenge back as the body; hookgate answers it once the signature verifies.

A delivery is `{type, authorization: {id}, payload}`: the detail-type is `type`
(`inbound_received`, `tag_added`, ...), the dedup key the event's `payload.id`
(`evt_…`), and `occurred_at` its `payload.emitted_at`.
"""

from __future__ import annotations

import json

from connectors import ConnectorResponse, ProviderEvent, WebhookRequest
from connectors.toolkit import TimestampedHmacConnector, TimestampedOptions, echo_value, json_event, stable_id

__all__ = ["FrontConnector", "FrontOptions"]


class FrontOptions(TimestampedOptions):
    """`secrets`: the app secret(s); `tolerance_seconds` for the request timestamp."""


class FrontConnector(TimestampedHmacConnector[FrontOptions]):
    name = "front"
    summary = "Front app webhooks (X-Front-Signature over timestamp:body, challenge, rotation)"
    signature_header = "X-Front-Signature"
    timestamp_header = "X-Front-Request-Timestamp"
    encoding = "base64"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if "x-front-challenge" not in request.headers:
            return None
        self.verify(request, now)
        challenge = echo_value(request.headers["x-front-challenge"], strict=True)
        return ConnectorResponse(200, str(challenge).encode())

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(
            self.name, request.body, type_path="type", id_path="payload.id", time_path="payload.emitted_at"
        )

    def sample_body(self, now: float) -> bytes:
        event = {
            "type": "inbound_received",
            "authorization": {"id": "cmp_1a2b3"},
            "payload": {
                "_links": {"self": "https://api2.frontapp.com/events/evt_55c8c149"},
                "id": stable_id("evt_", b"front", now),
                "type": "inbound",
                "emitted_at": now,
                "conversation": {
                    "id": "cnv_55c8c149",
                    "subject": "Where is my order?",
                    "status": "unassigned",
                },
                "source": {"_meta": {"type": "inboxes"}, "data": [{"id": "inb_55c8c149", "name": "Support"}]},
            },
        }
        return json.dumps(event, indent=2).encode()
