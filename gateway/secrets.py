"""Secret references: where the value of a secret setting comes from.

A secret setting (a field typed `SecretStr`, or a list of them, in a connector's, a
sink's or a router target's options, nested tables such as `auth.password` included)
may be written as:

    "whsec_…"                           a literal
    "env:NAME"                          the environment variable NAME (unset or empty: an error)
    "file:PATH"                         the file's text without its trailing newline; a
                                        relative PATH is relative to the configuration file
    "secretsmanager:NAME_OR_ARN"        an AWS Secrets Manager secret's string, and
    "secretsmanager:NAME_OR_ARN#KEY"    the string under KEY when the secret is a JSON object
    "ssm:NAME_OR_ARN"                   an SSM Parameter Store parameter, decrypted

AWS references are fetched with boto3's usual credentials once per process (a Lambda
function: once per cold start; failures are not cached). Every failure is a `ConfigError`
naming the key and the reference, never the secret's value. `docs/configuration.md`
("Secret references") documents the same forms for users.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from gateway.errors import ConfigError

__all__ = ["REFERENCE_FORMS", "resolve_secret", "resolve_secrets"]

#: Every form a secret reference takes, as the docs spell it (a literal needs no prefix).
REFERENCE_FORMS = (
    "env:NAME",
    "file:PATH",
    "secretsmanager:NAME_OR_ARN",
    "secretsmanager:NAME_OR_ARN#KEY",
    "ssm:NAME_OR_ARN",
)
_AWS_PREFIXES = ("secretsmanager:", "ssm:")


def resolve_secrets(
    model: type[BaseModel],
    options: Mapping[str, Any],
    key: str,
    env: Mapping[str, str],
    base_dir: Path | None,
) -> dict[str, Any]:
    """A copy of `options` (the raw keys of `model`, found under `key`) with the secret
    references of its secret fields resolved, nested tables included."""
    resolved = dict(options)
    for name, info in model.model_fields.items():
        if name not in resolved:
            continue
        value = resolved[name]
        if not _is_secret(info.annotation):
            if isinstance(value, dict):  # a nested table (`auth = {password = "env:…"}`)
                for nested in _models_in(info.annotation):
                    value = resolve_secrets(nested, value, f"{key}.{name}", env, base_dir)
                resolved[name] = value
            continue
        if isinstance(value, list):
            resolved[name] = [
                resolve_secret(v, f"{key}.{name}[{i}]", env, base_dir) for i, v in enumerate(value)
            ]
        else:
            resolved[name] = resolve_secret(value, f"{key}.{name}", env, base_dir)
    return resolved


def resolve_secret(value: Any, key: str, env: Mapping[str, str], base_dir: Path | None) -> Any:
    """`env:NAME` → that variable; `file:PATH` → the file's text; `secretsmanager:…` and
    `ssm:…` → the secret fetched from AWS; anything else → as is."""
    if not isinstance(value, str):
        return value
    if value.startswith(_AWS_PREFIXES):
        try:
            return _aws_secret(value)
        except LookupError as exc:
            raise ConfigError(key, str(exc)) from None
    if value.startswith("env:"):
        var = value[4:]
        if var not in env or not env[var]:
            raise ConfigError(key, f"environment variable {var} is not set")
        return env[var]
    if value.startswith("file:"):
        path = Path(value[5:])
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(key, f"cannot read secret file {path}: {exc.strerror}") from None
    return value


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(a) for a in typing.get_args(annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field may hold: `M`, `M | None`, `Annotated[M1 | M2, …]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models_in(a)]


@functools.cache
def _aws_secret(reference: str) -> str:
    """The text behind `secretsmanager:NAME_OR_ARN[#JSON_KEY]` or `ssm:NAME_OR_ARN`, fetched
    once per process (failures are not cached). A `LookupError` says what failed, never
    what the secret holds."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    service, _, name = reference.partition(":")
    name, _, json_key = name.partition("#") if service == "secretsmanager" else (name, "", "")
    if not name:
        raise LookupError(f"{reference}: the reference names no secret")
    try:
        client = _aws_session().client(service)
        if service == "ssm":
            value: Any = client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        else:
            found = client.get_secret_value(SecretId=name)
            value = found["SecretString"] if "SecretString" in found else found["SecretBinary"].decode()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise LookupError(f"cannot read {reference}: {error.get('Code')}: {error.get('Message')}") from None
    except (BotoCoreError, UnicodeDecodeError) as exc:
        raise LookupError(f"cannot read {reference}: {type(exc).__name__}: {exc}") from None
    if json_key:
        try:
            value = json.loads(value)[json_key]
        except (ValueError, TypeError, KeyError):
            raise LookupError(f"{reference}: not a JSON object with the key {json_key!r}") from None
        if not isinstance(value, str):
            raise LookupError(f"{reference}: the value of {json_key!r} is not a string")
    return str(value)


@functools.cache
def _aws_session() -> Any:
    """One boto3 session for every reference (making one costs tens of milliseconds)."""
    import boto3  # noqa: PLC0415 - only configurations referencing AWS secrets load boto3

    return boto3.session.Session()
