"""Versions: when an observed schema makes a new version, and the registry that keeps them.

`decide` is the policy, the same for every backend: the schema of a batch of events is
merged into the latest version; if that changes nothing, the batch is counted for the
latest version (each of its events fits it), else the merge is a new version (which each
fits too, since a merge only widens), checked against the earlier ones under the schema's
compatibility mode. At `max_versions` the latest version stays the latest and what it
does not describe is counted as overflow. A backend runs `decide` inside one transaction
per schema (`SchemaRegistry.record`), so replicas sharing a database never number two
versions alike.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.schemas._compat import Change, Mode, Verdict, check
from gateway.schemas._documents import BindingSchema
from gateway.schemas._formats import ExportFormat, schema_name, to_draft4, to_openapi3
from gateway.schemas._infer import Limits, merge

__all__ = [
    "Decision",
    "Observation",
    "Recorded",
    "SchemaInfo",
    "SchemaRegistry",
    "SchemaVersion",
    "binding_schema",
    "decide",
    "export",
]

Schema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Observation:
    """The merged schema of `count` new events of one (source, detail-type)."""

    source: str
    event_source: str
    detail_type: str
    schema: Schema
    count: int
    sample_event_id: str
    #: The mode a schema created by this observation starts with.
    compatibility: Mode = "BACKWARD"

    @property
    def name(self) -> str:
        return schema_name(self.event_source, self.detail_type)


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    name: str
    version: int
    content: Schema
    created_at: float
    #: Events counted for this version (each validates against it).
    event_count: int
    sample_event_id: str
    #: The check against the earlier versions when it was made.
    compatible: bool
    verdict: str


@dataclass(frozen=True, slots=True)
class SchemaInfo:
    name: str
    source: str
    event_source: str
    detail_type: str
    compatibility: Mode
    created_at: float
    updated_at: float
    latest_version: int
    #: Events not versioned: the schema was at its version limit.
    overflow: int
    #: Versions that broke the compatibility mode they were made under.
    drifted_versions: tuple[int, ...] = ()
    #: The version enforcing sources check events against (`hookgate schemas pin`).
    pinned_version: int | None = None

    @property
    def drift(self) -> bool:
        return bool(self.drifted_versions)


def export(info: SchemaInfo, version: SchemaVersion, fmt: ExportFormat) -> dict[str, Any]:
    """One version of a schema as a document of `fmt` (OpenAPI 3.0 or JSON Schema Draft 4)."""
    build = to_openapi3 if fmt == "openapi3" else to_draft4
    return build(info.event_source, info.detail_type, version.content)


def binding_schema(info: SchemaInfo, version: SchemaVersion) -> BindingSchema:
    """What code bindings of one version of a schema are made of."""
    return BindingSchema(version.content, info.event_source, info.detail_type, str(version.version))


@dataclass(frozen=True, slots=True)
class Decision:
    """`count` the batch for `version`; or make `version` from `content`; or `overflow`."""

    version: int | None
    content: Schema | None = None
    verdict: Verdict | None = None
    overflow: bool = False

    @property
    def creates(self) -> bool:
        return self.content is not None


def decide(
    versions: Sequence[Schema],
    mode: Mode,
    observed: Schema,
    *,
    max_versions: int,
    limits: Limits = Limits(),  # noqa: B008
) -> Decision:
    """What an observation does to a schema whose versions are `versions` (oldest first)."""
    if not versions:
        return Decision(1, observed, Verdict(mode))
    latest = versions[-1]
    merged = merge(latest, observed, limits)
    if merged == latest:
        return Decision(len(versions))
    if len(versions) >= max_versions:
        return Decision(None, overflow=True)
    return Decision(len(versions) + 1, merged, check(mode, versions, merged))


@dataclass(frozen=True, slots=True)
class Recorded:
    """What `record` did: the version counted or made (None: overflow), and its verdict."""

    name: str
    version: int | None
    created: bool = False
    verdict: Verdict | None = None
    #: "versions" (the schema is at its version limit) or "schemas" (the source at its
    #: schema limit): the events were not versioned.
    overflow: str | None = None
    changes: tuple[Change, ...] = field(default=())
    #: The content of the version counted or made (None: overflow). Every later version
    #: describes it too, since a new version is always a merge into the latest.
    content: Schema | None = None


class SchemaRegistry(abc.ABC):
    """The discovered schemas and their versions, in the store's database."""

    @abc.abstractmethod
    async def record(
        self, observation: Observation, now: float, *, max_versions: int, max_schemas: int, limits: Limits
    ) -> Recorded:
        """Count or version `observation` (one transaction, race-free across replicas)."""

    @abc.abstractmethod
    async def schemas(self, source: str | None = None) -> list[SchemaInfo]:
        """Every schema (of `source`), by name."""

    @abc.abstractmethod
    async def versions(self, name: str) -> list[SchemaVersion]:
        """A schema's versions, oldest first (empty: no such schema)."""

    @abc.abstractmethod
    async def set_compatibility(self, name: str, mode: Mode) -> bool:
        """Set a schema's mode for its next versions; False: no such schema."""

    @abc.abstractmethod
    async def pin(self, name: str, version: int | None) -> bool:
        """Pin `version` of a schema (None: unpin); False: no such schema or version."""

    async def schema(self, name: str) -> SchemaInfo | None:
        return next((s for s in await self.schemas() if s.name == name), None)

    async def version(self, name: str, version: int | None = None) -> SchemaVersion | None:
        """One version of a schema (None: its latest)."""
        found = await self.versions(name)
        if not found:
            return None
        if version is None:
            return found[-1]
        return next((v for v in found if v.version == version), None)
