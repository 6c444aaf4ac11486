"""Secret references: where the value of a secret setting comes from.

A secret setting (a field typed `SecretStr`, or a list of them, in a connector's, a
sink's or a router target's options, nested tables such as `auth.password` and arrays of
tables such as a bus API's `credentials` included) may be written as:

    "whsec_…"                           a literal
    "env:NAME"                          the environment variable NAME (unset: an error)
    "file:PATH"                         the file's text without its trailing newline; a
                                        relative PATH is relative to the configuration file
    "secretsmanager:NAME_OR_ARN"        an AWS Secrets Manager secret's string, and
    "secretsmanager:NAME_OR_ARN#KEY"    the string under KEY when the secret is a JSON object
    "ssm:NAME_OR_ARN"                   an SSM Parameter Store parameter, decrypted

AWS references are read through an `AwsSecrets`: each secret fetched once (the keys of one
JSON secret share its one call), and again only when asked (`AwsSecrets.expire`, which Lambda
mode uses to re-read them after a TTL and after a failed verification), at most once a
minute however often it is asked. Without one, a process-wide one reads each secret once
per process (`hookgate serve`; failures are not cached). Every failure is a `ConfigError`
naming the key and the reference, never the secret's value. A secret that is empty or
only whitespace, however it is written, is refused: an HMAC keyed by it is one anybody
can compute. `docs/configuration.md`
("Secret references") documents the same forms for users.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, SecretStr

from gateway.errors import ConfigError

__all__ = ["REFERENCE_FORMS", "AwsSecrets", "aws_references", "resolve_secret", "resolve_secrets"]

log = structlog.get_logger()

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
    *,
    secrets: AwsSecrets | None = None,
) -> dict[str, Any]:
    """A copy of `options` (the raw keys of `model`, found under `key`) with the secret
    references of its secret fields resolved, nested tables included; AWS references are
    read through `secrets` (default: the process's)."""

    def resolve(value: Any, at: str) -> Any:
        resolved = resolve_secret(value, at, env, base_dir, secrets=secrets)
        if isinstance(resolved, str) and not resolved.strip():
            what = "the secret" if resolved == value else f"the secret read from {value}"
            raise ConfigError(at, f"{what} is empty or blank: anybody could sign with it")
        return resolved

    return _map_secrets(model, options, key, resolve)


def aws_references(model: type[BaseModel], options: Mapping[str, Any]) -> tuple[str, ...]:
    """The AWS references (`secretsmanager:…`, `ssm:…`) among the secret fields of `options`."""
    found: list[str] = []

    def collect(value: Any, key: str) -> Any:
        if isinstance(value, str) and value.startswith(_AWS_PREFIXES):
            found.append(value)
        return value

    _map_secrets(model, options, "", collect)
    return tuple(dict.fromkeys(found))


def _map_secrets(
    model: type[BaseModel], options: Mapping[str, Any], key: str, fn: Callable[[Any, str], Any]
) -> dict[str, Any]:
    """A copy of `options` with `fn(value, key)` applied to each value of a secret field."""
    resolved = dict(options)
    for name, info in model.model_fields.items():
        if name not in resolved:
            continue
        value = resolved[name]
        if not _is_secret(info.annotation):
            if isinstance(value, dict):  # a nested table (`auth = {password = "env:…"}`)
                for nested in _models_in(info.annotation):
                    value = _map_secrets(nested, value, f"{key}.{name}", fn)
                resolved[name] = value
            elif isinstance(value, list):  # an array of tables (`credentials = [{…}]`)
                for nested in _models_in(info.annotation):
                    value = [
                        _map_secrets(nested, v, f"{key}.{name}[{i}]", fn) if isinstance(v, dict) else v
                        for i, v in enumerate(value)
                    ]
                resolved[name] = value
            continue
        if isinstance(value, list):
            resolved[name] = [fn(v, f"{key}.{name}[{i}]") for i, v in enumerate(value)]
        else:
            resolved[name] = fn(value, f"{key}.{name}")
    return resolved


def resolve_secret(
    value: Any, key: str, env: Mapping[str, str], base_dir: Path | None, *, secrets: AwsSecrets | None = None
) -> Any:
    """`env:NAME` → that variable; `file:PATH` → the file's text; `secretsmanager:…` and
    `ssm:…` → the secret read from AWS through `secrets`; anything else → as is."""
    if not isinstance(value, str):
        return value
    if value.startswith(_AWS_PREFIXES):
        try:
            return (secrets or _PROCESS_SECRETS).read(value)
        except LookupError as exc:
            raise ConfigError(key, str(exc)) from None
    if value.startswith("env:"):
        var = value[4:]
        if var not in env:
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


@dataclass
class _Fetched:
    text: str
    fetched_at: float
    attempted_at: float


class AwsSecrets:
    """The AWS secrets that references name, each fetched once and kept until `expire` asks
    for it again. A secret is what a reference names without its `#KEY`: the keys of one
    JSON secret cost one call.

    `expire` has secrets fetched at least `older_than` seconds ago fetched again when they
    are next read, but never one attempted within the last `min_interval` seconds: however
    often it is asked, each secret is fetched at most once per `min_interval`. A fetch that
    fails after one succeeded keeps the value it had (logged); a first fetch that fails
    raises and is not kept.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.time, min_interval: float = 60.0, session: Any = None
    ) -> None:
        self.clock = clock
        self.min_interval = min_interval
        self._session = session
        self._clients: dict[str, Any] = {}
        self._fetched: dict[str, _Fetched] = {}
        self._due: set[str] = set()
        self._lock = threading.Lock()  # one fetch at a time: concurrent reads share it

    def read(self, reference: str) -> str:
        """The text behind `secretsmanager:NAME_OR_ARN[#JSON_KEY]` or `ssm:NAME_OR_ARN`. A
        `LookupError` says what failed, never what the secret holds."""
        secret, json_key = _split(reference)
        with self._lock:
            found = self._fetched.get(secret)
            if found is None or secret in self._due:
                found = self._fetch(reference, secret, found)
        if not json_key:
            return found.text
        try:
            value = json.loads(found.text)[json_key]
        except (ValueError, TypeError, KeyError):
            raise LookupError(f"{reference}: not a JSON object with the key {json_key!r}") from None
        if isinstance(value, str):
            return value
        raise LookupError(f"{reference}: the value of {json_key!r} is not a string")

    def expire(self, references: Iterable[str] | None = None, *, older_than: float) -> bool:
        """Have the secrets of `references` (default: every one read so far) that were fetched
        at least `older_than` seconds ago, and not attempted within `min_interval`, fetched
        again when next read. Whether any will be."""
        now = self.clock()
        with self._lock:
            secrets = set(self._fetched) if references is None else {_split(r)[0] for r in references}
            for secret in secrets:
                found = self._fetched.get(secret)
                if (
                    found is not None
                    and now - found.fetched_at >= older_than
                    and now - found.attempted_at >= self.min_interval
                ):
                    self._due.add(secret)
            return bool(self._due & secrets)

    def _fetch(self, reference: str, secret: str, previous: _Fetched | None) -> _Fetched:
        self._due.discard(secret)
        now = self.clock()
        try:
            text = self._get(reference, secret)
        except LookupError as exc:
            if previous is None:
                raise
            previous.attempted_at = now
            log.warning("secret_refresh_failed", secret=secret, error=str(exc))
            return previous
        found = self._fetched[secret] = _Fetched(text, now, now)
        if previous is not None:
            log.info("secret_refreshed", secret=secret, changed=text != previous.text)
        return found

    def _get(self, reference: str, secret: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        service, _, name = secret.partition(":")
        try:
            client = self._clients.get(service)
            if client is None:
                client = self._clients[service] = (self._session or _aws_session()).client(service)
            if service == "ssm":
                return str(client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
            found = client.get_secret_value(SecretId=name)
            return str(found["SecretString"] if "SecretString" in found else found["SecretBinary"].decode())
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise LookupError(
                f"cannot read {reference}: {error.get('Code')}: {error.get('Message')}"
            ) from None
        except (BotoCoreError, UnicodeDecodeError) as exc:
            raise LookupError(f"cannot read {reference}: {type(exc).__name__}: {exc}") from None


def _split(reference: str) -> tuple[str, str]:
    """`secretsmanager:NAME#KEY` → ("secretsmanager:NAME", "KEY"); `ssm:NAME` → (itself, "")."""
    service, _, name = reference.partition(":")
    name, _, json_key = name.partition("#") if service == "secretsmanager" else (name, "", "")
    if not name:
        raise LookupError(f"{reference}: the reference names no secret")
    return f"{service}:{name}", json_key


@functools.cache
def _aws_session() -> Any:
    """One boto3 session for every reference (making one costs tens of milliseconds)."""
    import boto3  # noqa: PLC0415 - only configurations referencing AWS secrets load boto3

    return boto3.session.Session()


#: The process's secrets, for configurations loaded without an `AwsSecrets` of their own.
_PROCESS_SECRETS = AwsSecrets()
