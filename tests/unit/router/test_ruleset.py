"""The multi-rule matcher, and properties that tie it to single-pattern matching."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.cli import main
from gateway.router import EventPattern, InvalidEventPatternError, RuleSet
from gateway.router._values import representable

PROPERTIES = settings(
    max_examples=100, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_ruleset_names_every_matching_rule_in_order() -> None:
    rules = RuleSet(
        {
            "stripe": {"source": ["hookgate.stripe"]},
            "big-payments": {
                "source": ["hookgate.stripe"],
                "detail": {"payload": {"amount": [{"numeric": [">=", 1000]}]}},
            },
            "github": {"source": [{"prefix": "hookgate.git"}]},
            "not-failed": {"detail-type": [{"anything-but": {"suffix": ".failed"}}]},
        }
    )
    event = {
        "source": "hookgate.stripe",
        "detail-type": "charge.succeeded",
        "detail": {"payload": {"amount": 5000}},
    }
    assert rules.matching(event) == ["stripe", "big-payments", "not-failed"]
    assert rules.matching(json.dumps(event | {"detail-type": "charge.failed"})) == ["stripe", "big-payments"]
    assert rules.matching({"source": "hookgate.github", "detail-type": "push"}) == ["github", "not-failed"]
    assert rules.matching({}) == []
    assert len(rules) == 4
    assert "github" in rules
    assert list(rules.names()) == ["stripe", "big-payments", "github", "not-failed"]


def test_same_name_twice_is_or_and_remove_forgets_it() -> None:
    rules = RuleSet()
    rules.add("r", {"a": ["1"]})
    rules.add("r", {"b": ["2"]})
    rules.add("s", {"a": [{"exists": False}]})
    assert rules.matching({"b": "2"}) == ["r", "s"]
    assert rules.matching({"a": "1"}) == ["r"]
    rules.remove("r")
    assert rules.matching({"b": "2"}) == ["s"]
    assert rules.matching({"a": "1"}) == []


def test_shared_prefixes_do_not_leak_between_rules() -> None:
    rules = RuleSet(
        {
            "one": {"source": ["s"], "detail": {"n": [1]}},
            "two": {"source": ["s"], "detail": {"n": [2], "m": [{"exists": False}]}},
            "three": {"source": ["s"], "detail": {"n": [2], "m": ["x"]}},
        }
    )
    assert rules.matching({"source": "s", "detail": {"n": 2}}) == ["two"]
    assert rules.matching({"source": "s", "detail": {"n": 2, "m": "x"}}) == ["three"]
    assert rules.matching({"source": "s", "detail": {"n": 1, "m": "x"}}) == ["one"]


# --- properties -------------------------------------------------------------------------

keys = st.sampled_from(["a", "b", "c", "source", "detail", "x.y"])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["10.0.0.1", "010.0.0.1", "2001:db8::1", "Hello", "hello", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=12,
)
events = st.dictionaries(keys, json_values, max_size=5)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Scalar leaves outside arrays of objects (their paths are plain)."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list):
        return [(path, item) for item in value if not isinstance(item, dict | list)]
    return [(path, value)] if path else []


def _nest(path: tuple[str, ...], leaf: Any) -> dict[str, Any]:
    out: Any = leaf
    for key in reversed(path):
        out = {key: out}
    return out  # type: ignore[no-any-return]


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _operators(value: Any) -> list[Any]:
    ops: list[Any] = [value, {"exists": True}]
    if isinstance(value, str):
        ops += [{"prefix": value[:2]}, {"suffix": value[-2:]}, {"equals-ignore-case": value.swapcase()}]
        ops += [{"wildcard": value.replace("\\", "\\\\").replace("*", "\\*") + "*"}]
    elif (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and representable(repr(value)) is not None
    ):
        ops += [{"numeric": [">=", value]}, {"numeric": ["<=", value]}, {"anything-but": "not-a-number"}]
    return ops


@st.composite
def event_and_own_pattern(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    event = draw(events)
    leaves = [(p, v) for p, v in _leaves(event) if all(k == p[0] or "." not in k for k in p)]
    pattern: dict[str, Any] = {}
    if not leaves:
        return event, {"no-such-field": [{"exists": False}]}
    chosen = draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=3))
    seen: set[tuple[str, ...]] = set()
    for path, value in chosen:
        if any(path[: len(s)] == s or s[: len(path)] == path for s in seen) or "." in "".join(path):
            continue
        seen.add(path)
        _merge(pattern, _nest(path, [draw(st.sampled_from(_operators(value)))]))
    return event, pattern or {"no-such-field": [{"exists": False}]}


@PROPERTIES
@given(event_and_own_pattern())
def test_a_pattern_built_from_an_events_own_leaves_matches_it(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    event, pattern = case
    compiled = EventPattern(pattern)
    assert compiled.matches(event), (pattern, event)
    assert compiled.matches(json.dumps(event)), (pattern, event)


@PROPERTIES
@given(st.lists(event_and_own_pattern(), min_size=1, max_size=6), events)
def test_the_ruleset_agrees_with_each_pattern_alone(
    cases: list[tuple[dict[str, Any], dict[str, Any]]], other: dict[str, Any]
) -> None:
    patterns = {f"r{i}": EventPattern(pattern) for i, (_, pattern) in enumerate(cases)}
    rules = RuleSet(patterns)
    for event in [*(e for e, _ in cases), other]:
        expected = [name for name, pattern in patterns.items() if pattern.matches(event)]
        assert rules.matching(event) == expected


@PROPERTIES
@given(st.text(max_size=30) | st.from_regex(r'\{"a": \[\{"[a-z-]+": .{0,10}\}\]\}', fullmatch=True))
def test_any_text_compiles_or_raises_invalid_pattern(text: str) -> None:
    with contextlib.suppress(InvalidEventPatternError):
        EventPattern(text)


# --- the command line ---------------------------------------------------------------------


def test_cli_prints_the_result_like_the_aws_cli() -> None:
    runner = CliRunner()
    args = ["test-event-pattern", "--event-pattern", '{"source": [{"prefix": "hookgate."}]}']
    yes = runner.invoke(main, [*args, "--event", '{"source": "hookgate.stripe"}'])
    no = runner.invoke(main, [*args, "--event", '{"source": "aws.ec2"}'])
    assert (yes.exit_code, yes.output) == (0, '{"Result": true}\n')
    assert (no.exit_code, no.output) == (0, '{"Result": false}\n')


def test_cli_rejects_an_invalid_pattern_or_event() -> None:
    runner = CliRunner()
    bad = runner.invoke(
        main, ["test-event-pattern", "--event-pattern", '{"a": [{"wildcard": "a**"}]}', "--event", "{}"]
    )
    assert bad.exit_code == 2
    assert "Consecutive wildcard characters" in bad.stderr
    assert "$.a[0].wildcard" in bad.stderr
    event = runner.invoke(main, ["test-event-pattern", "--event-pattern", '{"a": ["x"]}', "--event", "[1]"])
    assert event.exit_code == 2
    assert "invalid event" in event.stderr
