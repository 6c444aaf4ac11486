"""Zendesk: `X-Zendesk-Webhook-Signature: <base64>` over the signature timestamp + body.

The signature is `base64(HMAC-SHA256(secret, TIMESTAMP + BODY))`, no separator, where
TIMESTAMP is the `X-Zendesk-Webhook-Signature-Timestamp` header exactly as sent (ISO 8601,
`2025-01-08T10:12:07Z`) and the body may be empty. The key is the webhook's signing secret
(Admin Center > Apps and integrations > Webhooks > the webhook > Signing secret) as UTF-8
bytes. Zendesk sends one signature; list the old and the new secret while you reset it.
The timestamp must be within `tolerance_seconds` of now, on both sides.

Two kinds of webhook share the scheme:

* connected to Zendesk events: a JSON envelope whose `type` (`zen:event-type:ticket.created`)
  is the event type and whose `id` is the dedup key; `time` is when it happened;
* connected to triggers or automations: the body is the template you wrote (JSON, or
  empty). Its event type is `default_type` (a template's own `type` field, such as the
  ticket type, is not taken for an event type unless it starts with `zen:`); the dedup
  key is the `X-Zendesk-Webhook-Invocation-Id` header, else a hash of the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from pydantic import Field

from connectors import (
    Connector,
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
from connectors.toolkit import (
    MAX_TYPE_LENGTH,
    check_event_type,
    check_hmac,
    check_tolerance,
    iso_utc,
    lookup,
    optional_id,
    parse_iso_timestamp,
    stable_id,
    to_bytes,
)

__all__ = ["TEST_SIGNING_SECRET", "ZendeskConnector", "ZendeskOptions"]

#: The fixed, public secret Zendesk signs "Test webhook" requests with before a webhook is
#: saved. Never configure it in production: anyone can sign with it.
_EVENT_PREFIX = "zen:"
TEST_SIGNING_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # noqa: S105


class ZendeskOptions(SecretsOptions):
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions")
    default_type: str = Field(
        "zendesk.webhook",
        min_length=1,
        max_length=MAX_TYPE_LENGTH,
        description="event type of a trigger/automation body without `type`",
    )


class ZendeskConnector(Connector[ZendeskOptions]):
    name = "zendesk"
    summary = "Zendesk webhooks (base64 HMAC-SHA256 over timestamp + body, rotation, tolerance)"
    # Trigger and automation webhooks may use PUT or PATCH (GET/DELETE carry no data).
    methods = frozenset({"POST", "PUT", "PATCH"})

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get("x-zendesk-webhook-signature", "").strip()
        ts_header = request.headers.get("x-zendesk-webhook-signature-timestamp", "")
        if not signature:
            raise VerificationError("missing_signature")
        if not ts_header:
            raise VerificationError("missing_timestamp")
        timestamp = int(parse_iso_timestamp(ts_header))
        signed = to_bytes(ts_header) + request.body
        check_hmac(secret_values(self.options.secrets), signed, [to_bytes(signature)], encoding="base64")
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload: Any = parse_json(request.body) if request.body.strip() else None
        raw_type = lookup(payload, "type")
        event_id: str | None = None
        occurred = None
        if isinstance(raw_type, str) and raw_type.startswith(_EVENT_PREFIX):
            event_type = check_event_type(raw_type, "type")
            event_id = optional_id(lookup(payload, "id"))
            occurred = utc_from_timestamp(lookup(payload, "time"))
        else:  # a trigger/automation template: its fields are the author's, not Zendesk's
            event_type = self.options.default_type
        invocation = request.headers.get("x-zendesk-webhook-invocation-id", "").strip() or None
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=event_id or invocation or sha256_of_parts(self.name, request.body),
                provider_event_id=event_id,
                delivery_id=invocation,
                occurred_at=occurred,
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        timestamp = iso_utc(now)
        key = secret_values(self.options.secrets)[0]
        signature = base64.b64encode(hmac.new(key, timestamp.encode() + body, hashlib.sha256).digest())
        return SignedDelivery(
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Zendesk Webhook",
                "X-Zendesk-Account-Id": "22129848",
                "X-Zendesk-Webhook-Id": "01GDMN6S5E4WD8C5Q5P9S8Z4SZ",
                "X-Zendesk-Webhook-Invocation-Id": stable_id("", body, now)[:20],
                "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
                "X-Zendesk-Webhook-Signature": signature.decode(),
            },
        )

    def sample_body(self, now: float) -> bytes:
        when = iso_utc(now)
        event = {
            "account_id": 22129848,
            "detail": {
                "actor_id": "8447388090494",
                "created_at": when,
                "id": "5158",
                "priority": "HIGH",
                "requester_id": "8447388090494",
                "status": "OPEN",
                "subject": "Printer on fire",
                "type": "INCIDENT",
                "updated_at": when,
                "via": {"channel": "web_service"},
            },
            "event": {},
            "id": str(uuid.UUID(bytes=hashlib.sha256(b"%r" % now).digest()[:16], version=4)),
            "subject": "zen:ticket:5158",
            "time": when,
            "type": "zen:event-type:ticket.created",
            "zendesk_event_version": "2022-11-06",
        }
        return json.dumps(event, indent=2).encode()
