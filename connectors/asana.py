"""Asana: `X-Hook-Signature: <hex>`, HMAC-SHA256 of the raw body, after an `X-Hook-Secret` handshake.

When a webhook is created (`POST /webhooks`), Asana sends the target a POST carrying
`X-Hook-Secret`, and creates the webhook only if the answer is a 200 (or 204) that echoes
that header. The secret is the key of every later delivery's `X-Hook-Signature`, the hex
HMAC-SHA256 of the raw body. The handshake asks for no credential and proves only that the
URL answers, so hookgate echoes a bounded value and stores nothing; the secret is then
configured as `secrets` (several while one webhook replaces another).

A delivery carries a list of `events`. A heartbeat (`{"events": []}`, sent every few hours;
Asana deletes a webhook whose heartbeats fail) is answered 200 once its signature verifies,
and stores nothing. Asana gives events no id and signs no timestamp: each event's dedup
key is a hash of the event itself (a retried delivery carries the same events). The
detail-type is `<resource_type>.<action>`
(`task.changed`, `story.added`, ...), and `occurred_at` the event's `created_at`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from connectors import (
    ConnectorResponse,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    BodyHmacConnector,
    check_event_type,
    echo_value,
    json_object,
    json_or_none,
    optional_type,
)

__all__ = ["AsanaConnector", "AsanaOptions"]

#: A heartbeat is `{"events": []}`, give or take whitespace.
_MAX_HEARTBEAT = 64


class AsanaOptions(SecretsOptions):
    """Only `secrets`: the `X-Hook-Secret` value(s) of the webhook(s)."""


class AsanaConnector(BodyHmacConnector[AsanaOptions]):
    name = "asana"
    summary = "Asana webhooks (X-Hook-Secret handshake, X-Hook-Signature HMAC-SHA256, rotation)"
    signature_header = "X-Hook-Signature"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        secret = echo_value(request.headers.get("x-hook-secret"), strict=True)
        if secret is not None:
            return ConnectorResponse(200, headers=(("X-Hook-Secret", secret),))
        if len(request.body) <= _MAX_HEARTBEAT and json_or_none(request.body) == {"events": []}:
            self.verify(request, now)  # a heartbeat: answered once authentic, nothing stored
            return ConnectorResponse(200)
        return None

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        events = json_object(request.body).get("events")
        if not isinstance(events, list):
            raise MalformedPayloadError("missing_field", "events")
        return [self._event(item) for item in events]

    def _event(self, item: object) -> ProviderEvent:
        if not isinstance(item, dict):
            raise MalformedPayloadError("bad_item", "events")
        resource = optional_type(item, "resource.resource_type") or "resource"
        action = optional_type(item, "action")
        if action is None:
            raise MalformedPayloadError("missing_field", "events[].action")
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return ProviderEvent(
            type=check_event_type(f"{resource}.{action}", "resource_type.action"),
            payload=item,
            dedup_key=sha256_of_parts(self.name, canonical.encode("utf-8", "surrogatepass")),
            occurred_at=utc_from_timestamp(item.get("created_at")),
        )

    def sample_body(self, now: float) -> bytes:
        created = datetime.fromtimestamp(int(now), UTC).isoformat(timespec="milliseconds")
        event = {
            "user": {"gid": "1201234567890123", "resource_type": "user"},
            "created_at": created.replace("+00:00", "Z"),
            "action": "changed",
            "resource": {
                "gid": "1209876543210987",
                "resource_type": "task",
                "resource_subtype": "default_task",
            },
            "parent": None,
            "change": {"field": "completed", "action": "changed"},
        }
        return json.dumps({"events": [event]}, indent=2).encode()
