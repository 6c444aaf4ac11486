"""Mandrill (Mailchimp Transactional): `X-Mandrill-Signature`, base64 HMAC-SHA1 over the
webhook URL followed by every POST parameter's name and value, sorted by name.

The key is the webhook's key (Settings → Webhooks, per webhook; *Reset key* makes a new
one), as UTF-8 bytes; list two while it is reset. The URL is the one the webhook was
added with, exactly: `webhook_url` when set, else the URL that was called.

Mandrill checks a new webhook with a `HEAD` request, then posts a signed, empty batch
(`mandrill_events=[]`): the first is answered `200` without a credential, the second
`200` once its signature verifies. Both ingest nothing.

The body is a form with one field, `mandrill_events`, a JSON array of up to 1000 events;
each becomes one event. Its type is `event` (`send`, `open`, `click`, `hard_bounce`,
`inbound`, ...), or `<type>.<action>` for sync events (`blacklist.add`,
`whitelist.remove`). Mandrill signs no timestamp and sends no delivery id: the dedup key
is a hash of the type, the message `_id` and `ts` (the event's unix time, also
`occurred_at`), which a retry keeps.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

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
    parse_json,
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    DEFAULT_SIGNING_URL,
    FORM,
    check_event_type,
    check_hmac,
    encode_digest,
    hmac_digest,
    optional_id,
    to_bytes,
)

__all__ = ["MandrillConnector", "MandrillOptions"]

_EMPTY_BATCHES = (b"mandrill_events=%5B%5D", b"mandrill_events=[]")


class MandrillOptions(SecretsOptions):
    webhook_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="the webhook's URL, exactly as added; default: the URL called",
    )


class MandrillConnector(Connector[MandrillOptions]):
    name = "mandrill"
    summary = "Mandrill webhooks (X-Mandrill-Signature, base64 HMAC-SHA1 over URL + params, batches)"
    methods = frozenset({"POST", "HEAD"})

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        """Mandrill's `HEAD` check, and its signed empty test batch."""
        if request.method == "HEAD":
            return ConnectorResponse(200)
        if request.body in _EMPTY_BATCHES:
            self.verify(request, now)
            return ConnectorResponse(200)
        return None

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get("x-mandrill-signature", "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        url = self.options.webhook_url or request.url
        if not url:
            raise VerificationError("missing_url")
        params = _params(request.body)
        if params is None:
            raise VerificationError("malformed_body")
        keys = secret_values(self.options.secrets)
        content = _signed_content(url, params)
        check_hmac(keys, content, [to_bytes(signature)], algorithm="sha1", encoding="base64")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        params = _params(request.body)
        if params is None:
            raise MalformedPayloadError("invalid_form")
        fields = dict(params)
        if "mandrill_events" not in fields:
            raise MalformedPayloadError("missing_field", "mandrill_events")
        events = parse_json(fields["mandrill_events"].encode())
        if not isinstance(events, list) or not events:
            raise MalformedPayloadError("missing_field", "mandrill_events")
        return [self._event(item) for item in events]

    def _event(self, item: Any) -> ProviderEvent:
        if not isinstance(item, dict):
            raise MalformedPayloadError("not_an_object", "mandrill_events[]")
        if "event" in item:
            event_type = check_event_type(item["event"], "event")
        elif isinstance(item.get("type"), str) and isinstance(item.get("action"), str):
            event_type = check_event_type(f"{item['type']}.{item['action']}", "type.action")
        else:
            raise MalformedPayloadError("missing_field", "event")
        message, ts = optional_id(item.get("_id")), optional_id(item.get("ts"))
        parts = (
            (event_type, message or "", ts or "") if message or ts else (json.dumps(item, sort_keys=True),)
        )
        return ProviderEvent(
            type=event_type,
            payload=item,
            dedup_key=sha256_of_parts(self.name, *parts),
            provider_event_id=message,
            occurred_at=utc_from_timestamp(item.get("ts")),
        )

    def sign(self, body: bytes, now: float, *, url: str | None = None) -> SignedDelivery:
        """Sign for `webhook_url`, else `url`, else the test kit's default URL. A body that
        is not a form is sent as Mandrill would send it: `mandrill_events=<body>`."""
        if not _is_form(body):
            body = urlencode({"mandrill_events": body.decode("utf-8", "replace")}).encode()
        url = self.options.webhook_url or url or DEFAULT_SIGNING_URL
        key = secret_values(self.options.secrets)[0]
        content = _signed_content(url, _params(body) or [])
        signature = encode_digest(hmac_digest(key, content, "sha1"), "base64").decode()
        headers = {
            "Content-Type": FORM,
            "User-Agent": "Mandrill-Webhook/1.0",
            "X-Mandrill-Signature": signature,
        }
        return SignedDelivery(body=body, headers=headers)

    def sample_body(self, now: float) -> bytes:
        event = {
            "event": "send",
            "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
            "ts": int(now),
            "msg": {
                "ts": int(now),
                "subject": "This an example webhook message",
                "email": "example.webhook@mandrillapp.com",
                "sender": "example.sender@mandrillapp.com",
                "tags": ["webhook-example"],
                "state": "sent",
                "metadata": {"user_id": 111},
                "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
            },
        }
        return urlencode({"mandrill_events": json.dumps([event])}).encode()


def _params(body: bytes) -> list[tuple[str, str]] | None:
    """The form's parameters, or None when the body is not a form."""
    try:
        return parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None


def _is_form(body: bytes) -> bool:
    return body.startswith(b"mandrill_events=")


def _signed_content(url: str, params: list[tuple[str, str]]) -> bytes:
    """The URL, then each parameter's name and value, sorted by name (Mandrill's algorithm)."""
    ordered = sorted(params, key=lambda pair: pair[0])
    return to_bytes(url) + b"".join(to_bytes(k) + to_bytes(v) for k, v in ordered)
