"""Twilio: `X-Twilio-Signature`, an HMAC over the URL Twilio called plus the POST params.

For a form POST the signed string is the full URL (scheme, host, port, path, query)
followed by every POST parameter sorted by name, each as `name + value` with no
separator; a repeated name contributes its distinct values in sorted order (as Twilio's
`RequestValidator` does). For a JSON body Twilio adds `bodySHA256=<hex sha256(body)>` to
the URL's query and signs the URL alone; the hash must match the raw body.

The HMAC is SHA-1 keyed with the account Auth Token, base64. With SharedKey signing
Twilio adds `X-Twilio-Webhooks-Signature-Settings: key=<sid>,algorithm=HMAC_SHA256` and
keys the HMAC with the SharedKey secret; `secrets` may hold Auth Tokens and SharedKey
secrets side by side (rotation). Like the SDK, the URL is tried as called, without its
port and with the scheme's default port, because Twilio's back end is inconsistent.

The URL is the one the gateway reconstructs from the configured `public_url` (never the
`Host` header). `sign()` signs for `url=` when given, else `signing_url`, else the test
kit's default URL.

Twilio signs no timestamp; dedup is on `I-Twilio-Idempotency-Token` when sent, else a
hash of the body. Twilio has no event type: it is derived from the params (`EventType`,
`MessageStatus`/`SmsStatus` → `message.<status>`, `CallStatus` → `call.<status>`), else
`default_type`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    constant_time_equals,
    parse_json,
    secret_values,
    sha256_of_parts,
)
from connectors.toolkit import (
    DEFAULT_SIGNING_URL,
    FORM,
    MAX_TYPE_LENGTH,
    any_match,
    check_event_type,
    hmac_digest,
    to_bytes,
)

__all__ = ["DEFAULT_SIGNING_URL", "TwilioConnector", "TwilioOptions"]

_ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}


class TwilioOptions(SecretsOptions):
    default_type: str = Field(
        "twilio.webhook",
        min_length=1,
        max_length=MAX_TYPE_LENGTH,
        description="event type when the params name none",
    )
    signing_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="URL sign() signs for (hookgate send-test); verification uses the called URL",
    )


class TwilioConnector(Connector[TwilioOptions]):
    name = "twilio"
    summary = "Twilio webhooks (X-Twilio-Signature over URL + params, bodySHA256, SharedKey, rotation)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get("x-twilio-signature", "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        algorithm = _algorithm(request.headers.get("x-twilio-webhooks-signature-settings"))
        url = called_url(request)
        body_hash = _query_values(url).get("bodySHA256")
        if body_hash is not None:
            actual = hashlib.sha256(request.body).hexdigest()
            if not any(constant_time_equals(to_bytes(h), actual) for h in body_hash):
                raise VerificationError("bad_body_hash")
            params: list[tuple[str, str]] = []
        else:
            params = _form_params(request.body)
        urls = _url_variants(url)
        expected = [
            base64.b64encode(hmac_digest(key, _signed(u, params), algorithm))
            for key in secret_values(self.options.secrets)
            for u in urls
        ]
        if not any_match(expected, [to_bytes(signature)]):
            raise VerificationError("bad_signature")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload: Any
        if "bodySHA256" in _query_values(called_url(request)):
            payload = parse_json(request.body)
            fields = payload if isinstance(payload, dict) else {}
        else:
            try:
                fields = payload = _form_dict(_form_params(request.body))
            except VerificationError:
                raise MalformedPayloadError("invalid_form") from None
        event_type = self._event_type(fields)
        token = request.headers.get("i-twilio-idempotency-token", "").strip()
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=token or sha256_of_parts(self.name, request.body),
                delivery_id=token or None,
                occurred_at=_occurred(fields.get("Timestamp")),
            )
        ]

    def _event_type(self, fields: dict[str, Any]) -> str:
        if (value := fields.get("EventType")) is not None or (value := fields.get("type")) is not None:
            return check_event_type(value, "EventType")
        for key, prefix in (("MessageStatus", "message"), ("SmsStatus", "message"), ("CallStatus", "call")):
            if (value := fields.get(key)) is not None:
                return check_event_type(f"{prefix}.{check_event_type(value, key)}", key)
        return self.options.default_type

    def sign(self, body: bytes, now: float, *, url: str | None = None) -> SignedDelivery:
        """Sign for `url` (else `signing_url`, else the test kit's default URL).

        A body that is UTF-8 and not JSON is signed as a form POST; anything else as a
        JSON webhook, with `bodySHA256` in the query (and so in the signed URL).
        """
        url = url or self.options.signing_url or DEFAULT_SIGNING_URL
        key = secret_values(self.options.secrets)[0]
        headers = {"I-Twilio-Idempotency-Token": f"{int(now)}-{sha256_of_parts(body)[:32]}"}
        query: tuple[tuple[str, str], ...] = ()
        if _is_form(body):
            headers["Content-Type"] = FORM
            signed = _signed(url, _form_params(body))
        else:
            headers["Content-Type"] = "application/json"
            query = (("bodySHA256", hashlib.sha256(body).hexdigest()),)
            signed = to_bytes(url + ("&" if "?" in url else "?") + urlencode(query))
        headers["X-Twilio-Signature"] = base64.b64encode(hmac.new(key, signed, "sha1").digest()).decode()
        return SignedDelivery(body=body, headers=headers, query=query)

    def sample_body(self, now: float) -> bytes:
        params = {
            "ToCountry": "US",
            "ToState": "CA",
            "SmsMessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
            "NumMedia": "0",
            "ToCity": "SAN FRANCISCO",
            "FromZip": "94105",
            "SmsSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
            "FromState": "CA",
            "SmsStatus": "received",
            "FromCity": "SAN FRANCISCO",
            "Body": "Hello from hookgate",
            "FromCountry": "US",
            "To": "+15557122661",
            "ToZip": "94105",
            "NumSegments": "1",
            "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
            "AccountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            "From": "+15017250604",
            "ApiVersion": "2010-04-01",
        }
        return urlencode(params).encode()


def called_url(request: WebhookRequest) -> str:
    """The URL the provider called, with the query.

    The gateway's `request.url` already carries the query; a request built without it
    (the test kit passes the query separately) gets `request.query` appended.
    """
    url = request.url
    if "?" not in url and request.query:
        url += "?" + urlencode(request.query)
    return url


def _algorithm(settings: str | None) -> str:
    if settings is None:
        return "sha1"
    name = "HMAC_SHA1"
    for part in settings.split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip() == "algorithm" and value.strip():
            name = value.strip().upper()
    algorithm = _ALGORITHMS.get(name)
    if algorithm is None:
        raise VerificationError("unsupported_algorithm")
    return algorithm


def _query_values(url: str) -> dict[str, list[str]]:
    try:
        return parse_qs(urlsplit(url).query, keep_blank_values=True)
    except ValueError:
        raise VerificationError("malformed_url") from None


def _url_variants(url: str) -> list[str]:
    """The URL as called, without any port and with the scheme's default port (as the SDK)."""
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return variants
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    default = {"https": 443, "http": 80}.get(parts.scheme, 80)
    for netloc in (host, f"{host}:{port if port is not None else default}"):
        variant = urlunsplit(parts._replace(netloc=netloc))
        if variant not in variants:
            variants.append(variant)
    return variants


def _form_params(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("malformed_body") from None
    return parse_qsl(text, keep_blank_values=True)


def _signed(url: str, params: list[tuple[str, str]]) -> bytes:
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    text = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return to_bytes(text)


def _form_dict(params: list[tuple[str, str]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in params:
        current = result.get(name)
        if current is None:
            result[name] = value
        elif isinstance(current, list):
            current.append(value)
        else:
            result[name] = [current, value]
    return result


def _is_form(body: bytes) -> bool:
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except UnicodeDecodeError:
        return False
    except ValueError:
        return True
    return False


def _occurred(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
