"""Persona: `Persona-Signature: t=<unix>,v1=<hex>` over `f"{t}.{body}"`.

`v1` is the hex HMAC-SHA256 of the timestamp, `.` and the raw body, keyed with the
webhook's secret (`wbhsec_…`, Dashboard → Webhooks) as UTF-8 bytes. While a secret is
rotated Persona sends one `t=…,v1=…` pair per active secret, separated by spaces; any pair
that matches any configured secret verifies. The timestamp must be within
`tolerance_seconds` of now on both sides.

The body is a JSON:API document: the dedup key is `data.id` (`evt_…`, kept across
retries), the event type `data.attributes.name` (`inquiry.completed`,
`verification.passed`, ...) and `occurred_at` `data.attributes.created-at`.
"""

from __future__ import annotations

import json

from pydantic import Field

from connectors import (
    Connector,
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
    dotted_hmac,
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


class PersonaOptions(SecretsOptions):
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions")


class PersonaConnector(Connector[PersonaOptions]):
    name = "persona"
    summary = "Persona webhooks (Persona-Signature t=,v1= HMAC-SHA256, rotation pairs, tolerance)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("persona-signature", "")
        pairs = header.split()
        if not pairs:
            raise VerificationError("missing_signature")
        if len(pairs) > _MAX_PAIRS:
            raise VerificationError("malformed_signature")
        parsed = [timestamped_signatures(pair, single_timestamp=True) for pair in pairs]
        keys = secret_values(self.options.secrets)
        failure = VerificationError("bad_signature")
        for stamp, signatures in parsed:
            try:
                check_dotted_hmac(
                    keys, stamp, request.body, signatures, now=now, tolerance=self.options.tolerance_seconds
                )
            except VerificationError as exc:
                failure = exc
            else:
                return
        raise failure

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type, event_id = typed_id(payload, "data.attributes.name", "data.id")
        created = utc_from_timestamp(lookup(payload, "data.attributes.created-at"))
        return [keyed_event(event_type, payload, event_id, occurred_at=created)]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        stamp = str(int(now))
        pairs = [
            f"t={stamp},v1={dotted_hmac(key, stamp, body)}" for key in secret_values(self.options.secrets)
        ]
        headers = {"Content-Type": "application/json", "Persona-Signature": " ".join(pairs)}
        return SignedDelivery(body=body, headers=headers)

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
