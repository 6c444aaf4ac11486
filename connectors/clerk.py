"""Clerk: Svix-delivered webhooks (`svix-id`, `svix-timestamp`, `svix-signature`).

The verification is Svix's (see `connectors.svix`): the Signing Secret `whsec_…` from the
Clerk Dashboard, several secrets for rotation, a two-sided timestamp tolerance, dedup on
`svix-id`. The event type is the body's `type` (`user.created`, `session.created`,
`organization.updated`, ...); it occurs at the body's `timestamp` (milliseconds).
"""

from __future__ import annotations

import json
from typing import Any

from connectors.svix import SvixConnector, SvixOptions

__all__ = ["ClerkConnector", "ClerkOptions"]


class ClerkOptions(SvixOptions):
    """The `svix` options: `secrets`, `tolerance_seconds`, `default_type`."""


class ClerkConnector(SvixConnector[ClerkOptions]):
    name = "clerk"
    summary = "Clerk webhooks (Svix: whsec_ signing secret, rotation, tolerance)"

    def sample_body(self, now: float) -> bytes:
        millis = int(now * 1000)
        event: dict[str, Any] = {
            "data": {
                "created_at": millis,
                "email_addresses": [
                    {
                        "email_address": "example@example.org",
                        "id": "idn_29w83yL7CwVlJXylYLxcslromF1",
                        "object": "email_address",
                        "verification": {"status": "verified", "strategy": "ticket"},
                    }
                ],
                "first_name": "Example",
                "id": "user_29w83sxmDNGwOuEthce5gg56FcC",
                "last_name": "Example",
                "object": "user",
                "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF1",
                "updated_at": millis,
            },
            "event_attributes": {"http_request": {"client_ip": "192.0.2.10", "user_agent": "Mozilla/5.0"}},
            "instance_id": "ins_123",
            "object": "event",
            "timestamp": millis,
            "type": "user.created",
        }
        return json.dumps(event, indent=2).encode()
