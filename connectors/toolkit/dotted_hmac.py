"""`DottedHmacConnector`: the base of connectors whose signature header carries a timestamp
and hex HMAC-SHA256s of `<timestamp>.<body>`.

WorkOS (`t=<ms>, v1=<hex>`), Persona (`t=<s>,v1=<hex>` pairs) and Recurly
(`<ms>,<hex>,<hex>`) differ only in how the header is written and whether the timestamp
is in seconds or milliseconds. A subclass sets `signature_header` and `millis`, and writes
`parse_signature` and `format_signature`; verification (every secret against every
signature, then the two-sided replay window) and signing are done here.
"""

from __future__ import annotations

from typing import ClassVar

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
from connectors.toolkit.signature_headers import check_dotted_hmac, dotted_hmac

__all__ = ["DottedHmacConnector", "TimedSecretsOptions"]


class TimedSecretsOptions(SecretsOptions):
    """`secrets` and the replay window `tolerance_seconds`."""

    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions")


TimedSecretsOptionsT_co = TypeVar(
    "TimedSecretsOptionsT_co", bound=TimedSecretsOptions, default=TimedSecretsOptions, covariant=True
)


class DottedHmacConnector(Connector[TimedSecretsOptionsT_co]):
    """A connector verifying hex HMAC-SHA256s of `<timestamp>.<body>` in `signature_header`."""

    signature_header: ClassVar[str]
    #: The timestamp is in milliseconds (else seconds).
    millis: ClassVar[bool] = False

    def parse_signature(self, header: str) -> tuple[str, list[str]]:
        """(timestamp as sent, signatures) of a non-empty header, or `VerificationError`."""
        raise NotImplementedError

    def format_signature(self, timestamp: str, signatures: list[str]) -> str:
        """The header's value for `signatures` (one per secret) made at `timestamp`."""
        raise NotImplementedError

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get(self.signature_header, "").strip()
        if not header:
            raise VerificationError("missing_signature")
        timestamp, signatures = self.parse_signature(header)
        keys = secret_values(self.options.secrets)
        tolerance = self.options.tolerance_seconds
        check_dotted_hmac(
            keys, timestamp, request.body, signatures, now=now, tolerance=tolerance, millis=self.millis
        )

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        timestamp = str(int(now * 1000) if self.millis else int(now))
        signatures = [dotted_hmac(key, timestamp, body) for key in secret_values(self.options.secrets)]
        headers = {
            "Content-Type": "application/json",
            self.signature_header: self.format_signature(timestamp, signatures),
        }
        return SignedDelivery(body=body, headers=headers)
