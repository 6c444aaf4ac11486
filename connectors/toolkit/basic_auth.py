"""HTTP Basic credentials for connectors that accept them.

Adyen and Mailgun can require Basic auth on top of their signatures; Freshdesk (and the
connectors built on it: Freshservice, shared-secret) can only authenticate with it. Each
credential may be a list while it is rotated. Every configured username and password is
compared in constant time, and the username and the password are both always compared,
so the time taken says nothing about which one was wrong.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from pydantic import SecretStr

from connectors._base import VerificationError, WebhookRequest, secret_values
from connectors.toolkit.digests import any_match, to_bytes

__all__ = ["basic_authorization", "check_basic_auth", "check_optional_pair"]


def check_basic_auth(
    request: WebhookRequest,
    usernames: Sequence[SecretStr],
    passwords: Sequence[SecretStr],
    *,
    strict: bool = True,
) -> None:
    """Raise `VerificationError` unless `Authorization: Basic` carries a configured pair.

    Causes: `missing_credentials` (no `Authorization`), `malformed_credentials` (another
    scheme, bad base64, no `:`), `bad_credentials`. Where Basic is an optional extra
    (`strict=False`), another scheme counts as missing credentials and a value without a
    `:` as a username with an empty password (and so as bad credentials).
    """
    header = request.headers.get("authorization")
    if header is None:
        raise VerificationError("missing_credentials")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        if strict:
            raise VerificationError("malformed_credentials", "not HTTP Basic")
        raise VerificationError("missing_credentials")
    try:
        decoded = base64.b64decode(to_bytes(encoded.strip()), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("malformed_credentials", "bad base64") from None
    username, sep, password = decoded.partition(b":")
    if strict and not sep:
        raise VerificationError("malformed_credentials", "no colon")
    user_ok = any_match(secret_values(usernames), [username])
    password_ok = any_match(secret_values(passwords), [password])
    if not (sep and user_ok & password_ok):
        raise VerificationError("bad_credentials")


def basic_authorization(usernames: Sequence[SecretStr], passwords: Sequence[SecretStr]) -> str:
    """For `sign()`: the `Authorization` value for the first username and password."""
    pair = secret_values(usernames)[0] + b":" + secret_values(passwords)[0]
    return "Basic " + base64.b64encode(pair).decode()


def check_optional_pair(usernames: Sequence[SecretStr], passwords: Sequence[SecretStr]) -> None:
    """For options validation: Basic auth is off (neither set) or fully on; ValueError if not."""
    if bool(usernames) != bool(passwords):
        raise ValueError("HTTP Basic needs both username and password")
    if any(not s.get_secret_value() for s in (*usernames, *passwords)):
        raise ValueError("HTTP Basic credentials must not be empty")
