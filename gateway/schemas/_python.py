"""Python code bindings: the models (datamodel-code-generator) and the package around them.

`models` turns the envelope's schema into classes of one style; `package_init` writes the
package's `__init__.py` (what it exports, `from_event`, `parse`, `to_event`); `MARSHAL` is
the text of `_marshal.py`, which the dataclasses and typeddict styles ship.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from gateway.schemas._documents import walk

__all__ = ["MARSHAL", "models", "package_init"]

Style = Literal["pydantic", "dataclasses", "typeddict", "msgspec"]

#: The checks the dataclasses and typeddict styles ship as their `_marshal.py`.
MARSHAL = (Path(__file__).parent / "_marshal.py").read_text(encoding="utf-8")

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


def models(schema: Mapping[str, Any], style: Style, header: str) -> str:
    """The models of `schema` (the envelope's) in `style`, from datamodel-code-generator,
    whose errors (`datamodel_code_generator.Error`) are the caller's to turn into its own."""
    # the optional extra, and slow to import: only a Python binding needs it
    from datamodel_code_generator import generate  # noqa: PLC0415
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

        walk(schema, name_fields)
        options = {"field_extra_keys": {"metadata"}, "keyword_only": True}
    if style == "typeddict":
        # datamodel-code-generator renames a key that starts with "_" (`_links` becomes
        # `field_links`), but a TypedDict's keys must stay the JSON keys: such keys travel
        # under a placeholder and are put back in the generated text
        schema = copy.deepcopy(dict(schema))

        def hide_underscores(sub: dict[str, Any]) -> None:
            props = sub.get("properties")
            if isinstance(props, dict) and any(k.startswith("_") for k in props):
                sub["properties"] = {_hidden(k): v for k, v in props.items()}
                if isinstance(sub.get("required"), list):
                    sub["required"] = [_hidden(k) if isinstance(k, str) else k for k in sub["required"]]

        walk(schema, hide_underscores)
    if style == "pydantic":
        options = {"use_annotated": True}
    if style == "msgspec":
        # msgspec decodes no enum with a null member: the member goes, the field takes null
        options = {"use_msgspec_nullable_enum_alias": True}
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
    assert isinstance(text, str)
    return _UNDERSCORE.sub(r"\1_", text) if style == "typeddict" else text


#: The placeholder of a leading "_" in a TypedDict key (see `models`).
_UNDERSCORE_MARK = "hookgate_underscore_"
_UNDERSCORE = re.compile(rf"(\W){_UNDERSCORE_MARK}")


def _hidden(key: str) -> str:
    return _UNDERSCORE_MARK + key[1:] if key.startswith("_") else key


def package_init(style: Style, *, detail_name: str, base: PurePosixPath, title: str, header: str) -> str:
    """The `__init__.py` of a binding's package at `base`: its docstring (`title`, `header`
    and how to use it), what it exports, and its functions."""
    doc = header.replace("\n", "\n\n", 1)
    init = (
        f'"""{title}\n\n{doc}\n'
        f"\n    from {'.'.join(base.parts)} import from_event\n\n"
        f'    event = from_event(json.loads(body))\n    event.detail  # the detail, a {detail_name}\n"""\n\n'
        "from __future__ import annotations\n\n"
    )
    if style == "typeddict":
        init = init.replace("event.detail  #", 'event["detail"]  #')
    helpers = _HELPERS[style]
    return init + (
        f"{helpers['imports']}\n{helpers['local']}"
        f"from .models import AWSEvent, {detail_name}\n\n"
        f'__all__ = ["AWSEvent", "{detail_name}", "from_event", "parse", "to_event"]\n'
        + _FUNCTIONS.format_map(helpers)
    )
