"""Braintree: a form of `bt_signature` and `bt_payload`, HMAC-SHA1 keyed with SHA-1(private key).

A delivery is an `application/x-www-form-urlencoded` form (anything else is refused):
`bt_payload` (the notification's XML, base64-encoded) and `bt_signature`:
`<public key>|<hex HMAC-SHA1 of bt_payload>` pairs joined by `&`, the HMAC keyed with the
SHA-1 digest of the API private key, as the Braintree SDKs check it. `secrets` are
`<public key>:<private key>` pairs (Settings > API > API Keys); a pair verifies a signature
made for its public key, so list the old and the new pair while you move to a new API key.

When a webhook URL is added, Braintree calls `GET ?bt_challenge=<hex>` and expects
`<public key>|<HMAC-SHA1 of the challenge>` back (the SDKs' `verify`); hookgate answers
with the first pair.

Braintree signs no timestamp and gives a notification no id: the dedup key is a hash of
`bt_payload` (a retry sends the same one). The detail-type is the notification's `kind`
(`subscription_charged_successfully`, `dispute_opened`, ...), `occurred_at` its
`timestamp`, and the payload the notification as JSON (elements become keys; `type="array"`
elements lists; the `nil`, `boolean` and `integer` types their JSON values).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import SecretStr, field_validator

from connectors import (
    Connector,
    ConnectorResponse,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    FORM,
    any_match,
    check_each,
    check_event_type,
    hmac_digest,
    media_type,
    to_bytes,
)

__all__ = ["BraintreeConnector", "BraintreeOptions"]

_CHALLENGE = re.compile(r"[a-f0-9]{20,32}")
_PAYLOAD = re.compile(rb"[A-Za-z0-9+=/\n]*")


def _pair(value: str) -> tuple[str, bytes]:
    public, sep, private = value.partition(":")
    if not sep or not public.strip() or not private.strip():
        raise ValueError("not a <public key>:<private key> pair")
    return public.strip(), hashlib.sha1(private.strip().encode()).digest()  # noqa: S324 - Braintree's scheme


class BraintreeOptions(SecretsOptions):
    """`secrets`: `<public key>:<private key>` API key pairs."""

    @field_validator("secrets")
    @classmethod
    def _pairs(cls, value: list[SecretStr]) -> list[SecretStr]:
        return check_each(value, _pair)


class BraintreeConnector(Connector[BraintreeOptions]):
    name = "braintree"
    summary = "Braintree webhooks (bt_signature HMAC-SHA1 of bt_payload, bt_challenge, key pairs)"
    methods = frozenset({"GET", "POST"})

    def __init__(self, options: BraintreeOptions) -> None:
        super().__init__(options)
        self.pairs = [_pair(secret.get_secret_value()) for secret in options.secrets]

    def _mac(self, key: bytes, content: bytes) -> str:
        return hmac_digest(key, content, "sha1").hex()

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        challenge = request.query_value("bt_challenge") if request.method == "GET" else None
        if challenge is None:
            return None
        if not _CHALLENGE.fullmatch(challenge):
            raise VerificationError("malformed_header", "bt_challenge")
        public, key = self.pairs[0]
        return ConnectorResponse(200, f"{public}|{self._mac(key, challenge.encode())}".encode())

    def verify(self, request: WebhookRequest, now: float) -> None:
        if media_type(request) != FORM:  # Braintree posts a form, always
            raise VerificationError("malformed_body")
        signature, payload = _form(request.body)
        if not signature:
            raise VerificationError("missing_signature")
        if not _PAYLOAD.fullmatch(payload):
            raise VerificationError("malformed_body")
        offered: dict[str, list[bytes]] = {}
        for item in signature.split("&"):
            public, sep, digest = item.partition("|")
            if sep:
                offered.setdefault(public, []).append(to_bytes(digest.lower()))
        if not offered:
            raise VerificationError("malformed_signature")
        ok = False
        for public, key in self.pairs:
            ok |= any_match([self._mac(key, payload).encode()], offered.get(public, []))
        if not ok:
            raise VerificationError("bad_signature")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        _, payload = _form(request.body, malformed=MalformedPayloadError("invalid_form"))
        notification = _notification(payload)
        kind = notification.get("kind")
        if kind is None:
            raise MalformedPayloadError("missing_field", "kind")
        return [
            ProviderEvent(
                type=check_event_type(kind, "kind"),
                payload=notification,
                dedup_key=sha256_of_parts(self.name, payload),
                occurred_at=utc_from_timestamp(notification.get("timestamp")),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """`body` (the notification's XML) as Braintree sends it: base64 in a signed form."""
        payload = base64.encodebytes(body)
        public, key = self.pairs[0]
        form = urlencode({"bt_signature": f"{public}|{self._mac(key, payload)}", "bt_payload": payload})
        return SignedDelivery(form.encode(), {"Content-Type": FORM, "User-Agent": "Braintree/1.0"})

    def sample_body(self, now: float) -> bytes:
        stamp = utc_from_timestamp(int(now))
        when = stamp.isoformat().replace("+00:00", "Z") if stamp else ""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<notification>\n'
            f'  <timestamp type="datetime">{when}</timestamp>\n'
            "  <kind>subscription_charged_successfully</kind>\n  <subject>\n    <subscription>\n"
            "      <id>sub_8f3k2q</id>\n      <status>Active</status>\n"
            '      <transactions type="array">\n        <transaction>\n'
            "          <id>txn_4hz9k1</id>\n          <amount>49.00</amount>\n"
            "          <status>submitted_for_settlement</status>\n        </transaction>\n"
            "      </transactions>\n    </subscription>\n  </subject>\n</notification>\n"
        ).encode()


def _form(body: bytes, malformed: Exception | None = None) -> tuple[str, bytes]:
    """(`bt_signature`, `bt_payload` as bytes) of a form body."""
    try:
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
    except (ValueError, UnicodeDecodeError):
        raise malformed or VerificationError("malformed_body") from None
    return fields.get("bt_signature", ""), fields.get("bt_payload", "").encode()


def _notification(payload: bytes) -> dict[str, Any]:
    try:
        xml = base64.b64decode(payload.replace(b"\n", b""), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPayloadError("invalid_payload", "bt_payload is not base64") from None
    if b"<!" in xml:  # no DOCTYPE, so no entities
        raise MalformedPayloadError("invalid_payload", "a DOCTYPE or an entity")
    try:
        root = ET.fromstring(xml)  # noqa: S314 - no DOCTYPE, checked above
    except ET.ParseError:
        raise MalformedPayloadError("invalid_payload", "not XML") from None
    value = _value(root)
    if root.tag != "notification" or not isinstance(value, dict):
        raise MalformedPayloadError("invalid_payload", "not a notification")
    return value


def _value(element: ET.Element, depth: int = 0) -> Any:
    """An XML element as JSON, the way the Braintree SDKs read it."""
    if depth > 32:
        raise MalformedPayloadError("invalid_payload", "nested too deeply")
    kind = element.get("type")
    if element.get("nil") == "true":
        return None
    if kind == "array":
        return [_value(child, depth + 1) for child in element]
    if len(element):
        result: dict[str, Any] = {}
        for child in element:
            result[child.tag.replace("-", "_")] = _value(child, depth + 1)
        return result
    text = (element.text or "").strip()
    if kind == "boolean":
        return text == "true"
    if kind == "integer" and re.fullmatch(r"-?\d{1,18}", text):
        return int(text)
    return text
