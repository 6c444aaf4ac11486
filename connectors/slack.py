"""Slack: `X-Slack-Signature: v0=<hex>` over `f"v0:{timestamp}:{body}"`.

HMAC-SHA256 keyed with the app's Signing Secret (used as text) over `v0:`, the
`X-Slack-Request-Timestamp` header, `:` and the raw body. Slack sends one signature and a
regenerated secret takes effect at once, so rotation means listing the old and the new
secret; every configured secret is tried. The timestamp must be within
`tolerance_seconds` of now, on both sides (Slack's SDK uses 300 s).

The Events API `url_verification` handshake is signed too: it is answered with its
`challenge` (as `text/plain`) only after the signature verified, and only when the
challenge is a short token, so the handshake never echoes what an attacker chose.

Every kind of Slack request carries the same signature over the raw body:

* Events API (JSON): `event_callback` becomes the inner `event.type` (`app_mention`,
  `message`, ...), deduplicated on `event_id` (Slack keeps it on retries,
  `X-Slack-Retry-Num`); other envelopes (`app_rate_limited`) keep their `type`.
* interactivity (form-encoded `payload=<json>`): the payload's `type` (`block_actions`,
  `view_submission`, `shortcut`, ...);
* slash commands (form-encoded, with `command`): `slash_command`.

Interactivity and slash commands carry no id: their dedup key is a hash of the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import parse_qsl

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
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    FORM,
    check_event_type,
    check_hmac,
    check_tolerance,
    json_object,
    json_or_none,
    media_type,
    v0_signature,
)

__all__ = ["SlackConnector", "SlackOptions"]

_PREFIX = "v0="
#: Slack's challenges are short alphanumeric tokens; anything else is not echoed.
_CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{1,128}")


class SlackOptions(SecretsOptions):
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew of the signed timestamp")


class SlackConnector(Connector[SlackOptions]):
    name = "slack"
    summary = "Slack Events API, interactivity and slash commands (v0 HMAC-SHA256, url_verification)"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if b"url_verification" not in request.body:
            return None
        self.verify(request, now)
        payload = json_or_none(request.body)
        if not (isinstance(payload, dict) and payload.get("type") == "url_verification"):
            return None
        challenge = payload.get("challenge")
        if not (isinstance(challenge, str) and _CHALLENGE.fullmatch(challenge)):
            return ConnectorResponse(400, b"bad challenge")
        return ConnectorResponse(200, challenge.encode())

    def verify(self, request: WebhookRequest, now: float) -> None:
        timestamp, candidate, signed = v0_signature(request, "x-slack-signature", "x-slack-request-timestamp")
        check_hmac(secret_values(self.options.secrets), signed, [candidate])
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        if media_type(request) == FORM:
            return [self._form_event(request)]
        payload = json_object(request.body)
        envelope = payload.get("type")
        if envelope is None:
            raise MalformedPayloadError("missing_field", "type")
        event_type = check_event_type(envelope, "type")
        inner = payload.get("event")
        if event_type == "event_callback":
            if not isinstance(inner, dict):
                raise MalformedPayloadError("missing_field", "event")
            event_type = check_event_type(inner.get("type"), "event.type")
        event_id = payload.get("event_id")
        event_id = event_id if isinstance(event_id, str) and event_id else None
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=event_id or sha256_of_parts(self.name, request.body),
                provider_event_id=event_id,
                occurred_at=utc_from_timestamp(payload.get("event_time")),
            )
        ]

    def _form_event(self, request: WebhookRequest) -> ProviderEvent:
        try:
            fields = dict(parse_qsl(request.body.decode(), keep_blank_values=True, strict_parsing=True))
        except (ValueError, UnicodeDecodeError):
            raise MalformedPayloadError("invalid_form") from None
        payload: Any
        if "payload" in fields:
            payload = parse_json(fields["payload"].encode())
            if not isinstance(payload, dict):
                raise MalformedPayloadError("not_an_object", "payload")
            event_type = check_event_type(payload.get("type"), "payload.type")
        elif "command" in fields:
            payload, event_type = fields, "slash_command"
        else:
            raise MalformedPayloadError("missing_field", "payload or command")
        return ProviderEvent(
            type=event_type, payload=payload, dedup_key=sha256_of_parts(self.name, request.body)
        )

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        timestamp = int(now)
        key = secret_values(self.options.secrets)[0]
        digest = hmac.new(key, b"v0:%d:" % timestamp + body, hashlib.sha256).hexdigest()
        is_json = body.lstrip()[:1] in (b"{", b"[")
        return SignedDelivery(
            body=body,
            headers={
                "X-Slack-Signature": _PREFIX + digest,
                "X-Slack-Request-Timestamp": str(timestamp),
                "Content-Type": "application/json" if is_json else FORM,
                "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            },
        )

    def sample_body(self, now: float) -> bytes:
        event: dict[str, Any] = {
            "token": "XXYYZZ",
            "team_id": "T123ABC456",
            "api_app_id": "A123ABC456",
            "event": {
                "type": "app_mention",
                "user": "U123ABC456",
                "text": "<@U0LAN0Z89> is it everything a river should be?",
                "ts": f"{int(now)}.000200",
                "channel": "C123ABC456",
                "event_ts": f"{int(now)}.000200",
            },
            "type": "event_callback",
            "authorizations": [
                {"enterprise_id": None, "team_id": "T123ABC456", "user_id": "U0LAN0Z89", "is_bot": True}
            ],
            "event_id": f"Ev{int(now * 1000):X}",
            "event_time": int(now),
        }
        return json.dumps(event, indent=2).encode()
