"""Array-consistent matching, after event-ruler's correctness cases (src/test/resources)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.router import EventPattern, RuleSet

E = {"exists": True}
CONSISTENCY: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("flat: both present", {"d": {"a": [E], "b": [E]}}, {"d": {"a": 1, "b": 2}}, True),
    ("flat: one missing", {"d": {"a": [E], "b": [E]}}, {"d": {"a": 1}}, False),
    ("objarray: same element", {"d": {"a": [E], "b": [E]}}, {"d": [{"a": 1, "b": 2}]}, True),
    ("objarray: split", {"d": {"a": [E], "b": [E]}}, {"d": [{"a": 1}, {"b": 2}]}, False),
    (
        "objarray: last valid",
        {"d": {"a": [E], "b": [E]}},
        {"d": [{"a": 1}, {"b": 2}, {"a": 3, "b": 4}]},
        True,
    ),
    (
        "objarray: split 3 ways",
        {"d": {"a": [E], "b": [E], "c": [E]}},
        {"d": [{"a": 1}, {"b": 2}, {"c": 3}]},
        False,
    ),
    (
        "objarray: exact split",
        {"d": {"n": ["alice"], "s": ["active"]}},
        {"d": [{"n": "alice"}, {"s": "active"}]},
        False,
    ),
    (
        "objarray: prefix same",
        {"d": {"n": [{"prefix": "al"}], "s": [E]}},
        {"d": [{"n": "alice", "s": "ok"}]},
        True,
    ),
    (
        "nested: inner same",
        {"u": {"t": {"k": ["c"], "v": ["b"]}}},
        {"u": [{"t": [{"k": "c", "v": "b"}]}]},
        True,
    ),
    (
        "nested: inner split",
        {"u": {"t": {"k": ["c"], "v": ["b"]}}},
        {"u": [{"t": [{"k": "c"}, {"v": "b"}]}]},
        False,
    ),
    (
        "nested: outer split",
        {"d": {"n": [E], "i": {"x": ["1"]}}},
        {"d": [{"n": "a"}, {"i": {"x": "1"}}]},
        False,
    ),
    ("nested: outer same", {"d": {"n": [E], "i": {"x": ["1"]}}}, {"d": [{"n": "a", "i": {"x": "1"}}]}, True),
    (
        "mixed: array + scalar",
        {"users": {"name": [E]}, "version": ["1"]},
        {"users": [{"name": "a"}], "version": "1"},
        True,
    ),
    ("exists-false: absent", {"d": {"a": [E], "b": [{"exists": False}]}}, {"d": [{"a": 1}]}, True),
    ("exists-false: present", {"d": {"a": [E], "b": [{"exists": False}]}}, {"d": [{"a": 1, "b": 2}]}, False),
    (
        "exists-false: other element",
        {"d": {"a": [E], "b": [{"exists": False}]}},
        {"d": [{"a": 1, "b": 2}, {"a": 3}]},
        True,
    ),
    ("empty object", {"d": {"a": [E]}}, {}, False),
    ("empty array", {"d": {"a": [E]}}, {"d": []}, False),
    (
        "many elements one valid",
        {"d": {"a": ["target"], "b": ["found"]}},
        {"d": [{"a": "x"}, {"a": "y"}, {"a": "target", "b": "found"}, {"a": "z"}]},
        True,
    ),
    (
        "numeric + exists in one element",
        {"i": {"p": [{"numeric": [">", 0, "<", 100]}], "n": [E]}},
        {"i": [{"n": "w", "p": 50}, {"n": "g", "p": 200}]},
        True,
    ),
    (
        "anything-but in one element",
        {"u": {"s": [{"anything-but": "banned"}], "n": [E]}},
        {"u": [{"n": "alice", "s": "banned"}, {"n": "bob", "s": "active"}]},
        True,
    ),
    (
        "primitive array + scalar",
        {"d": {"tags": [{"prefix": "ad"}], "type": [E]}},
        {"d": {"tags": ["x", "admin"], "type": "G"}},
        True,
    ),
    ("empty primitive array", {"d": {"name": [E], "type": [E]}}, {"d": {"name": [], "type": "x"}}, False),
    (
        "two primitive arrays",
        {"tags": [E], "cats": [E], "v": ["1"]},
        {"tags": ["a"], "cats": ["x", "y"], "v": "1"},
        True,
    ),
    (
        "only the last element has both",
        {"detail": {"email": [E], "name": [E]}},
        {"detail": [{"email": "a@x"}, {"email": "b@x"}, {"email": "e@x", "name": "eve"}]},
        True,
    ),
    (
        "suffix split",
        {"d": {"name": [{"suffix": "ice"}], "type": [E]}},
        {"d": [{"name": "alice"}, {"type": "user"}]},
        False,
    ),
    (
        "exists:false sees only fields sorted before it",
        {"d": {"z": [E], "b": [{"exists": False}]}},
        {"d": [{"b": 1}, {"z": 1}]},
        False,
    ),
    (
        "exists:false after its context",
        {"d": {"a": [E], "z": [{"exists": False}]}},
        {"d": [{"z": 1}, {"a": 1}]},
        True,
    ),
]

TASK_RULE = {
    "requestContext": {
        "taskInstances": {
            "taskInstanceState": ["ACTIVE"],
            "provider": {"id": ["X"]},
            "resources": {
                "additionalContext": {"capabilityInterfaces": {"interfaceName": [{"exists": False}]}}
            },
        }
    }
}


def _task(state: str, provider: str, interface: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {"legacyFocusCategory": "F"}
    if interface is not None:
        resource["additionalContext"] = {"capabilityInterfaces": [{"interfaceName": interface}]}
    return {"taskInstanceState": state, "provider": {"id": provider}, "resources": [resource]}


@pytest.mark.parametrize(
    ("pattern", "event", "expected"), [c[1:] for c in CONSISTENCY], ids=[c[0] for c in CONSISTENCY]
)
def test_array_consistency(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert EventPattern(pattern).matches(event) is expected
    assert bool(RuleSet({"r": pattern}).matching(event)) is expected


def test_exists_false_in_the_matching_array_element() -> None:
    """event-ruler's testACWithExistFalseRule: the ACTIVE task lacks the interface, the other has it."""
    matches = {
        "requestContext": {"taskInstances": [_task("ACTIVE", "X", None), _task("InACTIVE", "Y", "Dummy")]}
    }
    other = {
        "requestContext": {"taskInstances": [_task("ACTIVE", "X", "XXXX"), _task("InACTIVE", "Y", "XXXX")]}
    }
    assert EventPattern(TASK_RULE).matches(matches)
    assert not EventPattern(TASK_RULE).matches(other)
