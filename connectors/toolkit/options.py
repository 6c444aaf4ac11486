"""Validating connector options: header-name patterns, secrets that must load as keys,
and list options that also accept a single value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import BeforeValidator, SecretStr

from connectors._base import one_or_many

__all__ = ["HEADER_NAME", "SecretList", "check_each", "one_or_many"]

#: A pattern for options that name a header (an RFC 9110 token).
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

#: The type of an option holding several secrets or keys (rotation) that also takes one:
#: `secrets = "s3cret"` means `secrets = ["s3cret"]` (`one_or_many` as a before-validator).
SecretList = Annotated[list[SecretStr], BeforeValidator(one_or_many)]


def check_each(
    secrets: list[SecretStr], load: Callable[[str], object], name: str = "secrets"
) -> list[SecretStr]:
    """For options validation: every secret can be loaded by `load`; the ValueError names
    the position (`secrets[1]: not hex`)."""
    for i, secret in enumerate(secrets):
        try:
            load(secret.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"{name}[{i}]: {exc}") from None
    return secrets
