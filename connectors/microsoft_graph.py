"""Microsoft Graph change notifications: `clientState` in every notification, no signature.

Graph signs nothing. A subscription is created with a `clientState` secret (up to 255
characters) that Graph repeats in every item of `value[]`; every item must carry one of
`secrets` (compared in constant time) or the whole delivery is refused. This is
authentication without integrity: serve the source over HTTPS only. Verification has to
read the body for that (the one exception to "verify never parses"), and refuses any body
that is not a notification collection. `clientState` is removed from the events' payloads.
Rich notifications' `validationTokens` (JWTs) are not checked.

The validation handshake (on subscription creation and renewal, for the notification and
the lifecycle URL) is a POST `?validationToken=<token>`, answered `200 text/plain` with the
URL-decoded token; no secret is involved, so the echo is bounded to a short printable
string.

Each item of `value[]` becomes one event: `changeType` (`created`, `updated`, `deleted`)
or `lifecycleEvent` (`reauthorizationRequired`, `subscriptionRemoved`, `missed`). Its
dedup key is the item's `id` when Graph sends one; else, when the resource carries an
`@odata.etag` (a version), a hash of the item; else a fresh key, because Graph repeats an
identical item for the next change of the same resource and a hash would swallow it.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from pydantic import Field, SecretStr, field_validator

from connectors import (
    Connector,
    ConnectorResponse,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import any_match, check_event_type, json_or_none, to_bytes

__all__ = ["MicrosoftGraphConnector", "MicrosoftGraphOptions"]

_TOKEN = re.compile(r"[\x20-\x7e]{1,1024}")


class MicrosoftGraphOptions(SecretsOptions):
    secrets: list[SecretStr] = Field(
        min_length=1, description="the subscriptions' clientState values; any may match"
    )

    @field_validator("secrets")
    @classmethod
    def _client_state(cls, value: list[SecretStr]) -> list[SecretStr]:
        for i, secret in enumerate(value):
            if not 0 < len(secret.get_secret_value()) <= 255:
                raise ValueError(f"secrets[{i}]: a clientState is 1-255 characters")
        return value


class MicrosoftGraphConnector(Connector[MicrosoftGraphOptions]):
    name = "microsoft-graph"
    summary = "Microsoft Graph change notifications (clientState, validationToken handshake)"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        token = request.query_value("validationToken")
        if token is None:
            return None
        if not _TOKEN.fullmatch(token):
            return ConnectorResponse(400, b"bad validationToken")
        return ConnectorResponse(200, token.encode(), "text/plain")

    def verify(self, request: WebhookRequest, now: float) -> None:
        try:
            payload = parse_json(request.body)
        except MalformedPayloadError:
            raise VerificationError("malformed_body") from None
        items = payload.get("value") if isinstance(payload, dict) else None
        if not (isinstance(items, list) and items):
            raise VerificationError("malformed_body")
        secrets = secret_values(self.options.secrets)
        ok = True
        for item in items:
            state = item.get("clientState") if isinstance(item, dict) else None
            if not isinstance(state, str):
                raise VerificationError("missing_client_state")
            ok &= any_match(secrets, [to_bytes(state)])
        if not ok:
            raise VerificationError("bad_client_state")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = parse_json(request.body)
        items = payload.get("value") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise MalformedPayloadError("missing_field", "value")
        events = []
        for raw in items:
            if not isinstance(raw, dict):
                raise MalformedPayloadError("bad_item", "value[] is not an object")
            item = {k: v for k, v in raw.items() if k != "clientState"}
            kind = item.get("lifecycleEvent", item.get("changeType"))
            if kind is None:
                raise MalformedPayloadError("missing_field", "changeType")
            item_id = item.get("id")
            item_id = item_id if isinstance(item_id, str) and item_id else None
            events.append(
                ProviderEvent(
                    type=check_event_type(kind, "changeType"),
                    payload=item,
                    dedup_key=item_id or _dedup_key(self.name, item),
                    provider_event_id=item_id,
                    occurred_at=utc_from_timestamp(item.get("eventTime")),
                )
            )
        if not events:
            raise MalformedPayloadError("no_events")
        return events

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Set `clientState` (the first secret) in every item, as Graph would send it.

        Raises ValueError when the body is not a notification collection (`{"value": [...]}`).
        """
        payload = json_or_none(body)
        items = payload.get("value") if isinstance(payload, dict) else None
        if not (isinstance(items, list) and items and all(isinstance(i, dict) for i in items)):
            raise ValueError('sign() needs a notification collection: {"value": [{...}, ...]}')
        state = self.options.secrets[0].get_secret_value()
        for item in items:
            item["clientState"] = state
        return SignedDelivery(
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    def sample_body(self, now: float) -> bytes:
        message = "Users/1ad8c1d8-b2d4-4b3c-8c3f-0d4a4ef1dc2c/Messages/AAMkADhAAATs28OAAA="
        event: dict[str, Any] = {
            "value": [
                {
                    "subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
                    "subscriptionExpirationDateTime": "2026-03-20T11:00:00.0000000Z",
                    "changeType": "created",
                    "resource": message,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Message",
                        "@odata.id": message,
                        "@odata.etag": f'W/"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAA{int(now)}"',
                        "id": "AAMkADhAAATs28OAAA=",
                    },
                    "clientState": "secretClientValue",
                    "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
                }
            ]
        }
        return json.dumps(event, indent=2).encode()


def _dedup_key(name: str, item: dict[str, Any]) -> str:
    data = item.get("resourceData")
    if isinstance(data, dict) and isinstance(data.get("@odata.etag"), str):
        return sha256_of_parts(name, json.dumps(item, sort_keys=True, separators=(",", ":")))
    return f"{name}-{uuid.uuid4()}"
