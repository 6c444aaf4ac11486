"""Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>` over `f"{t}.{body}"`.

`v1` is the hex HMAC-SHA256 of the timestamp, `.` and the raw body, keyed with the
webhook signing key (the `signing_key` you set when creating the subscription with a
personal access token, or your OAuth application's webhook signing key) as UTF-8 bytes.
Every `v1` in the header is a candidate and every configured key is tried, so a key can be
rotated. The timestamp must be within `tolerance_seconds` of now, on both sides (Calendly
suggests 3 minutes).

Calendly sends no event id: the dedup key is a hash of the event name, its `created_at`
and `payload.uri` (the invitee or routing-form submission), so a retry of the same event
is a duplicate; without those, a hash of the raw body. The event type is the body's
`event` (`invitee.created`, `invitee.canceled`, `routing_form_submission.created`, ...) and
`occurred_at` its `created_at`.
"""

from __future__ import annotations

import hashlib
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
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    check_hmac,
    check_tolerance,
    iso_utc,
    json_object,
    lookup,
    optional_id,
    optional_type,
    parse_timestamp,
    timestamped_signatures,
    to_bytes,
)

__all__ = ["CalendlyConnector", "CalendlyOptions"]


class CalendlyOptions(SecretsOptions):
    tolerance_seconds: int = Field(180, ge=0, description="max clock skew, both directions")


class CalendlyConnector(Connector[CalendlyOptions]):
    name = "calendly"
    summary = "Calendly webhooks (t=,v1= HMAC-SHA256 over timestamp.body, rotation, tolerance)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("calendly-webhook-signature")
        if not header:
            raise VerificationError("missing_signature")
        ts_text, signatures = timestamped_signatures(header)
        timestamp = parse_timestamp(ts_text)
        signed = to_bytes(ts_text) + b"." + request.body
        candidates = [to_bytes(s.strip().lower()) for s in signatures]
        check_hmac(secret_values(self.options.secrets), signed, candidates)
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type = optional_type(payload, "event")
        if event_type is None:
            raise MalformedPayloadError("missing_field", "event")
        created = optional_id(payload.get("created_at"))
        uri = optional_id(lookup(payload, "payload.uri"))
        if created and uri:
            dedup = sha256_of_parts(self.name, event_type, created, uri)
        else:
            dedup = sha256_of_parts(self.name, request.body)
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=dedup,
                occurred_at=utc_from_timestamp(payload.get("created_at")),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        timestamp = int(now)
        signed = b"%d." % timestamp + body
        sigs = ",".join(
            "v1=" + hmac.new(key, signed, hashlib.sha256).hexdigest()
            for key in secret_values(self.options.secrets)[:1]
        )
        return SignedDelivery(
            body=body,
            headers={
                "Calendly-Webhook-Signature": f"t={timestamp},{sigs}",
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Calendly",
            },
        )

    def sample_body(self, now: float) -> bytes:
        when = iso_utc(now, "microseconds")
        invitee = hashlib.sha256(b"%r" % now).hexdigest()[:16].upper()
        event_uri = "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2"
        event = {
            "created_at": when,
            "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
            "event": "invitee.created",
            "payload": {
                "created_at": when,
                "email": "test@example.com",
                "event": event_uri,
                "name": "John Doe",
                "rescheduled": False,
                "scheduled_event": {
                    "uri": event_uri,
                    "name": "15 Minute Meeting",
                    "status": "active",
                    "start_time": "2030-01-01T15:00:00.000000Z",
                    "end_time": "2030-01-01T15:15:00.000000Z",
                },
                "status": "active",
                "timezone": "America/New_York",
                "updated_at": when,
                "uri": f"{event_uri}/invitees/{invitee}",
            },
        }
        return json.dumps(event, indent=2).encode()
