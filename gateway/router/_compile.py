"""Parse and validate an event pattern into sub-rules, as event-ruler's JsonRuleCompiler does.

A pattern compiles to one or more sub-rules (one per `$or` combination); each sub-rule is a
tuple of conditions sorted by field path, and a condition holds the alternatives of one
leaf array (`["a", {"prefix": "b"}, {"exists": false}]`). Keys are processed in document
order, so a key repeated later (or inside an `$or` branch) replaces the earlier one.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from gateway.router import _matchers as m
from gateway.router._errors import InvalidEventPatternError
from gateway.router._values import BigNumber, Key, Literal, load_json, parse_ip, representable

__all__ = ["MAX_OR_COMBINATIONS", "MAX_PATTERN_LENGTH", "Condition", "SubRule", "compile_pattern"]

MAX_PATTERN_LENGTH = 2048
MAX_OR_COMBINATIONS = 1000
OR = "$or"
RESERVED_IN_OR = frozenset(
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard",
        "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard", "not-equals-ignore-case",
        "date-after", "date-on-or-after", "date-before", "date-on-or-before", "in-date-range",
        "ip-address-in-range", "ip-address-not-in-range",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Condition:
    """One field of a sub-rule: the leaf at `path` matches any of `matchers`, or is absent if `absent_ok`."""

    path: str
    matchers: frozenset[m.Matcher]
    absent_ok: bool

    def test(self, value: Any) -> bool:
        return any(matcher.test(value) for matcher in self.matchers)


SubRule = tuple[Condition, ...]


class _Object:
    """A JSON object as its key/value pairs in document order (duplicates kept)."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


class _InvalidError(Exception):
    def __init__(self, reason: str, where: tuple[str | int, ...]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where


def _location(where: tuple[str | int, ...]) -> str:
    out = "$"
    for step in where:
        if isinstance(step, int):
            out += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z0-9_$-]+", step):
            out += f".{step}"
        else:
            out += f"[{json.dumps(step, ensure_ascii=False)}]"
    return out


def compile_pattern(
    pattern: str | bytes | dict[str, Any], max_length: int = MAX_PATTERN_LENGTH
) -> list[SubRule]:
    """Validate `pattern` and expand it to its sub-rules; raise InvalidEventPatternError."""
    if isinstance(pattern, str | bytes | bytearray):
        text = pattern.decode() if isinstance(pattern, bytes | bytearray) else pattern
        if len(text) > max_length:
            raise InvalidEventPatternError(f"Event pattern is longer than {max_length} characters")
        try:
            tree = load_json(text, object_pairs_hook=_Object)
        except ValueError as exc:
            raise InvalidEventPatternError(f"Event pattern is not valid JSON: {exc}") from None
    elif isinstance(pattern, dict):
        try:
            tree = _from_python(pattern, ())
            size = len(json.dumps(pattern, separators=(",", ":"), ensure_ascii=False, default=str))
        except _InvalidError as exc:
            raise InvalidEventPatternError(exc.reason, _location(exc.where)) from None
        if size > max_length:
            raise InvalidEventPatternError(f"Event pattern is longer than {max_length} characters")
    else:
        raise InvalidEventPatternError("Filter is not an object")
    if not isinstance(tree, _Object):
        raise InvalidEventPatternError("Filter is not an object")
    rules: list[dict[str, Condition]] = []
    try:
        _parse_object(rules, "", tree, (), in_or=False)
    except _InvalidError as exc:
        raise InvalidEventPatternError(exc.reason, _location(exc.where)) from None
    return [tuple(sorted(rule.values(), key=lambda c: c.path.encode("utf-16-be"))) for rule in rules]


def _from_python(value: Any, where: tuple[str | int, ...]) -> Any:
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise _InvalidError(f"Field names must be strings, not {key!r}", where)
            pairs.append((key, _from_python(item, (*where, key))))
        return _Object(pairs)
    if isinstance(value, list | tuple):
        return [_from_python(item, (*where, i)) for i, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise _InvalidError(f"{value} is not a JSON number", where)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise _InvalidError(f"{type(value).__name__} is not a JSON value", where)


def _parse_object(
    rules: list[dict[str, Condition]], prefix: str, obj: _Object, where: tuple[str | int, ...], in_or: bool
) -> None:
    if not obj.pairs:
        raise _InvalidError("Empty objects are not allowed", where)
    for key, value in obj.pairs:
        here = (*where, key)
        if key == OR:
            _parse_or(rules, prefix, value, here)
            continue
        if in_or and key in RESERVED_IN_OR:
            raise _InvalidError(f"{key} is Ruler reserved fieldName which cannot be used inside $or.", here)
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, _Object):
            _parse_object(rules, path, value, here, in_or)
        elif isinstance(value, list):
            condition = _parse_leaf(path, value, here)
            if not rules:
                rules.append({})
            for rule in rules:
                rule[path] = condition
        else:
            raise _InvalidError(f'"{key}" must be an object or an array', here)


def _parse_or(
    rules: list[dict[str, Condition]], prefix: str, value: Any, where: tuple[str | int, ...]
) -> None:
    if not isinstance(value, list):
        raise _InvalidError("It must be an Array followed with $or.", where)
    current = [dict(rule) for rule in rules]
    rules.clear()
    for i, branch in enumerate(value):
        if not isinstance(branch, _Object):
            raise _InvalidError("Only JSON object is allowed in array of $or relationship.", (*where, i))
        forked = [dict(rule) for rule in current] or [{}]
        _parse_object(forked, prefix, branch, (*where, i), in_or=True)
        rules.extend(forked)
        if len(rules) > MAX_OR_COMBINATIONS:
            raise _InvalidError(f"The $or expands to more than {MAX_OR_COMBINATIONS} combinations", where)
    if len(value) < 2:
        raise _InvalidError("There must have at least 2 Objects in $or relationship.", where)


def _exact_key(value: Any) -> Key:
    if isinstance(value, str):
        address = parse_ip(value)
        return value if address is None else address
    if value is True:
        return Literal.TRUE
    if value is False:
        return Literal.FALSE
    if value is None:
        return Literal.NULL
    if isinstance(value, int):
        exact = representable(str(value))
        return value if exact is None else exact
    return value  # type: ignore[no-any-return]  # float or BigNumber


def _parse_leaf(path: str, values: list[Any], where: tuple[str | int, ...]) -> Condition:
    matchers: set[m.Matcher] = set()
    absent_ok = False
    for i, value in enumerate(values):
        here = (*where, i)
        if isinstance(value, _Object):
            matcher = _parse_expression(value, here)
            if matcher is None:
                absent_ok = True
            else:
                matchers.add(matcher)
        elif isinstance(value, list):
            raise _InvalidError("Match value must be String, number, true, false, or null", here)
        else:
            matchers.add(m.Exact(_exact_key(value)))
    if not values:
        raise _InvalidError("Empty arrays are not allowed", where)
    return Condition(path, frozenset(matchers), absent_ok)


def _number(value: Any, what: str, where: tuple[str | int, ...]) -> float:
    """A pattern operand that must be exactly a float64."""
    if isinstance(value, bool) or not isinstance(value, int | float | BigNumber):
        raise _InvalidError(what, where)
    if isinstance(value, float):
        return value
    exact = representable(value.text if isinstance(value, BigNumber) else str(value))
    if exact is None:
        raise _InvalidError(f"Cannot compare number : {value}", where)
    return exact


def _single(
    obj: _Object, where: tuple[str | int, ...], message: str = "Only one key allowed in match expression"
) -> None:
    if len(obj.pairs) > 1:
        raise _InvalidError(message, (*where, obj.pairs[1][0]))


def _string(value: Any, message: str, where: tuple[str | int, ...]) -> str:
    if not isinstance(value, str):
        raise _InvalidError(message, where)
    return value


def _parse_expression(obj: _Object, where: tuple[str | int, ...]) -> m.Matcher | None:
    """One `{operator: operand}` object; None stands for `{"exists": false}`."""
    if not obj.pairs:
        raise _InvalidError("Match expression name not found", where)
    name, value = obj.pairs[0]
    here = (*where, name)
    result: m.Matcher | None
    if name == "exactly":
        result = m.Exact(_string(value, "exact match pattern must be a string", here))
    elif name in ("prefix", "suffix"):
        if isinstance(value, _Object):
            result = _parse_ignore_case_affix(name, value, here)
        else:
            text = _string(value, f"{name} match pattern must be a string", here)
            result = m.Prefix(text) if name == "prefix" else m.Suffix(text)
    elif name == "equals-ignore-case":
        result = m.EqualsIgnoreCase(_string(value, "equals-ignore-case match pattern must be a string", here))
    elif name == "wildcard":
        text = _string(value, "wildcard match pattern must be a string", here)
        result = m.Wildcard(_check_wildcard(text, here))
    elif name == "numeric":
        if not isinstance(value, list):
            raise _InvalidError("Value of numeric must be an array.", here)
        result = _parse_numeric(value, here)
        _single(obj, where, "Too many elements in numeric expression")
    elif name == "anything-but":
        result = _parse_anything_but(value, here)
        _single(obj, where, "Too many elements in numeric expression")
    elif name == "exists":
        if not isinstance(value, bool):
            raise _InvalidError("exists match pattern must be either true or false.", here)
        result = m.Exists() if value else None
    elif name == "cidr":
        result = m.Cidr(_parse_cidr(_string(value, "cidr match pattern must be a string", here), here))
    else:
        raise _InvalidError(f"Unrecognized match type {name}", here)
    _single(obj, where)
    return result


def _parse_ignore_case_affix(name: str, obj: _Object, where: tuple[str | int, ...]) -> m.Matcher:
    label = name.capitalize()
    if not obj.pairs:
        raise _InvalidError(f"{label} expression name not found", where)
    op, value = obj.pairs[0]
    if op != "equals-ignore-case":
        raise _InvalidError(f"Unsupported {name} pattern: {op}", (*where, op))
    text = _string(value, "equals-ignore-case match pattern must be a string", (*where, op))
    _single(obj, where)
    return m.PrefixIgnoreCase(text) if name == "prefix" else m.SuffixIgnoreCase(text)


def _check_wildcard(text: str, where: tuple[str | int, ...]) -> str:
    try:
        m.wildcard_regex(text)
    except m.WildcardSyntaxError as exc:
        raise _InvalidError(str(exc), where) from None
    return text


_OPERATORS = {"=", "<", "<=", ">", ">="}


def _parse_numeric(terms: list[Any], where: tuple[str | int, ...]) -> m.Matcher:
    if not terms or not isinstance(terms[0], str):
        shown = json.dumps(terms[0], default=str) if terms else "]"
        raise _InvalidError(f"Invalid member in numeric match: {shown}", (*where, 0))
    operator = terms[0]
    if operator not in _OPERATORS:
        raise _InvalidError(f"Unrecognized numeric range operator: {operator}", (*where, 0))
    label = "equals" if operator == "=" else operator
    if len(terms) < 2:
        raise _InvalidError(f"Value of {label} must be numeric", (*where, 1))
    first = _number(terms[1], f"Value of {label} must be numeric", (*where, 1))
    inf = math.inf
    if operator == "=":
        if len(terms) > 2:
            raise _InvalidError("Too many elements in numeric expression", (*where, 2))
        return m.Exact(first)
    if operator in ("<", "<="):
        if len(terms) > 2:
            raise _InvalidError("Too many elements in numeric expression", (*where, 2))
        return m.Numeric(-inf, False, first, operator == "<")
    if len(terms) == 2:
        return m.Numeric(first, operator == ">", inf, False)
    upper = terms[2]
    if not isinstance(upper, str):
        raise _InvalidError(f"Bad value in numeric range: {json.dumps(upper, default=str)}", (*where, 2))
    if upper not in ("<", "<="):
        raise _InvalidError(f"Bad numeric range operator: {upper}", (*where, 2))
    if len(terms) < 4:
        raise _InvalidError(f"Value of {upper} must be numeric", (*where, 3))
    top = _number(terms[3], f"Value of {upper} must be numeric", (*where, 3))
    if len(terms) > 4:
        raise _InvalidError("Too many terms in numeric range expression", (*where, 4))
    if not first < top:
        raise _InvalidError("Bottom must be less than top", where)
    return m.Numeric(first, operator == ">", top, upper == "<")


_AB_SETS: dict[
    str, type[m.AnythingButPrefix | m.AnythingButSuffix | m.AnythingButIgnoreCase | m.AnythingButWildcard]
]
_AB_SETS = {
    "prefix": m.AnythingButPrefix,
    "suffix": m.AnythingButSuffix,
    "equals-ignore-case": m.AnythingButIgnoreCase,
    "wildcard": m.AnythingButWildcard,
}


def _parse_anything_but(value: Any, where: tuple[str | int, ...]) -> m.Matcher:
    if isinstance(value, _Object):
        if not value.pairs:
            raise _InvalidError("Anything-But expression name not found", where)
        op, operand = value.pairs[0]
        if op not in _AB_SETS:
            raise _InvalidError(f"Unsupported anything-but pattern: {op}", (*where, op))
        result = _parse_anything_but_set(op, operand, (*where, op))
        _single(value, where, "Too many elements in numeric expression")
        return result
    message = "Value of anything-but must be an array or single string/number value."
    if isinstance(value, bool) or value is None:
        raise _InvalidError(message, where)
    if isinstance(value, str):
        return m.AnythingBut(frozenset({_exact_key(value)}))
    if isinstance(value, int | float | BigNumber):
        return m.AnythingBut(frozenset({_number(value, message, where)}))
    if not isinstance(value, list):
        raise _InvalidError(message, where)
    keys: set[Key] = set()
    kinds: set[type] = set()
    for i, item in enumerate(value):
        if isinstance(item, str):
            keys.add(_exact_key(item))
            kinds.add(str)
        elif isinstance(item, int | float | BigNumber) and not isinstance(item, bool):
            keys.add(_number(item, message, (*where, i)))
            kinds.add(float)
        else:
            raise _InvalidError("Inside anything but list, start|null|boolean is not supported.", (*where, i))
    if len(kinds) != 1:
        raise _InvalidError(
            "Inside anything but list, either all values are number or string, mixed type is not supported",
            where,
        )
    return m.AnythingBut(frozenset(keys))


def _parse_anything_but_set(op: str, operand: Any, where: tuple[str | int, ...]) -> m.Matcher:
    if op == "equals-ignore-case":
        wrong_type = (
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
        )
    elif op == "wildcard":
        wrong_type = "wildcard match pattern must be a string"
    else:
        wrong_type = "prefix/suffix match pattern must be a string"
    if isinstance(operand, list):
        items, wheres = operand, [(*where, i) for i in range(len(operand))]
    elif isinstance(operand, str | int | float | BigNumber) and not isinstance(operand, bool):
        items, wheres = [operand], [where]
    else:
        raise _InvalidError("Value of anything-but must be an array or single string/number value.", where)
    texts = set()
    for item, here in zip(items, wheres, strict=True):
        if not isinstance(item, str):
            raise _InvalidError(wrong_type, here)
        if op in ("prefix", "suffix") and not item:
            raise _InvalidError("Null prefix/suffix not allowed", here)
        if op == "wildcard":
            _check_wildcard(item, here)
        texts.add(item)
    return _AB_SETS[op](frozenset(texts))


def _parse_cidr(text: str, where: tuple[str | int, ...]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    parts = text.split("/")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()  # Java's String.split drops trailing empty strings
    if len(parts) != 2:
        raise _InvalidError("Malformed CIDR, one '/' required", where)
    if not re.fullmatch(r"[+-]?[0-9]+", parts[1]):
        raise _InvalidError("Malformed CIDR, mask bits must be an integer", where)
    bits = int(parts[1])
    if bits < 0:
        raise _InvalidError("Malformed CIDR, mask bits must not be negative", where)
    address = parse_ip(parts[0])
    if address is None:
        looks = re.fullmatch(r"[0-9]+(\.[0-9]+){3}|[0-9a-fA-F:]*:[0-9a-fA-F:]*", parts[0])
        raise _InvalidError(f"{'Invalid' if looks else 'Nonstandard'} IP address: {parts[0]}", where)
    if address.version == 4 and bits > 31:
        raise _InvalidError("IPv4 mask bits must be < 32", where)
    if address.version == 6 and bits > 127:
        raise _InvalidError("IPv6 mask bits must be < 128", where)
    return ipaddress.ip_network(f"{address}/{bits}", strict=False)
