"""Xero: `x-xero-signature: <base64>`, HMAC-SHA256 of the raw body keyed with the webhooks key.

Xero sends one signature; while a new webhooks key is generated list the old and the new
one. Xero signs no timestamp: replay protection is dedup alone.

Intent to Receive: when a subscription is created or re-enabled, Xero posts several
`{"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "…"}` bodies,
some signed correctly and some not, and expects `200` for the good ones and `401` for the
bad ones, both with an empty body. Such bodies are answered here, before the event
pipeline; the answer only says whether the signature verified, like any delivery's does.

A delivery's `events[]` fan out: one event per item, of type
`<eventCategory>.<eventType>` (`INVOICE.UPDATE`, `CONTACT.CREATE`), deduplicated on a hash
of `tenantId`, `resourceId`, `eventCategory`, `eventType` and `eventDateUtc` (Xero sends no
event id), occurred at `eventDateUtc`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from connectors import (
    Connector,
    ConnectorResponse,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import check_event_type, check_hmac, json_or_none, to_bytes

__all__ = ["XeroConnector", "XeroOptions"]

#: An Intent-to-Receive body is about 100 bytes; larger bodies are never treated as one.
_MAX_ITR = 1024
_KEY_FIELDS = ("tenantId", "resourceId", "eventCategory", "eventType", "eventDateUtc")


class XeroOptions(SecretsOptions):
    """Only `secrets`: the webhooks key(s)."""


class XeroConnector(Connector[XeroOptions]):
    name = "xero"
    summary = "Xero webhooks (x-xero-signature HMAC-SHA256 base64, Intent to Receive)"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if len(request.body) > _MAX_ITR or b'"events"' not in request.body:
            return None
        payload = json_or_none(request.body)
        if not (isinstance(payload, dict) and payload.get("events") == []):
            return None
        try:
            self.verify(request, now)
        except VerificationError:
            return ConnectorResponse(401, b"")
        return ConnectorResponse(200, b"")

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("x-xero-signature", "").strip()
        if not header:
            raise VerificationError("missing_signature")
        try:
            candidate = base64.b64decode(to_bytes(header), validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError("malformed_signature") from None
        check_hmac(secret_values(self.options.secrets), request.body, [candidate], encoding="raw")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = parse_json(request.body)
        items = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise MalformedPayloadError("missing_field", "events")
        events = []
        for item in items:
            if not isinstance(item, dict):
                raise MalformedPayloadError("bad_item", "events[] is not an object")
            category = check_event_type(item.get("eventCategory"), "eventCategory")
            kind = check_event_type(item.get("eventType"), "eventType")
            key = sha256_of_parts(self.name, *(json.dumps(item.get(f)) for f in _KEY_FIELDS))
            events.append(
                ProviderEvent(
                    type=check_event_type(f"{category}.{kind}", "eventCategory + eventType"),
                    payload=item,
                    dedup_key=key,
                    occurred_at=utc_from_timestamp(item.get("eventDateUtc")),
                )
            )
        if not events:
            raise MalformedPayloadError("no_events")
        return events

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        key = secret_values(self.options.secrets)[0]
        signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        return SignedDelivery(
            body=body,
            headers={"x-xero-signature": signature, "Content-Type": "application/json; charset=utf-8"},
        )

    def sample_body(self, now: float) -> bytes:
        stamp = datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        invoice = "ad9d9b6e-33c4-4c0e-8d28-1d7b4f9a6f00"
        event: dict[str, Any] = {
            "events": [
                {
                    "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice}",
                    "resourceId": invoice,
                    "eventDateUtc": stamp,
                    "eventType": "UPDATE",
                    "eventCategory": "INVOICE",
                    "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
                    "tenantType": "ORGANISATION",
                }
            ],
            "firstEventSequence": 1,
            "lastEventSequence": 1,
            "entropy": "YSXCMKAQBJOEMGUZEPFZ",
        }
        return json.dumps(event, indent=2).encode()
