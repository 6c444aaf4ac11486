"""Pipedrive: HTTP Basic credentials, no signature, no timestamp.

Pipedrive signs nothing. A webhook (Tools and apps → Webhooks, or the Webhooks API) can
carry an HTTP auth username and password, which Pipedrive sends as HTTP Basic; both are
compared in constant time, and each may be a list while it is rotated. Nothing protects
the body's integrity: serve it over HTTPS only.

Webhooks v2 (the default since 2025): the event type is `<meta.entity>.<meta.action>`
(`deal.create`, `person.change`, ...), the dedup key `meta.id` (one per event, kept
across retries) and `occurred_at` `meta.timestamp`. Webhooks v1: the type is
`<meta.object>.<meta.action>` (`deal.added`, `deal.updated`), the dedup key a hash of
the raw body (v1 has no event id) and `occurred_at` `meta.timestamp` (milliseconds).
"""

from __future__ import annotations

import json

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BasicAuthConnector,
    BasicAuthOptions,
    check_event_type,
    delivery_uuid,
    iso_utc,
    json_object,
    optional_id,
)

__all__ = ["PipedriveConnector", "PipedriveOptions"]


class PipedriveOptions(BasicAuthOptions):
    """`username` and `password`: the webhook's HTTP auth."""


class PipedriveConnector(BasicAuthConnector[PipedriveOptions]):
    name = "pipedrive"
    summary = "Pipedrive webhooks v2 and v1 (HTTP Basic, rotation; no signature)"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        meta = payload.get("meta")
        if not isinstance(meta, dict):
            raise MalformedPayloadError("missing_field", "meta")
        v2 = str(meta.get("version", "")).startswith("2")
        entity, action = meta.get("entity" if v2 else "object"), meta.get("action")
        if not (isinstance(entity, str) and entity and isinstance(action, str) and action):
            raise MalformedPayloadError("missing_field", "meta.entity/object, meta.action")
        event_id = optional_id(meta.get("id")) if v2 else None
        return [
            ProviderEvent(
                type=check_event_type(f"{entity}.{action}", "meta.entity.action"),
                payload=payload,
                dedup_key=event_id or sha256_of_parts(self.name, request.body),
                provider_event_id=event_id,
                occurred_at=utc_from_timestamp(meta.get("timestamp")),
            )
        ]

    def sample_body(self, now: float) -> bytes:
        deal = {"id": 42, "title": "Hookgate deal", "value": 5000, "currency": "EUR", "status": "open"}
        meta = {
            "action": "create",
            "entity": "deal",
            "entity_id": "42",
            "company_id": "13092870",
            "user_id": "21245883",
            "correlation_id": delivery_uuid(b"pipedrive-correlation", now),
            "id": delivery_uuid(b"pipedrive", now),
            "is_bulk_edit": False,
            "timestamp": iso_utc(now, "milliseconds"),
            "type": "general",
            "version": "2.0",
            "webhook_id": "1057836",
            "webhook_owner_id": "21245883",
        }
        return json.dumps({"data": deal, "previous": None, "meta": meta}, indent=2).encode()
