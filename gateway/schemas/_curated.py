"""Curated schemas: what a provider documents of its payloads, compared with what was seen.

hookgate ships, as package data under `curated/`, the schemas Stripe and GitHub publish
for their common event types, cut down to those types (`gateway/schemas/curate.py` made
them and says from what; `curated/NOTICE.md` carries their licences). One file per
provider: `events` maps a detail-type to a definition, `definitions` holds them in JSON
Schema Draft 4.

`compare` reads a discovered schema against the curated one of its detail-type and
reports three kinds of difference, each at a JSON pointer of the discovered detail:

- `undocumented`: a property seen that the provider does not document (where the
  provider lists an object's properties; a map's keys and an object it leaves open are
  not listed);
- `never_seen`: a property the provider documents that no event had (only its top: the
  properties inside it are not listed again);
- `type_mismatch`: a value seen of a type the provider does not document there
  (`integer` is a `number`).

The provider's payload is the detail itself, or its `payload` in hookgate's envelope
format (a detail of exactly `metadata` and `payload`). `$ref`, `anyOf`, `oneOf` and
`allOf` are followed; an object the curated file does not describe further
(`"x-hookgate-not-extracted": true`) is not compared inside.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

__all__ = [
    "NOT_EXTRACTED",
    "PROVIDERS",
    "CuratedSchema",
    "Difference",
    "compare",
    "curated_event_types",
    "curated_schema",
]

Schema = dict[str, Any]
Kind = Literal["undocumented", "never_seen", "type_mismatch"]

#: The providers hookgate has curated schemas of (their connectors' names).
PROVIDERS = ("github", "stripe")
#: The mark of an object the curated file does not describe further.
NOT_EXTRACTED = "x-hookgate-not-extracted"
DRAFT4 = "http://json-schema.org/draft-04/schema#"
#: `$ref`s followed in a row at most (a provider's schemas refer to themselves).
_MAX_REFS = 64
#: Levels of a discovered schema compared at most (discovery describes 255 at most).
_MAX_DEPTH = 256


@dataclass(frozen=True, slots=True)
class CuratedSchema:
    """A provider's documented schema of one detail-type, and where it came from."""

    provider: str
    detail_type: str
    #: A JSON Schema (Draft 4) document of the provider's payload, with its definitions.
    schema: Schema
    #: `provider`, `from`, `license`, `copyright`, `repository`.
    origin: dict[str, str]


@dataclass(frozen=True, slots=True)
class Difference:
    kind: Kind
    #: A JSON pointer into the discovered detail.
    path: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "detail": self.detail}


@functools.cache
def _provider(provider: str) -> dict[str, Any]:
    text = resources.files("gateway.schemas").joinpath("curated", f"{provider}.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def curated_schema(provider: str, detail_type: str) -> CuratedSchema | None:
    """The curated schema of `provider`'s `detail_type` (None: none is shipped)."""
    if provider not in PROVIDERS:
        return None
    document = _provider(provider)
    name = document["events"].get(detail_type)
    if name is None:
        return None
    definitions = document["definitions"]
    schema = {"$schema": DRAFT4, **definitions[name], "definitions": definitions}
    return CuratedSchema(provider, detail_type, schema, dict(document["x-hookgate-curated"]))


def curated_event_types(provider: str) -> list[str]:
    """The detail-types `provider` has curated schemas of."""
    return sorted(_provider(provider)["events"]) if provider in PROVIDERS else []


@dataclass(slots=True)
class _View:
    """What a curated node allows, with its `$ref`s and sub-schema lists followed."""

    types: set[str] | None = None  # None: any type
    properties: dict[str, list[Schema]] = field(default_factory=dict)
    listed: bool = False  # lists its properties (an object closed or described)
    values: list[Schema] = field(default_factory=list)  # `additionalProperties` schemas
    items: list[Schema] = field(default_factory=list)
    extracted: bool = True


def _types(schema: Schema) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _view(nodes: Iterable[Schema], definitions: Schema) -> _View:
    view = _View(types=set())
    stack = [(node, 0) for node in nodes]
    while stack:
        node, refs = stack.pop()
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = definitions.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/definitions/") else None
            if target is None or refs >= _MAX_REFS:
                view.types = None
                view.extracted = False
                continue
            stack.append((target, refs + 1))
            continue
        alternatives = [
            s for key in ("anyOf", "oneOf", "allOf") for s in node.get(key, ()) if isinstance(s, dict)
        ]
        stack.extend((s, refs) for s in alternatives)
        kinds = _types(node)
        if kinds is None and not alternatives:
            view.types = None
        elif kinds is not None and view.types is not None:
            view.types |= kinds
        if node.get(NOT_EXTRACTED):
            view.extracted = False
        for key, sub in node.get("properties", {}).items():
            view.properties.setdefault(key, []).append(sub)
        if "properties" in node or node.get("additionalProperties") is False:
            view.listed = True
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            view.values.append(extra)
        items = node.get("items")
        if isinstance(items, dict):
            view.items.append(items)
    return view


def _allowed(seen: str, documented: set[str] | None) -> bool:
    return documented is None or seen in documented or (seen == "integer" and "number" in documented)


def compare(discovered: Schema, curated: CuratedSchema) -> list[Difference]:
    """How the discovered schema of a detail differs from the provider's documented one."""
    properties = discovered.get("properties", {})
    root, path = discovered, ""
    if set(properties) == {"metadata", "payload"}:  # hookgate's envelope format
        root, path = properties["payload"], "/payload"
    out: list[Difference] = []
    _compare(root, [curated.schema], curated.schema.get("definitions", {}), path, out, 0)
    return out


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _compare(  # noqa: PLR0917 - the walk's state, passed down
    seen: Schema, documented: list[Schema], definitions: Schema, path: str, out: list[Difference], depth: int
) -> None:
    if depth > _MAX_DEPTH:
        return
    view = _view(documented, definitions)
    kinds = _types(seen)
    if kinds is None:
        return
    wrong = sorted(k for k in kinds if not _allowed(k, view.types))
    if wrong:
        allowed = ", ".join(sorted(view.types or ()))
        out.append(Difference("type_mismatch", path or "/", f"seen {', '.join(wrong)}; documented {allowed}"))
    if not view.extracted:
        return  # what is inside is not described here
    if "object" in kinds and _allowed("object", view.types):
        _object(seen, view, definitions, path, out, depth)
    if "array" in kinds and "items" in seen and view.items:
        _compare(seen["items"], view.items, definitions, f"{path}/items", out, depth + 1)


def _object(  # noqa: PLR0917 - the walk's state, passed down
    seen: Schema, view: _View, definitions: Schema, path: str, out: list[Difference], depth: int
) -> None:
    properties: Schema = seen.get("properties", {})
    for key, sub in properties.items():
        where = f"{path}/{_escape(key)}"
        if key in view.properties:
            _compare(sub, view.properties[key], definitions, where, out, depth + 1)
        elif view.values:
            _compare(sub, view.values, definitions, where, out, depth + 1)
        elif view.listed:
            out.append(Difference("undocumented", where, "seen, not in the provider's schema"))
    if seen.get("x-hookgate-truncated"):
        return  # not every property seen is listed: none is said to be missing
    out.extend(
        Difference("never_seen", f"{path}/{_escape(key)}", "documented, never seen")
        for key in view.properties
        if key not in properties
    )
