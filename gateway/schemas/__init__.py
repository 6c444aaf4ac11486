"""The schema registry: discovers each event type's schema, versions it, checks compatibility."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.schemas._compat import MODES, Change, Comparison, Mode, Verdict, check, compare, diff
from gateway.schemas._discovery import EVENT_SOURCE, VERSION_CREATED, Discovery, SourcePolicy, bus_emitter
from gateway.schemas._enforce import Check, Mismatch, SchemaEnforcer, compile_check, first_mismatch
from gateway.schemas._formats import (
    FORMATS,
    ExportFormat,
    detail_schema_name,
    schema_name,
    to_draft4,
    to_openapi3,
)
from gateway.schemas._infer import TRUNCATED, Limits, describes, infer, infer_many, merge
from gateway.schemas._registry import (
    Observation,
    Recorded,
    SchemaInfo,
    SchemaRegistry,
    SchemaVersion,
    binding_schema,
    decide,
    export,
)
from gateway.schemas._settings import SchemaSettings

if TYPE_CHECKING:
    from gateway.store import Store

__all__ = [
    "EVENT_SOURCE",
    "FORMATS",
    "MODES",
    "TRUNCATED",
    "VERSION_CREATED",
    "Change",
    "Check",
    "Comparison",
    "Discovery",
    "ExportFormat",
    "Limits",
    "Mismatch",
    "Mode",
    "Observation",
    "Recorded",
    "SchemaEnforcer",
    "SchemaInfo",
    "SchemaRegistry",
    "SchemaSettings",
    "SchemaVersion",
    "SourcePolicy",
    "Verdict",
    "binding_schema",
    "bus_emitter",
    "check",
    "compare",
    "compile_check",
    "decide",
    "describes",
    "detail_schema_name",
    "diff",
    "export",
    "first_mismatch",
    "infer",
    "infer_many",
    "merge",
    "open_registry",
    "schema_name",
    "to_draft4",
    "to_openapi3",
]


def open_registry(store: Store) -> SchemaRegistry:
    """The registry in `store`'s database (opened with it)."""
    if store.settings.is_postgres:
        from gateway.schemas._postgres import PostgresSchemaRegistry  # noqa: PLC0415 - backends load on demand
        from gateway.store.postgres import PostgresStore  # noqa: PLC0415

        assert isinstance(store, PostgresStore)
        return PostgresSchemaRegistry(store)
    from gateway.schemas._sqlite import SQLiteSchemaRegistry  # noqa: PLC0415
    from gateway.store.sqlite import SQLiteStore  # noqa: PLC0415

    assert isinstance(store, SQLiteStore)
    return SQLiteSchemaRegistry(store)
