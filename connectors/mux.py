"""Mux: `Mux-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256 of `f"{t}.{body}"`.

The key is the webhook's signing secret (Settings > Webhooks > your webhook > Show
Signing Secret), as UTF-8 bytes; list the old and the new one while you rotate it. The
timestamp must be within `tolerance_seconds` of now on both sides (Mux's own examples use
5 minutes). The dedup key is the event's `id` (kept across retries), the detail-type its
`type` (`video.asset.ready`, `video.live_stream.active`, ...), and `occurred_at` its
`created_at`.
"""

from __future__ import annotations

import json
from typing import Any

from connectors import ProviderEvent, WebhookRequest
from connectors.toolkit import StripeSchemeConnector, TimestampedOptions, delivery_uuid, iso_utc, json_event

__all__ = ["MuxConnector", "MuxOptions"]


class MuxOptions(TimestampedOptions):
    """`secrets`: the signing secret(s); `tolerance_seconds` for the signed timestamp."""


class MuxConnector(StripeSchemeConnector[MuxOptions]):
    name = "mux"
    summary = "Mux webhooks (Mux-Signature t=,v1= HMAC-SHA256, rotation, tolerance)"
    signature_header = "Mux-Signature"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(self.name, request.body, type_path="type", id_path="id", time_path="created_at")

    def sample_body(self, now: float) -> bytes:
        event: dict[str, Any] = {
            "type": "video.asset.ready",
            "object": {"type": "asset", "id": "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002"},
            "id": delivery_uuid(b"mux", now),
            "environment": {"name": "Production", "id": "j0863n"},
            "data": {
                "status": "ready",
                "playback_ids": [{"policy": "public", "id": "dlPEmWkXHKh21xNUF7uaTvFu01yVa1wGSXiAk1X8s7gM"}],
                "id": "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002",
                "duration": 23.857167,
                "aspect_ratio": "16:9",
            },
            "created_at": iso_utc(now, "microseconds"),
            "attempts": [],
            "accessor_source": None,
            "accessor": None,
            "request_id": None,
        }
        return json.dumps(event, indent=2).encode()
