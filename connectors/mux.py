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

from pydantic import Field

from connectors import Connector, ProviderEvent, SecretsOptions, SignedDelivery, WebhookRequest, secret_values
from connectors.toolkit import check_t_v1, delivery_uuid, iso_utc, json_event, sign_t_v1

__all__ = ["MuxConnector", "MuxOptions"]


class MuxOptions(SecretsOptions):
    """`secrets`: the signing secret(s); `tolerance_seconds` for the signed timestamp."""

    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions (0: off)")


class MuxConnector(Connector[MuxOptions]):
    name = "mux"
    summary = "Mux webhooks (Mux-Signature t=,v1= HMAC-SHA256, rotation, tolerance)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("mux-signature")
        check_t_v1(
            header, secret_values(self.options.secrets), request.body, now, self.options.tolerance_seconds
        )

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(self.name, request.body, type_path="type", id_path="id", time_path="created_at")

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        header = sign_t_v1(secret_values(self.options.secrets)[:1], body, now)
        return SignedDelivery(
            body=body, headers={"Mux-Signature": header, "Content-Type": "application/json"}
        )

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
