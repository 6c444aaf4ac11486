"""Enforcement on the request path: a source's events checked against a pinned version.

A source with `schema_enforcement = "flag"` or `"reject"` has each new event's `detail`
checked against the version pinned for its schema (`hookgate schemas pin NAME V`); an
event whose schema has no pinned version passes. `reject` answers 400 with the path of the
first mismatch and stores nothing of the request; `flag` stores the event with
`metadata.schema_mismatch` (`{schema, version, path}`) in its envelope detail, and counts
it in `hookgate_schema_mismatches_total{source,detail_type,action}`.

The check is the stored schemas' own vocabulary (types, `properties`, `required`, `items`,
`additionalProperties: false`): formats are not enforced. Each pinned version is compiled
once into nested closures (`compile_check`), which answer "fits or not" without building
paths; only an event that does not fit is walked again by `first_mismatch`, for the path
of its first mismatch. The pinned versions are read from the store at start and every
`REFRESH_SECONDS` after (a version already compiled is not compiled again), so a pin set
by the command line (or another replica) applies within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter

from gateway.errors import StoreError
from gateway.events import Event
from gateway.schemas._registry import SchemaRegistry
from gateway.schemas._settings import Enforcement

__all__ = ["REFRESH_SECONDS", "Check", "Mismatch", "SchemaEnforcer", "compile_check", "first_mismatch"]

log = structlog.get_logger()

REFRESH_SECONDS = 5.0
Schema = dict[str, Any]
#: Whether a value fits a schema (`compile_check`).
Check = Callable[[Any], bool]

_CHECKS = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def first_mismatch(schema: Schema, value: Any, path: str = "") -> str | None:
    """The JSON pointer of the first place `value` does not fit `schema` (None: it fits)."""
    kind = schema.get("type")
    if kind is not None:
        kinds = (kind,) if isinstance(kind, str) else kind
        if not any(_CHECKS[k](value) for k in kinds if k in _CHECKS):
            return path or "/"
    if isinstance(value, dict) and (kind is None or "object" in kinds):
        properties = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                return f"{path}/{_escape(key)}"
        closed = schema.get("additionalProperties") is False
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None:
                if closed:
                    return f"{path}/{_escape(key)}"
                continue
            found = first_mismatch(sub, item, f"{path}/{_escape(key)}")
            if found is not None:
                return found
    if isinstance(value, list) and "items" in schema and (kind is None or "array" in kinds):
        for i, item in enumerate(value):
            found = first_mismatch(schema["items"], item, f"{path}/{i}")
            if found is not None:
                return found
    return None


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "object": (dict,),
    "array": (list,),
}


def _always(_: Any) -> bool:
    return True


def _type_test(schema: Schema) -> tuple[tuple[type, ...], bool] | None:
    """The Python types a schema's `type` admits, and whether a bool is refused though
    an int is admitted (None: any type)."""
    kind = schema.get("type")
    if kind is None:
        return None
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    types = tuple({t for k in kinds for t in _PYTHON_TYPES.get(k, ())})
    return types, "boolean" not in kinds  # a bool is an int to Python, never to JSON Schema


def _is_leaf(schema: Schema) -> bool:
    """A schema checked by its `type` alone (in the loop of its parent, not by a call)."""
    kind = schema.get("type")
    kinds = None if kind is None else (kind,) if isinstance(kind, str) else kind
    if (kinds is None or "object" in kinds) and (
        schema.get("required") or schema.get("properties") or schema.get("additionalProperties") is False
    ):
        return False
    return not ((kinds is None or "array" in kinds) and "items" in schema)


def compile_check(schema: Schema) -> Check:
    """`schema` as a function that tells whether a value fits it: the same answer as
    `first_mismatch(schema, value) is None`, without the walk building a path at each
    step. Compiled once per pinned version; its depth is the schema's, never the value's."""
    test = _type_test(schema)
    kinds = schema.get("type")
    objects = kinds is None or "object" in (kinds if isinstance(kinds, list) else (kinds,))
    arrays = kinds is None or "array" in (kinds if isinstance(kinds, list) else (kinds,))
    required = tuple(schema.get("required", ())) if objects else ()
    listed: Schema = schema.get("properties", {}) if objects else {}
    leaves = []
    for key, sub in listed.items():
        if _is_leaf(sub) and (leaf := _type_test(sub)) is not None:
            leaves.append((key, *leaf))
    nested = tuple((key, compile_check(sub)) for key, sub in listed.items() if not _is_leaf(sub))
    closed = objects and schema.get("additionalProperties") is False
    allowed = frozenset(listed)
    item = compile_check(schema["items"]) if arrays and "items" in schema else None
    if test is None and not (required or leaves or nested or closed or item):
        return _always
    types, no_bool = test if test is not None else ((object,), False)
    typed = tuple(leaves)

    def check(value: Any) -> bool:
        if not isinstance(value, types) or (no_bool and value.__class__ is bool):
            return False
        if value.__class__ is dict:
            for key in required:
                if key not in value:
                    return False
            if closed and not allowed.issuperset(value):
                return False
            for key, kinds, refuse_bool in typed:
                if key in value:
                    found = value[key]
                    if not isinstance(found, kinds) or (refuse_bool and found.__class__ is bool):
                        return False
            for key, sub in nested:
                if key in value and not sub(value[key]):
                    return False
        elif item is not None and value.__class__ is list:
            for element in value:
                if not item(element):
                    return False
        return True

    return check


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class Mismatch:
    """An event that does not fit its pinned version."""

    schema: str
    version: int
    path: str


class SchemaEnforcer:
    """The pinned versions of the enforcing sources, and the check the edge runs."""

    def __init__(
        self,
        registry: SchemaRegistry,
        modes: Mapping[str, Enforcement],
        *,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry
        self.modes = {source: mode for source, mode in modes.items() if mode != "off"}
        #: (source, detail-type) → (schema name, pinned version, its content)
        self.pinned: dict[tuple[str, str], tuple[str, int, Schema]] = {}
        #: (schema name, version) → its compiled check (versions never change once made)
        self._checks: dict[tuple[str, int], Check] = {}
        self._task: asyncio.Task[None] | None = None
        self.mismatches = Counter(
            "hookgate_schema_mismatches",
            "Events that did not fit their schema's pinned version, by action",
            ["source", "detail_type", "action"],
            registry=metrics,
        )

    def mode(self, source: str) -> Enforcement:
        return self.modes.get(source, "off")

    async def refresh(self) -> None:
        pinned = {}
        for info in await self.registry.schemas():
            if info.source in self.modes and info.pinned_version is not None:
                version = await self.registry.version(info.name, info.pinned_version)
                if version is not None:
                    pinned[info.source, info.detail_type] = (info.name, version.version, version.content)
        self._checks = {
            (name, number): self._checks.get((name, number)) or compile_check(content)
            for name, number, content in pinned.values()
        }
        self.pinned = pinned

    async def start(self) -> None:
        with contextlib.suppress(StoreError):
            await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="schema-enforcement")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh()
            except StoreError as exc:
                log.error("schema_pins_not_read", error=str(exc))

    def check(self, source: str, events: Sequence[Event]) -> tuple[list[Event], Mismatch | None]:
        """`events` as they are to be stored (flagged ones marked), and the mismatch that
        rejects them all (None: store them)."""
        mode = self.mode(source)
        if mode == "off" or not self.pinned:
            return list(events), None
        checked = []
        for event in events:
            pinned = self.pinned.get((source, event.detail_type))
            if pinned is None:
                checked.append(event)
                continue
            name, version, schema = pinned
            entry = orjson.loads(event.entry)
            detail = entry.get("detail")
            fits = self._checks.get((name, version))
            if fits is None:  # pinned by hand, not by `refresh`
                fits = self._checks[name, version] = compile_check(schema)
            path = None if fits(detail) else first_mismatch(schema, detail)
            if path is None:
                checked.append(event)
                continue
            mismatch = Mismatch(name, version, path)
            self.mismatches.labels(source, event.detail_type, mode).inc()
            log.warning(
                "schema_mismatch", source=source, schema=name, version=version, path=path, action=mode
            )
            if mode == "reject":
                return [], mismatch
            checked.append(_marked(event, entry, mismatch))
        return checked, None


def _marked(event: Event, entry: dict[str, Any], mismatch: Mismatch) -> Event:
    """The event with `metadata.schema_mismatch` in an envelope detail (a payload detail is
    the provider's own and stays as it is)."""
    detail = entry.get("detail")
    if (
        not isinstance(detail, dict)
        or "payload" not in detail
        or not isinstance(detail.get("metadata"), dict)
    ):
        return event
    metadata = detail["metadata"]
    metadata["schema_mismatch"] = {
        "schema": mismatch.schema,
        "version": str(mismatch.version),
        "path": mismatch.path,
    }
    return replace(event, entry=orjson.dumps(entry).decode())
