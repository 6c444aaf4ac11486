"""Code bindings (`gateway.schemas.bindings`) of schemas inferred from real events
(`tests.helpers.schema_samples`: every connector's fixtures and two streams made up for
what they lack). Every Python style is imported and parses every event of its type, and
refuses a broken one; the command reads an EventBridge OpenAPI export or a Draft 4 schema.
The TypeScript compiler's checks are end-to-end tests (`tests/e2e/`).
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import pytest
from click.testing import CliRunner

from gateway.errors import MissingExtraError
from gateway.schemas.bindings import (
    MAX_DEPTH,
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
from tests.helpers.schema_samples import (
    DETAIL_TYPE_NAMES,
    REFUND_SCHEMA,
    docs_example,
    envelope,
    events_by_group,
    schemas,
)


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
            if detail_type == "Refund.Issued v2" and "created" in event["detail"]:
                created = obj["detail"]["created"] if style == "typeddict" else obj.detail.created
                assert isinstance(created, datetime if style == "pydantic" else str)
                refund_id = obj["detail"]["refund_id"] if style == "typeddict" else obj.detail.refund_id
                assert refund_id == event["detail"]["refund_id"]  # as it came, upper case
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
                    "cause": {"$ref": "#/components/schemas/Cause", "nullable": True},
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
    assert module.from_event({**event, "detail": {**event["detail"], "cause": None}}).detail.cause is None
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
    assert text.splitlines()[0].endswith('"hookgate.acme" "RefundIssued" version "3".')
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


NOT_A_SCHEMA = {"type": "object", "properties": {"a": {"type": "array", "items": "x"}}}


@pytest.mark.parametrize(
    ("args", "schema", "message"),
    [
        (["acme@X", "--language", "python"], {}, "no schema registry here"),
        (["no-at-sign", "--language", "python", "--schema-file", "{file}"], {}, "source@DetailType"),
        (["a@B", "--language", "cobol", "--schema-file", "{file}"], {}, "'cobol' is not one of"),
        (["a@B", "--language", "python", "--schema-file", "{file}"], NOT_A_SCHEMA, "no Python models"),
        (["a@B", "--language", "python", "--schema-file", "{file}"], [], "holds no JSON object"),
        (
            ["a@B", "--language", "python", "--schema-file", "{file}"],
            {"openapi": "3.0.0", "components": {"schemas": {"AWSEvent": {"properties": {}}}}},
            "has no detail that is a $ref",
        ),
    ],
)
def test_the_command_refuses_what_it_cannot_bind(
    tmp_path: Path, args: list[str], schema: Any, message: str
) -> None:
    schema_file = tmp_path / "detail.json"
    schema_file.write_text(json.dumps(schema))
    argv = [a.replace("{file}", str(schema_file)) for a in args] + ["-o", str(tmp_path / "out")]
    result = CliRunner().invoke(bindings, argv)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
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


def test_the_docs_python_example_runs(importable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    group = ("hookgate.stripe", "invoice.paid")
    files = generate_bindings(schemas()[group], source=group[0], detail_type=group[1], language="python")
    write_bindings(files, importable)
    importlib.invalidate_caches()
    [event] = events_by_group()[group]
    exec(docs_example("python"), {"body": json.dumps(event)})  # noqa: S102 - the docs' own example
    assert (
        capsys.readouterr().out
        == f"invoice.paid {event['detail']['payload']['data']['object']['amount_paid']}\n"
    )


@pytest.mark.parametrize("style", STYLES)
def test_a_detail_that_is_no_object_and_names_that_are_no_names(style: Style, importable: Path) -> None:
    source, detail_type = 'acme"""\n.x', 'say """hello"""\\'
    files = generate_bindings(
        {"type": "string"}, source=source, detail_type=detail_type, language="python", style=style
    )
    write_bindings(files, importable)
    importlib.invalidate_caches()
    module = importlib.import_module(".".join(package_path(source, detail_type).parts))
    doc = str(module.__doc__)
    assert detail_type in doc  # quoted and escaped in the source, whole in the text
    assert source in doc
    event = module.from_event(envelope(source, detail_type, "just a string", 1))
    detail = event["detail"] if style == "typeddict" else event.detail
    assert (detail.root if style == "pydantic" else detail) == "just a string"  # pydantic: a RootModel
    with pytest.raises(ValueError, match="detail"):
        module.from_event(envelope(source, detail_type, {"an": "object"}, 1))


def test_a_schema_nested_past_the_limit_is_refused() -> None:
    def nested(levels: int) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        for _ in range(levels):
            schema = {"type": "object", "properties": {"a": schema}}
        return schema

    # each object level is two levels of schema (the object, its properties)
    assert generate_bindings(nested(MAX_DEPTH // 2), source="s", detail_type="t", language="typescript")
    for levels in (MAX_DEPTH // 2 + 1, 10_000):
        with pytest.raises(BindingError, match=f"deeper than {MAX_DEPTH} levels"):
            generate_bindings(nested(levels), source="s", detail_type="t", language="python")
