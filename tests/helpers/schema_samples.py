"""Events and their detail schemas for the code bindings' tests.

The events are the recorded fixtures of every connector, signed, verified, normalized and
wrapped in the envelope as the gateway stores them, plus two streams made here for what the
fixtures lack (reserved words and odd characters as keys, nested arrays, optional and
nullable fields, enums, maps, closed objects, `$ref`s; detail-types with spaces and dots).
Each (source, detail-type)'s detail schema is inferred with genson as JSON Schema Draft 4,
except one written by hand for the keywords inference never produces.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genson import SchemaBuilder  # type: ignore[import-untyped]  # genson ships no types

from gateway.events import build_event
from tests.catalogue import CATALOGUE
from tests.unit._fakes import NOW

__all__ = [
    "DETAIL_TYPE_NAMES",
    "REFUND_SCHEMA",
    "docs_example",
    "envelope",
    "events_by_group",
    "infer",
    "schemas",
]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas.md"


def docs_example(language: str) -> str:
    """The example in `language` (a fence's info string) of docs/schemas.md's Code bindings."""
    section = DOCS.read_text(encoding="utf-8").split("## Code bindings", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(rf"^```{language}\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    return str(example)


DRAFT4 = "http://json-schema.org/draft-04/schema#"
URL = "https://hooks.example.com/webhooks/"

Group = tuple[str, str]  # (source, detail-type)


def envelope(source: str, detail_type: str, detail: Any, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"0190f1a2-0000-7000-8000-{n:012d}",
        "detail-type": detail_type,
        "source": source,
        "time": "2026-11-28T10:00:00Z",
        "resources": [],
        "detail": detail,
        **extra,
    }


def _orders() -> list[dict[str, Any]]:
    """A stream whose keys are reserved words, odd strings, nested arrays, optional and nullable."""
    details: list[dict[str, Any]] = [
        {
            "object": "order",
            "type": "retail",
            "class": "A",
            "from": "shop",
            "import": True,
            "default": 1,
            "x-request-id": "r1",
            "2fa": False,
            "key with spaces": "yes",
            "amount": 10,
            "note": None,
            "matrix": [[1, 2], [3]],
            "lines": [{"sku": "a-1", "tags": [["red", "big"]], "qty": 1}],
            "shipping": {"to": "Main St", "eta": None},
            "cancelled_at": None,
        },
        {
            "object": "order",
            "type": "wholesale",
            "class": None,
            "from": "api",
            "import": False,
            "default": 2,
            "x-request-id": "r2",
            "2fa": True,
            "amount": 12.5,
            "note": "leave at door",
            "matrix": [],
            "lines": [
                {"sku": "b-2", "tags": [], "qty": 3, "discount": 0.1},
                {"sku": "c", "tags": [[]], "qty": 0},
            ],
            "shipping": None,
            "cancelled_at": "2026-11-28T11:00:00Z",
        },
        {
            "object": "order",
            "type": "retail",
            "class": "B",
            "from": "shop",
            "import": True,
            "default": 3,
            "x-request-id": "r3",
            "2fa": False,
            "amount": 7,
            "note": 3,
            "matrix": [[4]],
            "lines": [],
            "shipping": {"to": "Elm St", "eta": "2026-12-01"},
            "cancelled_at": None,
        },
    ]
    region = {"account": "123456789012", "region": "eu-west-1"}
    return [
        envelope("hookgate.acme", "order.line items.updated", d, i, **(region if i == 2 else {}))
        for i, d in enumerate(details)
    ]


#: A schema written by hand, for the keywords inference never produces.
REFUND_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT4,
    "type": "object",
    "required": ["status", "money", "labels", "meta", "point"],
    "properties": {
        "status": {"enum": ["pending", "succeeded", "failed"]},
        "code": {"enum": [1, 2, None]},
        "money": {"$ref": "#/definitions/Money"},
        "previous": {"anyOf": [{"$ref": "#/definitions/Money"}, {"type": "null"}]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "meta": {
            "type": "object",
            "properties": {"trace": {"type": "string"}},
            "additionalProperties": {"type": "integer"},
        },
        "point": {"type": "array", "items": [{"type": "number"}, {"type": "number"}]},
        "closed": {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "additionalProperties": False,
        },
        "either": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "both": {"allOf": [{"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}]},
        "nested": {"$ref": "#/properties/money"},
        "anything": {},
        # formats: only a date-time becomes a type of its own (pydantic), the others stay strings
        "created": {"type": "string", "format": "date-time"},
        "refund_id": {"type": "string", "format": "uuid"},
        "receipt_email": {"type": "string", "format": "email"},
        "receipt_url": {"type": "string", "format": "uri"},
    },
    "definitions": {
        "Money": {
            "type": "object",
            "required": ["amount", "currency"],
            "properties": {"amount": {"type": "integer"}, "currency": {"type": "string"}},
        }
    },
}


def _refunds() -> list[dict[str, Any]]:
    money = {"amount": 500, "currency": "eur"}
    details = [
        {
            "status": "succeeded",
            "code": 1,
            "money": money,
            "previous": None,
            "labels": {"reason": "damaged", "by": "ops"},
            "meta": {"trace": "t1", "retries": 2},
            "point": [1.5, 2],
            "closed": {"a": 1},
            "either": "one",
            "both": {"x": 1},
            "nested": money,
            "anything": [1, "two", None],
            "created": "2026-11-28T10:00:00+01:00",
            "refund_id": "9F8B2C44-0C5E-4A43-9D0B-3C1A3E0F4B7A",
            "receipt_email": "jenny.rosen@example.com",
            "receipt_url": "https://pay.example.com/receipts/r_1",
        },
        {
            "status": "pending",
            "code": None,
            "money": {"amount": 1, "currency": "usd"},
            "previous": money,
            "labels": {},
            "meta": {},
            "point": [0, 0],
            "either": ["a", "b"],
        },
    ]
    return [envelope("hookgate.acme", "Refund.Issued v2", d, 10 + i) for i, d in enumerate(details)]


def _fixtures() -> Iterator[dict[str, Any]]:
    """Every catalogue case's delivery as the gateway stores it."""
    for case in CATALOGUE.values():
        request = case.deliver(NOW, URL + case.key).request(URL + case.key)
        server = case.server()
        server.verify(request, NOW)
        for event in server.normalize(request):
            stored = build_event(
                event,
                NOW,
                source=case.key,
                connector=case.connector,
                event_source=f"hookgate.{case.connector}",
            )
            yield json.loads(stored.entry)


@functools.cache
def events_by_group() -> dict[Group, list[dict[str, Any]]]:
    groups: dict[Group, list[dict[str, Any]]] = {}
    for event in [*_fixtures(), *_orders(), *_refunds()]:
        groups.setdefault((event["source"], event["detail-type"]), []).append(event)
    return groups


def infer(details: list[Any]) -> dict[str, Any]:
    builder = SchemaBuilder(schema_uri=DRAFT4)
    for detail in details:
        builder.add_object(detail)
    schema: dict[str, Any] = builder.to_schema()
    return schema


@functools.cache
def schemas() -> dict[Group, dict[str, Any]]:
    """The detail schema of each group: inferred, except the hand-written refunds'."""
    found = {
        group: infer([e["detail"] for e in events])
        for group, events in events_by_group().items()
        if group != ("hookgate.acme", "Refund.Issued v2")
    }
    found["hookgate.acme", "Refund.Issued v2"] = REFUND_SCHEMA
    return found


#: Detail-types whose type names need care, and the names they get.
DETAIL_TYPE_NAMES = [
    ("2fa.enabled", "T2faEnabled"),
    ("AWS Event", "AWSEventDetail"),
    ("object", "Object"),
    ("é", "Anonymous"),
]
