"""The `[admin]` table: who may use the admin API, where it listens, what it keeps.

    [admin]
    tokens = [
      { name = "ops", token = "env:HOOKGATE_ADMIN_TOKEN", role = "admin" },
      { name = "support", token = "file:viewer-token.txt", role = "viewer" },
    ]
    port = 9090                  # its own listener (host: [server] host unless given)

A token is a secret reference (`env:`, `file:`, `secretsmanager:`, `ssm:`) or a literal,
resolved by `gateway.secrets` when the configuration is read. A plain string in `tokens`
is an admin token named `token-1`, `token-2`, … by its place in the list. No tokens: the
admin API (and the console) is off, and its paths answer 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.errors import ConfigError
from gateway.secrets import AwsSecrets, resolve_secrets

__all__ = ["ROLES", "AdminSettings", "AdminToken", "Role", "parse_admin"]

Role = Literal["viewer", "admin"]
#: The roles, weakest first: a role may do what the ones before it may.
ROLES: tuple[Role, ...] = ("viewer", "admin")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdminToken(_Model):
    #: Who the token is in the audit log (never the token itself).
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    token: SecretStr
    role: Role = "viewer"

    @model_validator(mode="after")
    def _long_enough(self) -> AdminToken:
        if len(self.token.get_secret_value()) < 16:
            raise ValueError("token must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        return self


class AdminSettings(_Model):
    tokens: list[AdminToken] = Field(default_factory=list)
    #: Serve the admin API (and the console) on this address only, not on `[server] port`.
    host: str | None = None
    port: int | None = Field(None, ge=0, le=65535)
    #: Keep the bodies of rejected requests in the requests log (truncated).
    keep_rejected_bodies: bool = False
    #: How long received requests are kept in the requests log.
    requests_retention_hours: int = Field(72, ge=1)
    #: The most requests the requests log keeps (the oldest are dropped first).
    requests_max_rows: int = Field(100_000, ge=100)
    #: Header names (or globs such as `x-*-signature`) redacted in the requests log, on top
    #: of the built-in list.
    redact_headers: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _plain_tokens(cls, data: Any) -> Any:
        """A plain string in `tokens` is an admin token named by its place."""
        if isinstance(data, dict) and isinstance(data.get("tokens"), list):
            data = dict(data)
            data["tokens"] = [
                {"name": f"token-{i}", "token": item, "role": "admin"} if isinstance(item, str) else item
                for i, item in enumerate(data["tokens"], start=1)
            ]
        return data

    @model_validator(mode="after")
    def _distinct(self) -> AdminSettings:
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("token names must be distinct")
        values = [t.token.get_secret_value() for t in self.tokens]
        if len(set(values)) != len(values):
            raise ValueError("each token must be different")
        if self.host is not None and self.port is None:
            raise ValueError("host needs port (the admin API's own listener)")
        return self

    @property
    def enabled(self) -> bool:
        """Whether the admin API is on: at least one token is configured."""
        return bool(self.tokens)

    @property
    def separate(self) -> bool:
        """Whether the admin API has a listener of its own (`port`)."""
        return self.port is not None


def parse_admin(
    raw: Any,
    *,
    env: Mapping[str, str],
    base_dir: Path | None,
    secrets: AwsSecrets | None = None,
) -> AdminSettings:
    """The `[admin]` table validated, its tokens' secret references resolved."""
    from gateway.config import validate_model  # noqa: PLC0415 - config imports this module

    if not isinstance(raw, dict):
        raise ConfigError("admin", "must be a table")
    table = dict(raw)
    tokens = table.get("tokens")
    if isinstance(tokens, list):

        def resolved(item: Any, key: str) -> Any:
            if isinstance(item, str):
                return resolve_secrets(AdminToken, {"token": item}, key, env, base_dir, secrets=secrets)[
                    "token"
                ]
            if isinstance(item, dict):
                return resolve_secrets(AdminToken, item, key, env, base_dir, secrets=secrets)
            return item

        table["tokens"] = [resolved(item, f"admin.tokens[{i}]") for i, item in enumerate(tokens)]
    return validate_model(AdminSettings, table, "admin", base_dir=base_dir)
