"""Dropbox: `X-Dropbox-Signature: <hex>`, HMAC-SHA256 of the raw body keyed with the app secret.

The endpoint is verified with a GET `?challenge=<x>`, answered `200 text/plain` with `x`
(no secret is involved, so it is a plain echo: bounded to a short token).

A notification only says "something changed for these accounts"
(`{"list_folder": {"accounts": [...]}, "delta": {"users": [...]}}`): it carries no id and
no timestamp, and the next change for the same accounts has the very same body. A body
hash would therefore swallow real changes for as long as dedup remembers, so each delivery
gets its own dedup key; a retried delivery is then seen twice, which costs one extra
`list_folder/continue` call. The event type is `list_folder`. Dropbox signs no timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from typing import Any

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
)
from connectors.toolkit import check_hmac, json_object, to_bytes

__all__ = ["DropboxConnector", "DropboxOptions"]

_CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{1,256}")


class DropboxOptions(SecretsOptions):
    """Only `secrets`: the app secret(s)."""


class DropboxConnector(Connector[DropboxOptions]):
    name = "dropbox"
    summary = "Dropbox app webhooks (X-Dropbox-Signature HMAC-SHA256, GET challenge)"
    methods = frozenset({"POST", "GET"})

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if request.method != "GET":
            return None
        challenge = request.query_value("challenge")
        if challenge is None or not _CHALLENGE.fullmatch(challenge):
            return ConnectorResponse(400, b"bad challenge")
        return ConnectorResponse(200, challenge.encode(), "text/plain")

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("x-dropbox-signature", "").strip()
        if not header:
            raise VerificationError("missing_signature")
        check_hmac(secret_values(self.options.secrets), request.body, [to_bytes(header.lower())])

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        if not isinstance(payload.get("list_folder", payload.get("delta")), dict):
            raise MalformedPayloadError("missing_field", "list_folder")
        return [ProviderEvent(type="list_folder", payload=payload, dedup_key=f"dropbox-{uuid.uuid4()}")]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        key = secret_values(self.options.secrets)[0]
        return SignedDelivery(
            body=body,
            headers={
                "X-Dropbox-Signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
                "Content-Type": "application/json",
                "User-Agent": "DropboxWebhooks/1.0",
            },
        )

    def sample_body(self, now: float) -> bytes:
        event: dict[str, Any] = {
            "list_folder": {"accounts": ["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},
            "delta": {"users": [12345678]},
        }
        return json.dumps(event).encode()
