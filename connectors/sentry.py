"""Sentry (integration platform): `Sentry-Hook-Signature: <hex>`, HMAC-SHA256 of the body.

The key is the integration's Client Secret (Settings > Developer Settings > your
integration > Credentials), as UTF-8 bytes. Sentry sends one signature; list the old and
the new secret while you rotate it. `Sentry-Hook-Timestamp` is not part of the signed
content, so it is not a replay defence: replay protection is dedup on `Request-ID`
(falling back to a hash of the raw body), and `occurred_at` is taken from that header
only as information.

The event type is `Sentry-Hook-Resource` and, when the body has one, `.` + its `action`:
`issue.created`, `installation.deleted`, `event_alert.triggered`, `metric_alert.critical`.
"""

from __future__ import annotations

import json

from connectors import (
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
    delivery_uuid,
    guess_kind,
    iso_utc,
    json_object,
    optional_type,
)

__all__ = ["SentryConnector", "SentryOptions"]

# Keys under `data` that identify the resource, for `sign()` (send-test and the test kit).
_RESOURCE_BY_KEY = (
    ("data.installation", "installation"),
    ("data.issue", "issue"),
    ("data.error", "error"),
    ("data.comment_id", "comment"),
    ("data.metric_alert", "metric_alert"),
    ("data.event", "event_alert"),
)


class SentryOptions(SecretsOptions):
    """Only `secrets`: the integration's client secret(s)."""


class SentryConnector(BodyHmacConnector[SentryOptions]):
    name = "sentry"
    summary = "Sentry integration webhooks (Sentry-Hook-Signature, HMAC-SHA256, rotation)"
    signature_header = "Sentry-Hook-Signature"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        resource = request.headers.get("sentry-hook-resource")
        if resource is None:
            raise MalformedPayloadError("missing_header", "Sentry-Hook-Resource")
        event_type = check_event_type(resource, "Sentry-Hook-Resource")
        payload = json_object(request.body)
        action = optional_type(payload, "action")
        if action is not None:
            event_type = check_event_type(f"{event_type}.{action}", "Sentry-Hook-Resource + action")
        request_id = request.headers.get("request-id", "").strip() or None
        timestamp = request.headers.get("sentry-hook-timestamp", "").strip()
        occurred = utc_from_timestamp(int(timestamp)) if timestamp.isascii() and timestamp.isdigit() else None
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=request_id or sha256_of_parts(self.name, request.body),
                delivery_id=request_id,
                occurred_at=occurred,
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        return {
            "Request-ID": delivery_uuid(body, now),
            "Sentry-Hook-Resource": guess_kind(body, _RESOURCE_BY_KEY, "issue"),
            "Sentry-Hook-Timestamp": str(int(now)),
        }

    def sample_body(self, now: float) -> bytes:
        seen = iso_utc(now)
        event = {
            "action": "created",
            "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
            "data": {
                "issue": {
                    "id": "1117540176",
                    "shortID": "IPE-1",
                    "title": "Error #1: This is a test error!",
                    "culprit": "SentryCustomError(frontend/src/util)",
                    "level": "error",
                    "status": "unresolved",
                    "platform": "javascript",
                    "project": {"id": "1", "name": "front-end", "slug": "front-end"},
                    "web_url": "https://sentry.io/organizations/example/issues/1117540176/",
                    "count": "1",
                    "firstSeen": seen,
                    "lastSeen": seen,
                }
            },
            "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
        }
        return json.dumps(event, indent=2).encode()
