"""Constant-time checks of HMACs and static tokens.

`check_hmac` computes the HMAC of the signed content under every configured key (secret
rotation) and compares it with every candidate the request carries, always all of them, in
constant time. `check_token` does the same for a static token.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import SecretStr

from connectors._base import VerificationError, secret_values

__all__ = [
    "MAX_CANDIDATES",
    "DigestEncoding",
    "any_match",
    "check_hmac",
    "check_token",
    "encode_digest",
    "hmac_digest",
    "to_bytes",
]

DigestEncoding = Literal["hex", "base64", "raw"]


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


def check_token(value: str | None, secrets: Sequence[SecretStr]) -> None:
    """A static token (header or query value) against every secret, in constant time.

    Raises `VerificationError`: `missing_token` when there is none, else `bad_token`.
    """
    if value is None:
        raise VerificationError("missing_token")
    if not any_match(secret_values(secrets), [to_bytes(value)]):
        raise VerificationError("bad_token")
