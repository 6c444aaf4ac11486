"""Asymmetric keys: loading them from configuration (DER, PEM, JWK) and checking
signatures with them. Used by PayPal (RSA), SendGrid (ECDSA P-256), Discord and Standard
Webhooks (Ed25519), and by `connectors.toolkit.jwt`.

Loaders raise `ValueError` (which pydantic reports as a configuration error); `verifies`
turns a failed signature check into False, so callers can try every key in turn.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_private_key,
    load_der_public_key,
    load_pem_private_key,
)

__all__ = ["load_jwk", "load_private_key", "load_public_key", "spki", "verifies"]


def _base64_body(text: str) -> bytes:
    """The bytes of base64 text, PEM armour lines and whitespace ignored (binascii.Error)."""
    lines = (line for line in text.strip().splitlines() if not line.startswith("-----"))
    return base64.b64decode("".join("".join(lines).split()), validate=True)


def load_public_key(value: str) -> PublicKeyTypes:
    """A public key from base64 DER SubjectPublicKeyInfo (PEM armour tolerated)."""
    try:
        return load_der_public_key(_base64_body(value))
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise ValueError("not a base64 DER public key") from None


def load_private_key(value: str, *, der: bool = True) -> PrivateKeyTypes:
    """An unencrypted private key: PEM or, with `der`, base64 DER (PKCS#8 or SEC1)."""
    text = value.strip()
    try:
        if text.startswith("-----") or not der:
            return load_pem_private_key(text.encode(), password=None)
        return load_der_private_key(base64.b64decode("".join(text.split()), validate=True), password=None)
    except (binascii.Error, ValueError, TypeError, UnsupportedAlgorithm):
        kind = "PEM or base64 DER" if der else "PEM"
        raise ValueError(f"not an unencrypted {kind} private key") from None


def spki(key: Any) -> bytes:
    """A public key's DER SubjectPublicKeyInfo, to compare keys."""
    return bytes(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def verifies(verify: Callable[..., None], *args: Any) -> bool:
    """Whether `verify(*args)` (a cryptography key's `verify`) accepts the signature."""
    try:
        verify(*args)
    except (InvalidSignature, ValueError):
        return False
    return True


_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}


def _jwk_int(jwk: Mapping[str, Any], name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"JWK without {name!r}")
    try:
        data = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"JWK {name!r} is not base64url") from None
    return int.from_bytes(data, "big")


def load_jwk(jwk: Mapping[str, Any]) -> PublicKeyTypes:
    """A public key from a JSON Web Key (RFC 7517): `RSA` (n, e), `EC` (P-256/384/521: x, y),
    `OKP` (Ed25519: x). `ValueError` for anything else (private members are ignored)."""
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            return rsa.RSAPublicNumbers(_jwk_int(jwk, "e"), _jwk_int(jwk, "n")).public_key()
        if kty == "EC":
            curve = _CURVES.get(str(jwk.get("crv")))
            if curve is None:
                raise ValueError(f"unsupported EC curve {jwk.get('crv')!r}")
            return ec.EllipticCurvePublicNumbers(_jwk_int(jwk, "x"), _jwk_int(jwk, "y"), curve).public_key()
        if kty == "OKP" and jwk.get("crv") == "Ed25519":
            return Ed25519PublicKey.from_public_bytes(_jwk_int(jwk, "x").to_bytes(32, "big"))
    except (OverflowError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a valid {kty} JWK: {exc}") from None
    raise ValueError(f"unsupported JWK kty {kty!r}")
