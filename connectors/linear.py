"""Linear: `Linear-Signature: <hex>`, HMAC-SHA256 of the raw body.

The key is the webhook's signing secret (Settings > API > Webhooks > the webhook), as
UTF-8 bytes. Linear sends one signature; list the old and the new secret while you
regenerate it.

Linear's timestamp is the body's `webhookTimestamp` (unix milliseconds), covered by the
signature since the whole body is. After the signature has matched, and only then,
`verify` reads that one field from the (now authentic) body and refuses it when it is
more than `tolerance_seconds` away from now, in either direction (Linear's SDK uses 60 s).
A body without a usable `webhookTimestamp` is refused unless the check is off (`0`).

The event type is the body's `type` and `action` (`Issue.create`, `Comment.update`,
`Project.remove`), with the `Linear-Event` header standing in for a missing `type`. The
dedup key is the `Linear-Delivery` header (a UUID per delivery), else a hash of the body;
`occurred_at` is the body's `createdAt`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    VerificationError,
    WebhookRequest,
    parse_json,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BodyHmacConnector,
    check_event_type,
    check_tolerance,
    delivery_uuid,
    iso_utc,
    json_object,
    json_or_none,
    optional_type,
)

__all__ = ["LinearConnector", "LinearOptions"]


class LinearOptions(SecretsOptions):
    tolerance_seconds: int = Field(
        60, ge=0, description="max distance of the body's webhookTimestamp from now, both directions"
    )


class LinearConnector(BodyHmacConnector[LinearOptions]):
    name = "linear"
    summary = "Linear webhooks (Linear-Signature HMAC-SHA256, signed webhookTimestamp, rotation)"
    signature_header = "Linear-Signature"

    def verify(self, request: WebhookRequest, now: float) -> None:
        super().verify(request, now)
        if self.options.tolerance_seconds:
            check_tolerance(_webhook_timestamp(request.body), now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        entity = optional_type(payload, "type")
        if entity is None:
            header = request.headers.get("linear-event")
            if header is None:
                raise MalformedPayloadError("missing_field", "type")
            entity = check_event_type(header, "Linear-Event")
        action = optional_type(payload, "action")
        event_type = entity if action is None else check_event_type(f"{entity}.{action}", "type + action")
        delivery = request.headers.get("linear-delivery", "").strip() or None
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=delivery or sha256_of_parts(self.name, request.body),
                delivery_id=delivery,
                occurred_at=utc_from_timestamp(payload.get("createdAt")),
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        headers = {
            "User-Agent": "Linear-Webhook",
            "Linear-Delivery": delivery_uuid(body, now),
        }
        entity = _entity(body)
        if entity is not None:
            headers["Linear-Event"] = entity
        return headers

    def sample_body(self, now: float) -> bytes:
        created = iso_utc(now, "milliseconds")
        event = {
            "action": "create",
            "actor": {"id": "2e6eea91-1111-0000-9486-acea0603064d", "type": "user", "name": "Jane Doe"},
            "createdAt": created,
            "data": {
                "id": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9",
                "createdAt": created,
                "updatedAt": created,
                "number": 108,
                "title": "Printer on fire",
                "priority": 1,
                "identifier": "ENG-108",
                "teamId": "72b2a2dc-6f4f-4423-9d34-24b5bd10634a",
            },
            "url": "https://linear.app/acme/issue/ENG-108/printer-on-fire",
            "type": "Issue",
            "organizationId": "e3e5c9d1-2c0a-4d3b-b7f1-8a7f6e5d4c3b",
            "webhookTimestamp": int(now * 1000),
            "webhookId": "000042e3-d123-4980-b49f-8e140eef9329",
        }
        return json.dumps(event, indent=2).encode()


def _webhook_timestamp(body: bytes) -> int:
    """Unix seconds of an authentic body's `webhookTimestamp` (ms), or `VerificationError`."""
    try:
        payload: Any = parse_json(body)
    except MalformedPayloadError:
        raise VerificationError("missing_timestamp", "body is not JSON") from None
    value = payload.get("webhookTimestamp") if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise VerificationError("missing_timestamp", "no integer webhookTimestamp")
    if not 0 <= value < 10**15:
        raise VerificationError("malformed_timestamp")
    return value // 1000


def _entity(body: bytes) -> str | None:
    payload = json_or_none(body)
    value = payload.get("type") if isinstance(payload, dict) else None
    return value if isinstance(value, str) and value.isprintable() and 0 < len(value) <= 64 else None
