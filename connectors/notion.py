"""Notion: `X-Notion-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body; a verification POST.

When a webhook subscription is created (an integration's Webhooks tab), Notion POSTs
`{"verification_token": "secret_…"}`, unsigned, to the URL; the token is then pasted back
into Notion's form to verify the subscription, and is the key of every later delivery's
signature. hookgate answers that POST with a 200 and stores nothing (the token must reach
`secrets` by hand); list the old and the new token while a subscription is replaced.

Notion signs no timestamp: the dedup key is the event's `id`, the detail-type its `type`
(`page.created`, `page.content_updated`, `comment.created`, ...), and `occurred_at` its
`timestamp`.
"""

from __future__ import annotations

import json

from connectors import ConnectorResponse, ProviderEvent, SecretsOptions, WebhookRequest
from connectors.toolkit import BodyHmacConnector, delivery_uuid, iso_utc, json_event, json_or_none

__all__ = ["NotionConnector", "NotionOptions"]

_MAX_VERIFICATION = 1024


class NotionOptions(SecretsOptions):
    """Only `secrets`: the subscription's verification token(s)."""


class NotionConnector(BodyHmacConnector[NotionOptions]):
    name = "notion"
    summary = "Notion webhooks (verification POST, X-Notion-Signature HMAC-SHA256, rotation)"
    signature_header = "X-Notion-Signature"
    signature_prefix = "sha256="

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if len(request.body) > _MAX_VERIFICATION or "x-notion-signature" in request.headers:
            return None
        payload = json_or_none(request.body)
        if isinstance(payload, dict) and set(payload) == {"verification_token"}:
            return ConnectorResponse(200)
        return None

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(self.name, request.body, type_path="type", id_path="id", time_path="timestamp")

    def sample_body(self, now: float) -> bytes:
        event = {
            "id": delivery_uuid(b"notion", now),
            "timestamp": iso_utc(now, "milliseconds"),
            "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565",
            "workspace_name": "Acme",
            "subscription_id": "29d75c0d-5546-4414-8459-7b7a92f1fc4b",
            "integration_id": "0ef2e755-4912-8096-91c1-00376a88a5ca",
            "type": "page.created",
            "authors": [{"id": "c7c11cca-1d73-471d-9b6e-bdef51470190", "type": "person"}],
            "attempt_number": 1,
            "entity": {"id": "153104cd-477e-809d-8dc4-ff2d96ae3090", "type": "page"},
            "data": {"parent": {"id": "13950b26-c203-4f3b-b97d-93ec06319565", "type": "space"}},
        }
        return json.dumps(event, indent=2).encode()
