"""Mailgun: an HMAC in the body, `signature.signature = hex HMAC-SHA256(timestamp + token)`.

The JSON body is `{"signature": {"timestamp", "token", "signature"}, "event-data": {…}}`
(legacy webhooks post a form with top-level `timestamp`, `token`, `signature` fields).
The key is the domain's **HTTP webhook signing key** (not the API key). The signed
timestamp must be within `tolerance_seconds` of now, on both sides (the SDK uses 900 s).

Mailgun's signature covers only the timestamp and the random token, not the event data,
and it travels in the body: `verify` has to parse the body, and a replayed body keeps its
signature. Serve the URL over HTTPS and, as Mailgun allows credentials in the webhook URL
(`https://user:pass@host/…`), set `username` and `password` to require HTTP Basic auth
too. Several signing keys may be listed (rotation).

Dedup is on `event-data.id` (the same on Mailgun's retries), else the token; the event
type is `event-data.event` (`delivered`, `failed`, `opened`, …).
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import Field

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    secret_values,
    utc_from_timestamp,
)
from connectors.toolkit import (
    FORM,
    OptionalBasicAuthOptions,
    basic_authorization,
    check_event_type,
    check_hmac,
    check_optional_basic_auth,
    check_tolerance,
    media_type,
    parse_timestamp,
    stable_id,
    to_bytes,
)

__all__ = ["MailgunConnector", "MailgunOptions"]


class MailgunOptions(SecretsOptions, OptionalBasicAuthOptions):
    tolerance_seconds: int = Field(900, ge=0, description="max clock skew of the signed timestamp, both ways")


def _fields(request: WebhookRequest) -> tuple[dict[str, Any], bool]:
    """(the parsed body, whether it is a legacy form); raises ValueError if unparseable."""
    if media_type(request) == FORM:
        pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        return dict(pairs), True
    try:
        payload = parse_json(request.body)
    except MalformedPayloadError as exc:
        raise ValueError(exc.cause) from None
    if not isinstance(payload, dict):
        raise ValueError("not an object")  # noqa: TRY004 - one "unparseable" signal for the caller
    return payload, False


class MailgunConnector(Connector[MailgunOptions]):
    name = "mailgun"
    summary = "Mailgun webhooks (HMAC-SHA256 of timestamp + token in the body, tolerance, rotation)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        check_optional_basic_auth(request, self.options)
        try:
            payload, legacy = _fields(request)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise VerificationError("malformed_body") from None
        signature = payload if legacy else payload.get("signature")
        if not isinstance(signature, dict):
            raise VerificationError("missing_signature")
        timestamp, token, digest = (signature.get(k) for k in ("timestamp", "token", "signature"))
        if isinstance(timestamp, int) and not isinstance(timestamp, bool):
            timestamp = str(timestamp)
        if not (isinstance(timestamp, str) and isinstance(token, str) and isinstance(digest, str)):
            raise VerificationError("missing_signature")
        if not (timestamp and token and digest):
            raise VerificationError("missing_signature")
        seconds = parse_timestamp(timestamp)
        signed = to_bytes(timestamp + token)
        check_hmac(secret_values(self.options.secrets), signed, [to_bytes(digest.strip().lower())])
        check_tolerance(seconds, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        try:
            payload, legacy = _fields(request)
        except (ValueError, UnicodeDecodeError, RecursionError):
            parse_json(request.body)  # raises MalformedPayloadError for bad JSON
            raise MalformedPayloadError("not_an_object") from None
        data = payload if legacy else payload.get("event-data")
        if not isinstance(data, dict):
            raise MalformedPayloadError("missing_field", "event-data")
        if data.get("event") is None:
            raise MalformedPayloadError("missing_field", "event")
        event_type = check_event_type(data["event"], "event")
        signature = payload if legacy else payload.get("signature")
        token = signature.get("token") if isinstance(signature, dict) else None
        event_id = data.get("id") if not legacy else None
        event_id = event_id if isinstance(event_id, str) and event_id else None
        token = token if isinstance(token, str) and token else None
        if event_id is None and token is None:
            raise MalformedPayloadError("missing_field", "event-data.id")
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=event_id or f"token:{token}",
                provider_event_id=event_id,
                delivery_id=token,
                occurred_at=utc_from_timestamp(_number(data.get("timestamp"))),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Put a fresh `signature` into a JSON object body (or a legacy form body); any
        other body is wrapped as `{"signature": …, "event-data": <the JSON or text>}`."""
        key = secret_values(self.options.secrets)[0]
        timestamp = str(int(now))
        token = hmac.new(key, b"token:%r:" % now + body, "sha256").hexdigest()[:50]
        signature = {
            "timestamp": timestamp,
            "token": token,
            "signature": hmac.new(key, (timestamp + token).encode(), "sha256").hexdigest(),
        }
        headers = {"User-Agent": "mailgun/treq-16.12.0"}
        if self.options.username:
            headers["Authorization"] = basic_authorization(self.options.username, self.options.password)
        try:
            payload: Any = parse_json(body)
        except MalformedPayloadError:
            payload = body.decode("utf-8", "replace")
        if not isinstance(payload, dict):
            payload = {"event-data": payload}
        payload["signature"] = signature
        headers["Content-Type"] = "application/json"
        return SignedDelivery(body=json.dumps(payload, indent=2).encode(), headers=headers)

    def sign_legacy_form(self, fields: dict[str, str], now: float) -> SignedDelivery:
        """A legacy form-encoded webhook with `timestamp`, `token`, `signature` fields."""
        key = secret_values(self.options.secrets)[0]
        timestamp, token = str(int(now)), hmac.new(key, b"legacy:%r" % now, "sha256").hexdigest()[:50]
        digest = hmac.new(key, (timestamp + token).encode(), "sha256").hexdigest()
        body = urlencode({**fields, "timestamp": timestamp, "token": token, "signature": digest}).encode()
        return SignedDelivery(body=body, headers={"Content-Type": FORM})

    def sample_body(self, now: float) -> bytes:
        event = {
            "event-data": {
                "id": "hg" + stable_id("", b"mailgun", now)[:20],
                "timestamp": int(now),
                "log-level": "info",
                "event": "delivered",
                "delivery-status": {"code": 250, "message": "OK", "attempt-no": 1, "session-seconds": 0.4},
                "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False},
                "envelope": {
                    "transport": "smtp",
                    "sender": "bob@sandbox.mailgun.org",
                    "targets": "alice@example.com",
                },
                "message": {
                    "headers": {
                        "to": "Alice <alice@example.com>",
                        "message-id": "20130503182626.18666.16540@sandbox.mailgun.org",
                        "from": "Bob <bob@sandbox.mailgun.org>",
                        "subject": "Test delivered webhook",
                    },
                    "size": 111,
                },
                "recipient": "alice@example.com",
                "recipient-domain": "example.com",
                "tags": ["my_tag_1"],
            }
        }
        return json.dumps(event, indent=2).encode()


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value
