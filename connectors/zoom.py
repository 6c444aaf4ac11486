"""Zoom: `x-zm-signature: v0=<hex>` over `f"v0:{timestamp}:{body}"`.

HMAC-SHA256 keyed with the app's Secret Token (used as text) over `v0:`, the
`x-zm-request-timestamp` header, `:` and the raw body; hex. Zoom sends one signature, so
rotation means listing the old and the new Secret Token. The timestamp must be within
`tolerance_seconds` of now, on both sides.

The `endpoint.url_validation` handshake (sent when the URL is saved, and again every
72 hours) is answered with `{"plainToken": p, "encryptedToken": hex(HMAC(secret, p))}`.
That answer is a MAC the gateway computes for whoever asks, so it is only given when the
request itself is correctly signed and `p` is a short token without `:` or `.`; it is
computed with the secret that verified the request.

Zoom bodies carry no event id: the dedup key is a hash of the raw body (which includes
`event_ts`, in milliseconds, so distinct events differ). The event type is `event`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from pydantic import Field

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
    check_event_type,
    check_tolerance,
    hmac_digest,
    json_object,
    json_or_none,
    v0_signature,
)

__all__ = ["ZoomConnector", "ZoomOptions"]

_PREFIX = "v0="
_VALIDATION = "endpoint.url_validation"
#: Zoom's plain tokens are short base64(url) strings; nothing else is MAC'd for a caller.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=]{1,128}")


class ZoomOptions(SecretsOptions):
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew of the signed timestamp")


class ZoomConnector(Connector[ZoomOptions]):
    name = "zoom"
    summary = "Zoom app webhooks (x-zm-signature v0 HMAC-SHA256, endpoint.url_validation)"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if _VALIDATION.encode() not in request.body:
            return None
        key = self._verified_key(request, now)
        payload = json_or_none(request.body)
        if not (isinstance(payload, dict) and payload.get("event") == _VALIDATION):
            return None
        inner = payload.get("payload")
        plain = inner.get("plainToken") if isinstance(inner, dict) else None
        if not (isinstance(plain, str) and _PLAIN_TOKEN.fullmatch(plain)):
            return ConnectorResponse(400, b"bad plainToken")
        encrypted = hmac.new(key, plain.encode(), hashlib.sha256).hexdigest()
        return ConnectorResponse.json({"plainToken": plain, "encryptedToken": encrypted})

    def verify(self, request: WebhookRequest, now: float) -> None:
        self._verified_key(request, now)

    def _verified_key(self, request: WebhookRequest, now: float) -> bytes:
        """The secret that signed the request; VerificationError if none did."""
        timestamp, candidate, signed = v0_signature(request, "x-zm-signature", "x-zm-request-timestamp")
        found: bytes | None = None
        for key in secret_values(self.options.secrets):
            if hmac.compare_digest(hmac_digest(key, signed).hex().encode(), candidate) and found is None:
                found = key
        if found is None:
            raise VerificationError("bad_signature")
        check_tolerance(timestamp, now, self.options.tolerance_seconds)
        return found

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        if payload.get("event") is None:
            raise MalformedPayloadError("missing_field", "event")
        event_type = check_event_type(payload["event"], "event")
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=sha256_of_parts(self.name, request.body),
                occurred_at=utc_from_timestamp(payload.get("event_ts")),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        timestamp = int(now)
        key = secret_values(self.options.secrets)[0]
        digest = hmac.new(key, b"v0:%d:" % timestamp + body, hashlib.sha256).hexdigest()
        return SignedDelivery(
            body=body,
            headers={
                "x-zm-signature": _PREFIX + digest,
                "x-zm-request-timestamp": str(timestamp),
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Zoom Marketplace/1.0a",
            },
        )

    def sample_body(self, now: float) -> bytes:
        event: dict[str, Any] = {
            "event": "meeting.started",
            "event_ts": int(now * 1000),
            "payload": {
                "account_id": "AAAAAABBBB",
                "object": {
                    "id": "1234567890",
                    "uuid": "4444AAAiAAAAAiAiAiiAii==",
                    "host_id": "x1yCzABCDEfg23HiJKl4mN",
                    "topic": "My Meeting",
                    "type": 2,
                    "start_time": "2021-07-13T21:44:51Z",
                    "timezone": "America/Los_Angeles",
                    "duration": 60,
                },
            },
        }
        return json.dumps(event, indent=2).encode()
