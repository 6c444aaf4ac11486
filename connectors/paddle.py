"""Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…]` over `f"{ts}:{body}"`.

HMAC-SHA256 keyed with the notification destination's secret key (`pdl_ntfset_…`, used
as UTF-8 text), hex. Paddle lists one `h1` per active secret while a secret is rotated,
and `secrets` may list several keys; any match verifies. Keys other than `ts` and `h1`
are ignored (a future scheme cannot be forced on us, nor break us). The timestamp must be
within `tolerance_seconds` of now, on both sides; Paddle's SDKs allow 5 seconds, which
needs a well-synchronized clock.

Dedup is on the body's `event_id` (`evt_…`): the same event sent to several
destinations, or retried, keeps it, while `notification_id` (`ntf_…`) names the delivery.
The event type is the body's `event_type` (`transaction.completed`). Paddle Classic
(`p_signature`, RSA over PHP-serialized fields) is a different product and not supported.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import Field

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    secret_values,
    utc_from_timestamp,
)
from connectors.toolkit import (
    check_event_type,
    check_hmac,
    check_tolerance,
    iso_utc,
    json_object,
    parse_timestamp,
    stable_id,
    timestamped_signatures,
    to_bytes,
)

__all__ = ["PaddleConnector", "PaddleOptions"]


class PaddleOptions(SecretsOptions):
    tolerance_seconds: int = Field(5, ge=0, description="max clock skew of the signed timestamp, both ways")


class PaddleConnector(Connector[PaddleOptions]):
    name = "paddle"
    summary = "Paddle Billing notifications (Paddle-Signature ts/h1 HMAC-SHA256, rotation, tolerance)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("paddle-signature", "").strip()
        if not header:
            raise VerificationError("missing_signature")
        ts_value, signatures = timestamped_signatures(
            header, separator=";", timestamp_key="ts", signature_key="h1", single_timestamp=True
        )
        timestamp = parse_timestamp(ts_value)
        signed = to_bytes(ts_value) + b":" + request.body
        candidates = [to_bytes(s.strip().lower()) for s in signatures]
        check_hmac(secret_values(self.options.secrets), signed, candidates)
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        event = json_object(request.body)
        event_id, raw_type = event.get("event_id"), event.get("event_type")
        if not isinstance(event_id, str) or not event_id:
            raise MalformedPayloadError("missing_field", "event_id")
        if raw_type is None:
            raise MalformedPayloadError("missing_field", "event_type")
        notification = event.get("notification_id")
        return [
            ProviderEvent(
                type=check_event_type(raw_type, "event_type"),
                payload=event,
                dedup_key=event_id,
                provider_event_id=event_id,
                delivery_id=notification if isinstance(notification, str) and notification else None,
                occurred_at=utc_from_timestamp(event.get("occurred_at")),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """One `h1` per configured secret, as Paddle sends during a rotation."""
        timestamp = str(int(now))
        signed = timestamp.encode() + b":" + body
        h1 = ";".join(
            "h1=" + hmac.new(k, signed, hashlib.sha256).hexdigest()
            for k in secret_values(self.options.secrets)
        )
        return SignedDelivery(
            body=body,
            headers={"Paddle-Signature": f"ts={timestamp};{h1}", "Content-Type": "application/json"},
        )

    def sample_body(self, now: float) -> bytes:
        at = iso_utc(now, "microseconds")
        suffix = stable_id("", b"paddle", now)[:26]
        event: dict[str, Any] = {
            "event_id": f"evt_{suffix}",
            "event_type": "transaction.completed",
            "occurred_at": at,
            "notification_id": f"ntf_{suffix[::-1]}",
            "data": {
                "id": "txn_01hv8wptq8987qeep44cyrewp9",
                "status": "completed",
                "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
                "currency_code": "USD",
                "origin": "web",
                "collection_mode": "automatic",
                "items": [{"price_id": "pri_01gsz8x8sawmvhz1pv30nge1ke", "quantity": 10}],
                "details": {"totals": {"subtotal": "30000", "tax": "2400", "total": "32400"}},
                "created_at": at,
                "updated_at": at,
            },
        }
        return json.dumps(event, indent=2).encode()
