"""Small helpers shared by the built-in connectors (private: not part of the plugin API).

Themes: options (`check_each`), bytes and HMACs (`to_bytes`, `hmac_digest`, `check_hmac`,
`any_match`), signature headers (`prefixed_signatures`, `timestamped_signatures`,
`v0_signature`), static credentials (`check_token`), bodies (`json_or_none`, `json_object`,
`parse_body`) and the values read from them (`lookup`, `optional_id`, `optional_type`,
`check_event_type`), and what `sign()` needs (`stable_id`, `delivery_uuid`, `guess_kind`,
`DEFAULT_SIGNING_URL`). Timestamps live in `connectors._timestamps`, HTTP Basic in
`connectors._basic_auth`, and asymmetric keys in `connectors._keys`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import SecretStr

from connectors._base import (
    MalformedPayloadError,
    VerificationError,
    WebhookRequest,
    parse_json,
    secret_values,
)
from connectors._timestamps import parse_timestamp

__all__ = [
    "DEFAULT_SIGNING_URL",
    "FORM",
    "HEADER_NAME",
    "MAX_TYPE_LENGTH",
    "DigestEncoding",
    "any_match",
    "check_each",
    "check_event_type",
    "check_hmac",
    "check_token",
    "delivery_uuid",
    "encode_digest",
    "guess_kind",
    "hmac_digest",
    "json_object",
    "json_or_none",
    "lookup",
    "media_type",
    "optional_id",
    "optional_type",
    "parse_body",
    "prefixed_signatures",
    "stable_id",
    "timestamped_signatures",
    "to_bytes",
    "v0_signature",
]

#: EventBridge's limit on `DetailType`, applied to every connector's event type.
MAX_TYPE_LENGTH = 128
#: The URL `connectors.testing.signed_request` posts to by default, and so the URL that
#: connectors signing over the URL sign for when given none.
DEFAULT_SIGNING_URL = "https://hookgate.example/hooks/test"
FORM = "application/x-www-form-urlencoded"
#: A pattern for options that name a header (an RFC 9110 token).
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
_FORM_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]+\])*)")

DigestEncoding = Literal["hex", "base64", "raw"]


# --- options --------------------------------------------------------------------------


def check_each(
    secrets: list[SecretStr], load: Callable[[str], object], name: str = "secrets"
) -> list[SecretStr]:
    """For options validation: every secret can be loaded by `load`; the ValueError names
    the position (`secrets[1]: not hex`)."""
    for i, secret in enumerate(secrets):
        try:
            load(secret.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"secrets[{i}]: {exc}") from None
    return secrets


# --- bytes and HMACs -------------------------------------------------------------------


def to_bytes(value: str) -> bytes:
    """UTF-8 bytes of any str a header map can hold (lone surrogates included)."""
    return value.encode("utf-8", "surrogatepass")


#: hashlib lets other threads run while it hashes 2048 bytes or more. For webhook-sized
#: messages that costs more than it saves (a GIL hand-over to the store's writer thread
#: and back per request), so `hmac_digest` feeds the hash in smaller pieces.
_GIL_FREE_CHUNK = 2047


def hmac_digest(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    """HMAC of `message`, computed without releasing the GIL (same result as `hmac.digest`)."""
    mac = hmac.new(key, digestmod=algorithm)
    view = memoryview(message)
    for start in range(0, len(view), _GIL_FREE_CHUNK):
        mac.update(view[start : start + _GIL_FREE_CHUNK])
    return mac.digest()


def encode_digest(mac: bytes, encoding: DigestEncoding) -> bytes:
    """A digest as it travels: lowercase hex, base64, or the raw bytes."""
    if encoding == "hex":
        return mac.hex().encode()
    return base64.b64encode(mac) if encoding == "base64" else mac


#: The most signatures (or tokens) one request may offer: a provider sends one per secret it
#: signs with, two during a rotation; thousands would cost a comparison each.
MAX_CANDIDATES = 16


def any_match(expected: Iterable[bytes], candidates: Iterable[bytes]) -> bool:
    """True if any candidate equals any expected value; every pair is compared. More than
    `MAX_CANDIDATES` candidates is `VerificationError("too_many_signatures")`."""
    candidates = list(candidates)
    if len(candidates) > MAX_CANDIDATES:
        raise VerificationError("too_many_signatures", f"more than {MAX_CANDIDATES}")
    ok = False
    for exp in expected:
        for candidate in candidates:
            ok |= hmac.compare_digest(exp, candidate)
    return ok


def check_hmac(
    keys: Iterable[bytes],
    content: bytes,
    candidates: Iterable[bytes],
    *,
    algorithm: str = "sha256",
    encoding: DigestEncoding = "hex",
) -> None:
    """`VerificationError("bad_signature")` unless a candidate is the HMAC of `content`
    under one of `keys` (every key and candidate compared, in constant time)."""
    expected = [encode_digest(hmac_digest(key, content, algorithm), encoding) for key in keys]
    if not any_match(expected, candidates):
        raise VerificationError("bad_signature")


# --- signature headers -----------------------------------------------------------------


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


# --- static credentials ----------------------------------------------------------------


def check_token(value: str | None, secrets: Sequence[SecretStr]) -> None:
    """A static token (header or query value) against every secret, in constant time.

    Raises `VerificationError`: `missing_token` when there is none, else `bad_token`.
    """
    if value is None:
        raise VerificationError("missing_token")
    if not any_match(secret_values(secrets), [to_bytes(value)]):
        raise VerificationError("bad_token")


# --- bodies ----------------------------------------------------------------------------


def json_or_none(body: bytes) -> Any:
    """The body's JSON, or None when it is not JSON (for handshakes and `sign()`)."""
    try:
        return parse_json(body)
    except MalformedPayloadError:
        return None


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or `MalformedPayloadError`."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise MalformedPayloadError("not_an_object")
    return payload


def media_type(request: WebhookRequest) -> str:
    """The request's `Content-Type` without parameters, lowercased (`""` when absent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_body(request: WebhookRequest) -> Any:
    """A JSON body or, when the media type says so, a form (`MalformedPayloadError` if neither).

    Form keys in Rails style nest: `a[b][c]=v` becomes `{"a": {"b": {"c": "v"}}}`; a
    repeated key collects its values in a list; a key used both as a value and as an
    object (`a=1&a[b]=2`) makes the form malformed.
    """
    if media_type(request) != FORM:
        return parse_json(request.body)
    try:
        pairs = parse_qsl(request.body.decode(), keep_blank_values=True, strict_parsing=True)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayloadError("invalid_form") from None
    return _nest(pairs)


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        match = _FORM_KEY.fullmatch(key)
        path = [match[1], *re.findall(r"\[([^\[\]]+)\]", match[2])] if match else [key]
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise MalformedPayloadError("invalid_form", f"conflicting keys at {key!r}")
        leaf, current = path[-1], node.get(path[-1])
        if current is None:
            node[leaf] = value
        elif isinstance(current, str):
            node[leaf] = [current, value]
        elif isinstance(current, list):
            current.append(value)
        else:
            raise MalformedPayloadError("invalid_form", f"conflicting keys at {key!r}")
    return result


# --- values in a body ------------------------------------------------------------------


def lookup(payload: Any, path: str) -> Any:
    """The value at a dotted path (`a.b.c`) in nested mappings, or None."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def check_event_type(value: Any, source: str) -> str:
    """A usable event type: a printable, non-empty str of at most 128 characters."""
    if not isinstance(value, str):
        raise MalformedPayloadError("bad_event_type", f"{source} is not a string")
    text = value.strip()
    if not text or len(text) > MAX_TYPE_LENGTH or not text.isprintable():
        raise MalformedPayloadError(
            "bad_event_type", f"{source} must be 1-{MAX_TYPE_LENGTH} printable characters"
        )
    return text


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


# --- for sign() ------------------------------------------------------------------------


def stable_id(prefix: str, body: bytes, now: float) -> str:
    """A deterministic delivery id for `sign()`: same body and clock, same id."""
    digest = hashlib.sha256(b"%r:" % now + body).hexdigest()
    return f"{prefix}{digest[:24]}"


def delivery_uuid(body: bytes, now: float) -> str:
    """For `sign()`: a deterministic UUID (same body and clock, same id)."""
    return str(uuid.UUID(bytes=hashlib.sha256(b"%r:" % now + body).digest()[:16], version=4))


def guess_kind(body: bytes, table: tuple[tuple[str, str], ...], default: str) -> str:
    """For `sign()`: the first `table` value whose dotted path exists in the JSON body."""
    payload = json_or_none(body)
    for path, kind in table:
        if lookup(payload, path) is not None:
            return kind
    return default
