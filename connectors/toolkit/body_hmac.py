"""`BodyHmacConnector` and `TimestampedHmacConnector`: bases for "HMAC of the body" providers.

Shopify, Intercom, Linear, Typeform, PagerDuty, Sentry and Bitbucket all send
`<prefix><HMAC(secret, raw body)>` in one header and differ only in the header name, the
prefix, the hash (SHA-256, SHA-1 for Intercom, SHA-512), the encoding (hex or base64) and
whether the header may list several signatures (PagerDuty, during a rotation). A subclass
sets those as class attributes and writes `normalize`, `sample_body` and the extra headers
that `sign` adds (event type, delivery id).

Every configured secret is tried (rotation), as UTF-8 bytes unless `key_of` decodes them.
Hex digests are compared case-insensitively, base64 digests exactly. Nothing here parses the body.

`TimestampedHmacConnector` is the same over `<timestamp>:<body>`, the timestamp in its own
header and checked against `tolerance_seconds` (Front, Webflow). `StripeSchemeConnector`
(with `check_t_v1` and `sign_t_v1`) is Stripe's `t=…,v1=…` header over `<t>.<body>`
(Stripe, Mux).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from typing_extensions import TypeVar

from connectors._base import (
    Connector,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    secret_values,
)
from connectors.toolkit.digests import check_hmac, encode_digest, hmac_digest, to_bytes
from connectors.toolkit.signature_headers import prefixed_signatures, timestamped_signatures
from connectors.toolkit.timestamps import check_tolerance, parse_millis, parse_timestamp

__all__ = [
    "BodyHmacConnector",
    "SecretsOptionsT_co",
    "StripeSchemeConnector",
    "TimestampedHmacConnector",
    "TimestampedOptions",
    "TimestampedOptionsT_co",
    "check_t_v1",
    "sign_t_v1",
]

#: Above this, a timestamp is in milliseconds (10**11 seconds is the year 5138).
_MILLIS = 10**11


SecretsOptionsT_co = TypeVar(
    "SecretsOptionsT_co", bound=SecretsOptions, default=SecretsOptions, covariant=True
)


class TimestampedOptions(SecretsOptions):
    """`secrets`, and `tolerance_seconds` for the signed timestamp."""

    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions (0: off)")


TimestampedOptionsT_co = TypeVar(
    "TimestampedOptionsT_co", bound=TimestampedOptions, default=TimestampedOptions, covariant=True
)


class BodyHmacConnector(Connector[SecretsOptionsT_co]):
    """A connector verifying `signature_header` = `signature_prefix` + HMAC(secret, body)."""

    signature_header: ClassVar[str]
    signature_prefix: ClassVar[str] = ""
    algorithm: ClassVar[Literal["sha1", "sha256", "sha512"]] = "sha256"
    encoding: ClassVar[Literal["hex", "base64"]] = "hex"
    #: Splits a header that lists several signatures (one per active secret).
    signature_separator: ClassVar[str | None] = None

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get(self.signature_header)
        if not header:
            raise VerificationError("missing_signature")
        candidates = prefixed_signatures(
            header,
            self.signature_prefix,
            separator=self.signature_separator,
            lowercase=self.encoding == "hex",
        )
        check_hmac(self.keys(), request.body, candidates, algorithm=self.algorithm, encoding=self.encoding)

    def key_of(self, secret: str) -> bytes:
        """One secret's HMAC key: its UTF-8 bytes (override where a secret is encoded)."""
        return secret.encode()

    def keys(self) -> list[bytes]:
        """The HMAC keys of every configured secret."""
        return [self.key_of(secret.get_secret_value()) for secret in self.options.secrets]

    def secret_headers(self) -> frozenset[str]:
        return frozenset({self.signature_header.lower()})

    def digest(self, key: bytes, content: bytes) -> bytes:
        """The encoded HMAC as it appears after the prefix."""
        return encode_digest(hmac_digest(key, content, self.algorithm), self.encoding)

    def signature(self, body: bytes) -> str:
        """The signature header's value: every secret when the header lists several."""
        keys = self.keys()
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


class TimestampedHmacConnector(Connector[TimestampedOptionsT_co]):
    """A connector verifying `signature_header` = HMAC(secret, `<timestamp>:<body>`), the
    timestamp (seconds or milliseconds) in `timestamp_header`, within `tolerance_seconds`.

    Front and Webflow sign this way; they differ in the header names and the encoding.
    """

    signature_header: ClassVar[str]
    timestamp_header: ClassVar[str]
    encoding: ClassVar[Literal["hex", "base64"]] = "hex"

    def verify(self, request: WebhookRequest, now: float) -> None:
        signature = request.headers.get(self.signature_header, "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        stamp = request.headers.get(self.timestamp_header, "").strip()
        if not stamp:
            raise VerificationError("missing_timestamp")
        millis = parse_millis(stamp)
        keys = secret_values(self.options.secrets)
        candidate = to_bytes(signature.lower() if self.encoding == "hex" else signature)
        check_hmac(keys, to_bytes(stamp) + b":" + request.body, [candidate], encoding=self.encoding)
        check_tolerance(millis / 1000 if millis > _MILLIS else millis, now, self.options.tolerance_seconds)

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        """Headers besides the signature and timestamp that the provider sends."""
        return {}

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        stamp = str(int(now * 1000))
        mac = hmac_digest(secret_values(self.options.secrets)[0], stamp.encode() + b":" + body)
        headers = {
            "Content-Type": "application/json",
            **self.delivery_headers(body, now),
            self.timestamp_header: stamp,
            self.signature_header: encode_digest(mac, self.encoding).decode(),
        }
        return SignedDelivery(body=body, headers=headers)


def check_t_v1(header: str | None, keys: list[bytes], body: bytes, now: float, tolerance: int) -> None:
    """A `t=<unix>,v1=<hex>[,v1=<hex>…]` header over `<t>.<body>` (Stripe, Mux): some `v1`
    is the HMAC-SHA256 under one of `keys`, and `t` is within `tolerance` of `now`."""
    if not header:
        raise VerificationError("missing_signature")
    ts_text, signatures = timestamped_signatures(header)
    timestamp = parse_timestamp(ts_text)
    signed = b"%d." % timestamp + body  # as Stripe's SDK: the timestamp as parsed
    check_hmac(keys, signed, [to_bytes(s) for s in signatures])
    check_tolerance(timestamp, now, tolerance)


def sign_t_v1(keys: list[bytes], body: bytes, now: float) -> str:
    """For `sign()`: the `t=<unix>,v1=<hex>…` header of `body` at `now`, one `v1` per key."""
    timestamp = int(now)
    signed = b"%d." % timestamp + body
    return ",".join([f"t={timestamp}", *("v1=" + hmac_digest(key, signed).hex() for key in keys)])


class StripeSchemeConnector(Connector[TimestampedOptionsT_co]):
    """A connector verifying Stripe's scheme: `signature_header` = `t=<unix>,v1=<hex>…`,
    HMAC-SHA256 of `<t>.<body>` under every secret, `t` within `tolerance_seconds`.

    Stripe and Mux sign this way; they differ in the header name and their events.
    """

    signature_header: ClassVar[str]

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get(self.signature_header)
        keys = secret_values(self.options.secrets)
        check_t_v1(header, keys, request.body, now, self.options.tolerance_seconds)

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        header = sign_t_v1(secret_values(self.options.secrets), body, now)
        return SignedDelivery(
            body=body, headers={self.signature_header: header, "Content-Type": "application/json"}
        )
