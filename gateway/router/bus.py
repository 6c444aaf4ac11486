"""The local event bus: EventBridge rules, run in process (`[sinks.NAME] type = "router"`).

    Bus(name, settings)               one bus, from its validated `BusSettings`
    bus.route(event)                  where an event goes: `bus/rule/target`, per target of
                                      every enabled rule that matches it
    bus.keep_until(event, t)          until when the bus's archive keeps the event
    bus.targets(), bus.policies()     one `RuleTarget` sink per target of every rule, and
                                      each one's retry policy
    bus.explain(event)                per rule: matched or not, what each target would receive
    route_events(events, sinks, buses)    the routes of a batch at ingest
    replay_route(buses, rule=…)           the routes of a stored event in a replay
    plan_replay(settings, source=…, sinks=…, rule=…)   what a replay delivers to (the
                                      `replay` command's and the admin API's choice)

A bus is not a sink: nothing is delivered to the bus itself. At ingest the edge asks the
gateway's buses where each event goes (one `RuleSet` index over the enabled rules, not one
walk per rule), and every target of every matching rule gets a delivery record of its own
in the store, named `bus/rule/target`. So each target is claimed, retried, backed off and
dead-lettered on its own, under its own retry policy (EventBridge's `RetryPolicy`: 185
retries within 24 hours by default). When a delivery is claimed, its `RuleTarget` renders
the rule's input for that target (the whole event, a constant, an `InputPath`, or an
`InputTransformer`) and hands it to the target.

Archive: an event the archive's pattern matches (every event without one) is kept for
`retention_days` (0: indefinitely) instead of only for the dedup window. Replay
(`hookgate replay --rule R`) matches stored events again and queues them to the targets
of the rules they match, with `replay-name` set on the event they receive; a replay stores
nothing new, so replayed events are never archived twice.
"""

from __future__ import annotations

import json
import math
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter

from gateway.events import Event, dumps, isoformat
from gateway.router._pattern import EventPattern, RuleSet, load_event
from gateway.router._transform import InvalidTargetInputError, RuleContext, TargetInput
from gateway.router.rules import BusSettings, TargetSettings
from gateway.router.targets import Delivery, Target, target_type
from gateway.sinks import Outcome, Permanent, Sink
from gateway.store import RetryPolicy

if TYPE_CHECKING:
    from gateway.config import Settings

__all__ = ["Bus", "ReplayPlan", "RuleTarget", "plan_replay", "replay_route", "route_events"]

_SECONDS_PER_DAY = 86_400.0
_MATCHED: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


class Bus:
    """A local event bus: its rules, their targets, its archive."""

    def __init__(self, name: str, settings: BusSettings) -> None:
        self.name = name
        self.settings = settings
        self._rules = RuleSet()
        self._destinations: dict[str, list[str]] = {}
        for rule_name, rule in settings.rules.items():
            self._destinations[rule_name] = [self.destination(rule_name, t.id) for t in rule.targets]
            if rule.enabled:
                self._rules.add(rule_name, rule.event_pattern)
        self._matched: Counter | None = None
        archive = settings.archive
        self._archive_pattern = (
            EventPattern(archive.event_pattern) if archive is not None and archive.event_pattern else None
        )

    def instrument(self, registry: CollectorRegistry) -> None:
        """`hookgate_router_matched_events{bus, rule}`: events each rule matched at ingest
        (EventBridge's `MatchedEvents`); `rule=""` counts the events no rule matched."""
        counter = _MATCHED.get(registry)
        if counter is None:  # one family for every bus of the registry
            counter = _MATCHED[registry] = Counter(
                "hookgate_router_matched_events",
                "Events matched by a rule of a local router at ingest (rule empty: no rule matched)",
                ["bus", "rule"],
                registry=registry,
            )
        self._matched = counter

    # -- routing ------------------------------------------------------------------------
    def destination(self, rule: str, target: str) -> str:
        """The store's name for the deliveries of one target of one rule: `bus/rule/target`."""
        return f"{self.name}/{rule}/{target}"

    def route(self, event: Mapping[str, Any], *, only: str | None = None) -> list[str]:
        """The destinations of `event` (a parsed envelope): every target of every enabled
        rule that matches it (of rule `only`, when given). An instrumented bus (the serving
        gateway's) counts the matches."""
        matched = self._rules.matching(event)
        if self._matched is not None:
            for rule_name in matched or ("",):
                self._matched.labels(self.name, rule_name).inc()
        routed = [rule_name for rule_name in matched if only in (None, rule_name)]
        return [d for rule_name in routed for d in self._destinations[rule_name]]

    def keep_until(self, event: Mapping[str, Any], received_at: float) -> float | None:
        """Until when the archive keeps `event` (None: not archived)."""
        archive = self.settings.archive
        if archive is None or (
            self._archive_pattern is not None and not self._archive_pattern.matches(event)
        ):
            return None
        if archive.retention_days == 0:
            return math.inf
        return received_at + archive.retention_days * _SECONDS_PER_DAY

    # -- delivery -----------------------------------------------------------------------
    def targets(self) -> dict[str, RuleTarget]:
        """One sink per target of every rule, by destination (disabled rules included:
        what they queued before they were disabled is still delivered)."""
        built: dict[str, RuleTarget] = {}
        for rule_name, rule in self.settings.rules.items():
            context = RuleContext(rule_name, f"arn:hookgate:events:::rule/{self.name}/{rule_name}")
            for target in rule.targets:
                name = self.destination(rule_name, target.id)
                built[name] = RuleTarget(name, target, context)
        return built

    def policies(self) -> dict[str, RetryPolicy]:
        """The retry policy of each target, by destination."""
        return {
            self.destination(rule_name, t.id): RetryPolicy(
                t.retry_policy.maximum_retry_attempts + 1,  # the first attempt is not a retry
                float(t.retry_policy.maximum_event_age_seconds),
            )
            for rule_name, rule in self.settings.rules.items()
            for t in rule.targets
        }

    def explain(self, event: str | Mapping[str, Any], *, now: float | None = None) -> list[dict[str, Any]]:
        """Per rule: whether `event` matches, and what each target would receive (for
        `hookgate rules test`). ValueError when `event` is not a JSON object."""
        parsed = load_event(event)
        entry = event if isinstance(event, str) else json.dumps(event)
        matched = set(self._rules.matching(parsed))
        sample = Event(
            id=str(parsed.get("id", "")),
            source=str(parsed.get("source", "")),
            dedup_key="",
            detail_type=str(parsed.get("detail-type", "")),
            received_at=time.time() if now is None else now,
            entry=entry,
        )
        targets = self.targets()
        results = []
        for rule_name, rule in self.settings.rules.items():
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
        self.target: Target = target_type(settings.type)(name, settings.options)
        self.max_batch = self.target.max_batch
        self.in_flight = self.target.in_flight
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
            entry = dumps(parsed)
            event = replace(event, entry=entry)
        if not self.target.transforms_input:
            return Delivery(event, entry.encode())
        body = self.input.render(entry, parsed, self.context, ingestion_time=isoformat(event.received_at))
        return Delivery(event, body)


def route_events(
    events: Sequence[Event], sinks: Sequence[str], buses: Mapping[str, Bus]
) -> tuple[list[Event], list[tuple[str, ...]]] | None:
    """Where each event goes: the sinks among `sinks`, plus the destinations of the buses
    among them; events an archive keeps get their `keep_until`. None when `sinks` name no
    bus (every event goes to `sinks`)."""
    named = [buses[s] for s in sinks if s in buses]
    if not named:
        return None
    plain = tuple(s for s in sinks if s not in buses)
    routed: list[Event] = []
    routes: list[tuple[str, ...]] = []
    for event in events:
        parsed = load_event(event.entry)
        route = list(plain)
        keep: float | None = None
        for bus in named:
            route.extend(bus.route(parsed))
            until = bus.keep_until(parsed, event.received_at)
            if until is not None:
                keep = until if keep is None else max(keep, until)
        routed.append(event if keep is None else replace(event, keep_until=keep))
        routes.append(tuple(route))
    return routed, routes


def replay_route(buses: Iterable[Bus], *, rule: str | None = None) -> Callable[[Event], list[str]]:
    """For `Store.replay`: the destinations of a stored event across `buses` (only those
    of `rule` when given)."""
    named = list(buses)

    def route(event: Event) -> list[str]:
        parsed = load_event(event.entry)
        return [d for bus in named for d in bus.route(parsed, only=rule)]

    return route


@dataclass(frozen=True)
class ReplayPlan:
    """Where a replay sends stored events: plain `sinks`, and the targets of the rules of
    `buses` that each event matches again (only those of `rule`, when given)."""

    sinks: tuple[str, ...]
    buses: tuple[Bus, ...]
    rule: str | None = None

    @property
    def route(self) -> Callable[[Event], list[str]] | None:
        """For `Store.replay`: the destinations of an event on the buses (None: no bus)."""
        return replay_route(self.buses, rule=self.rule) if self.buses else None

    @property
    def rules(self) -> list[str]:
        """The router rules replayed to: `BUS` for all of a bus's rules, `BUS/RULE` for one."""
        return [f"{b.name}/{self.rule}" if self.rule else b.name for b in self.buses]


def plan_replay(
    settings: Settings, *, source: str | None = None, sinks: Sequence[str] = (), rule: str | None = None
) -> ReplayPlan:
    """What a replay of `source`'s events (every source's: None) delivers to: `sinks`
    (default: the source's, or every source's), or the targets of router `rule` (`RULE`
    or `BUS/RULE`) among them. A ValueError says what the settings do not have."""
    if source is not None and source not in settings.sources:
        raise ValueError(f"no source {source!r} in the configuration")
    targets = tuple(sinks) or tuple(sorted({s for src in settings.sources.values() for s in src.sinks}))
    if source is not None and not sinks:
        targets = settings.sources[source].sinks
    unknown = [s for s in targets if s not in settings.sinks and s not in settings.buses]
    if unknown:
        raise ValueError(f"unknown sink(s): {', '.join(unknown)}")
    buses = [Bus(t, settings.buses[t]) for t in targets if t in settings.buses]
    plain = tuple(t for t in targets if t not in settings.buses)
    if rule is None:
        return ReplayPlan(plain, tuple(buses))
    bus_name, _, rule_name = rule.rpartition("/")
    buses = [b for b in buses if rule_name in b.settings.rules and bus_name in ("", b.name)]
    if not buses:
        raise ValueError(f"no router rule {rule!r} among the sinks {', '.join(targets) or '(none)'}")
    return ReplayPlan((), tuple(buses), rule_name)


def _target_input(settings: TargetSettings) -> TargetInput:
    transformer = settings.input_transformer
    return TargetInput(
        input=settings.input,
        input_path=settings.input_path,
        input_paths_map=transformer.input_paths_map if transformer else None,
        input_template=transformer.input_template if transformer else None,
    )
