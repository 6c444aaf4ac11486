"""Enforcement on the request path: a source's events checked against a pinned version.

A source with `schema_enforcement = "flag"` or `"reject"` has each new event's `detail`
checked against the version pinned for its schema (`hookgate schemas pin NAME V`); an
event whose schema has no pinned version passes. `reject` answers 400 with the path of the
first mismatch and stores nothing of the request; `flag` stores the event with
`metadata.schema_mismatch` (`{schema, version, path}`) in its envelope detail, and counts
it in `hookgate_schema_mismatches_total{source,detail_type,action}`.

The check is the stored schemas' own vocabulary (types, `properties`, `required`, `items`,
`additionalProperties: false`), walked by hand: formats are not enforced. The pinned
versions are read from the store at start and every `REFRESH_SECONDS` after, so a pin
set by the command line (or another replica) applies within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter

from gateway.errors import StoreError
from gateway.events import Event
from gateway.schemas._registry import SchemaRegistry
from gateway.schemas._settings import Enforcement

__all__ = ["REFRESH_SECONDS", "Mismatch", "SchemaEnforcer", "first_mismatch"]

log = structlog.get_logger()

REFRESH_SECONDS = 5.0
Schema = dict[str, Any]

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
            path = first_mismatch(schema, entry.get("detail"))
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
