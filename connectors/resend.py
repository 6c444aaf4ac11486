"""Resend: Svix-delivered webhooks (`svix-id`, `svix-timestamp`, `svix-signature`).

The verification is Svix's (see `connectors.svix`): the Signing Secret `whsec_…` of the
Resend webhook, several secrets for rotation, a two-sided timestamp tolerance, dedup on
`svix-id`. The event type is the body's `type` (`email.sent`, `email.delivered`,
`email.bounced`, `contact.created`, ...); it occurs at the body's `created_at`.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from connectors import ProviderEvent, WebhookRequest, utc_from_timestamp
from connectors.svix import SvixConnector, SvixOptions

__all__ = ["ResendConnector", "ResendOptions"]


class ResendOptions(SvixOptions):
    """The `svix` options: `secrets`, `tolerance_seconds`, `default_type`."""


class ResendConnector(SvixConnector[ResendOptions]):
    name = "resend"
    summary = "Resend webhooks (Svix: whsec_ signing secret, rotation, tolerance)"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        events = super().normalize(request)
        return [dataclasses.replace(e, occurred_at=_created_at(e.payload) or e.occurred_at) for e in events]

    def sample_body(self, now: float) -> bytes:
        stamp = datetime.fromtimestamp(int(now), UTC).isoformat().replace("+00:00", ".000Z")
        event: dict[str, Any] = {
            "type": "email.delivered",
            "created_at": stamp,
            "data": {
                "created_at": stamp,
                "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
                "from": "Acme <onboarding@resend.dev>",
                "to": ["delivered@resend.dev"],
                "subject": "Sending this example",
                "tags": {"category": "confirm_email"},
            },
        }
        return json.dumps(event, indent=2).encode()


def _created_at(payload: Any) -> datetime | None:
    return utc_from_timestamp(payload.get("created_at")) if isinstance(payload, dict) else None
