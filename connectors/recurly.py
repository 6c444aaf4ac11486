"""Recurly: `recurly-signature: <unix ms>,<hex>[,<hex>…]` over `f"{ms}.{body}"`.

Each signature is the hex HMAC-SHA256 of the timestamp as sent (milliseconds), `.` and
the raw body, keyed with the endpoint's secret (Integrations → Webhooks) as UTF-8 bytes.
While a key is rotated Recurly sends one signature per active key; any that matches any
configured secret verifies. The timestamp must be within `tolerance_seconds` of now on
both sides.

The dedup key is the body's `id` (the notification id, kept across retries); the event
type is `<object_type>.<event_type>` (`account.created`, `subscription.renewed`,
`charge_invoice.paid`, ...) and `occurred_at` its `event_time`. Only JSON notifications
are read (the endpoint's format is set to JSON; XML is not supported).
"""

from __future__ import annotations

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
    check_dotted_hmac,
    check_event_type,
    dotted_hmac,
    iso_utc,
    json_object,
    keyed_event,
    stable_id,
    typed_id,
)

__all__ = ["RecurlyConnector", "RecurlyOptions"]


class RecurlyOptions(SecretsOptions):
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions")


class RecurlyConnector(Connector[RecurlyOptions]):
    name = "recurly"
    summary = "Recurly webhooks (recurly-signature ms,hex HMAC-SHA256, rotation, tolerance)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        stamp, *signatures = request.headers.get("recurly-signature", "").split(",")
        if not stamp.strip():
            raise VerificationError("missing_signature")
        if not signatures:
            raise VerificationError("malformed_signature")
        check_dotted_hmac(
            secret_values(self.options.secrets),
            stamp.strip(),
            request.body,
            signatures,
            now=now,
            tolerance=self.options.tolerance_seconds,
            millis=True,
        )

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        action, event_id = typed_id(payload, "event_type", "id")
        kind = payload.get("object_type")
        if not isinstance(kind, str):
            raise MalformedPayloadError("missing_field", "object_type")
        event_type = check_event_type(f"{kind}.{action}", "object_type.event_type")
        return [
            keyed_event(
                event_type, payload, event_id, occurred_at=utc_from_timestamp(payload.get("event_time"))
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        stamp = str(int(now * 1000))
        signatures = [dotted_hmac(key, stamp, body) for key in secret_values(self.options.secrets)]
        return SignedDelivery(
            body=body,
            headers={"Content-Type": "application/json", "recurly-signature": ",".join([stamp, *signatures])},
        )

    def sample_body(self, now: float) -> bytes:
        notification = {
            "id": stable_id("", b"recurly", now)[:13],
            "object_type": "account",
            "site_id": "ki8n1mvpfzk4",
            "event_type": "created",
            "event_time": iso_utc(now),
            "account_code": "1a2b3c4d5e6f",
            "uuid": stable_id("", b"recurly-account", now)[:32],
        }
        return json.dumps(notification, indent=2).encode()
