"""GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body.

The key is the webhook secret as UTF-8 bytes. GitHub sends one signature and edits of
the secret take effect at once, so rotation means listing the old and the new secret
here for a while; every configured secret is tried. The legacy SHA-1 header
(`X-Hub-Signature`) is ignored so nobody can downgrade.

GitHub signs no timestamp: replay protection comes from dedup alone. The dedup key is the
`X-GitHub-Delivery` GUID (kept by GitHub on redelivery). That header is not signed, so a
captured delivery replayed under a fresh GUID is not caught by dedup; when the header is
missing the key falls back to a hash of the raw (signed) body.

The event type is `X-GitHub-Event`, plus `.` and the body's `action` when there is one
(`pull_request.opened`). `ping`, sent when a hook is created, is an ordinary event.
Bodies may be JSON or, when the hook's content type is `application/x-www-form-urlencoded`,
a form with the JSON in its `payload` field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal
from urllib.parse import parse_qs

from pydantic import Field

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    secret_values,
    sha256_of_parts,
)
from connectors.toolkit import (
    FORM,
    check_event_type,
    check_hmac,
    delivery_uuid,
    json_or_none,
    media_type,
    prefixed_signatures,
)

__all__ = ["GitHubConnector", "GitHubOptions"]

_PREFIX = "sha256="
# Top-level keys that identify an event's kind, for `sign()` (send-test and the test kit).
_EVENT_BY_KEY = (
    ("zen", "ping"),
    ("pull_request", "pull_request"),
    ("head_commit", "push"),
    ("issue", "issues"),
    ("release", "release"),
)


class GitHubOptions(SecretsOptions):
    """`secrets`, and what deduplicates: GitHub signs the body only, so a captured delivery
    replayed with a fresh `X-GitHub-Delivery` is new unless `dedup = "body"`."""

    dedup: Literal["delivery", "body"] = Field(
        "delivery", description="dedup key: the X-GitHub-Delivery header, or a hash of the signed body"
    )


class GitHubConnector(Connector[GitHubOptions]):
    name = "github"
    summary = "GitHub repository/organization/app webhooks (X-Hub-Signature-256, rotation)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("x-hub-signature-256")
        if not header:
            raise VerificationError("missing_signature")
        candidates = prefixed_signatures(header, _PREFIX)
        check_hmac(secret_values(self.options.secrets), request.body, candidates)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        event_name = request.headers.get("x-github-event")
        if event_name is None:
            raise MalformedPayloadError("missing_header", "X-GitHub-Event")
        payload = _payload(request)
        if not isinstance(payload, dict):
            raise MalformedPayloadError("not_an_object")
        event_type = check_event_type(event_name, "X-GitHub-Event")
        action = payload.get("action")
        if action is not None:
            action = check_event_type(action, "action")
            event_type = check_event_type(f"{event_type}.{action}", "X-GitHub-Event + action")
        delivery = request.headers.get("x-github-delivery", "").strip()
        by_body = self.options.dedup == "body" or not delivery
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=sha256_of_parts(self.name, request.body) if by_body else delivery,
                delivery_id=delivery or None,
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        key = secret_values(self.options.secrets)[0]
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
        delivery = delivery_uuid(body, now)
        return SignedDelivery(
            body=body,
            headers={
                "X-Hub-Signature-256": _PREFIX + digest,
                "X-GitHub-Event": _guess_event(body),
                "X-GitHub-Delivery": delivery,
                "User-Agent": "GitHub-Hookshot/hookgate",
                "Content-Type": "application/json",
            },
        )

    def sample_body(self, now: float) -> bytes:
        event: dict[str, Any] = {
            "zen": "Design for failure.",
            "hook_id": 109948940,
            "hook": {
                "type": "Repository",
                "id": 109948940,
                "name": "web",
                "active": True,
                "events": ["push", "pull_request"],
                "config": {"content_type": "json", "insecure_ssl": "0"},
            },
            "repository": {
                "id": 186853261,
                "name": "hello-world",
                "full_name": "octo-org/hello-world",
                "private": False,
            },
            "sender": {"login": "octocat", "id": 583231, "type": "User"},
        }
        return json.dumps(event, indent=2).encode()


def _payload(request: WebhookRequest) -> Any:
    if media_type(request) != FORM:
        return parse_json(request.body)
    try:
        fields = parse_qs(request.body.decode(), strict_parsing=True)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayloadError("invalid_form") from None
    values = fields.get("payload")
    if not values:
        raise MalformedPayloadError("missing_field", "payload")
    return parse_json(values[0].encode())


def _guess_event(body: bytes) -> str:
    payload = json_or_none(body)
    if isinstance(payload, dict):
        for key, event in _EVENT_BY_KEY:
            if key in payload:
                return event
    return "ping"
