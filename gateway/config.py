"""Configuration: a TOML file, overridden by `HOOKGATE_…` environment variables.

    [server]     host, port, public_url, max_body_bytes
    [store]      url (default sqlite:///./hookgate.db, or postgresql://…), dedup_retention_seconds,
                 and PostgreSQL's schema_name and pool sizes
    [dispatcher] retry policy and batching
    [sources.NAME]  connector = "stripe" + the connector's own keys + common keys
    [sinks.NAME]    type = "jsonl" + the sink's own keys
    [admin]      the admin API: tokens and roles, its own listener (`gateway.admin.config`)

Every value can be overridden from the environment: `HOOKGATE_SERVER__PORT=9000`,
`HOOKGATE_SOURCES__STRIPE__TOLERANCE_SECONDS=600` (`__` separates levels, names are
case-insensitive, `_` also matches `-`; a value starting with `[` or `{` is JSON).
A relative path (the SQLite store's, a `jsonl` path, a `file:` secret) is relative to the
configuration file's directory (`gateway.paths`); without a file, to the current one.
Secret values (fields typed `SecretStr`) may be references, resolved by `gateway.secrets`
before validation. Every problem is a `ConfigError` whose `key` is the dotted path; one
that an override caused also names the variable, and its value only where the key is known
and holds no secret (`HOOKGATE_SERVER__PORT=abc: server.port: …`, but
`HOOKGATE_SOURCES__STRIPE__SECRET: sources.stripe.secret: unknown key …`).

`Settings` holds validated values only: each source's connector class and options, each
sink's class and options. The composition root (`gateway.app`) builds the connectors
and sinks from them.

The environment layer is hand-written: pydantic-settings (tried) adds `STRIPE_LIVE` as a
new key instead of matching the file's `stripe-live`, and decodes a numeric password to
a number, since a connector's model is not known until its table names the connector.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

import connectors
from connectors import Connector, ConnectorOptions
from gateway.addresses import Network, parse_networks
from gateway.admin.config import AdminSettings, parse_admin
from gateway.errors import ConfigError
from gateway.paths import StoreUrl, path_context
from gateway.ratelimit import BucketSettings, RateLimitSettings
from gateway.schemas._settings import Compatibility, Enforcement, SchemaSettings
from gateway.secrets import AwsSecrets, aws_references, resolve_secrets
from gateway.sinks import SINKS, Sink, SinkOptions, Validate, sink_type

if TYPE_CHECKING:
    from gateway.router.rules import BusSettings

__all__ = [
    "DispatcherSettings",
    "ServerSettings",
    "Settings",
    "SinkSettings",
    "SinkSpec",
    "SourceSettings",
    "SourceSpec",
    "StoreSettings",
    "load_settings",
    "parse_settings",
    "validate_model",
]

ENV_PREFIX = "HOOKGATE_"
CONFIG_ENV = "HOOKGATE_CONFIG"
#: Variables read by the Lambda handler itself (`gateway.aws_lambda`), not settings.
LAMBDA_ENV_PREFIX = f"{ENV_PREFIX}LAMBDA__"
_M = typing.TypeVar("_M", bound=BaseModel)
#: The `type` of a `[sinks.NAME]` table that configures a local event bus, not a sink.
BUS_TYPE = "router"
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_URL_PASSWORD = re.compile(r"^(\w+://[^:/@]*):[^@/]*@")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    #: The URL providers call, e.g. "https://hooks.example.com"; never guessed from Host.
    public_url: str | None = None
    #: Largest body accepted (413 above). 1 MiB matches EventBridge's entry limit.
    max_body_bytes: int = Field(1_048_576, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: Serve `/metrics` on this port of `host` (and no longer on `port`).
    metrics_port: int | None = Field(None, ge=0, le=65535)
    #: What a client may cost (`docs/security.md`): a request head's size (431 above), its
    #: header fields (431 above), the time to send it (408 after); connections at once (503
    #: beyond); the body's time (`body_timeout_seconds`, plus one second per
    #: `body_min_bytes_per_second` received) and the bodies buffered unverified (503 beyond).
    max_header_bytes: int = Field(32_768, ge=1024)
    max_header_count: int = Field(100, ge=8)
    header_timeout_seconds: float = Field(10.0, gt=0)
    max_connections: int = Field(1000, ge=1)
    body_timeout_seconds: float = Field(10.0, gt=0)
    body_min_bytes_per_second: int = Field(4096, ge=1)
    max_buffered_body_bytes: int = Field(64 * 1_048_576, ge=1)
    #: On SIGTERM: how long in-flight requests have to finish, and then how long the
    #: dispatcher, the sinks and the store have to stop (a sink that blocks is left behind).
    shutdown_grace_seconds: int = Field(10, ge=1)
    #: uvicorn's HTTP parser: "auto" (httptools when installed), "httptools" or "h11".
    http_parser: Literal["auto", "httptools", "h11"] = "auto"
    #: Bodies of at least this many bytes are parsed in a worker process, off the event
    #: loop (`gateway.offload`); 0: every body on the loop.
    worker_parse_bytes: int = Field(262_144, ge=0)
    #: Proxies whose `Forwarded` / `X-Forwarded-For` headers name the client (`gateway.addresses`).
    trusted_proxies: list[str] = []
    #: The edge's token buckets, per client address and per source (`gateway.ratelimit`).
    rate_limits: RateLimitSettings = RateLimitSettings()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        parse_networks(value, named=False)
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an absolute http(s) URL such as https://hooks.example.com")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _metrics_port(self) -> ServerSettings:
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError("metrics_port must differ from port")
        return self


class StoreSettings(_Model):
    #: `sqlite:///PATH`, or `postgresql://…` (also `postgres://…`) for replicas sharing a database.
    #: A relative PATH is relative to the configuration file (the default: to the current directory).
    url: StoreUrl = "sqlite:///./hookgate.db"
    #: A (source, dedup key) seen within this window is acknowledged and not stored again.
    dedup_retention_seconds: int = Field(7 * 24 * 3600, ge=1)
    #: PostgreSQL: the schema holding hookgate's tables (created and migrated by hookgate).
    schema_name: str = Field("hookgate", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    #: PostgreSQL: connections each process keeps open, and at most opens, in its pool.
    pool_min_size: int = Field(2, ge=1)
    pool_max_size: int = Field(10, ge=1)
    #: Encryption at rest (AES-256-GCM) of payloads and stored headers: keys of 32 random
    #: bytes in base64 (`hookgate db new-key`), secret references welcome. The first seals,
    #: every one opens (rotation: put the new key first, run `hookgate db rotate-key`, then
    #: drop the old one). Empty: stored in clear.
    encryption_keys: list[SecretStr] = Field(default_factory=list)
    #: PostgreSQL: how long a statement waits for a pooled connection before the store is
    #: reported unavailable (the edge answers 503 at once, well within a provider's timeout).
    acquire_timeout_seconds: float = Field(2.0, gt=0)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError(
                "must be sqlite:///PATH (e.g. sqlite:///./hookgate.db) "
                "or postgresql://USER@HOST:PORT/DATABASE"
            )
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        from gateway.store._cipher import decode_key  # noqa: PLC0415 - the store imports this module

        for key in value:
            decode_key(key.get_secret_value())
        return value

    @model_validator(mode="after")
    def _pool(self) -> StoreSettings:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        return self

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgresql://", "postgres://"))

    @property
    def display_url(self) -> str:
        """`url` without its password, fit for logs and output."""
        return _without_password(self.url)


class DispatcherSettings(_Model):
    #: Deliveries to one sink are attempted at most this often, then dead-lettered...
    max_attempts: int = Field(185, ge=1)
    #: ...or once the event is older than this (EventBridge's budget: 24 h, 185 attempts).
    max_age_seconds: int = Field(24 * 3600, ge=1)
    #: Backoff: full jitter over min(max_delay, base_delay * 2**attempt).
    base_delay_seconds: float = Field(1.0, gt=0)
    max_delay_seconds: float = Field(600.0, gt=0)
    batch_size: int = Field(100, ge=1, le=10_000)
    poll_interval_seconds: float = Field(1.0, gt=0)
    #: A claim not settled within this time is taken up again (a crashed worker).
    lease_seconds: float = Field(120.0, gt=0)
    #: A sink's circuit breaker (`gateway.circuit`): after this many attempts in a row fail
    #: alike, no delivery is attempted (0: never paused) for `breaker_open_seconds`, then one
    #: probes; each failed probe doubles the pause, up to `breaker_max_open_seconds`.
    breaker_failures: int = Field(5, ge=0)
    breaker_open_seconds: float = Field(5.0, gt=0)
    breaker_max_open_seconds: float = Field(300.0, gt=0)


class SourceSettings(_Model):
    """Keys common to every source; the remaining keys belong to the connector."""

    connector: str
    #: EventBridge `source` of this source's events; default "hookgate.<source name>".
    event_source: str | None = Field(None, max_length=256)
    #: "envelope": detail = {metadata, payload}; "payload": detail = the provider payload.
    detail_format: Literal["envelope", "payload"] = "envelope"
    #: Sinks this source's events go to; default: every sink.
    sinks: list[str] | None = None
    max_body_bytes: int | None = Field(None, ge=1)
    public_url: str | None = None
    #: Infer and version the schema of this source's events (`gateway.schemas`).
    schema_discovery: bool = True
    #: The compatibility mode this source's new schemas start with.
    schema_compatibility: Compatibility = "BACKWARD"
    #: Check each event against its schema's pinned version: "flag" marks, "reject" refuses.
    schema_enforcement: Enforcement = "off"
    #: Only these networks (CIDRs, addresses, named sets such as "@stripe") may call; 403 otherwise.
    allowed_ips: list[str] = []
    #: This source's token bucket, instead of `[server.rate_limits] source`.
    rate_limit: BucketSettings | None = None

    @field_validator("allowed_ips")
    @classmethod
    def _allowed_ips(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("event_source")
    @classmethod
    def _event_source(cls, value: str | None) -> str | None:
        if value is not None and (not value or value.startswith("aws.")):
            raise ValueError("must be non-empty and must not start with 'aws.'")
        return value


class SinkRetrySettings(_Model):
    """A sink's own retry budget (`[sinks.NAME] retry_policy`); what it leaves out follows
    `[dispatcher]`. Backoff always follows `[dispatcher]`."""

    max_attempts: int | None = Field(None, ge=1)
    max_age_seconds: int | None = Field(None, ge=1)


class SinkSettings(_Model):
    """Keys every sink has; the remaining keys belong to its type."""

    type: str
    retry_policy: SinkRetrySettings | None = None


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A configured source: the URL path segment, its connector's class and validated
    options, and routing (defaults applied). The composition root builds the connector."""

    name: str
    cls: type[Connector]
    options: ConnectorOptions
    event_source: str
    detail_format: Literal["envelope", "payload"]
    sinks: tuple[str, ...]
    max_body_bytes: int
    public_url: str | None
    #: The AWS secret references (`secretsmanager:…`, `ssm:…`) its options were read from.
    secret_references: tuple[str, ...] = field(default=(), kw_only=True)
    schema_discovery: bool = field(default=True, kw_only=True)
    schema_compatibility: Compatibility = field(default="BACKWARD", kw_only=True)
    schema_enforcement: Enforcement = field(default="off", kw_only=True)
    #: The networks allowed to call (empty: any), named sets expanded.
    allowed_ips: tuple[Network, ...] = field(default=(), kw_only=True)
    #: Its own token bucket (None: `[server.rate_limits] source`).
    rate_limit: BucketSettings | None = field(default=None, kw_only=True)

    @property
    def connector_name(self) -> str:
        return self.cls.name


@dataclass(frozen=True, slots=True)
class SinkSpec:
    """A configured sink: its class and validated options, built by the composition root."""

    cls: type[Sink]
    options: SinkOptions
    #: Its own retry budget, if it has one (else `[dispatcher]`'s).
    retry_policy: SinkRetrySettings | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    dispatcher: DispatcherSettings = field(default_factory=DispatcherSettings)
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    sinks: dict[str, SinkSpec] = field(default_factory=dict)
    #: The local event buses (`[sinks.NAME] type = "router"`): a source's `sinks` may name them.
    buses: dict[str, BusSettings] = field(default_factory=dict)
    admin: AdminSettings = field(default_factory=AdminSettings)
    schemas: SchemaSettings = field(default_factory=SchemaSettings)
    path: Path | None = None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    secrets: AwsSecrets | None = None,
) -> Settings:
    """Read the TOML file (or `$HOOKGATE_CONFIG`), apply environment overrides, validate.
    AWS secret references are read through `secrets` (default: once per process)."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    file = Path(path) if path else (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("", f"config file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("", f"{file}: invalid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError("", f"{file}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError("", f"cannot read config file {file}: {exc.strerror}") from None
    merged, origins = _overlay(raw, env)
    base_dir = file.parent.absolute() if file is not None else None
    try:
        settings = parse_settings(merged, env=env, base_dir=base_dir, secrets=secrets)
    except ConfigError as exc:
        raise _named(exc, origins, merged, env) from None
    return Settings(
        server=settings.server,
        store=settings.store,
        dispatcher=settings.dispatcher,
        sources=settings.sources,
        sinks=settings.sinks,
        buses=settings.buses,
        admin=settings.admin,
        schemas=settings.schemas,
        path=file,
    )


def apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy of `raw` with every `HOOKGATE_A__B__C=value` applied at a.b.c."""
    return _overlay(raw, env)[0]


#: Where each overridden key came from: its path → (the variable, the variable's own path).
#: A table an override created (`sources.new`) counts as coming from that override.
_Origins = dict[tuple[str, ...], tuple[str, tuple[str, ...]]]


def _overlay(raw: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[str, Any], _Origins]:
    """`apply_env_overrides`, and where each overridden key came from."""
    result: dict[str, Any] = json.loads(json.dumps(raw))
    origins: _Origins = {}
    for name in sorted(env):
        if (
            not name.startswith(ENV_PREFIX)
            or name == CONFIG_ENV
            or name.upper().startswith(LAMBDA_ENV_PREFIX)
        ):
            continue
        path = [p for p in name[len(ENV_PREFIX) :].lower().split("__") if p]
        if len(path) < 2:
            continue
        node = result
        keys: list[str] = []
        created: list[tuple[str, ...]] = []
        for part in path[:-1]:
            key = _match_key(node, part)
            keys.append(key)
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
                created.append(tuple(keys))
            node = child
        keys.append(_match_key(node, path[-1]))
        try:
            node[keys[-1]] = _parse_env_value(env[name])
        except ValueError as exc:
            raise ConfigError(".".join(keys), str(exc), variable=name) from None
        own = tuple(keys)
        origins[own] = (name, own)
        for table in created:
            origins.setdefault(table, (name, own))
    return result, origins


def _match_key(node: dict[str, Any], part: str) -> str:
    for key in node:
        if key.lower().replace("-", "_") == part.replace("-", "_"):
            return key
    return part


def _named(
    exc: ConfigError, origins: _Origins, raw: Mapping[str, Any], env: Mapping[str, str]
) -> ConfigError:
    """`exc` naming the override behind each problem it lists (`validate_model` lists the
    others as `key: message` lines after the first)."""
    first, *others = exc.message.split("\n")
    lines = [first]
    for line in others:
        variable = _variable(line.partition(": ")[0], origins, raw, env)
        lines.append(f"{variable}: {line}" if variable else line)
    message = "\n".join(lines)
    variable = _variable(exc.key, origins, raw, env)
    if not variable and message == exc.message:
        return exc
    return ConfigError(exc.key, message, variable=variable)


def _variable(key: str, origins: _Origins, raw: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The override behind an error at `key` (the deepest one at or above it): `NAME=value`,
    or `NAME` alone unless `_shows_value`; "" when the key owes nothing to the environment."""
    parts = tuple(re.sub(r"\[(\d+)\]", r".\1", key).split(".")) if key else ()
    found = [path for path in origins if parts[: len(path)] == path]
    if not found:
        return ""
    name, path = origins[max(found, key=len)]
    value = env[name]
    return f"{name}={_without_password(value)}" if _shows_value(path, raw, value) else name


def _without_password(url: str) -> str:
    return _URL_PASSWORD.sub(r"\1:***@", url)


def _shows_value(path: tuple[str, ...], raw: Mapping[str, Any], value: str) -> bool:
    """Whether an override's value may be echoed: it sets a key that its section declares
    and that cannot hold a secret (not a secret, not a table such as `headers` or `auth`),
    and is not a JSON table. An unknown key may be a secret's misspelt name."""
    if value.lstrip().startswith("{"):
        return False
    found = _declared_field(path, raw)
    return found is not None and not _may_hold_secret(found.annotation)


def _declared_field(path: tuple[str, ...], raw: Mapping[str, Any]) -> FieldInfo | None:
    """The field that `path` (section.key or section.name.key) sets, if it is declared."""
    sections: dict[str, type[BaseModel]] = {
        "server": ServerSettings,
        "store": StoreSettings,
        "dispatcher": DispatcherSettings,
        "admin": AdminSettings,
        "schemas": SchemaSettings,
    }
    models: list[type[BaseModel]] = []
    if len(path) == 2 and path[0] in sections:
        models.append(sections[path[0]])
    elif len(path) == 3 and path[0] in ("sources", "sinks"):
        common, kind = (SourceSettings, "connector") if path[0] == "sources" else (SinkSettings, "type")
        models.append(common)
        with contextlib.suppress(LookupError, TypeError, AttributeError, ImportError, connectors.PluginError):
            name = raw[path[0]][path[1]][kind]
            models.append(connectors.load(name).Options if path[0] == "sources" else sink_type(name).Options)
    for model in models:
        if path[-1] in model.model_fields:
            return model.model_fields[path[-1]]
    return None


def _may_hold_secret(annotation: Any) -> bool:
    if annotation is SecretStr or typing.get_origin(annotation) in (dict, Mapping):
        return True
    if isinstance(annotation, type) and issubclass(annotation, (BaseModel, dict)):
        return True
    return any(_may_hold_secret(a) for a in typing.get_args(annotation))


def _parse_env_value(value: str) -> Any:
    """A JSON list or table is parsed; any other value stays text, which the settings
    models convert where a number or a boolean is expected (so a numeric password stays
    the text it was). A value that starts like JSON but is not is a `ValueError` that does
    not repeat it (it may hold a secret)."""
    if not value.lstrip().startswith(("[", "{")):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"a value starting with [ or {{ is JSON, and this is not: {exc.msg} at character {exc.pos}"
        ) from None


def parse_settings(
    raw: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    secrets: AwsSecrets | None = None,
) -> Settings:
    """Validate an already-loaded mapping (TOML shape) into `Settings`; relative paths
    in it are relative to `base_dir` (the configuration file's directory), if any."""
    env = os.environ if env is None else env
    known = {"server", "store", "dispatcher", "sources", "sinks", "admin", "schemas"}
    for key in raw:
        if key not in known:
            raise ConfigError(key, f"unknown section (expected one of {', '.join(sorted(known))})")
    server = validate_model(ServerSettings, raw.get("server", {}), "server")
    store_table = raw.get("store", {})
    if isinstance(store_table, dict):
        store_table = resolve_secrets(StoreSettings, store_table, "store", env, base_dir, secrets=secrets)
    store = validate_model(StoreSettings, store_table, "store", base_dir=base_dir)
    dispatcher = validate_model(DispatcherSettings, raw.get("dispatcher", {}), "dispatcher")
    admin = parse_admin(raw.get("admin", {}), env=env, base_dir=base_dir, secrets=secrets)
    if admin.port and admin.port in (server.port, server.metrics_port):
        raise ConfigError("admin.port", "must differ from server.port and server.metrics_port")
    schemas = validate_model(SchemaSettings, raw.get("schemas", {}), "schemas")

    def validate_options(model: type[_M], data: Mapping[str, Any], key: str) -> _M:
        """A sink's (or its parts') options, secret references and paths resolved."""
        resolved = resolve_secrets(model, dict(data), key, env, base_dir, secrets=secrets)
        return validate_model(model, resolved, key, base_dir=base_dir)

    sinks: dict[str, SinkSpec] = {}
    buses: dict[str, BusSettings] = {}
    for name, table in _table(raw, "sinks").items():
        output = _sink_or_bus(f"sinks.{name}", table, validate_options)
        if isinstance(output, SinkSpec):
            sinks[name] = output
        else:
            buses[name] = output

    if buses:
        from gateway.router.rules import check_buses  # noqa: PLC0415 - loaded with the first bus

        check_buses(buses)
    outputs = tuple(_table(raw, "sinks"))  # the sinks and the buses, in the file's order
    sources: dict[str, SourceSpec] = {}
    for name, table in _table(raw, "sources").items():
        key = f"sources.{name}"
        if not _SOURCE_NAME.match(name):
            raise ConfigError(
                key, "source names use lowercase letters, digits, '-' and '_' (they are URL paths)"
            )
        if not isinstance(table, dict):
            raise ConfigError(key, "must be a table")
        common_keys = set(SourceSettings.model_fields)
        common = validate_model(SourceSettings, {k: v for k, v in table.items() if k in common_keys}, key)
        try:
            connector_cls = connectors.load(common.connector)
        except connectors.PluginError as exc:
            raise ConfigError(f"{key}.connector", str(exc)) from None
        options = {k: v for k, v in table.items() if k not in common_keys}
        references = aws_references(connector_cls.Options, options)
        options = resolve_secrets(connector_cls.Options, options, key, env, base_dir, secrets=secrets)
        opts = validate_model(
            connector_cls.Options, options, key, also_allowed=common_keys, base_dir=base_dir
        )
        for sink in common.sinks or ():
            if sink not in outputs:
                raise ConfigError(
                    f"{key}.sinks",
                    f"no sink named {sink!r} (defined: {', '.join(outputs) or 'none'})",
                )
        sources[name] = SourceSpec(
            name=name,
            cls=connector_cls,
            options=opts,
            event_source=common.event_source or f"hookgate.{name}",
            detail_format=common.detail_format,
            sinks=tuple(common.sinks) if common.sinks is not None else outputs,
            max_body_bytes=common.max_body_bytes or server.max_body_bytes,
            public_url=(common.public_url or server.public_url),
            secret_references=references,
            schema_discovery=common.schema_discovery,
            schema_compatibility=common.schema_compatibility,
            schema_enforcement=common.schema_enforcement,
            allowed_ips=parse_networks(common.allowed_ips),
            rate_limit=common.rate_limit,
        )
    return Settings(
        server=server,
        store=store,
        dispatcher=dispatcher,
        sources=sources,
        sinks=sinks,
        buses=buses,
        admin=admin,
        schemas=schemas,
    )


def _sink_or_bus(key: str, table: Any, validate_options: Validate) -> SinkSpec | BusSettings:
    """A `[sinks.NAME]` table: a sink of its `type`, or a local bus (`type = "router"`)."""
    if not isinstance(table, dict):
        raise ConfigError(key, "must be a table")
    common = {"type": table.get("type"), **{k: table[k] for k in ("retry_policy",) if k in table}}
    settings = validate_model(SinkSettings, common, key)
    own = {k: v for k, v in table.items() if k not in common}
    if settings.type == BUS_TYPE:
        if settings.retry_policy is not None:
            raise ConfigError(
                f"{key}.retry_policy", "a bus has no retry policy: each target of its rules has its own"
            )
        from gateway.router.rules import configure_bus  # noqa: PLC0415 - loaded with the first bus

        return configure_bus(key, own, validate_options)
    if settings.type not in SINKS.available():
        types = ", ".join(sorted([*SINKS.available(), BUS_TYPE]))
        raise ConfigError(f"{key}.type", f"unknown sink type {settings.type!r} (known: {types})")
    try:
        cls = sink_type(settings.type)
    except connectors.PluginError as exc:
        raise ConfigError(f"{key}.type", str(exc)) from None
    return SinkSpec(cls, cls.configure(key, own, validate_options), settings.retry_policy)


def _table(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(name, "must be a table")
    return value


def validate_model(
    model: type[_M],
    data: Any,
    key: str,
    *,
    also_allowed: Iterable[str] = (),
    base_dir: Path | None = None,
) -> _M:
    """`data` validated as `model`, its relative paths (`gateway.paths`) made relative to
    `base_dir`; a `ConfigError` names the first offending key under `key` (and lists the
    others), an unknown key with the keys allowed."""
    try:
        return model.model_validate(data, context=path_context(base_dir))
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = ".".join(str(p) for p in (key, *err["loc"]) if p != "")
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(sorted({*model.model_fields, *also_allowed}))
                msg = f"unknown key (allowed: {allowed})"
            problems.append((loc, msg))
        first_key, first_msg = problems[0]
        message = first_msg + "".join(f"\n{k}: {m}" for k, m in problems[1:])
        raise ConfigError(first_key, message) from None
