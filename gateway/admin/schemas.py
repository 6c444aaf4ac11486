"""The schema registry: the discovered schemas, their versions, diffs and code bindings.

    GET /schemas                              every schema (`?source=`), with its drift mark
    GET /schemas/{name}                       its versions: first seen, events counted, a sample
    GET /schemas/{name}/versions/{version}    one version as a document (`?format=openapi3|jsonschema-draft4`)
    GET /schemas/{name}/diff?from=V1&to=V2    the changes and the verdict (`hookgate schemas diff`)
    GET /schemas/{name}/bindings              code bindings to download: a zip (Python) or one file
    PUT /schemas/{name}/compatibility         {"mode": MODE}: the mode of its next versions (admin)

A name is `<source>@<DetailType>` and may hold any character its source's name holds
(`@`, dots, even `/`): the path takes the rest of the URL, percent-encoded or not.
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from starlette.responses import Response

from gateway import views
from gateway.admin.api import ApiError, Call, Document, NoBody, NoParams, Params, Routes
from gateway.errors import MissingExtraError
from gateway.schemas import (
    Mode,
    SchemaInfo,
    SchemaRegistry,
    SchemaVersion,
    binding_schema,
    compare,
    export,
    open_registry,
)
from gateway.schemas._formats import ExportFormat
from gateway.schemas.bindings import BindingError, Language, Style, generate_bindings

__all__ = ["routes"]

routes = Routes("schemas")


class SchemaView(Document):
    name: str
    source: str
    event_source: str
    detail_type: str
    compatibility: Mode
    latest_version: str
    created_at: str
    updated_at: str
    #: Events not versioned: the schema was at its version limit.
    overflow: int
    #: Whether a version broke the mode it was made under.
    drift: bool
    drifted_versions: list[str]
    pinned_version: str | None


class SchemaList(Document):
    schemas: list[SchemaView]


class VersionView(Document):
    version: str
    #: When the version was first seen (made).
    created_at: str
    #: Events counted for it (each validates against it).
    event_count: int
    sample_event_id: str
    compatible: bool
    verdict: str


class SchemaDetail(SchemaView):
    #: Oldest first.
    versions: list[VersionView]


class ChangeView(Document):
    kind: str
    #: A JSON pointer into the event.
    path: str
    detail: str
    compatible: bool


class SchemaDiff(Document):
    name: str
    old: str = Field(alias="from")
    new: str = Field(alias="to")
    #: The schema's mode.
    compatibility: Mode
    #: The mode the verdict is under (FULL for a schema whose mode is NONE).
    checked_as: Mode
    changes: list[ChangeView]
    compatible: bool
    verdict: str


class SchemaFilter(Params):
    source: str | None = Field(None, description="Only the schemas of this source.")


class ExportQuery(Params):
    format: ExportFormat = Field("openapi3", description="The document's format.")


class DiffQuery(Params):
    old: int = Field(alias="from", ge=1, description="The version to compare from.")
    new: int = Field(alias="to", ge=1, description="The version to compare to.")


class BindingsQuery(Params):
    version: int | None = Field(None, ge=1, description="A version (default: the latest).")
    language: Language = Field(description="The binding's language.")
    style: Style = Field("pydantic", description="Python only: the kind of classes.")


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class CompatibilityBody(Params):
    mode: Annotated[Mode, BeforeValidator(_upper)] = Field(
        description="The compatibility mode (case does not matter)."
    )


def _registry(call: Call[Any, Any]) -> SchemaRegistry:
    return open_registry(call.store)


async def _schema(registry: SchemaRegistry, name: str) -> tuple[SchemaInfo, list[SchemaVersion]]:
    info = await registry.schema(name)
    if info is None:
        raise ApiError(404, "not_found", f"no schema {name!r}")
    return info, await registry.versions(name)


def _version(name: str, versions: list[SchemaVersion], number: int | str | None) -> SchemaVersion:
    """Version `number` of the schema (None: the latest); a 404 when it has none such."""
    if number is None:
        return versions[-1]
    text = str(number)
    found = next((v for v in versions if text.isascii() and text.isdigit() and v.version == int(text)), None)
    if found is None:
        raise ApiError(404, "not_found", f"schema {name!r} has no version {text!r}")
    return found


# The paths that go on after a name come first: a name takes the rest of the URL.


@routes.get("/schemas/{name:path}/versions/{version}", query=ExportQuery, response=None)
async def export_schema_version(call: Call[ExportQuery, NoBody]) -> dict[str, Any]:
    """One version of a schema as OpenAPI 3.0 (EventBridge's shape) or JSON Schema Draft 4.

    The answer is the document itself, as `hookgate schemas export` prints it.
    """
    name = call.params["name"]
    info, versions = await _schema(_registry(call), name)
    return export(info, _version(name, versions, call.params["version"]), call.query.format)


@routes.get("/schemas/{name:path}/diff", query=DiffQuery, response=SchemaDiff)
async def diff_schema_versions(call: Call[DiffQuery, NoBody]) -> dict[str, Any]:
    """The changes from one version of a schema to another, each compatible or not, and the
    verdict under the schema's mode (as `hookgate schemas diff`)."""
    name = call.params["name"]
    info, versions = await _schema(_registry(call), name)
    old, new = _version(name, versions, call.query.old), _version(name, versions, call.query.new)
    comparison = compare(info.compatibility, old.content, new.content)
    return views.schema_comparison_view(name, old.version, new.version, comparison)


@routes.route(
    "GET",
    "/schemas/{name:path}/bindings",
    role="viewer",
    query=BindingsQuery,
    response=None,
    media_type=("application/zip", "text/plain"),
)
async def download_schema_bindings(call: Call[BindingsQuery, NoBody]) -> Response:
    """Code bindings of a version of a schema, to download (as `hookgate schemas bindings`).

    Python: a zip of the binding's package (`schema/<source>/<detailtype>/…`); TypeScript:
    its one `index.ts`, named after the schema. `Content-Disposition` names the file.
    """
    name = call.params["name"]
    query = call.query
    info, versions = await _schema(_registry(call), name)
    binding = binding_schema(info, _version(name, versions, query.version))
    try:
        files = await asyncio.to_thread(
            generate_bindings,
            binding.detail_schema,
            source=binding.source,
            detail_type=binding.detail_type,
            language=query.language,
            style=query.style,
            version=binding.version,
        )
    except MissingExtraError as exc:
        raise ApiError(501, "not_available", str(exc)) from None
    except BindingError as exc:
        raise ApiError(422, "no_binding", str(exc)) from None
    stem = re.sub(r"[^A-Za-z0-9@._-]+", "_", f"{name}-v{binding.version}")
    if query.language == "typescript":
        [text] = files.values()
        return _attachment(text.encode(), f"{stem}.ts", "text/plain; charset=utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in sorted(files.items()):
            archive.writestr(path, text)
    return _attachment(buffer.getvalue(), f"{stem}-python-{query.style}.zip", "application/zip")


def _attachment(content: bytes, filename: str, media_type: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@routes.route(
    "PUT", "/schemas/{name:path}/compatibility", role="admin", body=CompatibilityBody, response=SchemaView
)
async def set_schema_compatibility(call: Call[NoParams, CompatibilityBody]) -> dict[str, Any]:
    """Set the compatibility mode a schema's next versions are checked under."""
    name = call.params["name"]
    registry = _registry(call)
    if not await registry.set_compatibility(name, call.body.mode):
        raise ApiError(404, "not_found", f"no schema {name!r}")
    info, _ = await _schema(registry, name)
    call.audit("schemas.set_compatibility", 1, schema=name, mode=call.body.mode)
    return views.schema_view(info)


@routes.get("/schemas/{name:path}", response=SchemaDetail)
async def get_schema(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """A schema and its versions, oldest first: when each was first seen, the events counted
    for it, a sample event's id, and its compatibility verdict."""
    info, versions = await _schema(_registry(call), call.params["name"])
    return views.schema_detail_view(info, versions)


@routes.get("/schemas", query=SchemaFilter, response=SchemaList)
async def list_schemas(call: Call[SchemaFilter, NoBody]) -> dict[str, Any]:
    """Every discovered schema, with its latest version, compatibility mode and drift mark."""
    return views.schemas_document(await _registry(call).schemas(call.query.source))
