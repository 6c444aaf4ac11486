"""A JSON Schema (Draft 4, plus OpenAPI's `nullable`) as TypeScript interfaces and type guards.

`emit_typescript(schema, root_name)` returns one `.ts` module: an exported type per object
schema (the root, each definition, each nested object under a name drawn from its property)
and, for each, an `isName(value: unknown): value is Name` guard that checks the whole
structure at run time. Keys that are not identifiers are quoted; reserved words are fine as
property keys. It needs no Node: the output is plain text that `tsc --strict` accepts.

What each keyword becomes:

    type string|number|integer|boolean|null   string | number | boolean | null
    type list, anyOf, oneOf                   a union        allOf   an intersection
    enum                                      a union of the literals
    properties + required                     an interface, `key?:` for the optional ones
    additionalProperties schema               `[key: string]: T` (`unknown` beside properties)
    additionalProperties false                extra keys fail the guard
    items (schema | list)                     `T[]` | a tuple `[A, B, ...unknown[]]`
    $ref #/definitions/X                      the type named after X
    {} or anything else                       unknown
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["emit_typescript", "type_name"]

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

#: Names an inner object's type does not take: TypeScript's keywords, and the global types
#: and values a reader would expect to mean the built-in.
_TAKEN = frozenset(
    """
    any as boolean break case catch class const constructor continue debugger declare default
    delete do else enum export extends false finally for from function get if implements
    import in infer instanceof interface is keyof let module namespace never new null number
    object of package private protected public readonly require return set static string super
    switch symbol this throw true try type typeof undefined unique unknown var void while with
    yield Array ArrayBuffer BigInt Boolean Date Error Function Infinity JSON Map Math NaN Number
    Object Partial Promise Readonly Record RegExp Required Set String Symbol
    """.split()  # noqa: SIM905 - a list of 90 words reads better as words
)

_SCALARS = {
    "string": ("string", 'typeof {v} === "string"'),
    "number": ("number", 'typeof {v} === "number"'),
    "integer": ("number", 'typeof {v} === "number" && {v} % 1 === 0'),
    "boolean": ("boolean", 'typeof {v} === "boolean"'),
    "null": ("null", "{v} === null"),
}


def type_name(text: str) -> str:
    """`text` as a PascalCase identifier: `payment_intent.succeeded` → `PaymentIntentSucceeded`."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[0].upper() + w[1:] for w in words) or "Anonymous"
    return f"T{name}" if name[0].isdigit() else name


def _key(name: str) -> str:
    """A property key as an interface member: bare when an identifier, quoted otherwise."""
    return name if _IDENTIFIER.fullmatch(name) else json.dumps(name)


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _is_object(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (kind is None and ("properties" in schema or "required" in schema))


class _Emitter:
    def __init__(self, root: Mapping[str, Any], root_name: str) -> None:
        self.root = root
        self.definitions: Mapping[str, Any] = root.get("definitions") or {}
        self.names: set[str] = set()
        self.ref_names: dict[str, str] = {}
        self.blocks: list[str] = []
        # the names the schema gives keep them (a type and a value of one name coexist in
        # TypeScript); the names made up for inner objects keep clear of the built-in ones
        self.root_name = self._claim(root_name, given=True)
        for key in self.definitions:
            self.ref_names[f"#/definitions/{key}"] = self._claim(type_name(key), given=True)

    def _claim(self, wanted: str, parent: str = "", *, given: bool = False) -> str:
        """A type name not yet used: `wanted`, else `<parent><wanted>`, else with a number."""
        candidates = [wanted, parent + wanted] if parent else [wanted]
        for name in candidates:
            if name not in self.names and (given or name not in _TAKEN):
                self.names.add(name)
                return name
        n = 2
        while f"{candidates[-1]}{n}" in self.names:
            n += 1
        self.names.add(name := f"{candidates[-1]}{n}")
        return name

    # -- types --------------------------------------------------------------------------

    def named(self, name: str, schema: Mapping[str, Any]) -> None:
        """Emit `name` (already claimed) for `schema`: an interface or a type alias, with its guard."""
        if _is_object(schema) and not self._variants(schema):
            self._interface(name, schema)
            return
        ts, check = self.type_of(schema, name, "value")
        self.blocks.append(
            f"export type {name} = {ts};\n\n"
            f"export function is{name}(value: unknown): value is {name} {{\n"
            f"  return {check};\n}}"
        )

    def _variants(self, schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The members of a union `schema` stands for (empty when it is no union)."""
        kind = schema.get("type")
        variants: list[Mapping[str, Any]] = []
        if isinstance(kind, list):
            variants = [{**schema, "type": k} for k in kind]
        elif schema.get("nullable") is True:
            variants = [{k: v for k, v in schema.items() if k != "nullable"}, {"type": "null"}]
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                base = {k: v for k, v in schema.items() if k != key}
                variants = [{**base, **member} for member in schema[key]]
                break
        return variants

    def type_of(self, schema: Any, hint: str, v: str, depth: int = 0, parent: str = "") -> tuple[str, str]:
        """The TypeScript type of `schema` and the boolean expression checking `v` against it.

        An object type found inside is named `hint` (a property's name), or `parent` + `hint`
        when that is taken."""
        if not isinstance(schema, Mapping):
            return ("unknown", "true") if schema is not False else ("never", "false")
        if isinstance(ref := schema.get("$ref"), str):
            if ref == "#":
                name = self.root_name
            elif ref in self.ref_names:
                name = self.ref_names[ref]
            else:
                return "unknown", "true"
            return name, f"is{name}({v})"
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            values = schema["enum"]
            return (
                " | ".join(_literal(x) for x in values),
                "(" + " || ".join(f"{v} === {_literal(x)}" for x in values) + ")"
                if all(not isinstance(x, (dict, list)) for x in values)
                else "true",
            )
        if "const" in schema and not isinstance(schema["const"], (dict, list)):
            return _literal(schema["const"]), f"{v} === {_literal(schema['const'])}"
        if variants := self._variants(schema):
            parts = [self.type_of(member, hint, v, depth, parent) for member in variants]
            return _union(parts)
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            parts = [self.type_of(member, hint, v, depth, parent) for member in schema["allOf"]]
            return (
                " & ".join(f"({ts})" for ts, _ in parts),
                "(" + " && ".join(f"({check})" for _, check in parts) + ")",
            )
        kind = schema.get("type")
        if kind in _SCALARS:
            ts, check = _SCALARS[kind]
            return ts, "(" + check.format(v=v) + ")"
        if kind == "array" or (kind is None and "items" in schema):
            return self._array(schema, hint, v, depth, parent)
        if _is_object(schema):
            if not schema.get("properties") and not schema.get("required"):
                return self._map(schema, hint, v, depth, parent)
            name = self._claim(hint or "Anonymous", parent)
            self.named(name, schema)
            return name, f"is{name}({v})"
        return "unknown", "true"

    def _array(
        self, schema: Mapping[str, Any], hint: str, v: str, depth: int, parent: str
    ) -> tuple[str, str]:
        item = f"item{depth}"
        items = schema.get("items")
        if isinstance(items, list):
            parts = [
                self.type_of(s, f"{hint}Item{i}", f"{v}[{i}]", depth + 1, parent) for i, s in enumerate(items)
            ]
            ts = "[" + "".join(f"{t}, " for t, _ in parts) + "...unknown[]]"
            checks = "".join(f" && ({v}.length <= {i} || ({c}))" for i, (_, c) in enumerate(parts))
            return ts, f"(Array.isArray({v}){checks})"
        item_ts, item_check = self.type_of(items, f"{hint}Item", item, depth + 1, parent)
        ts = f"({item_ts})[]" if " " in item_ts else f"{item_ts}[]"
        if item_check == "true":
            return ts, f"Array.isArray({v})"
        return ts, f"(Array.isArray({v}) && {v}.every(({item}: unknown) => {item_check}))"

    def _map(self, schema: Mapping[str, Any], hint: str, v: str, depth: int, parent: str) -> tuple[str, str]:
        """An object without properties: a record of its additionalProperties (or of unknown)."""
        extra = schema.get("additionalProperties", True)
        is_plain = f'(typeof {v} === "object" && {v} !== null && !Array.isArray({v}))'
        record = f"({v} as {{ [key: string]: unknown }})"
        key = f"key{depth}"
        if extra is False:
            return "{ [key: string]: never }", f"({is_plain} && Object.keys({v}).length === 0)"
        if not isinstance(extra, Mapping) or not extra:
            return "{ [key: string]: unknown }", is_plain
        value_ts, value_check = self.type_of(extra, f"{hint}Value", f"{record}[{key}]", depth + 1, parent)
        every = f"Object.keys({v}).every(({key}: string) => {value_check})"
        return f"{{ [key: string]: {value_ts} }}", f"({is_plain} && {every})"

    def _interface(self, name: str, schema: Mapping[str, Any]) -> None:
        properties: Mapping[str, Any] = schema.get("properties") or {}
        required = [k for k in schema.get("required") or [] if isinstance(k, str)]
        members: list[str] = []
        checks: list[str] = []
        keys = list(properties) + [k for k in required if k not in properties]
        for key in keys:
            access = f"record[{_literal(key)}]"
            schema_of_key = properties.get(key, {})
            ts, check = self.type_of(schema_of_key, type_name(key), access, 1, name)
            description = schema_of_key.get("description") if isinstance(schema_of_key, Mapping) else None
            if isinstance(description, str) and description.strip():
                members.append(f"  /** {_comment(description)} */")
            if key in required:
                members.append(f"  {_key(key)}: {ts};")
                checks.append(f"  if (!({_literal(key)} in record) || !({check})) return false;")
            else:
                members.append(f"  {_key(key)}?: {ts};")
                checks.append(f"  if ({access} !== undefined && !({check})) return false;")
        extra = schema.get("additionalProperties", True)
        if extra is False:
            known = "[" + ", ".join(_literal(k) for k in keys) + "]"
            checks.append(f"  for (const key in record) if ({known}.indexOf(key) === -1) return false;")
        elif isinstance(extra, Mapping) and extra:
            value_ts, value_check = self.type_of(extra, "Value", "record[key]", 1, name)
            members.append(f"  [key: string]: {'unknown' if keys else value_ts};")
            known = "[" + ", ".join(_literal(k) for k in keys) + "]"
            unknown_key = f"{known}.indexOf(key) === -1"
            checks.append(f"  for (const key in record) if ({unknown_key} && !({value_check})) return false;")
        description = schema.get("description")
        doc = f"/** {_comment(description)} */\n" if isinstance(description, str) and description else ""
        body = "\n".join(members)
        self.blocks.append(
            f"{doc}export interface {name} {{\n{body}\n}}\n\n"
            f"export function is{name}(value: unknown): value is {name} {{\n"
            f'  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;\n'
            f"  const record = value as {{ [key: string]: unknown }};\n"
            + "".join(f"{c}\n" for c in checks)
            + "  return true;\n}"
        )

    def emit(self) -> Iterator[str]:
        self.named(self.root_name, self.root)
        for ref, name in self.ref_names.items():
            self.named(name, self.definitions[ref.removeprefix("#/definitions/")])
        return iter(self.blocks)


def _union(parts: list[tuple[str, str]]) -> tuple[str, str]:
    types = sorted(dict.fromkeys(ts for ts, _ in parts), key=lambda ts: ts == "null")  # null last
    if any(check == "true" for _, check in parts):
        return " | ".join(types), "true"
    return " | ".join(types), "(" + " || ".join(check for _, check in parts) + ")"


def _comment(text: str) -> str:
    return " ".join(text.split()).replace("*/", "*\\/")


def emit_typescript(schema: Mapping[str, Any], root_name: str, *, header: str = "") -> str:
    """One TypeScript module declaring `root_name` for `schema`, its inner types and guards."""
    blocks = list(_Emitter(schema, root_name).emit())
    prefix = "".join(f"// {line}\n" for line in header.splitlines())
    return prefix + ("\n" if prefix else "") + "\n\n".join(blocks) + "\n"
