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

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    VerificationError,
    WebhookRequest,
    utc_from_timestamp,
)
from connectors.toolkit import (
    DottedHmacConnector,
    TimedSecretsOptions,
    check_event_type,
    iso_utc,
    json_object,
    keyed_event,
    stable_id,
    typed_id,
)

__all__ = ["RecurlyConnector", "RecurlyOptions"]


class RecurlyOptions(TimedSecretsOptions):
    """`secrets` and `tolerance_seconds`."""


class RecurlyConnector(DottedHmacConnector[RecurlyOptions]):
    name = "recurly"
    summary = "Recurly webhooks (recurly-signature ms,hex HMAC-SHA256, rotation, tolerance)"
    signature_header = "recurly-signature"
    millis = True

    def parse_signature(self, header: str) -> tuple[str, list[str]]:
        timestamp, *signatures = header.split(",")
        if not signatures:
            raise VerificationError("malformed_signature")
        return timestamp.strip(), signatures

    def format_signature(self, timestamp: str, signatures: list[str]) -> str:
        return ",".join([timestamp, *signatures])

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
