"""JSON Web Tokens (RFC 7519) for connectors: verify a compact JWS against the configured
keys, and encode one for `sign()`.

The connector chooses the algorithms, never the token: a token whose header names another
(`none`, or RS256 where HS256 is expected) is refused before any key is tried. Every key is
tried (rotation). Everything fails closed with `VerificationError`:

| cause | when |
| --- | --- |
| `malformed_token` | not three base64url parts of JSON objects, or longer than `max_length` |
| `unsupported_algorithm` | the header's `alg` is not one the connector accepts |
| `bad_signature` | no configured key verifies the signature |
| `missing_expiry` / `expired_token` | no numeric `exp` (when required) / `exp` is past |
| `stale_timestamp` | `iat` lies in the future (beyond the leeway) |
| `not_yet_valid` | `nbf` lies in the future (beyond the leeway) |
| `bad_audience` / `bad_issuer` | `aud` / `iss` is not the expected one |
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeGuard

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from connectors._base import VerificationError
from connectors.toolkit.bodies import json_or_none
from connectors.toolkit.digests import any_match, hmac_digest, to_bytes
from connectors.toolkit.keys import verifies

__all__ = ["ALGORITHMS", "Key", "base64url", "encode_jwt", "jwt_header", "verify_jwt"]

#: A verification key: the shared secret's bytes (HS*) or a public key (RS*, PS*, ES*, EdDSA).
Key = bytes | PublicKeyTypes

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_EC_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}
#: Every algorithm `verify_jwt` knows (RFC 7518 §3.1, and EdDSA from RFC 8037).
ALGORITHMS = frozenset(
    {
        "HS256",
        "HS384",
        "HS512",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
    }
)
_MAX_TOKEN = 16_384


def base64url(data: bytes) -> str:
    """Unpadded base64url text (JWS's encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unbase64url(part: str) -> bytes:
    try:
        return base64.b64decode(to_bytes(part) + b"=" * (-len(part) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("malformed_token") from None


def _json_part(part: str) -> dict[str, Any]:
    value = json_or_none(_unbase64url(part))
    if not isinstance(value, dict):
        raise VerificationError("malformed_token")
    return value


def _is_number(value: Any) -> TypeGuard[int | float]:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _verifies(alg: str, key: Key, signed: bytes, signature: bytes) -> bool:
    digest = _HASHES.get(alg[2:])
    if alg.startswith("HS"):
        return isinstance(key, bytes) and any_match([hmac_digest(key, signed, "sha" + alg[2:])], [signature])
    if alg.startswith(("RS", "PS")) and isinstance(key, rsa.RSAPublicKey) and digest is not None:
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(padding.MGF1(digest()), padding.PSS.DIGEST_LENGTH)
        )
        return verifies(key.verify, signature, signed, pad, digest())
    if alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey) and digest is not None:
        size = _EC_SIZES[alg]
        if len(signature) != 2 * size:
            return False
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        return verifies(key.verify, encode_dss_signature(r, s), signed, ec.ECDSA(digest()))
    if alg == "EdDSA" and isinstance(key, Ed25519PublicKey):
        return verifies(key.verify, signature, signed)
    return False


def verify_jwt(
    token: str,
    keys: Sequence[Key],
    *,
    algorithms: Collection[str],
    now: float,
    leeway: float = 0,
    require_expiry: bool = True,
    audience: str | None = None,
    issuer: str | None = None,
    max_length: int = _MAX_TOKEN,
) -> dict[str, Any]:
    """The claims of `token` once one of `keys` verifies it under one of `algorithms` and its
    time claims hold at `now` (± `leeway` seconds); `VerificationError` otherwise.

    A connector that picks keys by `kid` reads the header with `jwt_header` first.
    """
    if len(token) > max_length or token.count(".") != 2:
        raise VerificationError("malformed_token")
    head_b64, claims_b64, sig_b64 = token.split(".")
    header, claims = _json_part(head_b64), _json_part(claims_b64)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in ALGORITHMS:
        raise VerificationError("unsupported_algorithm")
    signature = _unbase64url(sig_b64)
    signed = to_bytes(f"{head_b64}.{claims_b64}")
    ok = False
    for key in keys:  # every key, so the time taken says nothing about which one matched
        ok |= _verifies(alg, key, signed, signature)
    if not ok:
        raise VerificationError("bad_signature")
    _check_claims(claims, now, leeway, require_expiry, audience, issuer)
    return claims


def jwt_header(token: str) -> dict[str, Any]:
    """The (unverified) header of a compact JWS, e.g. to pick a key by `kid`."""
    if len(token) > _MAX_TOKEN or token.count(".") != 2:
        raise VerificationError("malformed_token")
    return _json_part(token.split(".", maxsplit=1)[0])


def _check_claims(  # noqa: PLR0917 (one private caller, every argument named there)
    claims: Mapping[str, Any],
    now: float,
    leeway: float,
    require_expiry: bool,
    audience: str | None,
    issuer: str | None,
) -> None:
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
    if exp is None and require_expiry:
        raise VerificationError("missing_expiry")
    if exp is not None:
        if not _is_number(exp):
            raise VerificationError("missing_expiry")
        if now > exp + leeway:
            raise VerificationError("expired_token")
    if iat is not None and (not _is_number(iat) or iat > now + leeway):
        raise VerificationError("stale_timestamp")
    if nbf is not None and (not _is_number(nbf) or nbf > now + leeway):
        raise VerificationError("not_yet_valid")
    if audience is not None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if not any(
            isinstance(a, str) and hmac.compare_digest(to_bytes(a), to_bytes(audience)) for a in audiences
        ):
            raise VerificationError("bad_audience")
    if issuer is not None:
        iss = claims.get("iss")
        if not isinstance(iss, str) or not hmac.compare_digest(to_bytes(iss), to_bytes(issuer)):
            raise VerificationError("bad_issuer")


def encode_jwt(
    claims: Mapping[str, Any], key: bytes | PrivateKeyTypes, algorithm: str, *, kid: str | None = None
) -> str:
    """A compact JWS of `claims` (for `sign()`): HS* with a secret's bytes, RS*/PS*/ES*/EdDSA
    with a private key."""
    header: dict[str, str] = {"alg": algorithm, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    head, body = base64url(orjson.dumps(header)), base64url(orjson.dumps(dict(claims)))
    signed = f"{head}.{body}".encode()
    digest = _HASHES.get(algorithm[2:])
    if algorithm.startswith("HS") and isinstance(key, bytes):
        signature = hmac.digest(key, signed, "sha" + algorithm[2:])
    elif algorithm.startswith(("RS", "PS")) and isinstance(key, rsa.RSAPrivateKey) and digest is not None:
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if algorithm.startswith("RS")
            else padding.PSS(padding.MGF1(digest()), padding.PSS.DIGEST_LENGTH)
        )
        signature = key.sign(signed, pad, digest())
    elif algorithm.startswith("ES") and isinstance(key, ec.EllipticCurvePrivateKey) and digest is not None:
        r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(digest())))
        size = _EC_SIZES[algorithm]
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif algorithm == "EdDSA" and isinstance(key, Ed25519PrivateKey):
        signature = key.sign(signed)
    else:
        raise ValueError(f"cannot sign {algorithm} with {type(key).__name__}")
    return f"{head}.{body}.{base64url(signature)}"
