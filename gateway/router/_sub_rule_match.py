"""The exact matching semantics of one sub-rule against a flattened event.

Fields are taken in event-ruler's order (sorted by path). A field with values needs a leaf that
matches and is array-consistent with the leaves chosen so far; `{"exists": false}` holds when no
leaf at the path is consistent with the leaves chosen for the fields sorted before it.
"""

from __future__ import annotations

from gateway.router._compile import SubRule
from gateway.router._event import Leaves, consistent_merge

__all__ = ["sub_rule_matches"]


def sub_rule_matches(rule: SubRule, leaves: Leaves) -> bool:
    return _search(rule, 0, leaves, {})


def _search(rule: SubRule, i: int, leaves: Leaves, constraints: dict[int, int]) -> bool:
    if i == len(rule):
        return True
    condition = rule[i]
    found = leaves.get(condition.path, ())
    absent = True
    for value, membership in found:
        merged = consistent_merge(constraints, membership)
        if merged is None:
            continue
        absent = False
        if condition.matchers and condition.test(value) and _search(rule, i + 1, leaves, merged):
            return True
    return condition.absent_ok and absent and _search(rule, i + 1, leaves, constraints)
