"""The local router: a bus of EventBridge rules, run in process (`type = "router"`).

    [sinks.bus]                        type = "router"; optional archive = {retention_days, event_pattern}
    [sinks.bus.rules.NAME]             event_pattern, enabled, description
    [[sinks.bus.rules.NAME.targets]]   id, type, input | input_path | input_transformer,
                                       retry_policy, and the target type's own keys

How an event travels: at ingest, the bus matches it against its enabled rules (one
`RuleSet` index, not one walk per rule), and every target of every matching rule gets a
delivery record of its own in the store, named `bus/rule/target`. So each target is
claimed, retried, backed off and dead-lettered on its own, under its own retry policy
(EventBridge's `RetryPolicy`: 185 retries within 24 hours by default). When a delivery is
claimed, `RuleTarget` renders the rule's input for that target (the whole event, a
constant, an `InputPath`, or an `InputTransformer`) and hands it to the target.

Archive: an event the archive's pattern matches (every event without one) is kept for
`retention_days` (0: indefinitely) instead of only for the dedup window. Replay
(`hookgate replay --rule R`) matches stored events again and queues them to the targets
of the rules they match, with `replay-name` set on the event they receive; a replay stores
nothing new, so replayed events are never archived twice.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import structlog
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import ConfigError, SinkError
from gateway.events import Event, isoformat
from gateway.router._errors import InvalidEventPatternError
from gateway.router._pattern import EventPattern, RuleSet, load_event
from gateway.router._transform import InvalidTargetInputError, RuleContext, TargetInput
from gateway.router.targets import Delivery, Target, TargetOptions, target_types
from gateway.sinks import Outcome, Permanent, Sink, SinkOptions, Validate
from gateway.store import RetryPolicy

__all__ = [
    "MAX_TARGETS_PER_RULE",
    "ArchiveSettings",
    "RetryPolicySettings",
    "RouterOptions",
    "RouterSink",
    "RuleSettings",
    "RuleTarget",
    "TargetSettings",
    "replay_route",
    "route_events",
]

log = structlog.get_logger()

#: EventBridge's limit, kept here too.
MAX_TARGETS_PER_RULE = 5
_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_SECONDS_PER_DAY = 86_400.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicySettings(_Model):
    """EventBridge's `RetryPolicy` of a target."""

    maximum_retry_attempts: int = Field(185, ge=0, le=185)
    maximum_event_age_seconds: int = Field(86_400, ge=60, le=86_400)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.maximum_retry_attempts + 1, float(self.maximum_event_age_seconds))


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


class RouterOptions(SinkOptions):
    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    archive: ArchiveSettings | None = None


_TARGET_COMMON = frozenset(TargetSettings.model_fields) - {"options"}


class RouterSink(Sink):
    """A local event bus. It is not dispatched to itself: the composition root replaces it
    by its `destinations()`, and the edge asks it where each event goes (`route`)."""

    kind = "router"
    Options: ClassVar[type[SinkOptions]] = RouterOptions
    options: RouterOptions

    def __init__(self, name: str, options: SinkOptions | None = None) -> None:
        super().__init__(name, options)
        self.rules = RuleSet()
        self._targets: dict[str, list[str]] = {}
        for rule_name, rule in self.options.rules.items():
            self._targets[rule_name] = [self.destination(rule_name, t.id) for t in rule.targets]
            if rule.enabled:
                self.rules.add(rule_name, rule.event_pattern)
        self._matched: Counter | None = None
        archive = self.options.archive
        self._archive_pattern = (
            EventPattern(archive.event_pattern) if archive is not None and archive.event_pattern else None
        )

    @classmethod
    def configure(cls, key: str, table: Mapping[str, Any], validate: Validate) -> SinkOptions:
        """Validate the bus: each target's keys by its type, each pattern by the pattern
        language, with the key of the offending value."""
        rules = table.get("rules", {})
        if not isinstance(rules, dict):
            raise ConfigError(f"{key}.rules", "must be a table of rules")
        checked: dict[str, Any] = {}
        types = target_types()
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
            checked[rule_name] = {**rule, "targets": _check_targets(targets, rule_key, types, validate)}
        archive = table.get("archive")
        if isinstance(archive, dict):
            _check_pattern(archive.get("event_pattern"), f"{key}.archive.event_pattern", required=False)
        return validate(cls.Options, {**table, "rules": checked}, key)

    def instrument(self, registry: CollectorRegistry) -> None:
        """`hookgate_router_matched_events{bus, rule}`: events each rule matched at ingest
        (EventBridge's `MatchedEvents`); `rule=""` counts the events no rule matched."""
        self._matched = Counter(
            "hookgate_router_matched_events",
            "Events matched by a rule of a local router at ingest (rule empty: no rule matched)",
            ["bus", "rule"],
            registry=registry,
        )

    # -- ingest -------------------------------------------------------------------------
    def destination(self, rule: str, target: str) -> str:
        """The store's name for the deliveries of one target of one rule: `bus/rule/target`."""
        return f"{self.name}/{rule}/{target}"

    def route(self, event: Mapping[str, Any], *, only: str | None = None) -> list[str]:
        """The destinations of `event` (a parsed envelope): every target of every enabled
        rule that matches it (of rule `only`, when given). An instrumented bus (the serving
        gateway's) counts the matches."""
        matched = self.rules.matching(event)
        if self._matched is not None:
            for rule_name in matched or ("",):
                self._matched.labels(self.name, rule_name).inc()
        return [d for rule_name in matched if only in (None, rule_name) for d in self._targets[rule_name]]

    def keep_until(self, event: Mapping[str, Any], received_at: float) -> float | None:
        """Until when the archive keeps `event` (None: not archived)."""
        archive = self.options.archive
        if archive is None or (
            self._archive_pattern is not None and not self._archive_pattern.matches(event)
        ):
            return None
        if archive.retention_days == 0:
            return math.inf
        return received_at + archive.retention_days * _SECONDS_PER_DAY

    # -- delivery -----------------------------------------------------------------------
    def destinations(self) -> dict[str, RuleTarget]:
        """One sink per target of every rule (disabled rules included: what they queued
        before they were disabled is still delivered)."""
        built: dict[str, RuleTarget] = {}
        for rule_name, rule in self.options.rules.items():
            context = RuleContext(rule_name, f"arn:hookgate:events:::rule/{self.name}/{rule_name}")
            for target in rule.targets:
                name = self.destination(rule_name, target.id)
                built[name] = RuleTarget(name, target, context)
        return built

    def policies(self) -> dict[str, RetryPolicy]:
        return {
            self.destination(rule_name, t.id): t.retry_policy.policy()
            for rule_name, rule in self.options.rules.items()
            for t in rule.targets
        }

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        raise SinkError(f"router {self.name!r} delivers through its targets, not as a sink")

    def explain(self, event: str | Mapping[str, Any], *, now: float | None = None) -> list[dict[str, Any]]:
        """Per rule: whether `event` matches, and what each target would receive (for
        `hookgate rules test`). ValueError when `event` is not a JSON object."""
        parsed = load_event(event)
        entry = event if isinstance(event, str) else json.dumps(event)
        matched = set(self.rules.matching(parsed))
        sample = Event(
            id=str(parsed.get("id", "")),
            source=str(parsed.get("source", "")),
            dedup_key="",
            detail_type=str(parsed.get("detail-type", "")),
            received_at=time.time() if now is None else now,
            entry=entry,
        )
        targets = self.destinations()
        results = []
        for rule_name, rule in self.options.rules.items():
            received: dict[str, Any] = {}
            if rule_name in matched:
                for target in rule.targets:
                    rendered = targets[self.destination(rule_name, target.id)].render(sample)
                    received[target.id] = rendered.value()
            results.append(
                {
                    "bus": self.name,
                    "rule": rule_name,
                    "enabled": rule.enabled,
                    "matched": rule_name in matched,
                    "targets": received,
                }
            )
        return results


class RuleTarget(Sink):
    """The deliveries of one target of one rule: renders the rule's input, then sends."""

    kind = "rule-target"

    def __init__(self, name: str, settings: TargetSettings, context: RuleContext) -> None:
        super().__init__(name)
        self.settings = settings
        self.context = context
        self.target: Target = target_types()[settings.type](name, settings.options)
        self.max_batch = self.target.max_batch
        self.input = _target_input(settings)

    async def open(self) -> None:
        await self.target.open()

    async def close(self) -> None:
        await self.target.close()

    async def deliver(self, events: Sequence[Event]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(events)
        ready: list[tuple[int, Delivery]] = []
        for i, event in enumerate(events):
            try:
                ready.append((i, self.render(event)))
            except (ValueError, InvalidTargetInputError) as exc:
                outcomes[i] = Permanent(f"input_error: {exc}"[:300])
        if ready:
            sent = await self.target.send([d for _, d in ready])
            for (i, _), outcome in zip(ready, sent, strict=True):
                outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def render(self, event: Event) -> Delivery:
        """What the target receives for `event` (with `replay-name` when a replay queued it)."""
        entry = event.entry
        parsed = json.loads(entry)
        if event.replay_name is not None:
            parsed["replay-name"] = event.replay_name
            entry = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
            event = replace(event, entry=entry)
        if not self.target.transforms_input:
            return Delivery(event, entry.encode())
        body = self.input.render(entry, parsed, self.context, ingestion_time=isoformat(event.received_at))
        return Delivery(event, body)


def route_events(
    events: Sequence[Event], sinks: Sequence[str], routers: Mapping[str, RouterSink]
) -> tuple[list[Event], list[tuple[str, ...]]] | None:
    """Where each event goes: the plain sinks among `sinks`, plus the destinations of the
    routers among them; events an archive keeps get their `keep_until`. None when no
    router is involved (every event goes to `sinks`)."""
    buses = [routers[s] for s in sinks if s in routers]
    if not buses:
        return None
    plain = tuple(s for s in sinks if s not in routers)
    routed: list[Event] = []
    routes: list[tuple[str, ...]] = []
    for event in events:
        parsed = load_event(event.entry)
        route = list(plain)
        keep: float | None = None
        for bus in buses:
            route.extend(bus.route(parsed))
            until = bus.keep_until(parsed, event.received_at)
            if until is not None:
                keep = until if keep is None else max(keep, until)
        routed.append(event if keep is None else replace(event, keep_until=keep))
        routes.append(tuple(route))
    return routed, routes


def replay_route(routers: Iterable[RouterSink], *, rule: str | None = None) -> Callable[[Event], list[str]]:
    """For `Store.replay`: the destinations of a stored event across `routers` (only those
    of `rule` when given)."""
    buses = list(routers)

    def route(event: Event) -> list[str]:
        parsed = load_event(event.entry)
        return [d for bus in buses for d in bus.route(parsed, only=rule)]

    return route


def _check_targets(
    targets: list[Any], rule_key: str, types: Mapping[str, type[Target]], validate: Validate
) -> list[dict[str, Any]]:
    checked = []
    seen: set[str] = set()
    for i, target in enumerate(targets):
        key = f"{rule_key}.targets[{i}]"
        if not isinstance(target, dict):
            raise ConfigError(key, "must be a table")
        kind = str(target.get("type"))
        if kind not in types:
            raise ConfigError(
                f"{key}.type", f"unknown target type {kind!r} (known: {', '.join(sorted(types))})"
            )
        target_id = target.get("id")
        if target_id in seen:
            raise ConfigError(f"{key}.id", f"two targets of one rule are both named {target_id!r}")
        seen.add(str(target_id))
        own = {k: v for k, v in target.items() if k not in _TARGET_COMMON}
        options = validate(types[kind].Options, own, key)
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


def _target_input(settings: TargetSettings) -> TargetInput:
    transformer = settings.input_transformer
    return TargetInput(
        input=settings.input,
        input_path=settings.input_path,
        input_paths_map=transformer.input_paths_map if transformer else None,
        input_template=transformer.input_template if transformer else None,
    )


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
