"""WorkOS: `WorkOS-Signature: t=<unix ms>, v1=<hex>` over `f"{t}.{body}"`.

`v1` is the hex HMAC-SHA256 of the timestamp as sent (milliseconds), `.` and the raw
body, keyed with the endpoint's *Webhook Secret* (Dashboard → Webhooks) as UTF-8 bytes.
Every configured secret is tried, so a secret can be rotated. The timestamp must be
within `tolerance_seconds` of now on both sides (the WorkOS SDKs default to 180 s).

The dedup key is the body's `id` (`event_…`, kept across retries); the event type is
its `event` (`dsync.user.created`, `user.created`, `connection.activated`, ...) and
`occurred_at` its `created_at`.
"""

from __future__ import annotations

import json

from pydantic import Field

from connectors import ProviderEvent, WebhookRequest, utc_from_timestamp
from connectors.toolkit import (
    DottedHmacConnector,
    TimedSecretsOptions,
    iso_utc,
    json_object,
    keyed_event,
    stable_id,
    timestamped_signatures,
    typed_id,
)

__all__ = ["WorkOSConnector", "WorkOSOptions"]


class WorkOSOptions(TimedSecretsOptions):
    tolerance_seconds: int = Field(180, ge=0, description="max clock skew, both directions")


class WorkOSConnector(DottedHmacConnector[WorkOSOptions]):
    name = "workos"
    summary = "WorkOS webhooks (WorkOS-Signature t=ms, v1= HMAC-SHA256, rotation, tolerance)"
    signature_header = "WorkOS-Signature"
    millis = True

    def parse_signature(self, header: str) -> tuple[str, list[str]]:
        return timestamped_signatures(header)

    def format_signature(self, timestamp: str, signatures: list[str]) -> str:
        return ", ".join([f"t={timestamp}", *(f"v1={s}" for s in signatures[:1])])

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type, event_id = typed_id(payload, "event", "id")
        return [
            keyed_event(
                event_type, payload, event_id, occurred_at=utc_from_timestamp(payload.get("created_at"))
            )
        ]

    def sample_body(self, now: float) -> bytes:
        when = iso_utc(now, "milliseconds")
        event = {
            "id": stable_id("event_", b"workos", now)[:32].upper().replace("EVENT_", "event_"),
            "event": "dsync.user.created",
            "data": {
                "object": "directory_user",
                "id": "directory_user_01E1X56GH84T3FB41SD6PZGDBX",
                "directory_id": "directory_01E1X194NTJ3PYMAY79DYV0F0P",
                "organization_id": "org_01EZTR6WYX1A0DSE2CYMGXQ24Y",
                "email": "eric@example.com",
                "first_name": "Eric",
                "last_name": "Schneider",
                "state": "active",
                "created_at": when,
                "updated_at": when,
            },
            "created_at": when,
        }
        return json.dumps(event, indent=2).encode()
