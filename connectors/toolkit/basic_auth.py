"""HTTP Basic credentials for connectors that accept them.

Adyen and Mailgun can require Basic auth on top of their signatures; Freshdesk (and the
connectors built on it: Freshservice, shared-secret) can only authenticate with it. Each
credential may be a list while it is rotated. Every configured username and password is
compared in constant time, and the username and the password are both always compared,
so the time taken says nothing about which one was wrong.

`BasicAuthConnector` is the base of connectors whose provider signs nothing and can
only send credentials typed into its dashboard (Chargebee, Pipedrive, Postmark).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from typing_extensions import TypeVar

from connectors._base import (
    Connector,
    ConnectorOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    one_or_many,
    secret_values,
)
from connectors.toolkit.digests import any_match, to_bytes
from connectors.toolkit.options import SecretList

__all__ = [
    "BasicAuthConnector",
    "BasicAuthOptions",
    "OptionalBasicAuthOptions",
    "basic_authorization",
    "check_basic_auth",
    "check_optional_basic_auth",
    "check_optional_pair",
]


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


class OptionalBasicAuthOptions(ConnectorOptions):
    """`username` and `password` for providers where HTTP Basic is an extra on top of a
    signature: both set (each a list while it is rotated) or neither; a connector mixes
    this into its options and calls `check_optional_basic_auth` in `verify`."""

    username: SecretList = Field(
        default_factory=list,
        description="HTTP Basic username asked of every delivery (a list while rotating)",
    )
    password: SecretList = Field(
        default_factory=list,
        description="HTTP Basic password asked of every delivery (a list while rotating)",
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        check_optional_pair(self.username, self.password)
        return self


def check_optional_basic_auth(request: WebhookRequest, options: OptionalBasicAuthOptions) -> None:
    """When `options` set credentials, raise `VerificationError` unless the request carries
    a configured pair (`check_basic_auth`, another scheme counting as missing)."""
    if options.username:
        check_basic_auth(request, options.username, options.password, strict=False)


class BasicAuthOptions(ConnectorOptions):
    """`username` and `password`, each a list while it is rotated."""

    username: list[SecretStr] = Field(min_length=1, description="HTTP Basic username (a list while rotating)")
    password: list[SecretStr] = Field(min_length=1, description="HTTP Basic password (a list while rotating)")

    @field_validator("username", "password", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return one_or_many(value)

    @field_validator("username", "password")
    @classmethod
    def _not_empty(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not s.get_secret_value() for s in value):
            raise ValueError("must not be empty")
        return value


BasicAuthOptionsT_co = TypeVar(
    "BasicAuthOptionsT_co", bound=BasicAuthOptions, default=BasicAuthOptions, covariant=True
)


class BasicAuthConnector(Connector[BasicAuthOptionsT_co]):
    """A connector whose deliveries carry HTTP Basic credentials and no signature: a
    subclass writes `normalize` and `sample_body`, and the headers its provider adds."""

    def verify(self, request: WebhookRequest, now: float) -> None:
        check_basic_auth(request, self.options.username, self.options.password)

    def delivery_headers(self, body: bytes, now: float) -> dict[str, str]:
        """Headers besides `Authorization` that the provider sends."""
        return {}

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        headers = {
            "Content-Type": "application/json",
            **self.delivery_headers(body, now),
            "Authorization": basic_authorization(self.options.username, self.options.password),
        }
        return SignedDelivery(body=body, headers=headers)
