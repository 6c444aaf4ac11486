"""Acme webhooks: `X-Acme-Signature: <hex HMAC-SHA256 of the raw body>`.

Acme signs no timestamp, so replay protection comes from dedup on `X-Acme-Delivery`.
The event type is the body's `event` field (`order.created`, ...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import ClassVar

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    secret_values,
    utc_from_timestamp,
)

__all__ = ["AcmeConnector", "AcmeOptions"]


class AcmeOptions(SecretsOptions):
    """`secrets` (inherited, a list of `SecretStr`): the webhook signing secrets."""


class AcmeConnector(Connector):
    name = "acme"  # must equal the entry-point name
    summary = "Acme webhooks (X-Acme-Signature, HMAC-SHA256 hex)"
    Options: ClassVar[type[AcmeOptions]] = AcmeOptions
    options: AcmeOptions

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("x-acme-signature")
        if not header:
            raise VerificationError("missing_signature")
        candidate = header.strip().lower().encode("ascii", "replace")
        ok = False
        for key in secret_values(self.options.secrets):  # every key, so timing does not leak
            expected = hmac.new(key, request.body, hashlib.sha256).hexdigest().encode()
            ok |= hmac.compare_digest(expected, candidate)
        if not ok:
            raise VerificationError("bad_signature")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        delivery = request.headers.get("x-acme-delivery", "").strip()
        if not delivery:
            raise MalformedPayloadError("missing_header", "X-Acme-Delivery")
        body = parse_json(request.body)
        if not isinstance(body, dict):
            raise MalformedPayloadError("not_an_object")
        event_type = body.get("event")
        if not isinstance(event_type, str) or not 0 < len(event_type) <= 128:
            raise MalformedPayloadError("missing_field", "event")
        return [
            ProviderEvent(
                type=event_type,
                payload=body,
                dedup_key=delivery,
                delivery_id=delivery,
                occurred_at=utc_from_timestamp(body.get("created_at")),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        key = secret_values(self.options.secrets)[0]
        return SignedDelivery(
            body=body,
            headers={
                "X-Acme-Signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
                "X-Acme-Delivery": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{now}:{body!r}")),
                "Content-Type": "application/json",
            },
        )

    def sample_body(self, now: float) -> bytes:
        order = {"id": "ord_1001", "total": 4200, "currency": "EUR"}
        event = {"event": "order.created", "created_at": int(now), "data": order}
        return json.dumps(event).encode()
