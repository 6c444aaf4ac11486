"""The public face of the router's pattern language: `EventPattern` and `RuleSet`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.router._compile import MAX_PATTERN_LENGTH, SubRule, compile_pattern
from gateway.router._event import PathSet, flatten
from gateway.router._index import Automaton
from gateway.router._sub_rule_match import sub_rule_matches
from gateway.router._values import load_json

__all__ = ["EventPattern", "RuleSet", "load_event"]


def load_event(event: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """An event as a dict: JSON text is decoded keeping number precision. ValueError if not an object."""
    if isinstance(event, str | bytes | bytearray):
        try:
            value = load_json(event)
        except ValueError as exc:
            raise ValueError(f"event is not valid JSON: {exc}") from None
    else:
        value = event
    if not isinstance(value, Mapping):
        raise ValueError("event must be a JSON object")  # noqa: TRY004 - a ValueError, like bad JSON text
    return value if isinstance(value, dict) else dict(value)


class EventPattern:
    """An EventBridge event pattern, validated and compiled once.

    >>> EventPattern('{"source": [{"prefix": "hookgate."}]}').matches({"source": "hookgate.stripe"})
    True

    Raises `InvalidEventPatternError` (a `ValueError`) for a pattern EventBridge would refuse.
    """

    __slots__ = ("_paths", "rules", "source")

    def __init__(
        self, pattern: str | bytes | Mapping[str, Any], *, max_length: int = MAX_PATTERN_LENGTH
    ) -> None:
        self.source = pattern
        as_dict = dict(pattern) if isinstance(pattern, Mapping) else pattern
        self.rules: tuple[SubRule, ...] = tuple(compile_pattern(as_dict, max_length))
        self._paths = PathSet(c.path for rule in self.rules for c in rule)

    def matches(self, event: str | bytes | Mapping[str, Any]) -> bool:
        """Whether `event` (JSON text or a dict) matches, as EventBridge's TestEventPattern says."""
        leaves, _ = flatten(load_event(event), self._paths)
        return any(sub_rule_matches(rule, leaves) for rule in self.rules)

    def __repr__(self) -> str:
        return f"EventPattern({self.source!r})"


class RuleSet:
    """Many named patterns compiled into one matcher: `matching(event)` names those that match.

    Adding a name twice makes it match when either pattern does (event-ruler's `addRule`).
    Matching cost follows what the event matches, not the number of rules.
    """

    def __init__(
        self, rules: Mapping[str, str | bytes | Mapping[str, Any] | EventPattern] | None = None
    ) -> None:
        self._patterns: dict[str, list[EventPattern]] = {}
        self._order: dict[str, int] = {}
        self._automaton = Automaton()
        for name, pattern in (rules or {}).items():
            self.add(name, pattern)

    def add(self, name: str, pattern: str | bytes | Mapping[str, Any] | EventPattern) -> EventPattern:
        """Compile `pattern` (unless already compiled) and add it under `name`."""
        compiled = pattern if isinstance(pattern, EventPattern) else EventPattern(pattern)
        self._order.setdefault(name, len(self._order))
        self._patterns.setdefault(name, []).append(compiled)
        self._automaton.add(name, compiled.rules)
        return compiled

    def remove(self, name: str) -> None:
        """Forget every pattern added under `name`; KeyError if there is none."""
        del self._patterns[name]
        self._order = {other: i for i, other in enumerate(self._patterns)}
        self._automaton = Automaton()
        for other, patterns in self._patterns.items():
            for pattern in patterns:
                self._automaton.add(other, pattern.rules)

    def matching(self, event: str | bytes | Mapping[str, Any]) -> list[str]:
        """The names of the rules `event` matches, in the order they were first added."""
        found = self._automaton.match(load_event(event))
        if len(found) < 2:
            return list(found)
        order = self._order
        return sorted(found, key=order.__getitem__)

    def names(self) -> Iterable[str]:
        return iter(self._patterns)

    def __len__(self) -> int:
        return len(self._patterns)

    def __contains__(self, name: object) -> bool:
        return name in self._patterns
