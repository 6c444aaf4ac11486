"""Asymmetric keys: loading them from configuration and checking signatures with them
(private: not part of the plugin API). Used by PayPal (RSA), SendGrid (ECDSA P-256),
Discord and Standard Webhooks (Ed25519).

Loaders raise `ValueError` (which pydantic reports as a configuration error); `verifies`
turns a failed signature check into False, so callers can try every key in turn.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_private_key,
    load_der_public_key,
    load_pem_private_key,
)

__all__ = ["load_private_key", "load_public_key", "spki", "verifies"]


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
