"""OpenAI: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

The verification is the `standard-webhooks` connector's: v1 HMAC-SHA256 over
`f"{id}.{timestamp}.{body}"` keyed with the base64-decoded signing secret `whsec_…`
(shown once when the endpoint is created in the OpenAI dashboard), several secrets for
rotation, a two-sided timestamp tolerance (300 s, as in the `openai` SDK), dedup on
`webhook-id`. The event type is the body's `type` (`response.completed`,
`batch.completed`, `fine_tuning.job.succeeded`, `eval.run.failed`, ...); it occurs at the
body's `created_at` (unix seconds).
"""

from __future__ import annotations

import dataclasses
import json

from connectors import ProviderEvent, WebhookRequest, utc_from_timestamp
from connectors.standard_webhooks import StandardWebhooksConnector, StandardWebhooksOptions
from connectors.toolkit import lookup, stable_id

__all__ = ["OpenAIConnector", "OpenAIOptions"]


class OpenAIOptions(StandardWebhooksOptions):
    """The `standard-webhooks` options: `secrets`, `tolerance_seconds`, `default_type`."""


class OpenAIConnector(StandardWebhooksConnector[OpenAIOptions]):
    name = "openai"
    summary = "OpenAI webhooks (Standard Webhooks: whsec_ signing secret, rotation, tolerance)"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return [
            dataclasses.replace(event, occurred_at=utc_from_timestamp(lookup(event.payload, "created_at")))
            for event in super().normalize(request)
        ]

    def sample_body(self, now: float) -> bytes:
        event = {
            "object": "event",
            "id": stable_id("evt_", b"openai", now),
            "type": "response.completed",
            "created_at": int(now),
            "data": {"id": stable_id("resp_", b"openai-response", now)},
        }
        return json.dumps(event, indent=2).encode()
