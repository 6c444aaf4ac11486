"""Code bindings: a schema of an event's `detail` as Python or TypeScript types for consumers.

`generate_bindings(detail_schema, source=…, detail_type=…, language=…, style=…)` returns the
files of one binding (relative path → text), which `write_bindings` puts in a directory.
Both languages wrap the detail in an `AWSEvent` envelope whose `detail` is typed, laid out as
EventBridge's bindings are (`schema/<source parts>/<detailtype>/`):

    python, style pydantic      pydantic v2 models                      (needs pydantic)
            style msgspec       msgspec Structs                         (needs msgspec)
            style dataclasses   standard library dataclasses            (needs nothing)
            style typeddict     TypedDicts, the event stays a dict      (needs nothing)
    typescript                  interfaces and type guards, one index.ts (needs nothing)

Each Python binding's package exports `AWSEvent`, the detail class, `from_event(dict)`,
`parse(json)` and `to_event(obj)`. The Python models come from datamodel-code-generator
(the `schemas` extra); the TypeScript is written here, so no Node is needed.

`bindings` is the `hookgate schemas bindings` command, made by `bindings_command(fetch)`.
"""

from __future__ import annotations

import copy
import json
import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, get_args

import click

from gateway._extras import require
from gateway.cli_options import EXIT_CONFIG, config_option
from gateway.schemas._typescript import emit_typescript, type_name

__all__ = [
    "LANGUAGES",
    "MAX_DEPTH",
    "STYLES",
    "BindingError",
    "BindingSchema",
    "Language",
    "Style",
    "bindings",
    "bindings_command",
    "detail_class_name",
    "detail_schema_of",
    "envelope_schema",
    "generate_bindings",
    "package_path",
    "write_bindings",
]

Language = Literal["python", "typescript"]
Style = Literal["pydantic", "dataclasses", "typeddict", "msgspec"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
STYLES: tuple[Style, ...] = get_args(Style)

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


# -- names and layout ---------------------------------------------------------------------


def _segment(text: str) -> str:
    """A Python package name from `text`: lowercase, word characters only, never a keyword."""
    name = re.sub(r"\W+", "_", text).strip("_").lower() or "_"
    return f"_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name


def detail_class_name(detail_type: str) -> str:
    """The detail's type name: the detail-type in PascalCase, as EventBridge names its schema
    (`payment_intent.succeeded` → `PaymentIntentSucceeded`), never the envelope's."""
    name = type_name(detail_type)
    return "AWSEventDetail" if name == "AWSEvent" else name


def package_path(source: str, detail_type: str) -> PurePosixPath:
    """Where a binding lives: `schema/<source split on dots>/<detailtype>`, as EventBridge's."""
    parts = [_segment(p) for p in source.split(".") if p.strip()] or ["_"]
    return PurePosixPath("schema", *parts, _segment(type_name(detail_type)))


# -- the schema handed to the generators --------------------------------------------------


def _depth(schema: Any) -> int:
    """How deep `schema` nests, counted without recursion (a hostile schema may nest far)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth) for value in node)
    return deepest


def _walk(schema: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    """Call `visit` on `schema` and every schema inside it (in place)."""
    if not isinstance(schema, dict):
        return
    visit(schema)
    for key in ("properties", "patternProperties", "definitions"):
        if isinstance(schema.get(key), dict):
            for sub in schema[key].values():
                _walk(sub, visit)
    for key in ("items", "additionalProperties", "additionalItems", "not"):
        _walk(schema.get(key), visit)
    if isinstance(schema.get("items"), list):
        for sub in schema["items"]:
            _walk(sub, visit)
    for key in _SUBSCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            for sub in schema[key]:
                _walk(sub, visit)


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

    _walk(detail, rewrite)
    for sub in definitions.values():
        _walk(sub, rewrite)
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
    if _depth(document) > MAX_DEPTH + 4:  # components, schemas, a schema, properties
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
        _walk(sub, to_draft4)
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


# -- Python -------------------------------------------------------------------------------

_MODEL_TYPES = {
    "pydantic": "pydantic_v2.BaseModel",
    "dataclasses": "dataclasses.dataclass",
    "typeddict": "typing.TypedDict",
    "msgspec": "msgspec.Struct",
}

_FUNCTIONS = '''

def from_event(event: dict[str, Any]) -> AWSEvent:
    """The event (as `json.loads` returns it) as an `AWSEvent`; {error} if it does not fit."""
    return {from_event}


def parse(data: str | bytes) -> AWSEvent:
    """The event's JSON text as an `AWSEvent`."""
    return {parse}


def to_event(event: AWSEvent) -> dict[str, Any]:
    """The `AWSEvent` back as a JSON value, with the envelope's own key names."""
    value: dict[str, Any] = {to_event}
    return value
'''

#: Per style: the imports of the package's `__init__` (standard library and others, then the
#: package's own) and the bodies of its functions.
_HELPERS: dict[Style, dict[str, str]] = {
    "pydantic": {
        "imports": "from typing import Any\n",
        "local": "",
        "error": "pydantic's ValidationError",
        "from_event": "AWSEvent.model_validate(event)",
        "parse": "AWSEvent.model_validate_json(data)",
        "to_event": 'event.model_dump(mode="json", by_alias=True, exclude_unset=True)',
    },
    "msgspec": {
        "imports": "from typing import Any\n\nimport msgspec\n",
        "local": "",
        "error": "msgspec.ValidationError",
        "from_event": "msgspec.convert(event, AWSEvent)",
        "parse": "msgspec.json.decode(data, type=AWSEvent)",
        "to_event": "msgspec.to_builtins(event)",
    },
    "dataclasses": {
        "imports": "import json\nfrom typing import Any\n",
        "local": "from ._marshal import marshal, unmarshal\n",
        "error": "ValueError",
        "from_event": "unmarshal(event, AWSEvent)",
        "parse": "from_event(json.loads(data))",
        "to_event": "marshal(event)",
    },
    "typeddict": {
        "imports": "import json\nfrom typing import Any\n",
        "local": "from ._marshal import unmarshal\n",
        "error": "ValueError",
        "from_event": "unmarshal(event, AWSEvent)",
        "parse": "from_event(json.loads(data))",
        "to_event": "dict(event)",
    },
}


def _header(binding: BindingSchema) -> str:
    """Two lines saying where a binding comes from; the names quoted and escaped (JSON), so
    that no name can end a comment or a docstring."""
    version = f" version {json.dumps(binding.version)}" if binding.version else ""
    source, detail_type = json.dumps(binding.source), json.dumps(binding.detail_type)
    return (
        f"Generated by hookgate from the schema of {source} {detail_type}{version}.\n"
        "Do not edit: generate it again (hookgate schemas bindings) when the schema changes."
    )


def _python_models(schema: Mapping[str, Any], style: Style, header: str) -> str:
    require("schemas", "Python code bindings")
    # the optional extra, and slow to import: only a Python binding needs it
    from datamodel_code_generator import Error, generate  # noqa: PLC0415
    from datamodel_code_generator.enums import DataModelType, InputFileType  # noqa: PLC0415
    from datamodel_code_generator.format import Formatter, PythonVersion  # noqa: PLC0415

    options: dict[str, Any] = {}
    if style == "dataclasses":
        # dataclasses have no aliases: each field keeps its JSON key for `_marshal`, and
        # keyword-only fields let a required field follow an optional one
        schema = copy.deepcopy(dict(schema))

        def name_fields(sub: dict[str, Any]) -> None:
            for key, prop in (sub.get("properties") or {}).items():
                if isinstance(prop, dict):
                    prop["metadata"] = {"name": key}

        _walk(schema, name_fields)
        options = {"field_extra_keys": {"metadata"}, "keyword_only": True}
    if style == "pydantic":
        options = {"use_annotated": True}
    if style == "msgspec":
        # msgspec decodes no enum with a null member: the member goes, the field takes null
        options = {"use_msgspec_nullable_enum_alias": True}
    try:
        text = generate(
            json.dumps(schema),
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType(_MODEL_TYPES[style]),
            target_python_version=PythonVersion.PY_311,
            class_name="AWSEvent",
            disable_timestamp=True,
            use_standard_collections=True,
            use_union_operator=True,
            # a TypedDict's keys are the JSON keys; the classes get snake_case attributes
            snake_case_field=style != "typeddict",
            use_double_quotes=True,
            formatters=[Formatter.BUILTIN],
            # a string stays the string it was (no EmailStr needing email-validator, no AnyUrl
            # rewriting a URL, no Base64Str decoding), except a date-time: a datetime, as the
            # envelope's `time` is in EventBridge's bindings
            read_format_as_annotation=True,
            type_mappings=["string+date-time=date-time"],
            custom_file_header="".join(f"# {line}\n" for line in header.splitlines()),
            **options,
        )
    except Error as exc:
        raise BindingError(f"no Python models can be made of the schema: {exc}") from None
    assert isinstance(text, str)
    return text


def _python_files(schema: dict[str, Any], binding: BindingSchema, style: Style) -> dict[str, str]:
    detail_name = detail_class_name(binding.detail_type)
    header = _header(binding)
    models = _python_models(schema, style, header)
    if not re.search(rf"^(class {detail_name}\b|{detail_name}(: TypeAlias)? = )", models, re.MULTILINE):
        raise BindingError(f"the generated models do not name the detail {detail_name!r}")
    base = package_path(binding.source, binding.detail_type)
    doc = header.replace("\n", "\n\n", 1)
    names = f"{json.dumps(binding.detail_type)} events of {json.dumps(binding.source)}"
    init = (
        f'"""The {names}, as {style} types.\n\n{doc}\n'
        f"\n    from {'.'.join(base.parts)} import from_event\n\n"
        f'    event = from_event(json.loads(body))\n    event.detail  # the detail, a {detail_name}\n"""\n\n'
        "from __future__ import annotations\n\n"
    )
    if style == "typeddict":
        init = init.replace("event.detail  #", 'event["detail"]  #')
    helpers = _HELPERS[style]
    init += (
        f"{helpers['imports']}\n{helpers['local']}"
        f"from .models import AWSEvent, {detail_name}\n\n"
        f'__all__ = ["AWSEvent", "{detail_name}", "from_event", "parse", "to_event"]\n'
        + _FUNCTIONS.format_map(helpers)
    )
    files = {f"{base}/__init__.py": init, f"{base}/models.py": models}
    if style in ("dataclasses", "typeddict"):
        marshal = (Path(__file__).parent / "_marshal.py").read_text(encoding="utf-8")
        files[f"{base}/_marshal.py"] = marshal
    return files


# -- TypeScript ---------------------------------------------------------------------------


def _typescript_files(schema: dict[str, Any], binding: BindingSchema) -> dict[str, str]:
    text = emit_typescript(schema, "AWSEvent", header=_header(binding))
    text += (
        "\n/** The event (as `JSON.parse` returns it) as an AWSEvent; a TypeError if it does not fit. */\n"
        "export function fromEvent(value: unknown): AWSEvent {\n"
        '  if (!isAWSEvent(value)) throw new TypeError("not an AWSEvent of this schema");\n'
        "  return value;\n}\n\n"
        "/** The event's JSON text as an AWSEvent. */\n"
        "export function parse(text: string): AWSEvent {\n"
        "  return fromEvent(JSON.parse(text));\n}\n"
    )
    return {f"{package_path(binding.source, binding.detail_type)}/index.ts": text}


# -- the entry points ---------------------------------------------------------------------


def generate_bindings(
    detail_schema: Mapping[str, Any],
    *,
    source: str,
    detail_type: str,
    language: Language,
    style: Style = "pydantic",
    version: str | None = None,
) -> dict[str, str]:
    """The files of a binding for events of `source` and `detail_type` whose `detail` follows
    `detail_schema` (JSON Schema Draft 4): relative path → text. `style` is Python's alone.

    Raises `BindingError` for a schema no binding can be made of, and `MissingExtraError`
    for a Python binding without the `schemas` extra."""
    if language not in LANGUAGES:
        raise BindingError(f"unknown language {language!r}; one of {', '.join(LANGUAGES)}")
    if style not in STYLES:
        raise BindingError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    if not isinstance(detail_schema, Mapping):
        raise BindingError("the detail's schema is no JSON object")
    if _depth(detail_schema) > MAX_DEPTH:
        raise BindingError(f"the detail's schema nests deeper than {MAX_DEPTH} levels")
    binding = BindingSchema(detail_schema, source, detail_type, version)
    schema = envelope_schema(detail_schema, detail_class_name(detail_type))
    if language == "typescript":
        return _typescript_files(schema, binding)
    return _python_files(schema, binding, style)


def write_bindings(files: Mapping[str, str], out_dir: str | Path) -> list[Path]:
    """Write `files` (as `generate_bindings` returns them) under `out_dir`; the paths written."""
    root = Path(out_dir)
    written: list[Path] = []
    for relative, text in files.items():
        path = PurePosixPath(relative)
        if path.is_absolute() or ".." in path.parts:
            raise BindingError(f"{relative!r} is outside the output directory")
        target = root.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


#: What the command asks for a schema held in the registry: the configuration file (or
#: None), the schema's name and version (None: the latest).
Fetch = Callable[[str | None, str, str | None], BindingSchema]


def bindings_command(fetch: Fetch | None = None) -> click.Command:
    """The `bindings` command; `fetch` reads a schema from the registry (without it, only
    `--schema-file` can name one)."""

    @click.command("bindings")
    @click.argument("name")
    @click.option("--version", "version", help="The schema version (default: the latest).")
    @click.option("--language", type=click.Choice(LANGUAGES), required=True, help="The binding's language.")
    @click.option(
        "--style",
        type=click.Choice(STYLES),
        default="pydantic",
        show_default=True,
        help="Python only: the kind of classes.",
    )
    @click.option(
        "-o",
        "--out",
        "out_dir",
        type=click.Path(file_okay=False),
        required=True,
        help="The directory to write into (the binding goes under schema/...).",
    )
    @click.option(
        "--schema-file",
        type=click.Path(dir_okay=False, exists=True),
        help="Read the schema from this file instead of the registry: an OpenAPI 3 export, "
        "or a JSON Schema of the detail (NAME then gives source@DetailType).",
    )
    @config_option
    def bindings(  # noqa: PLR0917 - click passes each option as an argument
        name: str,
        version: str | None,
        language: Language,
        style: Style,
        out_dir: str,
        schema_file: str | None,
        config_path: str | None,
    ) -> None:
        """Write code bindings of schema NAME (source@DetailType): Python or TypeScript types
        of its events, with an AWSEvent envelope whose detail is typed."""
        try:
            if schema_file is not None:
                document = json.loads(Path(schema_file).read_text(encoding="utf-8"))
                if not isinstance(document, dict):
                    raise BindingError(f"{schema_file} holds no JSON object")
                binding = detail_schema_of(document, name)
                binding = BindingSchema(binding.detail_schema, binding.source, binding.detail_type, version)
            elif fetch is None:
                raise click.UsageError("no schema registry here: name the schema's file with --schema-file")
            else:
                binding = fetch(config_path, name, version)
            files = generate_bindings(
                binding.detail_schema,
                source=binding.source,
                detail_type=binding.detail_type,
                language=language,
                style=style,
                version=binding.version,
            )
        except (BindingError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            click.echo(f"hookgate: {exc}", err=True)
            raise SystemExit(EXIT_CONFIG) from None
        for path in write_bindings(files, out_dir):
            click.echo(str(path))

    return bindings


#: The command reading only `--schema-file`, for a group that has no registry to fetch from.
bindings = bindings_command()
