"""Code bindings (`gateway.schemas.bindings`) of schemas inferred from real events.

The events are the recorded fixtures of every connector, signed, verified, normalized and
wrapped in the envelope as the gateway stores them, plus two streams made here for what the
fixtures lack (reserved words and odd characters as keys, nested arrays, optional and
nullable fields, enums, maps, closed objects, `$ref`s; detail-types with spaces and dots).
Each (source, detail-type)'s detail schema is inferred with genson as JSON Schema Draft 4.
Every Python style is imported and parses every event of its type (and refuses a broken
one); the TypeScript is type-checked by `tsc --strict`, and a program using it is compiled
and run with node.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import pytest
from click.testing import CliRunner
from genson import SchemaBuilder  # type: ignore[import-untyped]  # genson ships no types

from gateway.errors import MissingExtraError
from gateway.events import build_event
from gateway.schemas.bindings import (
    STYLES,
    BindingError,
    Language,
    Style,
    bindings,
    bindings_command,
    detail_schema_of,
    generate_bindings,
    package_path,
    write_bindings,
)
from tests.catalogue import CATALOGUE
from tests.helpers.typescript import require_node, require_tsc
from tests.unit._fakes import NOW

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


def test_the_events_cover_every_connector_and_fit_their_schemas() -> None:
    groups = events_by_group()
    assert {source for source, _ in groups} >= {f"hookgate.{c.connector}" for c in CATALOGUE.values()}
    assert len(groups) >= 40
    for group, events in groups.items():
        validator = jsonschema.Draft4Validator(schemas()[group])
        jsonschema.Draft4Validator.check_schema(schemas()[group])
        for event in events:
            validator.validate(event["detail"])


@pytest.fixture
def importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for generated packages, forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m == "schema" or m.startswith("schema.")]:
        del sys.modules[name]


def broken(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "detail": "not an object"}


def without_nulls(value: Any) -> Any:
    """What a dataclass keeps of optional fields: a null and an absent key are both None."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("style", STYLES)
def test_python_bindings_parse_every_event_of_their_type(style: Style, importable: Path) -> None:
    parsed = 0
    for (source, detail_type), schema in schemas().items():
        files = generate_bindings(
            schema, source=source, detail_type=detail_type, language="python", style=style
        )
        write_bindings(files, importable)
        importlib.invalidate_caches()
        module = importlib.import_module(".".join(package_path(source, detail_type).parts))
        for event in events_by_group()[source, detail_type]:
            where = f"{source} {detail_type!r} {event['id']}"
            obj = module.from_event(copy.deepcopy(event))
            assert module.parse(json.dumps(event)) == obj, where
            back = module.to_event(obj)
            if style in ("dataclasses", "msgspec") and detail_type == "Refund.Issued v2":
                # a dataclass or a Struct has its declared fields only: `meta`'s others go
                assert back["detail"]["meta"] == {
                    k: v for k, v in event["detail"]["meta"].items() if k == "trace"
                }
                back["detail"]["meta"] = event["detail"]["meta"]
            if style == "dataclasses":
                assert without_nulls(back) == without_nulls(event), where
            else:
                assert back == event, where
            if style == "typeddict":
                assert obj["detail-type"] == detail_type
            else:
                assert obj.detail_type == detail_type
                assert type(obj.detail).__name__ == type_name_of(module)
            parsed += 1
            with pytest.raises(ValueError, match="detail"):  # every style's error is a ValueError
                module.from_event(broken(event))
    assert parsed == sum(len(events) for events in events_by_group().values())


def type_name_of(module: Any) -> str:
    [name] = [n for n in module.__all__ if n not in {"AWSEvent", "from_event", "parse", "to_event"}]
    return str(name)


def test_the_reserved_words_are_fields_under_their_json_names(importable: Path) -> None:
    group = ("hookgate.acme", "order.line items.updated")
    first = events_by_group()[group][0]
    files = generate_bindings(schemas()[group], source=group[0], detail_type=group[1], language="python")
    write_bindings(files, importable)
    importlib.invalidate_caches()
    module = importlib.import_module("schema.hookgate.acme.orderlineitemsupdated")
    event = module.from_event(first)
    detail = event.detail
    assert (detail.object, detail.type, detail.class_, detail.from_, detail.import_) == (
        "order",
        "retail",
        "A",
        "shop",
        True,
    )
    assert detail.x_request_id == "r1"
    assert detail.lines[0].tags == [["red", "big"]]
    assert detail.matrix == [[1, 2], [3]]
    assert detail.shipping.eta is None
    assert event.account is None  # hookgate's own envelope has none; EventBridge's has one
    assert module.from_event(events_by_group()[group][2]).region == "eu-west-1"
    assert type(detail).__name__ == "OrderLineItemsUpdated"


def test_the_typescript_bindings_type_check_and_a_program_using_them_runs(tmp_path: Path) -> None:
    tsc = require_tsc()
    node = require_node()
    imports: list[str] = []
    checks: list[str] = []
    for i, ((source, detail_type), schema) in enumerate(schemas().items()):
        files = generate_bindings(schema, source=source, detail_type=detail_type, language="typescript")
        [(path, _)] = files.items()
        write_bindings(files, tmp_path)
        imports.append(f'import * as b{i} from "./{path.removesuffix(".ts")}";')
        events = events_by_group()[source, detail_type]
        name = json.dumps(f"{source} {detail_type}")
        checks.append(f"check({name}, {json.dumps(events)}, b{i}.isAWSEvent, b{i}.parse);")
    for detail_type, _ in DETAIL_TYPE_NAMES:  # type names that are TypeScript's built-in ones
        schema = {"type": "object", "properties": {"object": {"type": "object", "properties": {}}}}
        write_bindings(
            generate_bindings(schema, source="acme", detail_type=detail_type, language="typescript"), tmp_path
        )
    bindings_files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.ts"))
    strict = [tsc, "--strict", "--noEmit", "--noUnusedLocals", "--target", "es2017"]
    result = subprocess.run(
        [*strict, *bindings_files], check=False, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr

    program = tmp_path / "main.ts"
    program.write_text(
        "\n".join(imports)
        + """
import { OrderLineItemsUpdated } from "./schema/hookgate/acme/orderlineitemsupdated/index";
import * as refunds from "./schema/hookgate/acme/refundissuedv2/index";

let total = 0;
type Guard = (v: unknown) => boolean;
function check(name: string, events: unknown[], guard: Guard, parse: (t: string) => unknown) {
  for (const event of events) {
    if (!guard(event)) throw new Error(`${name}: the guard refused an event`);
    parse(JSON.stringify(event));
    const broken = { ...(event as object), detail: "not an object" };
    if (guard(broken)) throw new Error(`${name}: the guard took a broken event`);
    total += 1;
  }
}
"""
        + "\n".join(checks)
        + """
const order: OrderLineItemsUpdated = b0_orders();
function b0_orders(): OrderLineItemsUpdated {
  return {
    object: "order", type: "retail", class: null, from: "shop", import: true, default: 1,
    "x-request-id": "r", "2fa": false, amount: 1, note: null, matrix: [[1]],
    lines: [{ sku: "a", tags: [["x"]], qty: 1 }], shipping: null, cancelled_at: null,
  };
}
const refund: refunds.RefundIssuedV2 = {
  status: "failed", money: { amount: 1, currency: "eur" }, labels: { a: "b" },
  meta: { trace: "t", n: 1 }, point: [1, 2],
};
const closed = { ...refund, closed: { a: 1, b: 2 } };
if (refunds.isRefundIssuedV2(closed)) throw new Error("a closed object took an extra key");
const badMap = { ...refund, labels: { a: 1 } };
if (refunds.isRefundIssuedV2(badMap)) throw new Error("a map took a value of the wrong type");
const badEnum = { ...refund, status: "unknown" };
if (refunds.isRefundIssuedV2(badEnum)) throw new Error("an enum took another value");
console.log(`${total} ${order.class} ${order["x-request-id"]} ${refund.money.currency}`);
"""
    )
    compiled = subprocess.run(
        [tsc, "--strict", "--target", "es2017", "--module", "commonjs", "--outDir", "out", "main.ts"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    ran = subprocess.run(
        [node, "out/main.js"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    total = sum(len(events) for events in events_by_group().values())
    assert ran.stdout.split() == [str(total), "null", "r", "eur"]


def test_a_typescript_binding_quotes_keys_and_names_types_apart() -> None:
    [text] = generate_bindings(
        schemas()["hookgate.acme", "order.line items.updated"],
        source="hookgate.acme",
        detail_type="order.line items.updated",
        language="typescript",
    ).values()
    assert '  "x-request-id": string;' in text
    assert '  "2fa": boolean;' in text
    assert "  class: string | null;" in text
    assert "  import: boolean;" in text
    assert "  from: string;" in text
    assert '  "key with spaces"?: string;' in text  # absent from some events
    assert "  note: number | string | null;" in text
    assert "  matrix: number[][];" in text
    assert "  lines: LinesItem[];" in text
    assert "  shipping: Shipping | null;" in text
    assert "  tags: string[][];" in text
    assert "export interface AWSEvent {" in text
    assert "export function isOrderLineItemsUpdated(value: unknown): value is OrderLineItemsUpdated" in text


# -- the command and its inputs ----------------------------------------------------------


#: The shape EventBridge's discovery gives a schema (its user guide's example, cut down).
OPENAPI = {
    "openapi": "3.0.0",
    "info": {"version": "1.0.0", "title": "StepFunctionsExecutionStatusChange"},
    "paths": {},
    "components": {
        "schemas": {
            "AWSEvent": {
                "type": "object",
                "required": [
                    "detail-type",
                    "resources",
                    "detail",
                    "id",
                    "source",
                    "time",
                    "region",
                    "version",
                    "account",
                ],
                "x-amazon-events-detail-type": "Step Functions Execution Status Change",
                "x-amazon-events-source": "aws.states",
                "properties": {
                    "detail": {"$ref": "#/components/schemas/StepFunctionsExecutionStatusChange"},
                    "account": {"type": "string"},
                    "detail-type": {"type": "string"},
                    "id": {"type": "string"},
                    "region": {"type": "string"},
                    "resources": {"type": "array", "items": {"type": "string"}},
                    "source": {"type": "string"},
                    "time": {"type": "string", "format": "date-time"},
                    "version": {"type": "string"},
                },
            },
            "StepFunctionsExecutionStatusChange": {
                "type": "object",
                "required": ["executionArn", "status", "input"],
                "properties": {
                    "executionArn": {"type": "string"},
                    "status": {"type": "string"},
                    "input": {"type": "string", "nullable": True},
                    "cause": {"$ref": "#/components/schemas/Cause"},
                },
            },
            "Cause": {"type": "object", "properties": {"code": {"type": "integer"}}},
        }
    },
}


def test_the_command_reads_an_eventbridge_openapi_export(tmp_path: Path, importable: Path) -> None:
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(OPENAPI))
    result = CliRunner().invoke(
        bindings,
        [
            "aws.states@StepFunctionsExecutionStatusChange",
            "--language",
            "python",
            "--style",
            "dataclasses",
            "--schema-file",
            str(schema_file),
            "-o",
            str(importable),
        ],
    )
    assert result.exit_code == 0, result.output
    package = importable / "schema" / "aws" / "states" / "stepfunctionsexecutionstatuschange"
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "_marshal.py", "models.py"]
    assert str(package / "models.py") in result.output.splitlines()
    importlib.invalidate_caches()
    module = importlib.import_module("schema.aws.states.stepfunctionsexecutionstatuschange")
    event = envelope(
        "aws.states",
        "Step Functions Execution Status Change",
        {"executionArn": "arn:x", "status": "RUNNING", "input": None, "cause": {"code": 3}},
        1,
        account="123456789012",
        region="us-east-1",
    )
    parsed = module.from_event(event)
    assert (parsed.detail.execution_arn, parsed.detail.input, parsed.detail.cause.code) == ("arn:x", None, 3)
    assert module.to_event(parsed) == {**event, "detail": {**event["detail"]}}
    with pytest.raises(ValueError, match=r"\$\.detail: missing 'status'"):
        module.from_event({**event, "detail": {"executionArn": "a", "input": None}})


def test_the_command_reads_a_draft4_detail_schema_named_by_name(tmp_path: Path) -> None:
    schema_file = tmp_path / "detail.json"
    schema_file.write_text(json.dumps(REFUND_SCHEMA))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        bindings,
        [
            "hookgate.acme@RefundIssued",
            "--language",
            "typescript",
            "--schema-file",
            str(schema_file),
            "--version",
            "3",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    text = (out / "schema" / "hookgate" / "acme" / "refundissued" / "index.ts").read_text()
    assert "version 3" in text.splitlines()[0]
    assert "export interface RefundIssued {" in text


def test_the_command_takes_a_registry_when_one_is_wired(tmp_path: Path) -> None:
    asked: list[tuple[str | None, str, str | None]] = []

    def fetch(config: str | None, name: str, version: str | None) -> Any:
        asked.append((config, name, version))
        return detail_schema_of(OPENAPI)

    command = bindings_command(fetch)
    result = CliRunner().invoke(
        command, ["aws.states@X", "--language", "typescript", "--version", "2", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert asked == [(None, "aws.states@X", "2")]
    assert (tmp_path / "schema/aws/states/stepfunctionsexecutionstatuschange/index.ts").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["acme@X", "--language", "python"], "no schema registry here"),
        (["no-at-sign", "--language", "python", "--schema-file", "{file}"], "source@DetailType"),
        (["a@B", "--language", "cobol", "--schema-file", "{file}"], "'cobol' is not one of"),
    ],
)
def test_the_command_refuses_what_it_cannot_bind(tmp_path: Path, args: list[str], message: str) -> None:
    schema_file = tmp_path / "detail.json"
    schema_file.write_text(json.dumps({"type": "object"}))
    argv = [a.replace("{file}", str(schema_file)) for a in args] + ["-o", str(tmp_path / "out")]
    result = CliRunner().invoke(bindings, argv)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_a_remote_ref_is_refused_and_nothing_is_fetched() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}
    with pytest.raises(BindingError, match="remote \\$ref"):
        generate_bindings(schema, source="s", detail_type="t", language="typescript")


def test_bindings_are_written_inside_the_output_directory_only(tmp_path: Path) -> None:
    with pytest.raises(BindingError, match="outside"):
        write_bindings({"../escape.py": ""}, tmp_path / "out")
    with pytest.raises(BindingError, match="outside"):
        write_bindings({"/abs.py": ""}, tmp_path / "out")
    assert not (tmp_path / "escape.py").exists()


def test_python_bindings_without_the_extra_name_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datamodel_code_generator", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'hookgate\[schemas\]'"):
        generate_bindings({"type": "object"}, source="s", detail_type="t", language="python")
    # TypeScript needs no extra
    assert generate_bindings({"type": "object"}, source="s", detail_type="t", language="typescript")


def test_package_paths_are_importable_names() -> None:
    assert str(package_path("hookgate.stripe", "payment_intent.succeeded")) == (
        "schema/hookgate/stripe/paymentintentsucceeded"
    )
    assert str(package_path("aws.partner-mongodb.com/1234567-tickets", "Ticket Created")) == (
        "schema/aws/partner_mongodb/com_1234567_tickets/ticketcreated"
    )
    assert str(package_path("acme.import", "2fa.enabled")) == "schema/acme/_import/t2faenabled"


DETAIL_TYPE_NAMES = [
    ("2fa.enabled", "T2faEnabled"),
    ("AWS Event", "AWSEventDetail"),
    ("object", "Object"),
    ("é", "Anonymous"),
]


@pytest.mark.parametrize(("detail_type", "class_name"), DETAIL_TYPE_NAMES)
@pytest.mark.parametrize("language", ["python", "typescript"])
def test_every_detail_type_names_a_type(
    detail_type: str, class_name: str, language: Language, importable: Path
) -> None:
    schema = {"type": "object", "properties": {"class": {"type": "string"}}, "required": ["class"]}
    files = generate_bindings(schema, source="acme", detail_type=detail_type, language=language)
    if language == "python":
        write_bindings(files, importable)
        importlib.invalidate_caches()
        module = importlib.import_module(".".join(package_path("acme", detail_type).parts))
        assert module.__all__ == ["AWSEvent", class_name, "from_event", "parse", "to_event"]
        event = module.from_event(envelope("acme", detail_type, {"class": "x"}, 1))
        assert type(event.detail) is getattr(module, class_name)
        assert event.detail.class_ == "x"
    else:
        [text] = files.values()
        assert f"export interface {class_name} {{" in text
        assert f"  detail: {class_name};" in text
