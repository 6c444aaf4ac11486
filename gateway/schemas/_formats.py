"""Names and export formats: OpenAPI 3.0 in the shape EventBridge's discovery writes, and
JSON Schema Draft 4.

Both describe the whole envelope as `AWSEvent`, with `x-amazon-events-source` and
`x-amazon-events-detail-type`, and its `detail` as a reference to the detail's schema,
named after the detail-type in PascalCase (`payment_intent.succeeded` →
`PaymentIntentSucceeded`). EventBridge requires `account` and `region` too, which it adds
when an event is put; hookgate's stored envelope has neither, so they are listed but not
required (`trace-header`, which hookgate may add, likewise).

The stored schemas use JSON Schema's vocabulary (`type` lists, the type `null`), which is
Draft 4 as it stands. OpenAPI 3.0 has neither: a nullable type becomes `nullable: true`,
several types an `anyOf` of one schema per type (each nullable if null is one), `null`
alone `{}` (EventBridge's own rendering of a null), and an integer `format: int64` as
EventBridge writes it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

__all__ = [
    "DRAFT4",
    "FORMATS",
    "ExportFormat",
    "detail_schema_name",
    "envelope_schema",
    "schema_name",
    "to_draft4",
    "to_openapi3",
    "to_openapi_schema",
]

Schema = dict[str, Any]
ExportFormat = Literal["openapi3", "jsonschema-draft4"]
#: The export formats, by their command-line name.
FORMATS: tuple[ExportFormat, ...] = ("openapi3", "jsonschema-draft4")
DRAFT4 = "http://json-schema.org/draft-04/schema#"

_WORD = re.compile(r"[A-Za-z0-9]+")
#: The envelope keys every stored event has.
_ENVELOPE_REQUIRED = ("detail", "detail-type", "id", "resources", "source", "time", "version")


def detail_schema_name(detail_type: str) -> str:
    """The detail-type in PascalCase: each word's first letter upper-cased, the rest kept,
    separators dropped (`Step Functions Execution Status Change` →
    `StepFunctionsExecutionStatusChange`)."""
    words = _WORD.findall(detail_type)
    name = "".join(w[0].upper() + w[1:] for w in words)
    return name or "Detail"


def schema_name(event_source: str, detail_type: str) -> str:
    """`<source>@<DetailTypeInPascalCase>`, as EventBridge names discovered schemas."""
    return f"{event_source}@{detail_schema_name(detail_type)}"


def envelope_schema(event_source: str, detail_type: str, detail_ref: str) -> Schema:
    """The `AWSEvent` schema, its `detail` a `$ref` to `detail_ref`."""
    string: Schema = {"type": "string"}
    return {
        "type": "object",
        "required": list(_ENVELOPE_REQUIRED),
        "x-amazon-events-detail-type": detail_type,
        "x-amazon-events-source": event_source,
        "properties": {
            "detail": {"$ref": detail_ref},
            "account": string,
            "detail-type": string,
            "id": string,
            "region": string,
            "resources": {"type": "array", "items": string},
            "source": string,
            "time": {"type": "string", "format": "date-time"},
            "version": string,
            "trace-header": string,
        },
    }


def to_openapi3(event_source: str, detail_type: str, detail: Schema) -> Schema:
    """The OpenAPI 3.0 document EventBridge's discovery would write for this schema."""
    name = detail_schema_name(detail_type)
    return {
        "openapi": "3.0.0",
        "info": {"version": "1.0.0", "title": name},
        "paths": {},
        "components": {
            "schemas": {
                "AWSEvent": envelope_schema(event_source, detail_type, f"#/components/schemas/{name}"),
                name: to_openapi_schema(detail),
            }
        },
    }


def to_draft4(event_source: str, detail_type: str, detail: Schema) -> Schema:
    """The same as one JSON Schema Draft 4 document (the detail under `definitions`)."""
    name = detail_schema_name(detail_type)
    envelope = envelope_schema(event_source, detail_type, f"#/definitions/{name}")
    return {"$schema": DRAFT4, "title": "AWSEvent", **envelope, "definitions": {name: detail}}


def to_openapi_schema(schema: Schema) -> Schema:
    """A stored (Draft 4 vocabulary) schema as an OpenAPI 3.0 Schema Object."""
    kind = schema.get("type")
    extras = {k: v for k, v in schema.items() if k.startswith("x-")}
    if kind is None:
        return extras
    types = [kind] if isinstance(kind, str) else list(kind)
    nullable = "null" in types
    types = [t for t in types if t != "null"]
    if not types:
        return extras
    # `nullable` qualifies the `type` beside it, so each branch of an anyOf carries it.
    branches = [{**_one_type(t, schema), **({"nullable": True} if nullable else {})} for t in types]
    return {**branches[0], **extras} if len(branches) == 1 else {"anyOf": branches, **extras}


def _one_type(kind: str, schema: Schema) -> Schema:
    result: Schema = {"type": kind}
    if kind == "integer":
        result["format"] = "int64"
    elif kind == "string" and "format" in schema:
        result["format"] = schema["format"]
    elif kind == "object":
        properties = schema.get("properties", {})
        result["properties"] = {k: to_openapi_schema(v) for k, v in properties.items()}
        if schema.get("required"):
            result["required"] = list(schema["required"])
        if "additionalProperties" in schema:
            result["additionalProperties"] = schema["additionalProperties"]
    elif kind == "array" and "items" in schema:
        result["items"] = to_openapi_schema(schema["items"])
    elif kind == "array":
        result["items"] = {}
    return result
