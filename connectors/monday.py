"""monday.com: a JWT in `Authorization`, HS256 with the app's signing secret; a challenge.

When a webhook is created, monday.com POSTs `{"challenge": "…"}` and expects the same JSON
back; the challenge carries no credential and proves only that the URL answers, so
hookgate echoes a bounded value and stores nothing.

Deliveries of an app's webhooks carry `Authorization: <JWT>` (with or without `Bearer `),
signed HS256 with the app's Signing Secret (Developers > your app > Basic Information);
list the old and the new secret while you rotate it. The JWT covers no part of the body,
and its `exp`, when present, is checked (with `leeway_seconds`). The event type is
`event.type` (`create_pulse`, `change_column_value`, ...), the dedup key
`event.triggerUuid`, and `occurred_at` `event.triggerTime`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import Field

from connectors import (
    Connector,
    ConnectorResponse,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    secret_values,
)
from connectors.toolkit import MAX_ECHO, echo_value, encode_jwt, json_event, json_or_none, verify_jwt

__all__ = ["MondayConnector", "MondayOptions"]


class MondayOptions(SecretsOptions):
    """`secrets`: the app's signing secret(s); `leeway_seconds` for the token's `exp`."""

    leeway_seconds: int = Field(60, ge=0, le=3600, description="clock skew allowed on the JWT's exp")


def challenge_of(body: bytes) -> str | None:
    """The challenge of a `{"challenge": "…"}` body (bounded), else None."""
    payload = json_or_none(body) if len(body) <= 2 * MAX_ECHO else None
    if not isinstance(payload, dict) or set(payload) != {"challenge"}:
        return None
    value = payload["challenge"]
    return echo_value(value) if isinstance(value, str) else None


class MondayConnector(Connector[MondayOptions]):
    name = "monday"
    summary = "monday.com webhooks (challenge echo, HS256 JWT in Authorization, rotation)"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        challenge = challenge_of(request.body)
        return None if challenge is None else ConnectorResponse.json({"challenge": challenge})

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("authorization", "").strip()
        if not header:
            raise VerificationError("missing_token")
        token = header.removeprefix("Bearer ").strip()
        verify_jwt(
            token,
            secret_values(self.options.secrets),
            algorithms=("HS256",),
            now=now,
            leeway=self.options.leeway_seconds,
            require_expiry=False,
        )

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(
            self.name,
            request.body,
            type_path="event.type",
            id_path="event.triggerUuid",
            time_path="event.triggerTime",
        )

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        claims = {
            "accountId": 9876543,
            "userId": 12345678,
            "aud": "https://hookgate.example",
            "iat": int(now),
        }
        claims["exp"] = int(now) + 300
        token = encode_jwt(claims, secret_values(self.options.secrets)[0], "HS256")
        return SignedDelivery(body, {"Content-Type": "application/json", "Authorization": token})

    def sample_body(self, now: float) -> bytes:
        trigger = datetime.fromtimestamp(int(now), UTC).isoformat(timespec="milliseconds")
        event = {
            "app": "monday",
            "type": "create_pulse",
            "triggerTime": trigger.replace("+00:00", "Z"),
            "subscriptionId": 73759690,
            "userId": 12345678,
            "originalTriggerUuid": None,
            "boardId": 1771812698,
            "pulseId": 1771812728,
            "pulseName": "Ship the new onboarding flow",
            "groupId": "topics",
            "groupName": "This week",
            "isTopGroup": True,
            "columnValues": {},
            "triggerUuid": f"{int(now * 1000):032x}",
        }
        return json.dumps({"event": event}, indent=2).encode()
