"""`BodyHmacConnector`: the base of connectors whose signature is one header over the raw body.

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

from typing import ClassVar, Literal

from typing_extensions import TypeVar

from connectors._base import (
    Connector,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    secret_values,
)
from connectors.toolkit.digests import check_hmac, encode_digest, hmac_digest
from connectors.toolkit.signature_headers import prefixed_signatures

__all__ = ["BodyHmacConnector", "SecretsOptionsT_co"]


SecretsOptionsT_co = TypeVar(
    "SecretsOptionsT_co", bound=SecretsOptions, default=SecretsOptions, covariant=True
)


class BodyHmacConnector(Connector[SecretsOptionsT_co]):
    """A connector verifying `signature_header` = `signature_prefix` + HMAC(secret, body)."""

    signature_header: ClassVar[str]
    signature_prefix: ClassVar[str] = ""
    algorithm: ClassVar[Literal["sha1", "sha256"]] = "sha256"
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
        keys = secret_values(self.options.secrets)
        check_hmac(keys, request.body, candidates, algorithm=self.algorithm, encoding=self.encoding)

    def digest(self, key: bytes, content: bytes) -> bytes:
        """The encoded HMAC as it appears after the prefix."""
        return encode_digest(hmac_digest(key, content, self.algorithm), self.encoding)

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
