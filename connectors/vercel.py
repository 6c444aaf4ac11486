"""Vercel: `x-vercel-signature: <hex>`, HMAC-SHA1 of the raw body.

The key is the webhook's secret (shown once when an account webhook is created, or the
integration's Client Secret for integration webhooks), as UTF-8 bytes; list two while
rotating. Vercel signs no timestamp: replay protection is dedup on the body's `id`
(one per event, kept across retries). The event type is the body's `type`
(`deployment.created`, `deployment.succeeded`, `project.created`, ...) and `occurred_at`
its `createdAt` (milliseconds).
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, SecretsOptions, WebhookRequest, utc_from_timestamp
from connectors.toolkit import BodyHmacConnector, json_object, keyed_event, stable_id, typed_id

__all__ = ["VercelConnector", "VercelOptions"]


class VercelOptions(SecretsOptions):
    """Only `secrets`: the webhook secret(s) or the integration's client secret(s)."""


class VercelConnector(BodyHmacConnector[VercelOptions]):
    name = "vercel"
    summary = "Vercel webhooks (x-vercel-signature, hex HMAC-SHA1 of the body, rotation)"
    signature_header = "x-vercel-signature"
    algorithm = "sha1"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type, event_id = typed_id(payload, "type", "id")
        return [
            keyed_event(
                event_type, payload, event_id, occurred_at=utc_from_timestamp(payload.get("createdAt"))
            )
        ]

    def sample_body(self, now: float) -> bytes:
        event = {
            "id": stable_id("evt_", b"vercel", now),
            "type": "deployment.succeeded",
            "createdAt": int(now * 1000),
            "region": "sfo1",
            "payload": {
                "team": {"id": "team_1a2b3c4d5e6f7g8h9i0j1k2l"},
                "user": {"id": "2sH4bJ9kL0mN1pQ3rS5tU7vW"},
                "deployment": {
                    "id": "dpl_2euZBFqxYdDMDG1jTrHFnNZ2eUVa",
                    "url": "hookgate-docs-4xk2q9.vercel.app",
                    "name": "hookgate-docs",
                    "meta": {"githubCommitRef": "main"},
                },
                "project": {"id": "prj_12HKQaOmR5t5Uy6vdcQsNIiZgHGB"},
                "target": "production",
            },
        }
        return json.dumps(event, indent=2).encode()
