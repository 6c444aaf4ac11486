"""Inference: a JSON Schema (Draft 4 vocabulary) from payload samples, and the merge of two.

A sample's schema lists an object's properties and `required` (the keys it has), an
array's merged `items`, a scalar's `type` (`integer` apart from `number`, `null` a type of
its own) and a string's `format` (`date-time`, `uri`, `email`, `uuid`) when it has one.
`merge` widens: `required` is what both require, types are united (`integer` with `number`
is `number`), a format stays only where both sides agree. A merged schema therefore
accepts every sample either side accepted, and the schema of many samples is the merge of
their schemas, in any order.

`describes` is the cheap question asked before inference: would merging this sample's
schema into `schema` change nothing? It walks the sample once, building nothing, and
answers True only where the merge would leave `schema` as it is (every key listed, every
required key present, every type and format already there, nothing the limits would cut);
where unsure it answers False, and the sample is inferred.

Hostile samples stay bounded (`Limits`): nesting deeper than `max_depth`, an object's
properties past `max_properties`, and everything past `max_nodes` values per sample are
not described. Such a node is left open (`{}`, or properties not listed, which an open
object admits) and marked `"x-hookgate-truncated": true`, so the schema still accepts the
sample. Only strings of at most `MAX_FORMAT_LENGTH` characters are looked at for a format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_FORMAT_LENGTH", "TRUNCATED", "Limits", "describes", "infer", "infer_many", "merge"]

Schema = dict[str, Any]

#: The mark of a node whose sample was not described in full.
TRUNCATED = "x-hookgate-truncated"
#: Longer strings are never given a format (a 5 MB string is not scanned).
MAX_FORMAT_LENGTH = 2048

_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date-time", re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)", re.ASCII)),
    ("uuid", re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")),
    ("email", re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")),
    ("uri", re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s]+")),
)
_KINDS = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "object",
    list: "array",
}
_ORDER = ("array", "boolean", "integer", "null", "number", "object", "string")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of one sample is described (beyond: open and marked truncated)."""

    max_depth: int = 32
    max_properties: int = 500
    max_nodes: int = 20_000


def infer(value: Any, limits: Limits = Limits()) -> Schema:
    """The schema of one sample."""
    budget = [limits.max_nodes]
    return _infer(value, limits, 0, budget)


def infer_many(values: Any, limits: Limits = Limits()) -> Schema | None:
    """The merged schema of `values` (None for none)."""
    result: Schema | None = None
    for value in values:
        schema = infer(value, limits)
        result = schema if result is None else merge(result, schema, limits)
    return result


def _kind(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return None


def _format(value: str) -> str | None:
    if len(value) > MAX_FORMAT_LENGTH:
        return None
    for name, pattern in _FORMATS:
        if pattern.fullmatch(value):
            return name
    return None


def _open() -> Schema:
    return {TRUNCATED: True}


def _infer(value: Any, limits: Limits, depth: int, budget: list[int]) -> Schema:
    budget[0] -= 1
    if budget[0] < 0 or depth > limits.max_depth:
        return _open()
    kind = _kind(value)
    if kind is None:
        return _open()
    schema: Schema = {"type": kind}
    if kind == "string":
        fmt = _format(value)
        if fmt:
            schema["format"] = fmt
    elif kind == "object":
        properties: Schema = {}
        for key in value:
            if len(properties) >= limits.max_properties or budget[0] <= 0:
                schema[TRUNCATED] = True
                break
            properties[str(key)] = _infer(value[key], limits, depth + 1, budget)
        schema["properties"] = properties
        if properties:  # Draft 4: `required` is never empty
            schema["required"] = sorted(properties)
    elif kind == "array":
        items: Schema | None = None
        for item in value:
            if budget[0] <= 0:
                items = _open()
                break
            one = _infer(item, limits, depth + 1, budget)
            items = one if items is None else merge(items, one, limits)
        if items is not None:
            schema["items"] = items
    return schema


def _types(schema: Schema) -> set[str] | None:
    """The types a schema names (None: any value)."""
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def merge(a: Schema, b: Schema, limits: Limits = Limits()) -> Schema:
    """The narrowest schema of this vocabulary accepting what `a` or `b` accepts."""
    ta, tb = _types(a), _types(b)
    if ta is None or tb is None:  # one side accepts anything
        return _open() if a.get(TRUNCATED) or b.get(TRUNCATED) else {}
    types = ta | tb
    if "number" in types:
        types.discard("integer")
    ordered = [t for t in _ORDER if t in types]
    result: Schema = {"type": ordered[0] if len(ordered) == 1 else ordered}
    if "string" in types:
        fa = a.get("format") if "string" in ta else None
        fb = b.get("format") if "string" in tb else None
        if "string" in ta and "string" in tb:
            if fa is not None and fa == fb:
                result["format"] = fa
        elif fa or fb:
            result["format"] = fa or fb
    if "object" in types:
        _merge_object(result, a if "object" in ta else None, b if "object" in tb else None, limits)
    if "array" in types:
        ia = a.get("items") if "array" in ta else None
        ib = b.get("items") if "array" in tb else None
        if ia is not None and ib is not None:
            result["items"] = merge(ia, ib, limits)
        elif ia is not None or ib is not None:
            result["items"] = ia if ia is not None else ib
    if a.get(TRUNCATED) or b.get(TRUNCATED):
        result[TRUNCATED] = True
    return result


def _merge_object(result: Schema, a: Schema | None, b: Schema | None, limits: Limits) -> None:
    if a is None or b is None:
        one = a if a is not None else b
        assert one is not None
        result["properties"] = dict(one.get("properties", {}))
        if one.get("required"):
            result["required"] = list(one["required"])
        return
    pa, pb = a.get("properties", {}), b.get("properties", {})
    properties: Schema = {}
    truncated = False
    for key in (*pa, *(k for k in pb if k not in pa)):
        if len(properties) >= limits.max_properties:
            truncated = True
            break
        if key in pa and key in pb:
            properties[key] = merge(pa[key], pb[key], limits)
        else:
            properties[key] = pa[key] if key in pa else pb[key]
    required = set(a.get("required", ())) & set(b.get("required", ())) & set(properties)
    result["properties"] = properties
    if required:  # Draft 4: `required` is never empty
        result["required"] = sorted(required)
    if truncated:
        result[TRUNCATED] = True


def describes(schema: Schema, value: Any, limits: Limits = Limits()) -> bool:
    """Whether `merge(schema, infer(value, limits), limits) == schema` holds, answered
    without inferring (False where unsure: never True where the merge would change)."""
    return _describes(schema, value, limits, 0, [limits.max_nodes])


def _describes(schema: Schema, value: Any, limits: Limits, depth: int, budget: list[int]) -> bool:
    budget[0] -= 1
    if budget[0] < 0 or depth > limits.max_depth:
        return False  # the sample would be cut here: inferred, to mark it
    kind = schema.get("type")
    if kind is None:
        return False  # an open node: rare, and never worth the risk
    value_kind = _KINDS.get(value.__class__) or _kind(value)
    kinds = (kind,) if kind.__class__ is str else kind  # one type, or a list of them
    if value_kind not in kinds and (value_kind != "integer" or "number" not in kinds):
        return False
    if value_kind == "string":
        fmt = schema.get("format")
        return fmt is None or _format(value) == fmt
    if value_kind == "object":
        properties = schema.get("properties")
        if properties is None or len(properties) > limits.max_properties:
            return False
        for key in schema.get("required", ()):
            if key not in value:
                return False
        for key in value:
            if budget[0] <= 0:
                return False
            sub = properties.get(key)
            if sub is None or not _describes(sub, value[key], limits, depth + 1, budget):
                return False
        return True
    if value_kind == "array":
        if not value:
            return True
        items = schema.get("items")
        if items is None:
            return False
        for item in value:
            if budget[0] <= 0:
                return False
            if not _describes(items, item, limits, depth + 1, budget):
                return False
        return True
    return True
