"""Twitch EventSub (webhook transport): `Twitch-Eventsub-Message-Signature: sha256=<hex>`.

HMAC-SHA256, keyed with the `secret` given when the subscription was created (used as
text), over `Twitch-Eventsub-Message-Id` + `Twitch-Eventsub-Message-Timestamp` + raw body,
with no separators; hex. Each subscription has one secret, so rotation (subscriptions
created with different secrets feeding one source) means listing every secret. The
timestamp is RFC 3339 with up to nanoseconds; it must be within `tolerance_seconds` of
now, on both sides (Twitch recommends 10 minutes).

Message types (`Twitch-Eventsub-Message-Type`):

* `webhook_callback_verification`: answered `200 text/plain` with the body's `challenge`,
  only when the request is correctly signed and the challenge is a short printable token;
* `notification`: the subscription type (`channel.follow`, `stream.online`, ...);
* `revocation`: `revocation` (the subscription, with its `status`, is in the payload).

The dedup key is `Twitch-Eventsub-Message-Id` (signed, and kept on retries).
"""

from __future__ import annotations

import hashlib
import hmac
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
    VerificationError,
    WebhookRequest,
    secret_values,
)
from connectors.toolkit import (
    check_event_type,
    check_hmac,
    check_tolerance,
    iso_utc,
    json_object,
    json_or_none,
    keyed_event,
    parse_rfc3339,
    to_bytes,
)

__all__ = ["TwitchConnector", "TwitchOptions", "parse_rfc3339"]

_PREFIX = "sha256="
_ID = "twitch-eventsub-message-id"
_TS = "twitch-eventsub-message-timestamp"
_SIG = "twitch-eventsub-message-signature"
_TYPE = "twitch-eventsub-message-type"
_VERIFICATION = "webhook_callback_verification"
#: Twitch's challenges are short printable tokens; nothing else is echoed.
_CHALLENGE = re.compile(r"[\x21-\x7e]{1,256}")
_MAX_ID = 256


class TwitchOptions(SecretsOptions):
    tolerance_seconds: int = Field(600, ge=0, description="max clock skew of the signed timestamp")


class TwitchConnector(Connector[TwitchOptions]):
    name = "twitch"
    summary = "Twitch EventSub webhooks (HMAC-SHA256, callback verification, revocation)"

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        if request.headers.get(_TYPE, "").strip() != _VERIFICATION:
            return None
        self.verify(request, now)
        payload = json_or_none(request.body)
        challenge = payload.get("challenge") if isinstance(payload, dict) else None
        if not (isinstance(challenge, str) and _CHALLENGE.fullmatch(challenge)):
            return ConnectorResponse(400, b"bad challenge")
        return ConnectorResponse(200, challenge.encode(), "text/plain")

    def verify(self, request: WebhookRequest, now: float) -> None:
        h = request.headers
        msg_id, ts_header, signature = h.get(_ID, ""), h.get(_TS, ""), h.get(_SIG, "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        if not (msg_id and ts_header):
            raise VerificationError("missing_header")
        if len(msg_id) > _MAX_ID:
            raise VerificationError("malformed_header", "message id")
        timestamp = parse_rfc3339(ts_header)
        if not signature.startswith(_PREFIX):
            raise VerificationError("malformed_signature")
        candidate = signature[len(_PREFIX) :].lower().encode("ascii", "replace")
        signed = to_bytes(msg_id) + to_bytes(ts_header) + request.body
        check_hmac(secret_values(self.options.secrets), signed, [candidate])
        check_tolerance(int(timestamp.timestamp()), now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        msg_id = request.headers.get(_ID, "").strip()
        if not msg_id:
            raise MalformedPayloadError("missing_header", "Twitch-Eventsub-Message-Id")
        payload = json_object(request.body)
        message_type = request.headers.get(_TYPE, "notification").strip()
        if message_type == "revocation":
            event_type = "revocation"
        else:
            subscription = payload.get("subscription")
            sub_type = subscription.get("type") if isinstance(subscription, dict) else None
            if sub_type is None:
                sub_type = request.headers.get("twitch-eventsub-subscription-type")
            if sub_type is None:
                raise MalformedPayloadError("missing_field", "subscription.type")
            event_type = check_event_type(sub_type, "subscription.type")
        try:
            occurred: datetime | None = parse_rfc3339(request.headers.get(_TS, ""))
        except VerificationError:
            occurred = None
        return [keyed_event(event_type, payload, msg_id, delivery_id=msg_id, occurred_at=occurred)]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        msg_id = _uuid_like(body, now)
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        key = secret_values(self.options.secrets)[0]
        digest = hmac.new(key, msg_id.encode() + stamp.encode() + body, hashlib.sha256).hexdigest()
        payload = json_or_none(body)
        subscription = payload.get("subscription") if isinstance(payload, dict) else None
        sub = subscription if isinstance(subscription, dict) else {}
        message_type = "notification"
        if isinstance(payload, dict) and "challenge" in payload:
            message_type = _VERIFICATION
        elif sub.get("status") not in (None, "enabled", _VERIFICATION + "_pending"):
            message_type = "revocation"
        return SignedDelivery(
            body=body,
            headers={
                "Twitch-Eventsub-Message-Id": msg_id,
                "Twitch-Eventsub-Message-Retry": "0",
                "Twitch-Eventsub-Message-Type": message_type,
                "Twitch-Eventsub-Message-Signature": _PREFIX + digest,
                "Twitch-Eventsub-Message-Timestamp": stamp,
                "Twitch-Eventsub-Subscription-Type": str(sub.get("type", "channel.follow")),
                "Twitch-Eventsub-Subscription-Version": str(sub.get("version", "2")),
                "Content-Type": "application/json",
            },
        )

    def sample_body(self, now: float) -> bytes:
        stamp = iso_utc(now)
        event: dict[str, Any] = {
            "subscription": {
                "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
                "type": "channel.follow",
                "version": "2",
                "status": "enabled",
                "cost": 0,
                "condition": {"broadcaster_user_id": "1337", "moderator_user_id": "1337"},
                "transport": {"method": "webhook", "callback": "https://example.com/webhooks/callback"},
                "created_at": "2019-11-16T10:11:12.634234626Z",
            },
            "event": {
                "user_id": "1234",
                "user_login": "cool_user",
                "user_name": "Cool_User",
                "broadcaster_user_id": "1337",
                "broadcaster_user_login": "cooler_user",
                "broadcaster_user_name": "Cooler_User",
                "followed_at": stamp,
            },
        }
        return json.dumps(event, indent=2).encode()


def _uuid_like(body: bytes, now: float) -> str:
    h = hashlib.sha256(b"%r:" % now + body).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
