"""Freshservice workflow webhooks: authentication only, no signature, no timestamp.

Freshservice's Workflow Automator action "Trigger Webhook" signs nothing, exactly like
Freshdesk's, so this connector is Freshdesk's with Freshservice's defaults. Configure one
mode:

* HTTP Basic ("Requires authentication", or a Credential Store entry of type Basic
  Auth): `username` + `password`. With a Freshservice API key the key is the username and
  `X` the password.
* a header (a Credential Store entry of type API key, or a custom header):
  `header_name` + `token`.
* a token in the URL query: `query_param` + `token`.

Each credential may be a list while it is rotated; all are compared in constant time.
Nothing protects the body or prevents replays: serve it over HTTPS only. The dedup key is
a hash of the raw body, so put the ticket id and a time placeholder in the payload. The
event type is read at `type_field` (default `type`; write e.g. `"type": "ticket.created"`
into an Advanced JSON payload), else `default_type`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import Field

from connectors import SignedDelivery
from connectors.freshdesk import FreshdeskConnector, FreshdeskOptions
from connectors.toolkit import MAX_TYPE_LENGTH

__all__ = ["FreshserviceConnector", "FreshserviceOptions"]


class FreshserviceOptions(FreshdeskOptions):
    type_field: str = Field("type", min_length=1, description="dotted path of the event type in the body")
    default_type: str = Field(
        "freshservice.webhook",
        min_length=1,
        max_length=MAX_TYPE_LENGTH,
        description="event type when the body has none at `type_field`",
    )


class FreshserviceConnector(FreshdeskConnector[FreshserviceOptions]):
    name = "freshservice"
    summary = "Freshservice workflow webhooks (HTTP Basic, header or query token; no signature)"

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        delivery = super().sign(body, now)
        return SignedDelivery(
            body=delivery.body,
            headers={**delivery.headers, "User-Agent": "Freshservice"},
            query=delivery.query,
        )

    def sample_body(self, now: float) -> bytes:
        ticket_id = int(now) % 100_000
        event = {
            "type": "ticket.created",
            "ticket": {
                "id": ticket_id,
                "subject": "Laptop will not boot",
                "status": "Open",
                "priority": "High",
                "category": "Hardware",
                "requester_email": "jane.doe@example.com",
                "url": f"https://acme.freshservice.com/a/tickets/{ticket_id}",
                "created_at": datetime.fromtimestamp(int(now), UTC).isoformat(),
            },
        }
        return json.dumps(event, indent=2).encode()
