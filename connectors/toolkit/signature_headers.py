"""Reading signature headers: prefixed digests, `t=…,v1=…` lists, Slack's `v0` scheme.

Every parser fails closed with `VerificationError` (`malformed_signature`,
`missing_signature`, `missing_timestamp`), never a `ValueError`.
"""

from __future__ import annotations

from connectors._base import VerificationError, WebhookRequest
from connectors.toolkit.digests import to_bytes
from connectors.toolkit.timestamps import parse_timestamp

__all__ = ["prefixed_signatures", "timestamped_signatures", "v0_signature"]


def prefixed_signatures(
    header: str, prefix: str, *, separator: str | None = None, lowercase: bool = True
) -> list[bytes]:
    """The digests in `<prefix><digest>` (or, with `separator`, a list of such items).

    Items without `prefix` are skipped; none left is `VerificationError("malformed_signature")`.
    Hex digests are lowercased (`lowercase`) so they compare case-insensitively.
    """
    items = header.split(separator) if separator else [header]
    found: list[bytes] = []
    for raw in items:
        item = raw.strip()
        if item.startswith(prefix):
            digest = item[len(prefix) :]
            found.append(to_bytes(digest.lower() if lowercase else digest))
    if not found:
        raise VerificationError("malformed_signature")
    return found


def timestamped_signatures(
    header: str,
    *,
    separator: str = ",",
    timestamp_key: str = "t",
    signature_key: str = "v1",
    single_timestamp: bool = False,
) -> tuple[str, list[str]]:
    """(timestamp text, signature values) of a `t=<unix>,v1=<sig>[,v1=<sig>…]` header.

    Stripe and Calendly use `,` with `t`/`v1`; Paddle `;` with `ts`/`h1`. Other keys are
    ignored (no downgrade to another scheme). The first timestamp counts, or a second one
    is malformed (`single_timestamp`). Raises `VerificationError`: `malformed_signature`
    (an item without `=`), `missing_timestamp`, `missing_signature`. The timestamp text is
    stripped; the signature values are as sent after the `=`.
    """
    timestamp: str | None = None
    signatures: list[str] = []
    for item in header.split(separator):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise VerificationError("malformed_signature")
        if key == timestamp_key:
            if timestamp is None:
                timestamp = value.strip()
            elif single_timestamp:
                raise VerificationError("malformed_signature")
        elif key == signature_key:
            signatures.append(value)
    if timestamp is None:
        raise VerificationError("missing_timestamp")
    if not signatures:
        raise VerificationError("missing_signature")
    return timestamp, signatures


def v0_signature(
    request: WebhookRequest, signature_header: str, timestamp_header: str
) -> tuple[int, bytes, bytes]:
    """(timestamp, candidate hex digest, signed content) of Slack's `v0` scheme (Zoom's too):
    `<signature_header>: v0=<hex>` over `v0:<timestamp>:<body>`.

    Raises `VerificationError`: `missing_signature`, `missing_timestamp`,
    `malformed_timestamp`, `malformed_signature`.
    """
    signature = request.headers.get(signature_header, "").strip()
    ts_header = request.headers.get(timestamp_header, "").strip()
    if not signature:
        raise VerificationError("missing_signature")
    if not ts_header:
        raise VerificationError("missing_timestamp")
    timestamp = parse_timestamp(ts_header)
    if not signature.startswith("v0="):
        raise VerificationError("malformed_signature")
    return timestamp, to_bytes(signature[3:].lower()), b"v0:%d:" % timestamp + request.body
