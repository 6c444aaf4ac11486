"""Small helpers shared by the built-in connectors (private: not part of the plugin API)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from connectors._base import MalformedPayloadError, VerificationError

__all__ = [
    "MAX_TYPE_LENGTH",
    "any_match",
    "check_event_type",
    "check_tolerance",
    "hmac_digest",
    "lookup",
    "parse_timestamp",
    "stable_id",
    "to_bytes",
]

#: EventBridge's limit on `DetailType`, applied to every connector's event type.
MAX_TYPE_LENGTH = 128


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


def any_match(expected: Iterable[bytes], candidates: Iterable[bytes]) -> bool:
    """True if any candidate equals any expected value; every pair is compared."""
    candidates = list(candidates)
    ok = False
    for exp in expected:
        for candidate in candidates:
            ok |= hmac.compare_digest(exp, candidate)
    return ok


def parse_timestamp(value: str) -> int:
    """Unix seconds from a header value, or `VerificationError("malformed_timestamp")`."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise VerificationError("malformed_timestamp")
    return int(value)


def check_tolerance(timestamp: int, now: float, tolerance: int) -> None:
    """Two-sided replay window; a tolerance of 0 turns the check off."""
    if tolerance and abs(now - timestamp) > tolerance:
        raise VerificationError("stale_timestamp")


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


def stable_id(prefix: str, body: bytes, now: float) -> str:
    """A deterministic delivery id for `sign()`: same body and clock, same id."""
    digest = hashlib.sha256(b"%r:" % now + body).hexdigest()
    return f"{prefix}{digest[:24]}"
