"""Okta Event Hooks: a static secret header, no signature.

Okta sends the header configured on the hook (`Authentication field` + `Authentication
secret`, by default `Authorization: <secret>`) with every request. Its value must be one
of `secrets` (compared in constant time). That authenticates without protecting the
body or preventing a replay: serve the source over HTTPS only.

One-time verification is a GET with `X-Okta-Verification-Challenge: <value>`, answered
`200 {"verification": "<value>"}`. It is answered only when the same secret header is
present (unless `challenge_requires_auth = false`) and the value is a short token.

A delivery `{eventType: "com.okta.event_hook", eventId, eventTime, data: {events: [...]}}`
fans out: each item of `data.events[]` becomes one event of its `eventType`
(`user.lifecycle.create`, ...) deduplicated on its `uuid`, occurred at `published`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from connectors import (
    Connector,
    ConnectorResponse,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    WebhookRequest,
    parse_json,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import check_event_type, check_token

__all__ = ["OktaConnector", "OktaOptions"]

_CHALLENGE_HEADER = "x-okta-verification-challenge"
_CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{1,256}")


class OktaOptions(SecretsOptions):
    header_name: str = Field(
        "Authorization", min_length=1, description="the hook's Authentication field (header name)"
    )
    challenge_requires_auth: bool = Field(
        True, description="answer the verification GET only when the secret header is present"
    )


class OktaConnector(Connector[OktaOptions]):
    name = "okta"
    summary = "Okta Event Hooks (static secret header, one-time verification, fan-out)"
    methods = frozenset({"POST", "GET"})

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if request.method != "GET":
            return None
        if self.options.challenge_requires_auth:
            self.verify(request, now)
        challenge = request.headers.get(_CHALLENGE_HEADER)
        if challenge is None or not _CHALLENGE.fullmatch(challenge.strip()):
            return ConnectorResponse(400, b"bad challenge")
        return ConnectorResponse.json({"verification": challenge.strip()})

    def verify(self, request: WebhookRequest, now: float) -> None:
        value = request.headers.get(self.options.header_name)
        check_token(None if value is None else value.strip(), self.options.secrets)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = parse_json(request.body)
        data = payload.get("data") if isinstance(payload, dict) else None
        items = data.get("events") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedPayloadError("missing_field", "data.events")
        events = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise MalformedPayloadError("bad_item", "data.events[] is not an object")
            uuid = item.get("uuid")
            uuid = uuid if isinstance(uuid, str) and uuid else None
            events.append(
                ProviderEvent(
                    type=check_event_type(item.get("eventType"), "data.events[].eventType"),
                    payload=item,
                    dedup_key=uuid or sha256_of_parts(self.name, request.body, str(i)),
                    provider_event_id=uuid,
                    delivery_id=_str(payload.get("eventId")),
                    occurred_at=utc_from_timestamp(item.get("published")),
                )
            )
        if not events:
            raise MalformedPayloadError("no_events")
        return events

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        return SignedDelivery(
            body=body,
            headers={
                self.options.header_name: self.options.secrets[0].get_secret_value(),
                "Content-Type": "application/json",
                "User-Agent": "Okta Event Hooks",
            },
        )

    def sample_body(self, now: float) -> bytes:
        stamp = datetime.fromtimestamp(int(now), UTC).isoformat().replace("+00:00", ".000Z")
        event: dict[str, Any] = {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": "https://dev-123456.okta.com/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
            "eventId": f"b5a188b9-5ece-4636-b041-{int(now):012d}",
            "eventTime": stamp,
            "contentType": "application/json",
            "data": {
                "events": [
                    {
                        "uuid": f"7aaf4ef7-0f4d-11ed-a7c2-{int(now):012d}",
                        "published": stamp,
                        "eventType": "user.lifecycle.create",
                        "version": "0",
                        "displayMessage": "Create Okta user",
                        "severity": "INFO",
                        "actor": {
                            "id": "00u1qw1mqitPHM8AJ0g7",
                            "type": "User",
                            "alternateId": "admin@example.com",
                            "displayName": "Example Admin",
                        },
                        "outcome": {"result": "SUCCESS"},
                        "target": [
                            {
                                "id": "00u1s5hr4ryzUdrDt0g7",
                                "type": "User",
                                "alternateId": "jane.doe@example.com",
                                "displayName": "Jane Doe",
                            }
                        ],
                    }
                ]
            },
        }
        return json.dumps(event, indent=2).encode()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
