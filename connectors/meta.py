"""Meta (Facebook Pages, Instagram, WhatsApp Cloud API, Messenger) Graph API webhooks.

POSTs carry `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body keyed with
the App Secret (used as text). Meta signs the body exactly as sent (escaped unicode), so
the raw bytes verify. The legacy SHA-1 `X-Hub-Signature` is ignored (no downgrade). One
signature is sent; after an App Secret reset list the old and the new one.

The subscription handshake is a GET `?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`:
when the verify token is one of `verify_tokens` (compared in constant time) it is answered
`200 text/plain` with the challenge (a short token of letters and digits), otherwise `403`.

A body `{object, entry: [{id, time, changes: [{field, value}] | messaging: [...]}]}` is
batched: each change (or messaging item) becomes one event `<object>.<field>`
(`page.feed`, `whatsapp_business_account.messages`, `instagram.comments`; messaging items
give `<object>.messaging`). Meta sends no ids for most items, so each event's dedup key is a
hash of the object, entry id, entry time and the item itself; a WhatsApp message's
`wamid` is kept as its provider id. Meta signs no timestamp: replay protection is dedup.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
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
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    any_match,
    check_event_type,
    check_hmac,
    json_object,
    one_or_many,
    prefixed_signatures,
    to_bytes,
)

__all__ = ["MetaConnector", "MetaOptions"]

_PREFIX = "sha256="
_CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{1,128}")


class MetaOptions(SecretsOptions):
    verify_tokens: list[SecretStr] = Field(
        min_length=1, description="the Verify Token(s) typed into the webhook subscription"
    )

    @field_validator("verify_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        return one_or_many(value)

    @field_validator("verify_tokens")
    @classmethod
    def _not_empty(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not t.get_secret_value() for t in value):
            raise ValueError("a verify token must not be empty")
        return value


class MetaConnector(Connector[MetaOptions]):
    name = "meta"
    summary = "Meta Graph API webhooks: Facebook, Instagram, WhatsApp (X-Hub-Signature-256, hub.challenge)"
    methods = frozenset({"POST", "GET"})

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if request.method != "GET":
            return None
        mode = request.query_value("hub.mode")
        token = request.query_value("hub.verify_token")
        challenge = request.query_value("hub.challenge")
        if mode != "subscribe" or token is None or challenge is None:
            return ConnectorResponse(400, b"bad request")
        if not any_match(secret_values(self.options.verify_tokens), [to_bytes(token)]):
            return ConnectorResponse(403, b"forbidden")
        if not _CHALLENGE.fullmatch(challenge):
            return ConnectorResponse(400, b"bad challenge")
        return ConnectorResponse(200, challenge.encode())

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("x-hub-signature-256", "").strip()
        if not header:
            raise VerificationError("missing_signature")
        candidates = prefixed_signatures(header, _PREFIX)
        check_hmac(secret_values(self.options.secrets), request.body, candidates)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        obj = check_event_type(payload.get("object"), "object")
        entries = payload.get("entry")
        if not isinstance(entries, list):
            raise MalformedPayloadError("missing_field", "entry")
        events: list[ProviderEvent] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise MalformedPayloadError("bad_entry", "entry[] is not an object")
            for field, item in _items(entry):
                event_type = check_event_type(f"{obj}.{field}", "object + field")
                key = sha256_of_parts(
                    self.name,
                    obj,
                    json.dumps(entry.get("id")),
                    json.dumps(entry.get("time")),
                    json.dumps(item, sort_keys=True, separators=(",", ":")),
                )
                events.append(
                    ProviderEvent(
                        type=event_type,
                        payload={
                            "object": obj,
                            "entry_id": entry.get("id"),
                            "time": entry.get("time"),
                            **item,
                        },
                        dedup_key=key,
                        provider_event_id=_wamid(item),
                        occurred_at=utc_from_timestamp(entry.get("time")),
                    )
                )
        if not events:
            raise MalformedPayloadError("no_events", "entry[] holds no changes or messaging items")
        return events

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        key = secret_values(self.options.secrets)[0]
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
        return SignedDelivery(
            body=body,
            headers={
                "X-Hub-Signature-256": _PREFIX + digest,
                "Content-Type": "application/json",
                "User-Agent": "facebookexternalua",
            },
        )

    def sample_body(self, now: float) -> bytes:
        wamid = f"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA{int(now)}"
        event: dict[str, Any] = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "time": int(now),
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": "106540352242922",
                                },
                                "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
                                "messages": [
                                    {
                                        "from": "16505551234",
                                        "id": wamid,
                                        "timestamp": str(int(now)),
                                        "text": {"body": "Does it come in another color?"},
                                        "type": "text",
                                    }
                                ],
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }
        return json.dumps(event, indent=2).encode()


def _items(entry: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field, item) for each change or messaging item of an entry."""
    found: list[tuple[str, dict[str, Any]]] = []
    changes = entry.get("changes", [])
    messaging = entry.get("messaging", [])
    if not (isinstance(changes, list) and isinstance(messaging, list)):
        raise MalformedPayloadError("bad_entry", "changes/messaging must be lists")
    for change in changes:
        if not isinstance(change, dict):
            raise MalformedPayloadError("bad_entry", "changes[] is not an object")
        found.append((check_event_type(change.get("field"), "changes[].field"), change))
    for item in messaging:
        if not isinstance(item, dict):
            raise MalformedPayloadError("bad_entry", "messaging[] is not an object")
        found.append(("messaging", item))
    return found


def _wamid(item: dict[str, Any]) -> str | None:
    value = item.get("value")
    messages = value.get("messages") if isinstance(value, dict) else None
    if isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], dict):
        wamid = messages[0].get("id")
        return wamid if isinstance(wamid, str) else None
    return None
