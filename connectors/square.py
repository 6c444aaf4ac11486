"""Square: `x-square-hmacsha256-signature`, base64 HMAC-SHA256 of `notification_url + body`.

The key is the subscription's signature key (as UTF-8). The URL is the notification URL
exactly as entered in the subscription: set `notification_url` to pin it (needed when a
proxy rewrites the path), else the URL the gateway reconstructs from its configured
`public_url` is used (never the `Host` header). A trailing `/` matters. The legacy SHA-1
`x-square-signature` is ignored so nobody can downgrade. Square sends one signature per
subscription, so a key rotation (or several subscriptions sharing this URL) means listing
several keys.

Square signs no timestamp: replay protection is dedup on the body's `event_id` (stable
across retries). The event type is the body's `type` (`payment.updated`).
"""

from __future__ import annotations

import base64
import hmac
import json

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
    DEFAULT_SIGNING_URL,
    check_event_type,
    check_hmac,
    iso_utc,
    json_object,
    stable_id,
    to_bytes,
)

__all__ = ["DEFAULT_SIGNING_URL", "SquareConnector", "SquareOptions"]


class SquareOptions(SecretsOptions):
    notification_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="the subscription's notification URL, exactly; default: the URL that was called",
    )


class SquareConnector(Connector[SquareOptions]):
    name = "square"
    summary = "Square webhook subscriptions (x-square-hmacsha256-signature over URL + body, rotation)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get("x-square-hmacsha256-signature", "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        url = self.options.notification_url or request.url
        if not url:
            raise VerificationError("missing_url")
        signed = to_bytes(url) + request.body
        check_hmac(secret_values(self.options.secrets), signed, [to_bytes(signature)], encoding="base64")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        event = json_object(request.body)
        event_id, event_type = event.get("event_id"), event.get("type")
        if not isinstance(event_id, str) or not event_id:
            raise MalformedPayloadError("missing_field", "event_id")
        if event_type is None:
            raise MalformedPayloadError("missing_field", "type")
        return [
            ProviderEvent(
                type=check_event_type(event_type, "type"),
                payload=event,
                dedup_key=event_id,
                provider_event_id=event_id,
                occurred_at=utc_from_timestamp(event.get("created_at")),
            )
        ]

    def sign(self, body: bytes, now: float, *, url: str | None = None) -> SignedDelivery:
        """Sign for `notification_url`, else `url`, else the test kit's default URL."""
        url = self.options.notification_url or url or DEFAULT_SIGNING_URL
        key = secret_values(self.options.secrets)[0]
        digest = hmac.new(key, to_bytes(url) + body, "sha256").digest()
        return SignedDelivery(
            body=body,
            headers={
                "x-square-hmacsha256-signature": base64.b64encode(digest).decode(),
                "square-environment": "Production",
                "square-initial-delivery-timestamp": iso_utc(now),
                "square-retry-number": "0",
                "Content-Type": "application/json",
                "User-Agent": "Square Connect v2",
            },
        )

    def sample_body(self, now: float) -> bytes:
        event = {
            "merchant_id": "6SSW7HV8K2ST5",
            "type": "payment.updated",
            "event_id": stable_id("", b"square", now)[:8] + "-54a1-4eb0-a98a-3111513fd4fc",
            "created_at": iso_utc(now),
            "data": {
                "type": "payment",
                "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
                "object": {
                    "payment": {
                        "amount_money": {"amount": 100, "currency": "USD"},
                        "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
                        "location_id": "S8GWD5R9QB376",
                        "order_id": "03O3USaPaAaLso4YTeYpmLLzUYfZY",
                        "source_type": "CARD",
                        "status": "COMPLETED",
                        "version": 2,
                    }
                },
            },
        }
        return json.dumps(event, indent=2).encode()
