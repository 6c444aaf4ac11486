"""Airtable: `X-Airtable-Content-MAC: hmac-sha256=<hex>`, HMAC-SHA256 of the raw body.

The key is the webhook's `macSecretBase64` (returned once, when the webhook is created
through `POST /v0/bases/{baseId}/webhooks`), base64-decoded. Each webhook has its own
secret: list several while one webhook replaces another.

A delivery is a notification that new payloads wait to be listed
(`GET /v0/bases/{baseId}/webhooks/{webhookId}/payloads`): `{base: {id}, webhook: {id},
timestamp}`. Airtable signs no timestamp and sends no event id; the dedup key is the
webhook id and the notification's `timestamp` (the same on a retry). The detail-type is
`webhook.notification`; `occurred_at` is the `timestamp`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from pydantic import SecretStr, field_validator

from connectors import (
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    WebhookRequest,
    utc_from_timestamp,
)
from connectors.toolkit import BodyHmacConnector, check_each, json_object, lookup, optional_id

__all__ = ["AirtableConnector", "AirtableOptions"]

#: Airtable sends one kind of notification; its payloads name what changed.
EVENT_TYPE = "webhook.notification"


def _mac_secret(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64 (the webhook's macSecretBase64)") from None


class AirtableOptions(SecretsOptions):
    """Only `secrets`: the webhooks' `macSecretBase64` values."""

    @field_validator("secrets")
    @classmethod
    def _base64(cls, value: list[SecretStr]) -> list[SecretStr]:
        return check_each(value, _mac_secret)


class AirtableConnector(BodyHmacConnector[AirtableOptions]):
    name = "airtable"
    summary = "Airtable webhooks (X-Airtable-Content-MAC, HMAC-SHA256 with the base64 MAC secret)"
    signature_header = "X-Airtable-Content-MAC"
    signature_prefix = "hmac-sha256="

    def key_of(self, secret: str) -> bytes:
        return _mac_secret(secret)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        webhook = optional_id(lookup(payload, "webhook.id"))
        stamp = optional_id(payload.get("timestamp"))
        if webhook is None or stamp is None:
            raise MalformedPayloadError("missing_field", "webhook.id and timestamp")
        key = f"{webhook}:{stamp}"
        return [ProviderEvent(EVENT_TYPE, payload, key, occurred_at=utc_from_timestamp(stamp))]

    def sample_body(self, now: float) -> bytes:
        stamp = datetime.fromtimestamp(int(now), UTC).isoformat(timespec="milliseconds")
        notification = {
            "base": {"id": "appWBbTQ8cdXWLsfv"},
            "webhook": {"id": "achW6pfHEC0g5OIwi"},
            "timestamp": stamp.replace("+00:00", "Z"),
        }
        return json.dumps(notification).encode()
