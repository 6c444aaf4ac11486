"""A bus's configuration: its rules, their targets, its archive, validated when loaded.

    [sinks.bus]                        type = "router"; optional archive = {retention_days, event_pattern}
    [sinks.bus.api]                    the EventBridge API on this bus: credentials, path,
                                       default, account, region, max_request_bytes
    [sinks.bus.rules.NAME]             event_pattern, enabled, description
    [[sinks.bus.rules.NAME.targets]]   id, type, input | input_path | input_transformer,
                                       retry_policy, and the target type's own keys

`configure_bus` checks such a table and returns its `BusSettings`: each pattern by the
pattern language, each target's keys by its type, each input by EventBridge's input
transformation, and every problem as a `ConfigError` naming the offending key. The bus
that runs these settings is `gateway.router.bus.Bus`. `check_buses` checks what one bus
cannot check alone: the buses `bus` targets name, and the API settings buses share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors import PluginError
from gateway.errors import ConfigError
from gateway.router._errors import InvalidEventPatternError
from gateway.router._pattern import EventPattern
from gateway.router._transform import InvalidTargetInputError, TargetInput
from gateway.router.targets import TARGETS, TargetOptions, target_type
from gateway.sinks import Validate

__all__ = [
    "MAX_TARGETS_PER_RULE",
    "ApiCredential",
    "ApiSettings",
    "ArchiveSettings",
    "BusSettings",
    "InputTransformerSettings",
    "RetryPolicySettings",
    "RuleSettings",
    "TargetSettings",
    "check_buses",
    "configure_bus",
]

#: EventBridge's limit, kept here too.
MAX_TARGETS_PER_RULE = 5
_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicySettings(_Model):
    """EventBridge's `RetryPolicy` of a target."""

    maximum_retry_attempts: int = Field(185, ge=0, le=185)
    maximum_event_age_seconds: int = Field(86_400, ge=60, le=86_400)


class InputTransformerSettings(_Model):
    input_paths_map: dict[str, str] = Field(default_factory=dict)
    input_template: str


class TargetSettings(_Model):
    """One target of a rule; `options` are the keys of its `type`."""

    id: str = Field(pattern=_NAME.pattern)
    type: str
    input: str | None = None
    input_path: str | None = None
    input_transformer: InputTransformerSettings | None = None
    retry_policy: RetryPolicySettings = Field(default_factory=RetryPolicySettings)
    options: TargetOptions


class RuleSettings(_Model):
    description: str = ""
    event_pattern: str | dict[str, Any]
    enabled: bool = True
    targets: list[TargetSettings] = Field(default_factory=list)


class ArchiveSettings(_Model):
    #: 0: kept indefinitely.
    retention_days: int = Field(0, ge=0)
    event_pattern: str | dict[str, Any] | None = None


class ApiCredential(_Model):
    """An access key that may sign the API's requests for this bus (AWS Signature Version 4)."""

    access_key_id: str = Field(pattern=r"^[A-Za-z0-9]{16,128}$")
    secret_access_key: SecretStr


class ApiSettings(_Model):
    """`[sinks.NAME.api]`: the bus answers EventBridge's API (`gateway.router.eventbridge_api`)."""

    credentials: list[ApiCredential] = Field(min_length=1)
    #: Where the API answers (`POST`); every bus served at one path shares that endpoint.
    path: str = Field("/", pattern=r"^/[!-~]*$")
    #: The bus an entry without `EventBusName` (or with `default`) goes to; a bus named
    #: `default` is that bus without saying so.
    default: bool = False
    #: The `account` of the events put through the API, and of the ARNs it shows.
    account: str = Field("123456789012", pattern=r"^[0-9]{12}$")
    #: The only Region a request may be signed for, and the events' `region`; without it,
    #: any Region, and the events carry the one the request was signed for.
    region: str | None = Field(None, pattern=r"^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$")
    #: A `PutEvents` request whose entries add up to this many bytes (as EventBridge counts
    #: them) or more is refused. EventBridge: 1 MB since 2026 (256 KB before).
    max_request_bytes: int = Field(1_048_576, ge=1024, le=16 * 1_048_576)


class BusSettings(_Model):
    """A bus's validated `[sinks.NAME]` table (`type = "router"`)."""

    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    archive: ArchiveSettings | None = None
    api: ApiSettings | None = None

    @model_validator(mode="after")
    def _one_secret_per_key(self) -> BusSettings:
        if self.api is not None:
            ids = [c.access_key_id for c in self.api.credentials]
            if len(ids) != len(set(ids)):
                raise ValueError("api.credentials lists one access_key_id twice")
        return self


_TARGET_COMMON = frozenset(TargetSettings.model_fields) - {"options"}


def configure_bus(key: str, table: Mapping[str, Any], validate: Validate) -> BusSettings:
    """Validate the `[sinks.NAME]` table of a bus (without `type`): each target's keys by its
    type, each pattern by the pattern language, with the key of the offending value."""
    rules = table.get("rules", {})
    if not isinstance(rules, dict):
        raise ConfigError(f"{key}.rules", "must be a table of rules")
    checked: dict[str, Any] = {}
    for rule_name, rule in rules.items():
        rule_key = f"{key}.rules.{rule_name}"
        if not _NAME.match(rule_name):
            raise ConfigError(rule_key, "rule names use letters, digits, '.', '-' and '_' (at most 64)")
        if not isinstance(rule, dict):
            raise ConfigError(rule_key, "must be a table")
        targets = rule.get("targets", [])
        if not isinstance(targets, list):
            raise ConfigError(f"{rule_key}.targets", "must be an array of tables")
        if len(targets) > MAX_TARGETS_PER_RULE:
            raise ConfigError(f"{rule_key}.targets", f"at most {MAX_TARGETS_PER_RULE} targets per rule")
        _check_pattern(rule.get("event_pattern"), f"{rule_key}.event_pattern", required=True)
        checked[rule_name] = {**rule, "targets": _check_targets(targets, rule_key, validate)}
    archive = table.get("archive")
    if isinstance(archive, dict):
        _check_pattern(archive.get("event_pattern"), f"{key}.archive.event_pattern", required=False)
    return validate(BusSettings, {**table, "rules": checked}, key)


def _check_targets(targets: list[Any], rule_key: str, validate: Validate) -> list[dict[str, Any]]:
    checked = []
    seen: set[str] = set()
    for i, target in enumerate(targets):
        key = f"{rule_key}.targets[{i}]"
        if not isinstance(target, dict):
            raise ConfigError(key, "must be a table")
        kind = str(target.get("type"))
        if kind not in TARGETS.available():
            known = ", ".join(TARGETS.available())
            raise ConfigError(f"{key}.type", f"unknown target type {kind!r} (known: {known})")
        try:
            cls = target_type(kind)
        except PluginError as exc:
            raise ConfigError(f"{key}.type", str(exc)) from None
        target_id = target.get("id")
        if target_id in seen:
            raise ConfigError(f"{key}.id", f"two targets of one rule are both named {target_id!r}")
        seen.add(str(target_id))
        own = {k: v for k, v in target.items() if k not in _TARGET_COMMON}
        options = validate(cls.Options, own, key)
        common = {k: v for k, v in target.items() if k in _TARGET_COMMON}
        transformer = common.get("input_transformer")
        try:
            TargetInput(
                input=common.get("input"),
                input_path=common.get("input_path"),
                input_paths_map=transformer.get("input_paths_map") if isinstance(transformer, dict) else None,
                input_template=transformer.get("input_template") if isinstance(transformer, dict) else None,
            )
        except InvalidTargetInputError as exc:
            raise ConfigError(f"{key}.{exc.key}" if exc.key else key, exc.reason) from None
        checked.append({**common, "options": options})
    return checked


def _check_pattern(pattern: Any, key: str, *, required: bool) -> None:
    if pattern is None:
        if required:
            raise ConfigError(key, "a rule needs an event pattern")
        return
    if not isinstance(pattern, str | dict):
        raise ConfigError(key, "must be JSON text or a table")
    try:
        EventPattern(pattern)
    except InvalidEventPatternError as exc:
        raise ConfigError(key, str(exc)) from None


def check_buses(buses: Mapping[str, BusSettings]) -> None:
    """What the buses must agree on: each `bus` target names another configured bus; at
    one API path, one default bus at most and one secret per access key id."""
    for name, bus in buses.items():
        for rule_name, rule in bus.rules.items():
            for i, target in enumerate(rule.targets):
                other = getattr(target.options, "event_bus", None)
                if target.type != "bus" or other is None:
                    continue
                key = f"sinks.{name}.rules.{rule_name}.targets[{i}].event_bus"
                if other not in buses:
                    raise ConfigError(key, f"no bus named {other!r} (buses: {', '.join(buses)})")
                if other == name:
                    raise ConfigError(key, "a bus cannot be its own target")
    defaults: dict[str, str] = {}
    secrets: dict[tuple[str, str], str] = {}
    for name, bus in buses.items():
        api = bus.api
        if api is None:
            continue
        if api.default or name == "default":
            if api.path in defaults:
                raise ConfigError(
                    f"sinks.{name}.api.default",
                    f"bus {defaults[api.path]!r} is already the default bus of {api.path}",
                )
            defaults[api.path] = name
        for credential in api.credentials:
            found = secrets.setdefault(
                (api.path, credential.access_key_id), credential.secret_access_key.get_secret_value()
            )
            if found != credential.secret_access_key.get_secret_value():
                raise ConfigError(
                    f"sinks.{name}.api.credentials",
                    f"access key {credential.access_key_id} has another secret on another bus at {api.path}",
                )
