"""Bitbucket (Cloud and Data Center): `X-Hub-Signature: sha256=<hex>` over the raw body.

Bitbucket signs only when the webhook has a secret: the hex HMAC-SHA256 of the raw body,
keyed with that secret as UTF-8 bytes (a webhook without a secret cannot be verified and
is refused). One signature is sent; list the old and the new secret while you change it.

Bitbucket signs no timestamp: replay protection is dedup on `X-Request-UUID` (Cloud) or
`X-Request-Id` (Data Center), else a hash of the raw body. The event type is
`X-Event-Key` (`repo:push`, `pullrequest:created`, `pr:opened`, ...).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    sha256_of_parts,
)
from connectors.toolkit import (
    BodyHmacConnector,
    check_event_type,
    delivery_uuid,
    guess_kind,
    json_object,
    stable_id,
)

__all__ = ["BitbucketConnector", "BitbucketOptions"]

# Keys that identify an event, for `sign()` (send-test and the test kit).
_EVENT_BY_KEY = (
    ("push", "repo:push"),
    ("pullrequest", "pullrequest:created"),
    ("issue", "issue:created"),
)


class BitbucketOptions(SecretsOptions):
    """Only `secrets`: the webhook secret(s)."""


class BitbucketConnector(BodyHmacConnector[BitbucketOptions]):
    name = "bitbucket"
    summary = "Bitbucket Cloud/Data Center webhooks (X-Hub-Signature sha256=, rotation)"
    signature_header = "X-Hub-Signature"
    signature_prefix = "sha256="

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        key = request.headers.get("x-event-key")
        if key is None:
            raise MalformedPayloadError("missing_header", "X-Event-Key")
        event_type = check_event_type(key, "X-Event-Key")
        payload = json_object(request.body)
        delivery = (
            request.headers.get("x-request-uuid", "").strip()
            or request.headers.get("x-request-id", "").strip()
            or None
        )
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=delivery or sha256_of_parts(self.name, request.body),
                delivery_id=delivery,
            )
        ]

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        return {
            "User-Agent": "Bitbucket-Webhooks/2.0",
            "X-Event-Key": guess_kind(body, _EVENT_BY_KEY, "repo:push"),
            "X-Hook-UUID": "4b8a4a9a-6c7e-4b0c-9a5e-0d3f2c1b7e6d",
            "X-Request-UUID": delivery_uuid(body, now),
            "X-Attempt-Number": "1",
        }

    def sample_body(self, now: float) -> bytes:
        date = datetime.fromtimestamp(int(now), UTC).isoformat()
        commit = stable_id("", b"commit", now)[:40]
        event = {
            "push": {
                "changes": [
                    {
                        "new": {
                            "type": "branch",
                            "name": "main",
                            "target": {
                                "type": "commit",
                                "hash": commit,
                                "message": "Fix the printer\n",
                                "date": date,
                            },
                        },
                        "created": False,
                        "forced": False,
                        "closed": False,
                        "commits": [{"type": "commit", "hash": commit, "message": "Fix the printer\n"}],
                        "truncated": False,
                    }
                ]
            },
            "repository": {"type": "repository", "full_name": "acme/hello-world", "name": "hello-world"},
            "actor": {"type": "user", "display_name": "Jane Doe", "nickname": "jdoe"},
        }
        return json.dumps(event, indent=2).encode()
