"""Handshakes that echo a value (a challenge, a secret header) back to the provider.

An echo proves only that the URL answers, so it needs no credential; it must stay small
and printable, so the gateway never reflects arbitrary bytes.
"""

from __future__ import annotations

from connectors._base import VerificationError

__all__ = ["MAX_ECHO", "echo_value"]

#: The longest value a handshake echoes.
MAX_ECHO = 256


def echo_value(value: str | None, *, limit: int = MAX_ECHO, strict: bool = False) -> str | None:
    """`value` when it is 1 to `limit` printable ASCII characters; else None (not a
    handshake), or with `strict` `VerificationError("malformed_header")` (a handshake
    with an unusable value). None stays None."""
    if value is None:
        return None
    if 0 < len(value) <= limit and value.isascii() and value.isprintable():
        return value
    if strict:
        raise VerificationError("malformed_header")
    return None
