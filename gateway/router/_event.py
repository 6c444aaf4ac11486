"""Flatten an event to the leaves a set of patterns looks at.

A leaf is a scalar at a dotted path (`detail.payload.amount`; an event key `"a.b"` is the same
path as `a → b`, as in event-ruler) with its array membership: the `(array id, element index)`
of every array element that is an object or array on the way down. Two leaves are consistent
when they agree on every array they share, which is how array-consistent matching is decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["Leaves", "Membership", "PathSet", "consistent_merge", "flatten"]

Membership = tuple[tuple[int, int], ...]
Leaves = dict[str, list[tuple[Any, Membership]]]


class PathSet:
    """The leaf paths some patterns test, and every dotted prefix leading to them."""

    __slots__ = ("leaves", "prefixes")

    def __init__(self, paths: Iterable[str]) -> None:
        self.leaves = frozenset(paths)
        prefixes = set()
        for path in self.leaves:
            parts = path.split(".")
            for i in range(1, len(parts)):
                prefixes.add(".".join(parts[:i]))
        self.prefixes = frozenset(prefixes)


def flatten(event: dict[str, Any], paths: PathSet) -> tuple[Leaves, bool]:
    """The leaves of `event` at `paths`, and whether any of them sits inside an array element."""
    out: Leaves = {}
    wanted = paths.leaves
    prefixes = paths.prefixes
    arrays = [0]
    nested = False

    def visit_array(items: list[Any], path: str, membership: Membership) -> None:
        nonlocal nested
        array_id = arrays[0]
        arrays[0] += 1
        for index, item in enumerate(items):
            kind = type(item)
            if kind is dict:
                if path in prefixes:
                    nested = True
                    visit_object(item, path, (*membership, (array_id, index)))
            elif kind is list:
                if path in wanted or path in prefixes:
                    nested = True
                    visit_array(item, path, (*membership, (array_id, index)))
            elif path in wanted:
                out.setdefault(path, []).append((item, membership))

    def visit_object(obj: dict[str, Any], prefix: str, membership: Membership) -> None:
        for key, value in obj.items():
            path = f"{prefix}.{key}" if prefix else key
            kind = type(value)
            if kind is dict:
                if path in prefixes:
                    visit_object(value, path, membership)
            elif kind is list:
                if path in wanted or path in prefixes:
                    visit_array(value, path, membership)
            elif path in wanted:
                out.setdefault(path, []).append((value, membership))

    visit_object(event, "", ())
    return out, nested


def consistent_merge(constraints: dict[int, int], membership: Membership) -> dict[int, int] | None:
    """`constraints` extended by `membership`, or None when they disagree on an array."""
    if not membership:
        return constraints
    merged = None
    for array_id, index in membership:
        seen = constraints.get(array_id)
        if seen is None:
            if merged is None:
                merged = dict(constraints)
            merged[array_id] = index
        elif seen != index:
            return None
    return constraints if merged is None else merged
