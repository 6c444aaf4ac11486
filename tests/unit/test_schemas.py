"""Schema inference, export formats and compatibility rules (pure functions)."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_openapi

from gateway.schemas import (
    MODES,
    TRUNCATED,
    Limits,
    check,
    compile_check,
    decide,
    describes,
    detail_schema_name,
    diff,
    first_mismatch,
    infer,
    infer_many,
    merge,
    schema_name,
    to_draft4,
    to_openapi3,
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "2026-11-28T10:00:00Z",
            "a@example.com",
            "https://example.com/x",
            "0" * 8 + "-0000-0000-0000-" + "0" * 12,
        ]
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)


def envelope(detail: Any, detail_type: str = "payment_intent.succeeded") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0190d7a2-0000-7000-8000-000000000000",
        "detail-type": detail_type,
        "source": "hookgate.stripe",
        "time": "2026-11-28T10:00:00Z",
        "resources": [],
        "detail": detail,
    }


def assert_valid(schema: dict[str, Any], samples: list[Any]) -> None:
    """Every sample validates against the Draft 4 export and the OpenAPI export."""
    draft4 = to_draft4("hookgate.stripe", "payment_intent.succeeded", schema)
    jsonschema.Draft4Validator.check_schema(draft4)
    openapi = to_openapi3("hookgate.stripe", "payment_intent.succeeded", schema)
    validate_openapi(openapi)
    detail = openapi["components"]["schemas"]["PaymentIntentSucceeded"]
    for sample in samples:
        jsonschema.Draft4Validator(draft4).validate(envelope(sample))
        OAS30Validator(detail).validate(sample)


@settings(max_examples=150, deadline=None)
@given(st.lists(JSON, min_size=1, max_size=6))
def test_every_sample_validates_against_the_inferred_schema(samples: list[Any]) -> None:
    schema = infer_many(samples)
    assert schema is not None
    assert_valid(schema, samples)


@settings(max_examples=100, deadline=None)
@given(JSON, JSON, JSON)
def test_merge_is_order_independent_and_idempotent(a: Any, b: Any, c: Any) -> None:
    sa, sb, sc = infer(a), infer(b), infer(c)
    assert merge(merge(sa, sb), sc) == merge(sa, merge(sb, sc)) == merge(merge(sc, sa), sb)
    merged = merge(sa, sb)
    assert merge(merged, sa) == merged  # a sample already described changes nothing


SMALL = Limits(max_depth=2, max_properties=3, max_nodes=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON, min_size=1, max_size=4), JSON, st.booleans())
def test_describes_never_says_a_sample_fits_where_the_merge_would_change(
    samples: list[Any], other: Any, small: bool
) -> None:
    limits = SMALL if small else Limits()
    schema = infer_many(samples, limits)
    assert schema is not None
    for value in [*samples, other]:
        if describes(schema, value, limits):
            assert merge(schema, infer(value, limits), limits) == schema


@settings(max_examples=150, deadline=None)
@given(st.lists(JSON, min_size=1, max_size=6))
def test_describes_every_sample_of_a_schema_it_was_inferred_from(samples: list[Any]) -> None:
    schema = infer_many(samples)
    assert schema is not None
    assert all(describes(schema, sample) for sample in samples)  # nothing here is cut by the limits


def _closed(schema: Any) -> Any:
    """`schema` with every object closed (`additionalProperties: false`)."""
    if not isinstance(schema, dict):
        return schema
    found = {k: _closed(v) if k == "items" else v for k, v in schema.items()}
    if "properties" in schema:
        found["properties"] = {k: _closed(v) for k, v in schema["properties"].items()}
        found["additionalProperties"] = False
    return found


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON, min_size=1, max_size=4), st.lists(JSON, max_size=4), st.booleans())
def test_the_compiled_check_agrees_with_the_walk(samples: list[Any], others: list[Any], closed: bool) -> None:
    schema = infer_many(samples)
    assert schema is not None
    if closed:
        schema = _closed(schema)
    fits = compile_check(schema)
    for value in [*samples, *others]:
        assert fits(value) == (first_mismatch(schema, value) is None)


def test_the_compiled_check_refuses_what_the_walk_refuses() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "a": {"type": ["integer", "null"]},
            "l": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["l"],
    }
    fits = compile_check(schema)
    assert fits({"a": None, "l": ["x"], "extra": 1})
    assert not fits({"a": True, "l": []})  # a boolean is not an integer
    assert not fits({"a": 1})  # `l` is required
    assert not fits({"l": ["x", 2]})
    assert not fits({"l": [], "a": 1.5})
    assert not compile_check({**schema, "additionalProperties": False})({"l": [], "b": 1})
    assert compile_check({"type": "number"})(3)
    assert not compile_check({"type": "number"})(False)
    assert compile_check({})(object())
    untyped: dict[str, Any] = {
        "properties": {"a": {"properties": {"b": {"type": "string"}}}},
        "required": ["a"],
    }
    for value in ({"a": {"b": "x"}}, {"a": {"b": 1}}, {}, 3, {"a": 3}):
        assert compile_check(untyped)(value) == (first_mismatch(untyped, value) is None)


def test_inference_follows_the_rules_of_the_issue() -> None:
    schema = infer_many(
        [
            {"id": 1, "at": "2026-11-28T10:00:00Z", "tags": ["a", 1], "gone": None, "mail": "a@b.io", "n": 1},
            {"id": 2, "at": "2026-11-29T10:00:00.5+01:00", "tags": [], "mail": "c@d.io", "n": 1.5, "u": "x"},
        ]
    )
    assert schema == {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"type": ["integer", "string"]}},
            "gone": {"type": "null"},
            "mail": {"type": "string", "format": "email"},
            "n": {"type": "number"},
            "u": {"type": "string"},
        },
        "required": ["at", "id", "mail", "n", "tags"],
    }
    assert infer_many(["https://example.com/a", "not a uri"]) == {"type": "string"}  # not every sample
    assert infer("0190d7a2-0000-7000-8000-000000000000") == {"type": "string", "format": "uuid"}
    assert infer_many([True, None, {"a": 1}]) == {
        "type": ["boolean", "null", "object"],
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
    }


def test_openapi_export_has_eventbridge_discoverys_shape() -> None:
    schema = infer_many([{"amount": 1, "note": None, "kind": "a"}, {"amount": 2, "note": "x", "kind": 3}])
    assert schema is not None
    doc = to_openapi3("hookgate.stripe", "payment_intent.succeeded", schema)
    validate_openapi(doc)
    assert doc["openapi"] == "3.0.0"
    assert doc["paths"] == {}
    assert doc["info"] == {"version": "1.0.0", "title": "PaymentIntentSucceeded"}
    event = doc["components"]["schemas"]["AWSEvent"]
    assert event["x-amazon-events-source"] == "hookgate.stripe"
    assert event["x-amazon-events-detail-type"] == "payment_intent.succeeded"
    assert event["properties"]["detail"] == {"$ref": "#/components/schemas/PaymentIntentSucceeded"}
    assert event["properties"]["time"] == {"type": "string", "format": "date-time"}
    detail = doc["components"]["schemas"]["PaymentIntentSucceeded"]
    assert detail["properties"]["amount"] == {"type": "integer", "format": "int64"}
    assert detail["properties"]["note"] == {"type": "string", "nullable": True}
    assert detail["properties"]["kind"] == {
        "anyOf": [{"type": "integer", "format": "int64"}, {"type": "string"}]
    }
    draft4 = to_draft4("hookgate.stripe", "payment_intent.succeeded", schema)
    assert draft4["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert draft4["properties"]["detail"] == {"$ref": "#/definitions/PaymentIntentSucceeded"}


@pytest.mark.parametrize(
    ("detail_type", "expected"),
    [
        ("payment_intent.succeeded", "PaymentIntentSucceeded"),
        ("Step Functions Execution Status Change", "StepFunctionsExecutionStatusChange"),
        ("EC2 Instance State-change Notification", "EC2InstanceStateChangeNotification"),
        ("v1.billing.meter.error_report_triggered", "V1BillingMeterErrorReportTriggered"),
        ("...", "Detail"),
    ],
)
def test_names_follow_eventbridge(detail_type: str, expected: str) -> None:
    assert detail_schema_name(detail_type) == expected
    assert schema_name("hookgate.stripe", detail_type) == f"hookgate.stripe@{expected}"


# -- hostile payloads ---------------------------------------------------------------------


def _bounded(value: Any) -> tuple[dict[str, Any], float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    schema = infer(value)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return schema, elapsed, peak


def test_an_object_of_100k_keys_is_capped() -> None:
    value = {f"k{i}": i for i in range(100_000)}
    schema, elapsed, peak = _bounded(value)
    assert len(schema["properties"]) == Limits().max_properties
    assert schema[TRUNCATED] is True
    assert elapsed < 5.0  # generous: a shared machine; unbounded work would take minutes
    assert peak < 5_000_000
    jsonschema.Draft4Validator(schema).validate(value)  # unlisted properties are admitted


def test_10k_deep_nesting_is_capped() -> None:
    value: dict[str, Any] = {}
    node = value
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    schema, elapsed, peak = _bounded(value)
    depth, node = 0, schema
    while "properties" in node:
        node, depth = node["properties"]["a"], depth + 1
    assert depth == Limits().max_depth + 1
    assert node == {TRUNCATED: True}
    assert elapsed < 5.0  # generous: a shared machine; unbounded work would take minutes
    assert peak < 1_000_000
    assert merge(schema, schema) == schema
    jsonschema.Draft4Validator(schema).validate(value)  # the validator stops where the schema does


def test_the_fit_check_and_the_compiled_check_stay_bounded_on_hostile_payloads() -> None:
    wide = {f"k{i}": i for i in range(100_000)}
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    long = {"s": "x" * 5_000_000, "t": "2026-11-28T10:00:00Z" + " " * 3000}
    for value in (wide, deep, long):
        schema = infer(value)
        started = time.perf_counter()
        assert compile_check(schema)(value)  # the schema's depth bounds the check, not the value's
        fits = describes(schema, value)
        assert time.perf_counter() - started < 2.0
        assert fits == (value is long)  # a cut sample is inferred again, to keep its mark
    dated = infer({"t": "2026-11-28T10:00:00Z"})
    assert not describes(dated, long)  # a 5 MB string is never scanned for a format


def test_a_5mb_string_is_not_scanned() -> None:
    schema, elapsed, _ = _bounded({"s": "x" * 5_000_000, "t": "2026-11-28T10:00:00Z" + " " * 3000})
    assert schema["properties"] == {"s": {"type": "string"}, "t": {"type": "string"}}
    assert elapsed < 1.0


def test_a_huge_array_stays_within_the_node_budget() -> None:
    value = [{"a": i, "b": [i] * 10} for i in range(50_000)]
    schema, elapsed, _ = _bounded(value)
    assert schema["items"][TRUNCATED] is True
    assert elapsed < 5.0
    jsonschema.Draft4Validator(schema).validate(value)


# -- compatibility ------------------------------------------------------------------------

OPEN: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
CLOSED: dict[str, Any] = {**OPEN, "additionalProperties": False}


def kinds(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(c.kind, c.compatible) for c in diff(old, new)]


def test_confluent_rules_for_open_and_closed_content_models() -> None:
    added = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a"],
    }
    assert kinds(OPEN, added) == [("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", False)]
    assert kinds(CLOSED, {**added, "additionalProperties": False}) == [
        ("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", True)
    ]
    assert kinds(CLOSED, {**added, "required": ["a", "b"], "additionalProperties": False}) == [
        ("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", False)
    ]
    assert kinds(added, OPEN) == [("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", True)]
    assert kinds({**added, "additionalProperties": False}, CLOSED) == [
        ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", False)
    ]
    any_added = {**OPEN, "properties": {**OPEN["properties"], "x": {}}}
    assert kinds(OPEN, any_added) == [("PROPERTY_ADDED_IS_COVERED_BY_OPEN_CONTENT_MODEL", True)]
    optional = {k: v for k, v in OPEN.items() if k != "required"}
    assert kinds(OPEN, optional) == [("REQUIRED_ATTRIBUTE_REMOVED", True)]
    assert kinds(optional, OPEN) == [("REQUIRED_ATTRIBUTE_ADDED", False)]
    assert kinds(OPEN, CLOSED) == [("ADDITIONAL_PROPERTIES_REMOVED", False)]
    assert kinds(CLOSED, OPEN) == [("ADDITIONAL_PROPERTIES_ADDED", True)]


def test_type_changes() -> None:
    assert kinds({"type": "integer"}, {"type": "number"}) == [("TYPE_EXTENDED", True)]
    assert kinds({"type": "number"}, {"type": "integer"}) == [("TYPE_NARROWED", False)]
    assert kinds({"type": "string"}, {"type": ["null", "string"]}) == [("TYPE_EXTENDED", True)]
    assert kinds({"type": ["null", "string"]}, {"type": "string"}) == [("TYPE_NARROWED", False)]
    assert kinds({"type": "string"}, {"type": "boolean"}) == [("TYPE_CHANGED", False)]
    assert kinds({"type": "string", "format": "uuid"}, {"type": "string"}) == [("FORMAT_REMOVED", True)]
    assert kinds({"type": "string"}, {"type": "string", "format": "uuid"}) == [("FORMAT_ADDED", False)]
    nested_old = {"type": "object", "properties": {"o": {"type": "array", "items": {"type": "integer"}}}}
    nested_new = {"type": "object", "properties": {"o": {"type": "array", "items": {"type": "string"}}}}
    [change] = diff(nested_old, nested_new)
    assert (change.kind, change.path) == ("TYPE_CHANGED", "/o/items")


def test_modes() -> None:
    v1 = OPEN
    v2 = {k: v for k, v in OPEN.items() if k != "required"}  # a is no longer always present
    v3 = {**v2, "properties": {**v2["properties"], "b": {"type": "integer"}}}  # b appears
    assert check("NONE", [v1], v3).compatible
    assert check("BACKWARD", [v1], v2).compatible
    assert not check("FORWARD", [v1], v2).compatible
    assert not check("FULL", [v1], v2).compatible
    assert not check("BACKWARD", [v2], v3).compatible
    assert check("FORWARD", [v2], v3).compatible
    # transitive modes look at every earlier version, the others at the latest only
    v4 = {**v3, "properties": {**v3["properties"], "a": {"type": ["integer", "string"]}}}
    assert check("FORWARD", [v3], v3).compatible
    assert not check("BACKWARD_TRANSITIVE", [v2, v3], v4).compatible  # b is new since v2
    assert check("BACKWARD", [v2, v3], v4).compatible
    assert set(MODES) == {
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    }


def test_a_stream_where_fields_appear_disappear_and_change_type() -> None:
    """Versions are made only when the schema changes in substance, with the verdicts
    each mode gives."""
    stream = [
        {"id": "a", "amount": 1},
        {"id": "b", "amount": 2},  # fits v1
        {"id": "c", "amount": 3, "coupon": "x"},  # a field appears → v2
        {"id": "d", "amount": 4},  # fits v2 (coupon is optional there)
        {"amount": 5},  # id disappears → v3
        {"id": "e", "amount": 6.5},  # amount becomes a number → v4
        {"id": None, "amount": 7},  # id becomes nullable → v5
        {"id": "f", "amount": 8},  # fits v5
    ]
    versions: list[dict[str, Any]] = []
    made: list[tuple[int, bool, bool]] = []
    for payload in stream:
        decision = decide(versions, "BACKWARD", infer(payload), max_versions=10)
        if decision.content is not None:
            assert decision.verdict is not None
            assert decision.version is not None
            versions.append(decision.content)
            made.append(
                (
                    decision.version,
                    decision.verdict.compatible,
                    check("FORWARD", versions[:-1], versions[-1]).compatible,
                )
            )
        for earlier, schema in enumerate(versions):
            if earlier == len(versions) - 1:
                jsonschema.Draft4Validator(schema).validate(payload)
    assert made == [
        (1, True, True),
        (2, False, True),  # a property added to an open model breaks BACKWARD
        (3, True, False),  # a property no longer required breaks FORWARD
        (4, True, False),  # integer → number extends the type
        (5, True, False),  # string → string|null extends the type
    ]
    assert decide(versions, "BACKWARD", infer({"id": "g", "amount": 9}), max_versions=10).version == 5
    full = decide(versions, "BACKWARD", infer({"id": True, "amount": 9}), max_versions=5)
    assert full.overflow
    assert full.version is None
