"""Private base of the connectors whose signature is one header over the raw body.

Shopify, Intercom, Linear, Typeform, PagerDuty, Sentry and Bitbucket all send
`<prefix><HMAC(secret, raw body)>` in one header and differ only in the header name, the
prefix, the hash (SHA-256, or SHA-1 for Intercom), the encoding (hex or base64) and
whether the header may list several signatures (PagerDuty, during a rotation). A subclass
sets those as class attributes and writes `normalize`, `sample_body` and the extra headers
that `sign` adds (event type, delivery id).

Every configured secret is tried (rotation), as UTF-8 bytes. Hex digests are compared
case-insensitively, base64 digests exactly. Nothing here parses the body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any, ClassVar, Literal

from connectors._base import (
    Connector,
    MalformedPayloadError,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    secret_values,
)
from connectors._util import any_match, check_event_type, hmac_digest, lookup, to_bytes

__all__ = [
    "BodyHmacConnector",
    "delivery_uuid",
    "guess_kind",
    "json_object",
    "optional_id",
    "optional_type",
]


class BodyHmacConnector(Connector):
    """A connector verifying `signature_header` = `signature_prefix` + HMAC(secret, body)."""

    signature_header: ClassVar[str]
    signature_prefix: ClassVar[str] = ""
    algorithm: ClassVar[Literal["sha1", "sha256"]] = "sha256"
    encoding: ClassVar[Literal["hex", "base64"]] = "hex"
    #: Splits a header that lists several signatures (one per active secret).
    signature_separator: ClassVar[str | None] = None
    options: SecretsOptions

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get(self.signature_header)
        if not header:
            raise VerificationError("missing_signature")
        candidates = self._candidates(header)
        expected = [self.digest(key, request.body) for key in secret_values(self.options.secrets)]
        if not any_match(expected, candidates):
            raise VerificationError("bad_signature")

    def _candidates(self, header: str) -> list[bytes]:
        items = header.split(self.signature_separator) if self.signature_separator else [header]
        found: list[bytes] = []
        for raw in items:
            item = raw.strip()
            if not item.startswith(self.signature_prefix):
                continue
            digest = item[len(self.signature_prefix) :]
            found.append(to_bytes(digest.lower() if self.encoding == "hex" else digest))
        if not found:
            raise VerificationError("malformed_signature")
        return found

    def digest(self, key: bytes, content: bytes) -> bytes:
        """The encoded HMAC as it appears after the prefix."""
        mac = hmac_digest(key, content, self.algorithm)
        return mac.hex().encode() if self.encoding == "hex" else base64.b64encode(mac)

    def signature(self, body: bytes) -> str:
        """The signature header's value: every secret when the header lists several."""
        keys = secret_values(self.options.secrets)
        if self.signature_separator is None:
            keys = keys[:1]
        return (self.signature_separator or "").join(
            self.signature_prefix + self.digest(key, body).decode() for key in keys
        )

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        """Headers besides the signature that the provider sends (event type, ids)."""
        return {}

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        headers = {
            "Content-Type": "application/json",
            **self.delivery_headers(body, now),
            self.signature_header: self.signature(body),
        }
        return SignedDelivery(body=body, headers=headers)


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or `MalformedPayloadError`."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise MalformedPayloadError("not_an_object")
    return payload


def optional_id(value: Any) -> str | None:
    """An id from a body value: a non-empty string (or an integer), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def optional_type(payload: Any, path: str) -> str | None:
    """The event type at a dotted path: None when absent, `MalformedPayloadError` when unusable."""
    value = lookup(payload, path)
    return None if value is None else check_event_type(value, path)


def guess_kind(body: bytes, table: tuple[tuple[str, str], ...], default: str) -> str:
    """For `sign()`: the first `table` value whose dotted path exists in the JSON body."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return default
    for path, kind in table:
        if lookup(payload, path) is not None:
            return kind
    return default


def delivery_uuid(body: bytes, now: float) -> str:
    """For `sign()`: a deterministic UUID (same body and clock, same id)."""
    return str(uuid.UUID(bytes=hashlib.sha256(b"%r:" % now + body).digest()[:16], version=4))
