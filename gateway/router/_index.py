"""The compiled multi-rule matcher: a trie of conditions with per-path value indexes.

Every sub-rule is a chain of conditions, most selective first (exact values, then
prefix/suffix, ranges and the like, then anything-but and exists), sorted by path within a
rank, so rules with a condition in common share a node. At a node, the conditions of its
children on one path are indexed together: exact values in a dict, prefixes and suffixes in
one dict per length, numeric ranges sorted by lower bound; the rest are tested in turn. An
event visits only the nodes whose condition one of its leaves matched, so matching costs
what the event matches, not one walk per rule.

The walk ignores array consistency; conditions that allow absence (`exists: false`) are
left out of the trie and checked at the end. When the event has leaves inside arrays of
objects, a candidate sub-rule is confirmed by the exact, array-consistent check instead.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from gateway.router import _matchers as m
from gateway.router._compile import Condition, SubRule
from gateway.router._event import Leaves, PathSet, flatten
from gateway.router._sub_rule_match import sub_rule_matches
from gateway.router._values import Key, float_value, key_of, parse_ip

__all__ = ["Automaton"]

_RANKS: dict[type, int] = {
    m.Exact: 0,
    m.Prefix: 1,
    m.Suffix: 1,
    m.Numeric: 2,
    m.Cidr: 2,
    m.EqualsIgnoreCase: 2,
    m.PrefixIgnoreCase: 2,
    m.SuffixIgnoreCase: 2,
    m.Wildcard: 3,
    m.AnythingBut: 4,
    m.AnythingButPrefix: 4,
    m.AnythingButSuffix: 4,
    m.AnythingButIgnoreCase: 4,
    m.AnythingButWildcard: 4,
    m.Exists: 5,
}


def _order(condition: Condition) -> tuple[int, bytes]:
    rank = max(_RANKS[type(matcher)] for matcher in condition.matchers)
    return rank, condition.path.encode("utf-16-be")


class _Terminal:
    __slots__ = ("name", "residuals", "rule")

    def __init__(self, name: str, rule: SubRule, residuals: tuple[Condition, ...]) -> None:
        self.name = name
        self.rule = rule
        self.residuals = residuals

    def accepts(self, leaves: Leaves, nested: bool) -> bool:
        if nested:
            return sub_rule_matches(self.rule, leaves)
        for condition in self.residuals:
            found = leaves.get(condition.path)
            if found and not any(condition.test(value) for value, _ in found):
                return False
        return True


class _PathIndex:
    """The children of one node whose condition is on one path, indexed by value."""

    __slots__ = ("exact", "ip", "lows", "numeric", "prefixes", "scan", "suffixes")

    def __init__(self, children: Iterable[tuple[Condition, _Node]]) -> None:
        self.exact: dict[Key, list[_Node]] = {}
        prefixes: dict[int, dict[str, list[_Node]]] = {}
        suffixes: dict[int, dict[str, list[_Node]]] = {}
        numeric: list[tuple[float, bool, float, bool, _Node]] = []
        self.scan: list[tuple[m.Matcher, _Node]] = []
        self.ip = False
        for condition, node in children:
            for matcher in condition.matchers:
                if isinstance(matcher, m.Exact):
                    self.exact.setdefault(matcher.key, []).append(node)
                elif isinstance(matcher, m.Prefix):
                    prefixes.setdefault(len(matcher.text), {}).setdefault(matcher.text, []).append(node)
                elif isinstance(matcher, m.Suffix):
                    suffixes.setdefault(len(matcher.text), {}).setdefault(matcher.text, []).append(node)
                elif isinstance(matcher, m.Numeric):
                    numeric.append((matcher.low, matcher.low_open, matcher.high, matcher.high_open, node))
                else:
                    self.scan.append((matcher, node))
        self.ip = any(isinstance(key, IPv4Address | IPv6Address) for key in self.exact)
        self.prefixes = sorted(prefixes.items())
        self.suffixes = sorted(suffixes.items())
        numeric.sort(key=lambda r: r[0])
        self.numeric = numeric
        self.lows = [r[0] for r in numeric]

    def lookup(self, found: list[tuple[Any, Any]], into: set[_Node]) -> None:
        exact = self.exact
        for value, _ in found:
            if type(value) is str:
                hit = exact.get(value)
                if hit:
                    into.update(hit)
                if self.ip:
                    address = parse_ip(value)
                    if address is not None and (hit := exact.get(address)):
                        into.update(hit)
                size = len(value)
                for length, table in self.prefixes:
                    if length > size:
                        break
                    if hit := table.get(value[:length]):
                        into.update(hit)
                for length, table in self.suffixes:
                    if length > size:
                        break
                    if hit := table.get(value[size - length :]):
                        into.update(hit)
            else:
                if hit := exact.get(key_of(value)):
                    into.update(hit)
                if self.numeric:
                    number = float_value(value)
                    if number is not None:
                        for low, low_open, high, high_open, node in self.numeric[
                            : bisect_right(self.lows, number)
                        ]:
                            if (
                                (low_open and number == low)
                                or number > high
                                or (high_open and number == high)
                            ):
                                continue
                            into.add(node)
            for matcher, node in self.scan:
                if matcher.test(value):
                    into.add(node)


class _Node:
    __slots__ = ("children", "index", "terminals")

    def __init__(self) -> None:
        self.children: dict[Condition, _Node] = {}
        self.terminals: list[_Terminal] = []
        self.index: list[tuple[str, _PathIndex]] | None = None

    def paths(self) -> list[tuple[str, _PathIndex]]:
        if self.index is None:
            by_path: dict[str, list[tuple[Condition, _Node]]] = {}
            for condition, child in self.children.items():
                by_path.setdefault(condition.path, []).append((condition, child))
            self.index = [(path, _PathIndex(children)) for path, children in by_path.items()]
        return self.index


class Automaton:
    """Named sub-rules compiled together; `match(event)` gives the names that match."""

    def __init__(self) -> None:
        self._root = _Node()
        self._paths: set[str] = set()
        self._path_set: PathSet | None = PathSet(())

    def add(self, name: str, rules: Iterable[SubRule]) -> None:
        for rule in rules:
            positive = sorted((c for c in rule if not c.absent_ok), key=_order)
            node = self._root
            for condition in positive:
                child = node.children.get(condition)
                if child is None:
                    child = node.children[condition] = _Node()
                    node.index = None
                node = child
            node.terminals.append(_Terminal(name, rule, tuple(c for c in rule if c.absent_ok)))
            for condition in rule:
                if condition.path not in self._paths:
                    self._paths.add(condition.path)
                    self._path_set = None

    def match(self, event: dict[str, Any]) -> set[str]:
        paths = self._path_set
        if paths is None:
            paths = self._path_set = PathSet(self._paths)
        leaves, nested = flatten(event, paths)
        matched: set[str] = set()
        self._walk(self._root, leaves, nested, matched)
        return matched

    def _walk(self, node: _Node, leaves: Leaves, nested: bool, matched: set[str]) -> None:
        for terminal in node.terminals:
            if terminal.name not in matched and terminal.accepts(leaves, nested):
                matched.add(terminal.name)
        if not node.children:
            return
        for path, index in node.index if node.index is not None else node.paths():
            found = leaves.get(path)
            if found:
                following: set[_Node] = set()
                index.lookup(found, following)
                for child in following:
                    self._walk(child, leaves, nested, matched)
