"""The schema documents a code binding is made of: a JSON Schema (Draft 4) of an event's
detail, or an OpenAPI 3 document in the shape EventBridge's discovery gives, read into one;
the envelope put around the detail; what refuses a schema (a remote `$ref`, too deep a
nesting) as `BindingError`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "BindingError",
    "BindingSchema",
    "depth",
    "detail_schema_of",
    "envelope_schema",
    "walk",
]

#: The envelope around every detail. hookgate's own events (a jsonl sink, a local bus's
#: targets) have no `account` nor `region`; EventBridge adds them when it puts an event on a
#: bus, so the bindings take both.
_ENVELOPE: dict[str, Any] = {
    "version": {"type": "string"},
    "id": {"type": "string"},
    "detail-type": {"type": "string"},
    "source": {"type": "string"},
    "account": {"type": "string"},
    "time": {"type": "string", "format": "date-time"},
    "region": {"type": "string"},
    "resources": {"type": "array", "items": {"type": "string"}},
}
_ENVELOPE_REQUIRED = ["version", "id", "detail-type", "source", "time", "resources", "detail"]

_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")

#: How deep a schema may nest (schemas in schemas); deeper, no binding is made. EventBridge's
#: discovery stops at 255 levels of an event too.
MAX_DEPTH = 255


class BindingError(ValueError):
    """A schema that no binding can be made of (a remote `$ref`, a name that clashes)."""


@dataclass(frozen=True)
class BindingSchema:
    """What a binding is made of: the detail's JSON Schema and the names the event carries."""

    detail_schema: Mapping[str, Any]
    source: str
    detail_type: str
    version: str | None = None


def depth(schema: Any) -> int:
    """How deep `schema` nests, counted without recursion (a hostile schema may nest far)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, level)
            stack.extend((value, level + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, level) for value in node)
    return deepest


def walk(schema: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    """Call `visit` on `schema` and every schema inside it (in place)."""
    if not isinstance(schema, dict):
        return
    visit(schema)
    for key in ("properties", "patternProperties", "definitions"):
        if isinstance(schema.get(key), dict):
            for sub in schema[key].values():
                walk(sub, visit)
    for key in ("items", "additionalProperties", "additionalItems", "not"):
        walk(schema.get(key), visit)
    if isinstance(schema.get("items"), list):
        for sub in schema["items"]:
            walk(sub, visit)
    for key in _SUBSCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            for sub in schema[key]:
                walk(sub, visit)


def envelope_schema(detail_schema: Mapping[str, Any], detail_name: str) -> dict[str, Any]:
    """A Draft 4 schema of the whole event: the envelope, `detail` a `$ref` to `detail_name`.

    The detail's own definitions move next to it, and its local `$ref`s are rewritten to
    point into it; a remote `$ref` is refused (nothing is fetched)."""
    detail = copy.deepcopy(dict(detail_schema))
    for key in ("$schema", "id", "$id"):
        detail.pop(key, None)
    definitions: dict[str, Any] = detail.pop("definitions", None) or {}
    clash = {detail_name, "AWSEvent"} & set(definitions)
    if clash:
        raise BindingError(f"the detail schema defines {sorted(clash)[0]!r}, a name the envelope uses")

    def rewrite(schema: dict[str, Any]) -> None:
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return
        if not ref.startswith("#"):
            raise BindingError(f"remote $ref {ref!r}: only references inside the schema are followed")
        if not ref.startswith("#/definitions/"):
            schema["$ref"] = f"#/definitions/{detail_name}{ref[1:]}"

    walk(detail, rewrite)
    for sub in definitions.values():
        walk(sub, rewrite)
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "required": _ENVELOPE_REQUIRED,
        "properties": {**copy.deepcopy(_ENVELOPE), "detail": {"$ref": f"#/definitions/{detail_name}"}},
        "definitions": {detail_name: detail, **definitions},
    }


def detail_schema_of(document: Mapping[str, Any], name: str = "") -> BindingSchema:
    """The detail schema in `document`: an OpenAPI 3 schema shaped as EventBridge's discovery
    makes them (`components.schemas.AWSEvent`, whose `detail` is a `$ref`), or a JSON Schema
    of the detail itself, whose source and detail-type come from `name` (`source@DetailType`).
    """
    if depth(document) > MAX_DEPTH + 4:  # components, schemas, a schema, properties
        raise BindingError(f"the document nests deeper than {MAX_DEPTH} levels")
    schemas = document.get("components", {}).get("schemas") if "openapi" in document else None
    if not isinstance(schemas, Mapping):
        source, _, detail_type = name.partition("@")
        if not source or not detail_type:
            raise BindingError(f"{name!r} is no schema name of the form source@DetailType")
        return BindingSchema(document, source, detail_type)
    envelope = schemas.get("AWSEvent")
    if not isinstance(envelope, Mapping):
        raise BindingError("the OpenAPI document has no AWSEvent schema")
    ref = envelope.get("properties", {}).get("detail", {}).get("$ref", "")
    if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
        raise BindingError("the OpenAPI document's AWSEvent has no detail that is a $ref")
    detail_name = ref.removeprefix("#/components/schemas/")
    draft4: dict[str, Any] = copy.deepcopy(dict(schemas))

    def to_draft4(schema: dict[str, Any]) -> None:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            schema["$ref"] = "#/definitions/" + ref.removeprefix("#/components/schemas/")
        _nullable_to_type_list(schema)

    for sub in draft4.values():
        walk(sub, to_draft4)
    detail = draft4.pop(detail_name, None)
    if not isinstance(detail, dict):
        raise BindingError(f"the OpenAPI document does not define {detail_name!r}")
    draft4.pop("AWSEvent")
    if draft4:
        detail["definitions"] = draft4
    default_source, _, default_type = name.partition("@")
    return BindingSchema(
        detail,
        str(envelope.get("x-amazon-events-source") or default_source),
        str(envelope.get("x-amazon-events-detail-type") or default_type or detail_name),
    )


def _nullable_to_type_list(schema: dict[str, Any]) -> None:
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it."""
    if schema.pop("nullable", False) is not True:
        return
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    if "$ref" in schema:  # a $ref's siblings are ignored: the null goes beside it
        schema["anyOf"] = [{"$ref": schema.pop("$ref")}, {"type": "null"}]
