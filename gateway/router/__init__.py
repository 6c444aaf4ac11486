"""The local router's pattern language: EventBridge event patterns, exactly as event-ruler reads them.

    EventPattern(pattern)          validate and compile one pattern (JSON text or a dict)
    EventPattern.matches(event)    the answer of EventBridge's TestEventPattern
    RuleSet({name: pattern, …})    many patterns in one index; `matching(event)` names the matches
    TargetInput(input_path=…)      what a rule's target receives: EventBridge's input transformation

The bus that runs rules (`[sinks.NAME] type = "router"`): `gateway.router.bus`; its
configuration: `gateway.router.rules`; its target types: `gateway.router.targets`.

See docs/event-patterns.md for the language, the limits and the deviations.
"""

from gateway.router._compile import MAX_OR_COMBINATIONS, MAX_PATTERN_LENGTH
from gateway.router._errors import InvalidEventPatternError
from gateway.router._pattern import EventPattern, RuleSet
from gateway.router._transform import InputRenderError, InvalidTargetInputError, RuleContext, TargetInput

__all__ = [
    "MAX_OR_COMBINATIONS",
    "MAX_PATTERN_LENGTH",
    "EventPattern",
    "InputRenderError",
    "InvalidEventPatternError",
    "InvalidTargetInputError",
    "RuleContext",
    "RuleSet",
    "TargetInput",
]
