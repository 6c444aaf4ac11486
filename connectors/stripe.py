"""Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `f"{t}.{body}"`.

HMAC-SHA256 keyed with the whole `whsec_…` string as UTF-8 bytes (Stripe does not
base64-decode it, unlike Svix). Several `v1` values appear while a secret is rolled;
`v0` and other schemes are ignored so nobody can downgrade. The timestamp must be within
`tolerance_seconds` of now, on both sides (the SDK only checks the past; we refuse
deliveries from the future too, beyond the same tolerance).

Two payloads arrive signed the same way: snapshot events (`"object": "event"`, the object
in `data`) and the thin events of event destinations (`"object": "v2.core.event"`: the
event's id, type and related object, not its data). With an `api_key`, the full thin
event is fetched through the `stripe` SDK after the delivery is stored
(`connectors._stripe_fetch`); without one, thin events are forwarded as they arrived.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import Field, SecretStr, field_validator

from connectors import (
    Connector,
    Enricher,
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
    json_object,
    parse_timestamp,
    timestamped_signatures,
    to_bytes,
)

__all__ = ["StripeConnector", "StripeOptions"]


#: The `object` of a thin event (an event destination's notification), as Stripe sends it.
THIN_EVENT_OBJECT = "v2.core.event"


class StripeOptions(SecretsOptions):
    tolerance_seconds: int = Field(300, ge=0, description="max age of the signed timestamp")
    api_key: SecretStr | None = Field(
        None, description="a secret or restricted key (rk_…) that reads events: thin events are fetched"
    )
    api_base: str | None = Field(None, description="the Stripe API's URL (a proxy, a test server)")
    stripe_version: str | None = Field(None, description="the Stripe-Version of API calls (SDK's default)")
    api_timeout_seconds: float = Field(30.0, gt=0, description="the time allowed for one API call")

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://api.stripe.com")
        return value.rstrip("/") if value else value


class StripeConnector(Connector[StripeOptions]):
    name = "stripe"
    summary = "Stripe webhook endpoints and event destinations (v1 HMAC-SHA256, rotation, thin events)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("stripe-signature")
        if not header:
            raise VerificationError("missing_signature")
        ts_text, signatures = timestamped_signatures(header)
        timestamp = parse_timestamp(ts_text)
        signed = b"%d." % timestamp + request.body  # as the SDK: the timestamp as parsed
        check_hmac(secret_values(self.options.secrets), signed, [to_bytes(s) for s in signatures])
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def enricher(self) -> Enricher | None:
        """With an `api_key`: the fetcher of thin events' full events (the SDK is loaded then)."""
        if self.options.api_key is None:
            return None
        from connectors._stripe_fetch import StripeEventFetcher  # noqa: PLC0415 - only with an api_key

        return StripeEventFetcher(self.options)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        # A thin event is normalized like a snapshot one: its id, its type, and `created`
        # (an ISO-8601 string in thin events, a unix time in snapshot events).
        event = json_object(request.body)
        event_id, event_type = event.get("id"), event.get("type")
        if not isinstance(event_id, str) or not event_id:
            raise MalformedPayloadError("missing_field", "id")
        if event_type is None:
            raise MalformedPayloadError("missing_field", "type")
        event_type = check_event_type(event_type, "type")
        return [
            ProviderEvent(
                type=event_type,
                payload=event,
                dedup_key=event_id,
                provider_event_id=event_id,
                occurred_at=utc_from_timestamp(event.get("created")),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        timestamp = int(now)
        signed = b"%d." % timestamp + body
        sigs = ",".join(
            "v1=" + hmac.new(key, signed, hashlib.sha256).hexdigest()
            for key in secret_values(self.options.secrets)
        )
        return SignedDelivery(
            body=body,
            headers={
                "Stripe-Signature": f"t={timestamp},{sigs}",
                "Content-Type": "application/json",
            },
        )

    def sample_body(self, now: float) -> bytes:
        created = int(now)
        event: dict[str, Any] = {
            "id": f"evt_test_{int(now * 1e6):x}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": created,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
                    "object": "payment_intent",
                    "amount": 2000,
                    "currency": "usd",
                    "status": "succeeded",
                    "created": created,
                }
            },
        }
        return json.dumps(event, indent=2).encode()
