"""The API's read operations, sans-I/O: `TestEventPattern`, `ListEventBuses`, `ListRules`,
`DescribeRule`, `ListTargetsByRule`, answered from the buses' configuration.

Rules are configured, not created through the API: their ARNs are EventBridge's
(`arn:aws:events:REGION:ACCOUNT:rule/BUS/RULE`); a target's `Arn` is the ARN of what it
delivers to where it has one (an SQS queue, an EventBridge or local bus), else a
`arn:hookgate:TYPE:::BUS/RULE/TARGET` naming it. Lists page with `Limit` (1-100) and the
`NextToken` of the previous page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gateway.router._errors import InvalidEventPatternError
from gateway.router._pattern import EventPattern
from gateway.router.eventbridge_api._errors import ApiError
from gateway.router.eventbridge_api._put_events import BusView, resolve_bus
from gateway.router.rules import BusSettings, RuleSettings, TargetSettings

__all__ = ["READ_OPERATIONS", "Scope"]

#: Fields `TestEventPattern` requires of the event (EventBridge's API reference).
_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


class Scope:
    """What a request may see: the endpoint's buses (their settings, and how the request
    sees each) and the default bus."""

    def __init__(
        self, settings: Mapping[str, BusSettings], views: Mapping[str, BusView], default: str | None
    ) -> None:
        self.settings, self.views, self.default = settings, views, default

    def bus_arn(self, bus: str) -> str:
        return self.views[bus].arn(bus)

    def rule_arn(self, bus: str, rule: str) -> str:
        view = self.views[bus]
        return f"arn:aws:events:{view.region}:{view.account}:rule/{bus}/{rule}"

    def bus(self, request: Mapping[str, Any], operation: str) -> tuple[str, BusSettings]:
        named = _string(request, "EventBusName")
        name = resolve_bus(named, self.views, self.default)
        if name is None:
            raise ApiError("ResourceNotFoundException", f"Event bus {named or 'default'} does not exist.")
        if not self.views[name].allowed:
            raise ApiError(
                "AccessDeniedException",
                f"User is not authorized to perform: events:{operation} on resource: {self.bus_arn(name)}",
            )
        return name, self.settings[name]

    def rule(self, request: Mapping[str, Any], key: str, operation: str) -> tuple[str, str, RuleSettings]:
        bus, settings = self.bus(request, operation)
        name = _string(request, key)
        if name is None:
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value null at '{key[0].lower()}{key[1:]}' failed to satisfy "
                "constraint: Member must not be null",
            )
        rule = settings.rules.get(name)
        if rule is None:
            raise ApiError("ResourceNotFoundException", f"Rule {name} does not exist on EventBus {bus}.")
        return bus, name, rule


def _string(request: Mapping[str, Any], key: str) -> str | None:
    value = request.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError("SerializationException", f"{key} must be a string.")
    return value


def _page(request: Mapping[str, Any], items: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    limit = request.get("Limit", 100)
    token = _string(request, "NextToken")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            "Member must have value between 1 and 100",
        )
    start = 0
    if token is not None:
        if not token.isdigit() or int(token) > len(items):
            raise ApiError("ValidationException", "The NextToken provided is invalid.")
        start = int(token)
    page: dict[str, Any] = {key: list(items[start : start + limit])}
    if start + limit < len(items):
        page["NextToken"] = str(start + limit)
    return page


def _pattern_text(rule: RuleSettings) -> str:
    pattern = rule.event_pattern
    return pattern if isinstance(pattern, str) else json.dumps(pattern, separators=(",", ":"))


def _rule(scope: Scope, bus: str, name: str, rule: RuleSettings) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "Name": name,
        "Arn": scope.rule_arn(bus, name),
        "EventPattern": _pattern_text(rule),
        "State": "ENABLED" if rule.enabled else "DISABLED",
        "EventBusName": bus,
    }
    if rule.description:
        shown["Description"] = rule.description
    return shown


def _target_arn(scope: Scope, bus: str, rule: str, target: TargetSettings) -> str:
    options = target.options
    queue = getattr(options, "queue_url", None)
    if target.type == "bus":
        return scope.bus_arn(str(getattr(options, "event_bus", "")))
    if target.type == "eventbridge":
        named = str(getattr(options, "event_bus_name", ""))
        return named if named.startswith("arn:") else scope.bus_arn(named)
    if target.type == "sqs" and isinstance(queue, str):
        name = queue.rstrip("/").rsplit("/", 1)[-1]
        view = scope.views[bus]
        return f"arn:aws:sqs:{view.region}:{view.account}:{name}"
    return f"arn:hookgate:{target.type}:::{bus}/{rule}/{target.id}"


def _target(scope: Scope, bus: str, rule: str, target: TargetSettings) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "Id": target.id,
        "Arn": _target_arn(scope, bus, rule, target),
        "RetryPolicy": {
            "MaximumRetryAttempts": target.retry_policy.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": target.retry_policy.maximum_event_age_seconds,
        },
    }
    if target.input is not None:
        shown["Input"] = target.input
    if target.input_path is not None:
        shown["InputPath"] = target.input_path
    transformer = target.input_transformer
    if transformer is not None:
        shown["InputTransformer"] = {
            "InputPathsMap": dict(transformer.input_paths_map),
            "InputTemplate": transformer.input_template,
        }
    return shown


def test_event_pattern(scope: Scope, request: Mapping[str, Any]) -> dict[str, Any]:
    pattern, event = _string(request, "EventPattern"), _string(request, "Event")
    if pattern is None or event is None:
        missing = "eventPattern" if pattern is None else "event"
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value null at '{missing}' failed to satisfy constraint: "
            "Member must not be null",
        )
    try:
        compiled = EventPattern(pattern)
    except InvalidEventPatternError as exc:
        raise ApiError("InvalidEventPatternException", f"Event pattern is not valid. Reason: {exc}") from None
    try:
        parsed = json.loads(event)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise ApiError("ValidationException", "Parameter Event is not valid.")
    missing_fields = [f for f in _EVENT_FIELDS if f not in parsed]
    if missing_fields:
        raise ApiError(
            "ValidationException",
            "Parameter Event is not valid. "
            f"Reason: Provided Event is missing required fields: {missing_fields}",
        )
    return {"Result": compiled.matches(parsed)}


def list_event_buses(scope: Scope, request: Mapping[str, Any]) -> dict[str, Any]:
    prefix = _string(request, "NamePrefix") or ""
    buses = [
        {"Name": name, "Arn": scope.bus_arn(name)}
        for name, view in sorted(scope.views.items())
        if name.startswith(prefix) and view.allowed
    ]
    return _page(request, buses, "EventBuses")


def list_rules(scope: Scope, request: Mapping[str, Any]) -> dict[str, Any]:
    bus, settings = scope.bus(request, "ListRules")
    prefix = _string(request, "NamePrefix") or ""
    rules = [
        _rule(scope, bus, name, rule)
        for name, rule in sorted(settings.rules.items())
        if name.startswith(prefix)
    ]
    return _page(request, rules, "Rules")


def describe_rule(scope: Scope, request: Mapping[str, Any]) -> dict[str, Any]:
    bus, name, rule = scope.rule(request, "Name", "DescribeRule")
    return {**_rule(scope, bus, name, rule), "CreatedBy": scope.views[bus].account}


def list_targets_by_rule(scope: Scope, request: Mapping[str, Any]) -> dict[str, Any]:
    bus, name, rule = scope.rule(request, "Rule", "ListTargetsByRule")
    return _page(request, [_target(scope, bus, name, t) for t in rule.targets], "Targets")


#: The read operations by their `X-Amz-Target` name.
READ_OPERATIONS: dict[str, Callable[[Scope, Mapping[str, Any]], dict[str, Any]]] = {
    "TestEventPattern": test_event_pattern,
    "ListEventBuses": list_event_buses,
    "ListRules": list_rules,
    "DescribeRule": describe_rule,
    "ListTargetsByRule": list_targets_by_rule,
}
