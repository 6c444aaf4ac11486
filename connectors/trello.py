"""Trello: `X-Trello-Webhook: <base64>`, HMAC-SHA1 of the raw body followed by the callback URL.

The key is the application's OAuth secret (trello.com/power-ups/admin → the app → API key
→ *Secret*), as UTF-8 bytes; list two while it is regenerated. The callback URL is the
one the webhook was created with, exactly: `callback_url` when set, else the URL that was
called (the gateway's `[server] public_url` and the source's path).

When a webhook is created, Trello checks the callback URL with a `HEAD` request and
wants `200`: it is answered without a credential and ingests nothing. Trello signs no
timestamp: replay protection is dedup on `action.id` (one per action, kept across
retries). The event type is `action.type` (`updateCard`, `createCard`, `commentCard`,
...) and `occurred_at` `action.date`.
"""

from __future__ import annotations

import json

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
    utc_from_timestamp,
)
from connectors.toolkit import (
    DEFAULT_SIGNING_URL,
    check_hmac,
    encode_digest,
    hmac_digest,
    iso_utc,
    json_object,
    keyed_event,
    lookup,
    stable_id,
    to_bytes,
    typed_id,
)

__all__ = ["TrelloConnector", "TrelloOptions"]


class TrelloOptions(SecretsOptions):
    callback_url: str | None = Field(
        None, pattern=r"^https?://", description="the webhook's callbackURL, exactly; default: the URL called"
    )


class TrelloConnector(Connector[TrelloOptions]):
    name = "trello"
    summary = "Trello webhooks (X-Trello-Webhook, base64 HMAC-SHA1 over body + callback URL, HEAD check)"
    methods = frozenset({"POST", "HEAD"})

    def secret_headers(self) -> frozenset[str]:
        return frozenset({"x-trello-webhook"})

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        """Trello's `HEAD` check of a new webhook's callback URL."""
        return ConnectorResponse(200) if request.method == "HEAD" else None

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get("x-trello-webhook", "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        url = self.options.callback_url or request.url
        if not url:
            raise VerificationError("missing_url")
        keys = secret_values(self.options.secrets)
        check_hmac(
            keys, request.body + to_bytes(url), [to_bytes(signature)], algorithm="sha1", encoding="base64"
        )

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        event_type, event_id = typed_id(payload, "action.type", "action.id")
        occurred = utc_from_timestamp(lookup(payload, "action.date"))
        return [keyed_event(event_type, payload, event_id, occurred_at=occurred)]

    def sign(self, body: bytes, now: float, *, url: str | None = None) -> SignedDelivery:
        """Sign for `callback_url`, else `url`, else the test kit's default URL."""
        url = self.options.callback_url or url or DEFAULT_SIGNING_URL
        key = secret_values(self.options.secrets)[0]
        signature = encode_digest(hmac_digest(key, body + to_bytes(url), "sha1"), "base64").decode()
        return SignedDelivery(
            body=body, headers={"Content-Type": "application/json", "X-Trello-Webhook": signature}
        )

    def sample_body(self, now: float) -> bytes:
        card = {"id": "5a0cc8f2c5ba8e0e1e9f1a3d", "name": "Ship wave 2", "idShort": 42}
        action = {
            "id": stable_id("", b"trello", now)[:24],
            "idMemberCreator": "5a0cc8f2c5ba8e0e1e9f1a01",
            "type": "updateCard",
            "date": iso_utc(now, "milliseconds"),
            "data": {
                "card": {**card, "idList": "5a0cc8f2c5ba8e0e1e9f1a22"},
                "old": {"idList": "5a0cc8f2c5ba8e0e1e9f1a11"},
                "board": {"id": "5a0cc8f2c5ba8e0e1e9f1a00", "name": "Roadmap", "shortLink": "x7Kp2QzL"},
                "listBefore": {"id": "5a0cc8f2c5ba8e0e1e9f1a11", "name": "Doing"},
                "listAfter": {"id": "5a0cc8f2c5ba8e0e1e9f1a22", "name": "Done"},
            },
        }
        model = {"id": "5a0cc8f2c5ba8e0e1e9f1a00", "name": "Roadmap"}
        return json.dumps({"action": action, "model": model}, indent=2).encode()
