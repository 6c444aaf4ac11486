"""Persona: `Persona-Signature: t=<unix>,v1=<hex>` over `f"{t}.{body}"`.

`v1` is the hex HMAC-SHA256 of the timestamp, `.` and the raw body, keyed with the
webhook's secret (`wbhsec_…`, Dashboard → Webhooks) as UTF-8 bytes. While a secret is
rotated Persona sends one `t=…,v1=…` pair per active secret, separated by spaces, all
with the same timestamp; any pair that matches any configured secret verifies. The
timestamp must be within `tolerance_seconds` of now on both sides.

The body is a JSON:API document: the dedup key is `data.id` (`evt_…`, kept across
retries), the event type `data.attributes.name` (`inquiry.completed`,
`verification.passed`, ...) and `occurred_at` `data.attributes.created-at`.
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, VerificationError, WebhookRequest, utc_from_timestamp
from connectors.toolkit import (
    DottedHmacConnector,
    TimedSecretsOptions,
    iso_utc,
    json_object,
    keyed_event,
    lookup,
    stable_id,
    timestamped_signatures,
    typed_id,
)

__all__ = ["PersonaConnector", "PersonaOptions"]

#: More pairs than any rotation sends: a longer header is refused before any HMAC.
_MAX_PAIRS = 8


class PersonaOptions(TimedSecretsOptions):
    """`secrets` and `tolerance_seconds`."""


class PersonaConnector(DottedHmacConnector[PersonaOptions]):
    name = "persona"
    summary = "Persona webhooks (Persona-Signature t=,v1= HMAC-SHA256, rotation pairs, tolerance)"
    signature_header = "Persona-Signature"

    def parse_signature(self, header: str) -> tuple[str, list[str]]:
        """Every pair's signature; the pairs must share one timestamp."""
        pairs = header.split()
        if len(pairs) > _MAX_PAIRS:
            raise VerificationError("malformed_signature")
        parsed = [timestamped_signatures(pair, single_timestamp=True) for pair in pairs]
        if len({timestamp for timestamp, _ in parsed}) != 1:
            raise VerificationError("malformed_signature")
        return parsed[0][0], [signature for _, signatures in parsed for signature in signatures]

    def format_signature(self, timestamp: str, signatures: list[str]) -> str:
        return " ".join(f"t={timestamp},v1={signature}" for signature in signatures)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type, event_id = typed_id(payload, "data.attributes.name", "data.id")
        created = utc_from_timestamp(lookup(payload, "data.attributes.created-at"))
        return [keyed_event(event_type, payload, event_id, occurred_at=created)]

    def sample_body(self, now: float) -> bytes:
        when = iso_utc(now, "milliseconds")
        inquiry = {
            "type": "inquiry",
            "id": "inq_2CVZ4HyVg7qaboXz2fVbBwKj",
            "attributes": {"status": "completed", "reference-id": "user-1234", "created-at": when},
        }
        event = {
            "data": {
                "type": "event",
                "id": stable_id("evt_", b"persona", now)[:28],
                "attributes": {"name": "inquiry.completed", "payload": {"data": inquiry}, "created-at": when},
            }
        }
        return json.dumps(event, indent=2).encode()
