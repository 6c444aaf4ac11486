"""GitLab: the `X-Gitlab-Token` secret token and, optionally, the HMAC signing token.

GitLab's classic "Secret token" is sent verbatim in `X-Gitlab-Token`: it authenticates
the sender but protects neither the body nor against replays. It is compared in constant
time against every value in `secrets` (rotation).

Newer GitLab versions (feature flag `webhook_signing_token`) can also sign deliveries the
Standard Webhooks way: `webhook-id` (= `Idempotency-Key`), `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`, keyed with a
signing token `whsec_<base64>`. List it in `signing_secrets` and that signature is
required too, with its timestamp within `tolerance_seconds` of now on both sides. When both
keys are configured, both checks must pass.

The event type is `X-Gitlab-Event` (`Push Hook`, `Merge Request Hook`, `Pipeline Hook`,
...), else the body's `object_kind`. The dedup key is `Idempotency-Key` (stable across
retries; signed when the signing token is used), else `X-Gitlab-Event-UUID`, else a hash of
the raw body.
"""

from __future__ import annotations

import json
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors import (
    Connector,
    ConnectorOptions,
    MalformedPayloadError,
    ProviderEvent,
    SignedDelivery,
    WebhookRequest,
    sha256_of_parts,
)
from connectors.standard_webhooks import StandardWebhooksConnector, StandardWebhooksOptions, parse_keys
from connectors.toolkit import (
    check_event_type,
    check_token,
    delivery_uuid,
    json_object,
    json_or_none,
    one_or_many,
    optional_type,
)

__all__ = ["GitLabConnector", "GitLabOptions"]

_EVENT_BY_KIND = (
    ("push", "Push Hook"),
    ("tag_push", "Tag Push Hook"),
    ("merge_request", "Merge Request Hook"),
    ("issue", "Issue Hook"),
    ("note", "Note Hook"),
    ("pipeline", "Pipeline Hook"),
    ("build", "Job Hook"),
    ("deployment", "Deployment Hook"),
    ("release", "Release Hook"),
    ("wiki_page", "Wiki Page Hook"),
)


class GitLabOptions(ConnectorOptions):
    secrets: list[SecretStr] = Field(
        default_factory=list, description="secret tokens sent in X-Gitlab-Token; any may match"
    )
    signing_secrets: list[SecretStr] = Field(
        default_factory=list, description="HMAC signing tokens (whsec_…); any may verify"
    )
    tolerance_seconds: int = Field(
        300, ge=0, description="max clock skew of the signed webhook-timestamp, both directions"
    )

    @field_validator("secrets", "signing_secrets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return one_or_many(value)

    @field_validator("secrets")
    @classmethod
    def _not_empty(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not s.get_secret_value() for s in value):
            raise ValueError("must not be empty")
        return value

    @field_validator("signing_secrets")
    @classmethod
    def _hmac_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        if len(parse_keys(value).hmac_keys) != len(value):
            raise ValueError("signing tokens are whsec_<base64> HMAC keys")
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not (self.secrets or self.signing_secrets):
            raise ValueError("set secrets (X-Gitlab-Token), signing_secrets (signing token), or both")
        return self


class GitLabConnector(Connector[GitLabOptions]):
    name = "gitlab"
    summary = "GitLab webhooks (X-Gitlab-Token secret token; optional HMAC signing token)"

    def __init__(self, options: GitLabOptions) -> None:
        super().__init__(options)
        self._signed: StandardWebhooksConnector | None = None
        if options.signing_secrets:
            self._signed = StandardWebhooksConnector(
                StandardWebhooksOptions(
                    secrets=options.signing_secrets,
                    tolerance_seconds=options.tolerance_seconds,
                    default_type="gitlab",
                )
            )

    def verify(self, request: WebhookRequest, now: float) -> None:
        if self.options.secrets:
            check_token(request.headers.get("x-gitlab-token"), self.options.secrets)
        if self._signed is not None:
            self._signed.verify(request, now)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        header = request.headers.get("x-gitlab-event")
        if header is not None:
            event_type = check_event_type(header, "X-Gitlab-Event")
        else:
            kind = optional_type(payload, "object_kind")
            if kind is None:
                raise MalformedPayloadError("missing_header", "X-Gitlab-Event")
            event_type = kind
        h = request.headers
        signed_id = h.get("webhook-id", "").strip() if self._signed is not None else ""
        delivery = signed_id or h.get("idempotency-key", "").strip() or None
        event_uuid = h.get("x-gitlab-event-uuid", "").strip() or None
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=delivery or event_uuid or sha256_of_parts(self.name, request.body),
                provider_event_id=event_uuid,
                delivery_id=delivery,
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitLab/18.4.0",
            "X-Gitlab-Event": _event_of(body),
            "X-Gitlab-Instance": "https://gitlab.example.com",
            "X-Gitlab-Webhook-UUID": "7a1f1c2e-5a6b-4c3d-8e9f-0a1b2c3d4e5f",
            "X-Gitlab-Event-UUID": delivery_uuid(body + b"event", now),
            "Idempotency-Key": delivery_uuid(body, now),
        }
        if self.options.secrets:
            headers["X-Gitlab-Token"] = self.options.secrets[0].get_secret_value()
        if self._signed is not None:
            signed = self._signed.sign(body, now).headers
            headers["Idempotency-Key"] = signed["webhook-id"]
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
                headers[name] = signed[name]
        return SignedDelivery(body=body, headers=headers)

    def sample_body(self, now: float) -> bytes:
        sha = delivery_uuid(b"commit", now).replace("-", "")[:40].ljust(40, "0")
        event = {
            "object_kind": "push",
            "event_name": "push",
            "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
            "after": sha,
            "ref": "refs/heads/main",
            "checkout_sha": sha,
            "user_name": "John Smith",
            "user_username": "jsmith",
            "project_id": 15,
            "project": {
                "id": 15,
                "name": "Diaspora",
                "path_with_namespace": "mike/diaspora",
                "web_url": "https://gitlab.example.com/mike/diaspora",
                "default_branch": "main",
            },
            "commits": [{"id": sha, "message": "fixed readme", "title": "fixed readme"}],
            "total_commits_count": 1,
        }
        return json.dumps(event, indent=2).encode()


def _event_of(body: bytes) -> str:
    payload = json_or_none(body)
    kind = payload.get("object_kind") if isinstance(payload, dict) else None
    return dict(_EVENT_BY_KIND).get(kind, "Push Hook") if isinstance(kind, str) else "Push Hook"
